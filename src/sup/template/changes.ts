/**
 * Restart or reconfigure after templates were rendered: Habitat's `TemplateUpdate` decision in
 * `components/sup/src/manager/service.rs` (reference §7 "Restart vs reconfigure"). Pure.
 *
 * - restart when the rendered `init`, `run` or `post-run` hook changed, or when `config/`
 *   changed and the package has no `reconfigure` hook (reasons checked in that order);
 * - otherwise run `reconfigure` when `config/` or the `reconfigure` hook itself changed;
 * - a change to any other hook only means the new file is used next time it runs.
 */

export type RestartReason = 'init_hook_updated' | 'run_hook_updated' | 'post_run_hook_updated' | 'app_config_updated';

export type TemplateUpdate = { action: 'restart'; reason: RestartReason } | { action: 'reconfigure' } | { action: 'none' };

export interface TemplateChanges {
  /** Some file under the rendered `config/` was written or removed. */
  configChanged: boolean;
  /** Names of the hooks whose rendered file changed (`renderHooks(…).changed`). */
  hooksChanged: ReadonlySet<string>;
  /** The package has a `reconfigure` hook. */
  hasReconfigureHook: boolean;
}

export function decideTemplateUpdate(changes: TemplateChanges): TemplateUpdate {
  const { configChanged, hooksChanged, hasReconfigureHook } = changes;
  if (hooksChanged.has('init')) return { action: 'restart', reason: 'init_hook_updated' };
  if (hooksChanged.has('run')) return { action: 'restart', reason: 'run_hook_updated' };
  if (hooksChanged.has('post-run')) return { action: 'restart', reason: 'post_run_hook_updated' };
  if (configChanged && !hasReconfigureHook) return { action: 'restart', reason: 'app_config_updated' };
  if (configChanged || hooksChanged.has('reconfigure')) return { action: 'reconfigure' };
  return { action: 'none' };
}
