import { describe, expect, test } from 'vitest';
import { decideTemplateUpdate, type TemplateUpdate } from '../../../src/sup/template/index.js';

describe('restart or reconfigure', () => {
  const decide = (configChanged: boolean, hooks: string[], hasReconfigureHook: boolean): TemplateUpdate =>
    decideTemplateUpdate({ configChanged, hooksChanged: new Set(hooks), hasReconfigureHook });

  test.each([
    [false, [], false, { action: 'none' }],
    [false, [], true, { action: 'none' }],
    [true, [], false, { action: 'restart', reason: 'app_config_updated' }],
    [true, [], true, { action: 'reconfigure' }],
    [false, ['init'], true, { action: 'restart', reason: 'init_hook_updated' }],
    [false, ['run'], true, { action: 'restart', reason: 'run_hook_updated' }],
    [false, ['post-run'], true, { action: 'restart', reason: 'post_run_hook_updated' }],
    [true, ['run', 'init'], true, { action: 'restart', reason: 'init_hook_updated' }],
    [true, ['post-run'], false, { action: 'restart', reason: 'post_run_hook_updated' }],
    [false, ['reconfigure'], true, { action: 'reconfigure' }],
    [true, ['reconfigure'], true, { action: 'reconfigure' }],
    [false, ['health-check', 'file-updated', 'post-stop', 'suitability'], true, { action: 'none' }],
    [false, ['health-check'], false, { action: 'none' }],
    [true, ['health-check'], true, { action: 'reconfigure' }],
  ] as const)('config changed %s, hooks changed %j, reconfigure hook %s → %j', (config, hooks, hasHook, expected) => {
    expect(decide(config, [...hooks], hasHook)).toEqual(expected);
  });
});
