/**
 * One loaded service: its package, its config layers, its rendered templates and hooks, its
 * gossiped files, its process, and the `service` rumor that tells the ring about it (reference
 * §7). The manager (`manager.ts`) creates one per spec and calls `update()` whenever something
 * it renders from may have changed: the spec, the group's gossiped config or files, the census
 * (members, leaders, binds), `user.toml`.
 *
 * An update is a pass over everything, never a patch: merge the layers, build the template
 * context, render `hooks/` and `config/` (a file is written only when its bytes change), write
 * gossiped files, then act as Habitat does (`decideTemplateUpdate`): start, restart, run
 * `reconfigure`, run `file-updated`, or nothing. Updates of one service never overlap: each waits
 * for the one before. A pass that fails (a template that does not render, a `user.toml` that is
 * not TOML) changes nothing: the service keeps running on its last good config, and the error is
 * logged once and shown in `/services` (`lastError`) until a later pass succeeds.
 *
 * Binds (reference §9, `binds.ts`): a bind is in the template context (`bind.<name>`) while the
 * census satisfies it, so that a change in the bound group (a member joins or leaves, its exports
 * change, a new leader) re-renders like any other change. In `strict` binding mode a service that
 * has never started waits until every bind is satisfied; `lastError` says which are not.
 *
 * Health (reference §7, `process/health-check.ts`): while the service runs, its `health-check`
 * hook (or, without one, its process state) is checked on Habitat's schedule, and every change
 * of the result goes out in the service rumor (and so to `/census` and `/services`).
 *
 * An encrypted config or file (`BOX-1`, `hab config apply --user`) is opened with the group's
 * secret key and the user's public key from the Supervisor's key cache (`openBox1`) and then
 * applied like a plain one. Without those keys the service keeps its current config (a file stays
 * unwritten and unreported), `lastError` names the missing key, and the manager's tick retries
 * (`retryEncrypted`) until the key is imported. No plaintext goes into a log line or an error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TomlError } from 'smol-toml';
import type { Census, CensusGroup } from '../census/index.js';
import { toCensusSys } from '../census/index.js';
import type { Clock, Logger, MemberId, Random } from '../core/index.js';
import { MurmurError } from '../core/index.js';
import { BoxOpenError, openBox1 } from '../crypto/index.js';
import type { ElectionView } from '../election/index.js';
import { hookGate } from '../election/index.js';
import type { InstalledPackage } from '../pkg/index.js';
import type { FileVersion, ServiceConfigRumor, ServiceFileRumor, ServiceHealth, ServiceRumor, ServiceState, SysInfo } from '../wire/index.js';
import { ensureDir, writeFileAtomic } from './files.js';
import { checkFileName } from './rules.js';
import type { BindState } from './binds.js';
import { bindStates } from './binds.js';
import type { HealthCheckResult, OutputSink, ProcessState, RunAs, Timers } from './process/index.js';
import {
  decideRunAs,
  describeHookResult,
  HEALTH_CHECK_HOOK,
  HealthChecker,
  healthCheckTimeoutMs,
  isOrphan,
  readStat,
  realTimers,
  runHealthCheck,
  runHook,
  ServiceProcess,
  toSignal,
} from './process/index.js';
import type { ServiceStatus } from './services-api.js';
import type { ServiceSpec } from './spec.js';
import { serviceGroupOf, specName } from './spec.js';
import type { RenderContextInput, TemplateEngine } from './template/index.js';
import {
  buildRenderContext,
  decideTemplateUpdate,
  envLayer,
  exportedConfig,
  mergeLayers,
  parseTomlLayer,
  renderDir,
  renderHooks,
  toTomlText,
} from './template/index.js';

/** What a service needs from its Supervisor: the ring's view and a way to publish its rumor. */
export interface ServiceRing {
  readonly memberId: MemberId;
  /** This Supervisor's addresses, for `sys` in templates and the rumor. */
  sys(): SysInfo;
  /** Whether this Supervisor was started with `--permanent-peer`. */
  readonly permanent: boolean;
  config(serviceGroup: string): ServiceConfigRumor | undefined;
  files(serviceGroup: string): ServiceFileRumor[];
  census(): Census;
  /** The service rumor a member holds for a group (for the versions it applied). */
  serviceRumor(serviceGroup: string, memberId: MemberId): ServiceRumor | undefined;
  /** Publishes this member's rumor for the service (the ring picks the incarnation). */
  publishService(rumor: Omit<ServiceRumor, 'incarnation' | 'kind' | 'memberId'>): void;
  /**
   * Leader topology (`Supervisor` has them; a ring without them runs no elections): take part in
   * the group's elections, leave them, give the `suitability` hook's value, and read the view.
   */
  joinElection?(serviceGroup: string): void;
  leaveElection?(serviceGroup: string): void;
  setSuitability?(serviceGroup: string, value: number): void;
  election?(serviceGroup: string): ElectionView;
  /** Whether this member takes part in the group's elections yet (it waits for the ring's state). */
  electionJoined?(serviceGroup: string): boolean;
}

export interface ServiceDeps {
  log: Logger;
  sink: OutputSink;
  clock: Clock;
  /** Wall-clock milliseconds, for `startedAtMs`. */
  wallNow: () => number;
  random: Random;
  timers?: Timers;
  ring: ServiceRing;
  engine: TemplateEngine;
}

export interface ServiceOptions {
  spec: ServiceSpec;
  pkg: InstalledPackage;
  /** `$FS_ROOT/hab/svc/<name>` */
  svcPath: string;
  /** `$FS_ROOT/hab/user/<name>/config/user.toml` */
  userToml: string;
  /** The Supervisor's environment (for `HAB_<PKGNAME>` and the service's own environment). */
  env: Readonly<Record<string, string | undefined>>;
  /** Restart backoff and hook timeouts for tests; production takes the defaults. */
  processTuning?: { backoff?: { minMs?: number; maxMs?: number; cooldownMs?: number } };
  /**
   * The Supervisor's key cache, where encrypted configs and files find the group's secret key
   * and the user's public key (`openBox1`). Absent: nothing encrypted can be read.
   */
  keyCacheDir?: string;
}

const SERVICE_DIRS = ['config', 'config_install', 'data', 'files', 'hooks', 'logs', 'static', 'var'] as const;

/** How long `reconfigure` and `file-updated` may run before they are killed. @default 60 s */
const HOOK_TIMEOUT_MS = 60_000;

/** How long the `suitability` hook may run (an election waits for it). @default 10 s */
const SUITABILITY_TIMEOUT_MS = 10_000;

export class Service {
  readonly spec: ServiceSpec;
  readonly pkg: InstalledPackage;
  readonly serviceGroup: string;
  readonly preamble: string;
  private readonly deps: ServiceDeps;
  private readonly opts: ServiceOptions;
  private process: ServiceProcess | null = null;
  private chain: Promise<void> = Promise.resolve();
  private queued = false;
  private closed = false;
  private rendered = false;
  private initialized = false;
  private appliedConfigVersion = 0;
  private readonly appliedFiles = new Map<string, number>();
  /**
   * The versions a previous life of this service rendered (`APPLIED_FILE`), reported until this
   * life's first pass renders: its config and files are on disk meanwhile. Null after that.
   */
  private restored: { configVersion: number; files: FileVersion[] } | null;
  /** The versions last written to `APPLIED_FILE`. */
  private appliedWritten = '';
  private mergedConfig: Record<string, unknown> = {};
  private lastErrorText: string | null = null;
  private health: ServiceHealth = 'unknown';
  /** The last health check's hook output, for `…/health`; null before the first check. */
  private healthOutput: { stdout: string; stderr: string } | null = null;
  /** The health checks of the current run; null while the service is not started. */
  private checker: HealthChecker | null = null;
  /** The user hooks run as, decided once. */
  private runAs: Promise<RunAs> | null = null;
  /** What was last said about each bind (satisfied, or why not), to say it once per change. */
  private readonly bindsSaid = new Map<string, string>();
  private lastPublished = '';
  private userTomlSeen: string | null = null;
  private stateEnteredMs: number | null = null;
  /** What the last successful pass rendered from (`pass`), to skip passes that would change nothing. */
  private lastGoodFingerprint = '';
  /** The gossiped config layer of the version applied last. */
  private appliedGossipLayer: Record<string, unknown> = {};
  /** The last pass could not open an encrypted config or file for want of a key (`retryEncrypted`). */
  private awaitingKey = false;
  /** Leader topology: what was last said about the election while the hooks waited for it. */
  private electionSaid = '';
  /** The `suitability` hook's value was computed for the hooks as rendered (false: run it again). */
  private suitabilityKnown = false;
  /** The encrypted config opened last, so that a pass does not open the same payload again. */
  private openedConfig: { version: number; payload: Uint8Array; layer: Record<string, unknown> } | null = null;

  constructor(deps: ServiceDeps, opts: ServiceOptions) {
    this.deps = deps;
    this.opts = opts;
    this.spec = opts.spec;
    this.pkg = opts.pkg;
    this.serviceGroup = serviceGroupOf(opts.spec);
    this.preamble = this.serviceGroup;
    this.restored = readApplied(join(opts.svcPath, APPLIED_FILE));
    this.appliedWritten = this.restored === null ? '' : JSON.stringify(this.restored);
  }

  get name(): string {
    return specName(this.spec.ident);
  }

  get lastError(): string | null {
    return this.lastErrorText;
  }

  /** The merged config of the last successful pass (`hab config show`). */
  get config(): Record<string, unknown> {
    return this.mergedConfig;
  }

  /** The merged config as TOML text (`hab config show`); floats stay floats. */
  configText(): string {
    return toTomlText(this.mergedConfig);
  }

  /**
   * Brings the service in line with its spec and everything it renders from. Calls made while
   * one pass runs are folded into one more pass after it.
   */
  update(): Promise<void> {
    if (this.closed) return this.chain;
    if (this.queued) return this.chain;
    this.queued = true;
    this.chain = this.chain.then(async () => {
      this.queued = false;
      if (this.closed) return;
      try {
        await this.pass();
      } catch (err) {
        this.fail(`update failed: ${(err as Error).message}`);
      }
    });
    return this.chain;
  }

  /** Stops the process (shutdown signal, then SIGKILL after the timeout, then `post-stop`). */
  async stop(): Promise<void> {
    await this.chain;
    await this.stopHealthChecks();
    await this.process?.stop();
    this.publish();
  }

  /** Stops for good (unload, Supervisor shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    this.deps.ring.leaveElection?.(this.serviceGroup);
    await this.chain;
    await this.stopHealthChecks();
    await this.process?.stop();
  }

  /** `user.toml` changed on disk (or may have): re-run if its text differs from the last seen. */
  async checkUserToml(): Promise<void> {
    const text = await readOptional(this.opts.userToml);
    if (text !== this.userTomlSeen) await this.update();
  }

  /**
   * Runs a pass if the last one lacked a key to open an encrypted config or file, so that a key
   * imported since (`hab svc key import`) takes effect without waiting for the ring to change.
   * The manager calls this on its tick.
   */
  async retryEncrypted(): Promise<void> {
    if (this.awaitingKey) await this.update();
  }

  status(): ServiceStatus {
    const p = this.process;
    return {
      ident: this.pkg.identText,
      specIdent: this.spec.ident,
      serviceGroup: this.serviceGroup,
      topology: this.spec.topology,
      bindingMode: this.spec.bindingMode,
      binds: [...this.spec.binds],
      desired: this.spec.desiredState,
      state: this.serviceState(),
      pid: p?.pid ?? null,
      startedAtMs: p?.startedAt ?? null,
      stateEnteredMs: this.stateEnteredMs,
      ...this.reportedVersions(),
      health: this.health,
      healthCheckOutput: this.healthOutput,
      lastError: this.lastErrorText,
      healthCheckIntervalSec: this.spec.healthCheckIntervalSec,
      svcPath: this.opts.svcPath,
      pkgPath: this.pkg.path,
    };
  }

  // ------------------------------------------------------------------------------ one pass

  private async pass(): Promise<void> {
    if (this.spec.desiredState === 'down') {
      await this.stopHealthChecks();
      if (this.process && this.process.state !== 'down') await this.process.stop();
      this.publish();
      return;
    }
    await this.makeDirs();
    const ring = this.deps.ring;

    // 0. Binds. A service that never started waits for all of them in strict mode (Habitat:
    // "Waiting for service binds..."); otherwise an unsatisfied bind is only left out of `bind`.
    const census = ring.census();
    const binds = bindStates(this.spec.binds, this.pkg, census);
    this.reportBinds(binds);
    const unsatisfied = binds.flatMap((b) => (b.satisfied ? [] : [b]));
    if (this.process === null && this.spec.bindingMode === 'strict' && unsatisfied.length > 0) {
      const why = `waiting for service binds (binding mode strict): ${unsatisfied.map((b) => b.reason).join('; ')}`;
      if (!this.lastErrorText?.startsWith('waiting for service binds')) this.deps.log.info('Waiting for service binds...', { binds: unsatisfied.map((b) => b.name).join(',') });
      this.lastErrorText = why;
      this.publish();
      return;
    }

    // 1. Config layers: default.toml < HAB_<PKGNAME> < user.toml < gossiped config.
    const userText = await readOptional(this.opts.userToml);
    this.userTomlSeen = userText;
    this.awaitingKey = false;
    const gossip = ring.config(this.serviceGroup);
    // A version this member cannot read leaves the one it applied last in place.
    let gossipLayer: Record<string, unknown> = this.appliedGossipLayer;
    let gossipVersion = this.appliedConfigVersion;
    let gossipProblem: string | null = null;
    if (gossip && gossip.version > 0) {
      const layer = gossip.encrypted ? await this.openConfig(gossip) : parseTomlLayer(new TextDecoder().decode(gossip.config), `gossiped config version ${gossip.version}`);
      if (layer instanceof MurmurError) gossipProblem = layer.message;
      else {
        gossipLayer = layer;
        gossipVersion = gossip.version;
      }
    }
    // Encrypted files are opened before the skip below, so that one that could not be opened is
    // tried again on every pass (a key imported since) and its problem is shown meanwhile.
    const files = await this.pendingFiles();
    if (files.problems.length > 0) gossipProblem = [gossipProblem, ...files.problems].filter((p) => p !== null).join('; ');
    const layers = [
      this.pkg.defaultToml === null ? {} : parseTomlLayer(this.pkg.defaultToml, `${this.pkg.identText} default.toml`),
      envLayer(this.pkg.ident.name, this.opts.env),
      userText === null ? {} : parseTomlLayer(userText, this.opts.userToml),
      gossipLayer,
    ];
    const bad = layers.find((l): l is MurmurError => l instanceof MurmurError);
    if (bad) {
      this.fail(bad.message);
      return;
    }
    const cfg = mergeLayers(layers as (Record<string, unknown> | undefined)[]);
    if (cfg instanceof MurmurError) {
      this.fail(cfg.message);
      return;
    }

    // 2. Templates: hooks, then config. Nothing acts on a pass that does not render.
    const context = buildRenderContext(this.contextInput(cfg, census, binds));
    // Most ring changes (a member's service rumor reporting its state, a member elsewhere) change
    // nothing this service renders from: skip the files and the process when everything it would
    // render from, and the gossiped files, are what the last good pass had. In a group of N
    // members one config apply makes N service rumors change at every member.
    const fingerprint = JSON.stringify([context, this.spec, gossipVersion, ring.files(this.serviceGroup).map((f) => [f.filename, f.version])]);
    const running = this.process !== null && this.process.state !== 'down';
    if (running && fingerprint === this.lastGoodFingerprint && gossipProblem === this.lastErrorText) return;
    this.lastGoodFingerprint = '';
    const hooksOut = join(this.opts.svcPath, 'hooks');
    const configOut = join(this.opts.svcPath, 'config');
    const engine = this.deps.engine;
    const hooks = this.pkg.hooksDir ? await renderHooks(this.pkg.hooksDir, hooksOut, context, { engine }) : { changed: new Set<string>(), errors: [] };
    const config = this.pkg.configDir ? await renderDir(this.pkg.configDir, configOut, context, { engine }) : { written: [], removed: [], errors: [] };
    const errors = [...hooks.errors, ...config.errors];
    if (errors.length > 0) {
      // One line per pass: handlebars' parse errors span lines (a caret under the source).
      this.fail(errors.map((e) => (e.message.includes(e.file) ? e.message : `template ${e.file}: ${e.message}`).replace(/\s*\n\s*/g, ' ')).join('; '));
      return;
    }
    this.mergedConfig = cfg;
    const configChanged = config.written.length > 0 || config.removed.length > 0;
    if (configChanged && this.rendered) this.deps.log.info('config rendered', { files: [...config.written, ...config.removed].join(',') });

    // 3. Gossiped files.
    const filesChanged = await this.writeFiles(files.ready);
    // The config on disk is this version's from here on, whether the process runs yet or waits
    // (an election, a start after a restart): the version reported is the one rendered, as the
    // files' versions are the ones written, so that a restarted Supervisor that renders its
    // stored config never reports less than it had before.
    this.appliedGossipLayer = gossipLayer;
    if (gossipVersion !== this.appliedConfigVersion) {
      this.deps.log.info('config version applied', { version: gossipVersion });
      this.appliedConfigVersion = gossipVersion;
    }
    this.restored = null;
    await this.writeApplied();

    // 4. Act. A leader-topology service runs its hooks only once its group's election is
    // finished (Habitat's "Waiting to execute hooks; …" lines); once running, a new election
    // re-renders (svc.leader) but does not stop it.
    const hooksChanged = hooks.changed;
    if (hooksChanged.size > 0) this.suitabilityKnown = false;
    const renderedElection = census.census_groups[this.serviceGroup]?.election_status;
    if (this.spec.topology === 'leader' && !(await this.electionAllowsStart(running, renderedElection === 'ElectionFinished'))) {
      this.mergedConfig = cfg;
      this.publish();
      return;
    }
    if (!running) {
      await this.startProcess();
    } else {
      const decision = decideTemplateUpdate({ configChanged, hooksChanged, hasReconfigureHook: this.hookPath('reconfigure') !== null });
      if (decision.action === 'restart') {
        await this.process?.restart(decision.reason);
      } else if (decision.action === 'reconfigure') {
        await this.runOneShotHook('reconfigure');
        // As Habitat: a reconfigured service is checked at once.
        this.checker?.checkNow();
      }
      if (filesChanged.length > 0) await this.runOneShotHook('file-updated');
    }
    this.rendered = true;
    this.clearError(gossipProblem);
    this.lastGoodFingerprint = fingerprint;
    this.publish();
  }

  /**
   * Leader topology: joins the group's elections (with the `suitability` hook's value), and says
   * whether the hooks may run: always once the service runs; before that, only once this member
   * takes part in the elections and the election is finished, and this pass rendered the
   * templates with it finished. While waiting, Habitat's line is logged once per change and shown
   * as the error.
   */
  private async electionAllowsStart(running: boolean, renderedFinished: boolean): Promise<boolean> {
    const ring = this.deps.ring;
    if (!this.suitabilityKnown) {
      this.suitabilityKnown = true;
      ring.setSuitability?.(this.serviceGroup, await this.suitability());
    }
    ring.joinElection?.(this.serviceGroup);
    if (running || ring.election === undefined) return true;
    // Until this member takes part, its store may hold an election the ring has since replaced
    // (a restart): a stored leadership of its own is no reason to run.
    const joined = ring.electionJoined?.(this.serviceGroup) ?? true;
    const gate = hookGate(joined ? ring.election(this.serviceGroup) : { status: 'none', leaderId: null });
    if (gate.message !== this.electionSaid) {
      this.electionSaid = gate.message;
      this.deps.log.info(gate.message);
    }
    if (gate.run) {
      if (this.lastErrorText?.startsWith('Waiting to execute hooks')) this.lastErrorText = null;
      if (renderedFinished) return true;
      // The election finished after this pass rendered (joining it can finish it at once): render
      // again with the leader before anything runs.
      void this.update();
      return false;
    }
    this.lastErrorText = gate.message;
    return false;
  }

  /**
   * The `suitability` hook's answer (reference §7): the last line of its standard output as an
   * integer, higher is more suitable; no hook, a failure or anything else is 0. Run as the
   * service's user, bounded by `SUITABILITY_TIMEOUT_MS`.
   */
  private async suitability(): Promise<number> {
    const path = this.hookPath('suitability');
    if (path === null) return 0;
    const runAs = await this.hookUser();
    const logsDir = join(this.opts.svcPath, 'logs');
    const result = await runHook({
      ...(runAs.user ? { user: runAs.user } : {}),
      name: 'suitability',
      path,
      preamble: this.preamble,
      cwd: this.opts.svcPath,
      env: this.processEnv(),
      logsDir,
      timeoutMs: SUITABILITY_TIMEOUT_MS,
      sink: this.deps.sink,
      log: this.deps.log,
    });
    if (result.exitCode !== 0) {
      this.deps.log.warn(`suitability hook ${describeHookResult(result, SUITABILITY_TIMEOUT_MS)}; standing with suitability 0`);
      return 0;
    }
    const out = (await readOptional(join(logsDir, 'suitability.stdout.log'))) ?? '';
    const last = out.trim().split('\n').at(-1)?.trim() ?? '';
    const value = /^\d+$/.test(last) ? Number(last) : Number.NaN;
    if (!Number.isSafeInteger(value)) {
      this.deps.log.warn('suitability hook printed no integer on its last line; standing with suitability 0', { last: last.slice(0, 40) });
      return 0;
    }
    this.deps.log.info('suitability', { value });
    return value;
  }

  private contextInput(cfg: Record<string, unknown>, census: Census, states: readonly BindState[]): RenderContextInput {
    const ring = this.deps.ring;
    // Satisfied binds only (reference §9): the others are absent from `bind`.
    const binds: Record<string, CensusGroup> = {};
    for (const b of states) if (b.satisfied) binds[b.name] = b.group;
    const sys = ring.sys();
    return {
      sys: {
        ...toCensusSys(sys),
        version: MURMUR_VERSION,
        member_id: ring.memberId,
        permanent: ring.permanent,
      },
      pkg: {
        ident: this.pkg.identText,
        path: this.pkg.path,
        svcRoot: this.opts.svcPath,
        deps: [],
        exposes: this.pkg.exposes,
        exports: this.pkg.exports,
        svc_user: this.pkg.svcUser,
        svc_group: this.pkg.svcGroup,
        env: {},
      },
      cfg,
      svc: census.census_groups[this.serviceGroup] ?? { service_group: this.serviceGroup, population: {}, local_member_id: ring.memberId },
      binds,
    };
  }

  /** One line per bind whenever it becomes satisfied, or unsatisfied for a new reason. */
  private reportBinds(states: readonly BindState[]): void {
    for (const b of states) {
      const said = b.satisfied ? 'satisfied' : b.reason;
      const before = this.bindsSaid.get(b.name);
      if (before === said) continue;
      this.bindsSaid.set(b.name, said);
      if (b.satisfied) this.deps.log.info('bind satisfied', { bind: b.name, group: b.serviceGroup });
      else if (before === 'satisfied') this.deps.log.warn(`bind no longer satisfied: ${b.reason}`);
      else this.deps.log.info(`bind not satisfied: ${b.reason}`);
    }
  }

  private async makeDirs(): Promise<void> {
    for (const d of SERVICE_DIRS) await ensureDir(join(this.opts.svcPath, d));
  }

  /**
   * The group's encrypted config, opened with this Supervisor's keys (`openBox1`), as a config
   * layer; or an error that names the missing key or the failure, and never the plaintext (a
   * TOML error inside it gives its line and column only). The last payload opened is kept.
   */
  private async openConfig(gossip: ServiceConfigRumor): Promise<Record<string, unknown> | MurmurError> {
    const opened = this.openedConfig;
    if (opened && opened.version === gossip.version && Buffer.from(opened.payload).equals(gossip.config)) return opened.layer;
    const what = `encrypted config version ${gossip.version}`;
    const plaintext = await this.openPayload(gossip.config, what, 'keeping the current config');
    if (plaintext instanceof MurmurError) return plaintext;
    const layer = parseTomlLayer(new TextDecoder().decode(plaintext), what);
    if (layer instanceof MurmurError) {
      const at = layer.cause instanceof TomlError ? `: line ${layer.cause.line}, column ${layer.cause.column}` : '';
      return new MurmurError('BAD_INPUT', `${what} opened, but it is not a valid config${at}; keeping the current config`);
    }
    this.openedConfig = { version: gossip.version, payload: gossip.config, layer };
    return layer;
  }

  /** Opens a `BOX-1` payload, or an error saying why not (the missing key, …) and what is kept meanwhile. */
  private async openPayload(payload: Uint8Array, what: string, keeping: string): Promise<Uint8Array | MurmurError> {
    const dir = this.opts.keyCacheDir;
    if (dir === undefined) return new MurmurError('NOT_FOUND', `cannot decrypt ${what}: this Supervisor has no key cache; ${keeping}`);
    try {
      return await openBox1(payload, dir);
    } catch (err) {
      // A missing key (`hab svc key import`) or one others may read (`chmod 600`): retried every second.
      if (err instanceof BoxOpenError && (err.reason === 'missing-key' || err.reason === 'unsafe-key')) this.awaitingKey = true;
      const reason = err instanceof Error ? err.message : String(err);
      return new MurmurError(err instanceof MurmurError ? err.code : 'INTERNAL', `cannot decrypt ${what}: ${reason}; ${keeping}`, { cause: err });
    }
  }

  /**
   * The gossiped files newer than the ones written, with their bodies (encrypted ones opened),
   * and one problem per encrypted file that could not be opened: those stay pending (not
   * applied) until a pass can open them.
   */
  private async pendingFiles(): Promise<{ ready: { filename: string; version: number; body: Uint8Array }[]; problems: string[] }> {
    const ready: { filename: string; version: number; body: Uint8Array }[] = [];
    const problems: string[] = [];
    for (const f of this.deps.ring.files(this.serviceGroup)) {
      if ((this.appliedFiles.get(f.filename) ?? 0) >= f.version) continue;
      // The name comes from whichever member gossiped the file: one that is not a single path
      // component (`../../etc/passwd`, `a/b`) would be written outside files/.
      try {
        checkFileName(f.filename);
      } catch (err) {
        problems.push(`gossiped file version ${f.version} refused, nothing written: ${(err as Error).message}`);
        continue;
      }
      if (!f.encrypted) {
        ready.push({ filename: f.filename, version: f.version, body: f.body });
        continue;
      }
      const held = this.appliedFiles.get(f.filename);
      const keeping = held === undefined ? 'the file is not written until it can be' : `keeping version ${held} of the file`;
      const body = await this.openPayload(f.body, `encrypted file ${f.filename} version ${f.version}`, keeping);
      if (body instanceof MurmurError) problems.push(body.message);
      else ready.push({ filename: f.filename, version: f.version, body });
    }
    return { ready, problems };
  }

  /** Writes the files `pendingFiles` made ready (unless the file already holds those bytes); returns the names written. */
  private async writeFiles(files: { filename: string; version: number; body: Uint8Array }[]): Promise<string[]> {
    const written: string[] = [];
    for (const f of files) {
      const path = join(this.opts.svcPath, 'files', f.filename);
      const held = await readFile(path).catch(() => null);
      if (held === null || !Buffer.from(f.body).equals(held)) {
        await writeFileAtomic(path, f.body, 0o640);
        written.push(f.filename);
      }
      this.appliedFiles.set(f.filename, f.version);
      this.deps.log.info('file written', { file: f.filename, version: f.version });
    }
    return written;
  }

  private hookPath(name: string): string | null {
    const p = join(this.opts.svcPath, 'hooks', name);
    return existsSync(p) ? p : null;
  }

  private async startProcess(): Promise<void> {
    if (!this.process) {
      const run = this.hookPath('run');
      const runFile = this.pkg.runFile;
      if (run === null && runFile === null) {
        this.fail(`${this.pkg.identText} has no run hook and no pkg_svc_run: nothing to start`);
        return;
      }
      await this.reapOrphan();
      this.process = new ServiceProcess(
        {
          clock: this.deps.clock,
          random: this.deps.random,
          log: this.deps.log,
          sink: this.deps.sink,
          wallClock: { now: this.deps.wallNow },
          ...(this.deps.timers ? { timers: this.deps.timers } : {}),
        },
        {
          preamble: this.preamble,
          svcDir: this.opts.svcPath,
          hooks: { init: this.hookPath('init'), run, postRun: this.hookPath('post-run'), postStop: this.hookPath('post-stop') },
          runCommand: runFile === null ? null : { command: runFile },
          cwd: this.opts.svcPath,
          env: this.processEnv(),
          svcUser: this.pkg.svcUser,
          svcGroup: this.pkg.svcGroup,
          shutdownSignal: this.pkg.shutdownSignal,
          shutdownTimeoutMs: (this.spec.shutdownTimeoutSec ?? this.pkg.shutdownTimeoutSec) * 1000,
          ...(this.opts.processTuning?.backoff ? { backoff: this.opts.processTuning.backoff } : {}),
        },
      );
      this.process.onStateChange((state, previous) => this.onProcessState(state, previous));
    }
    this.startHealthChecks();
    await this.process.start();
  }

  // ------------------------------------------------------------------------------ health

  /** Starts this run's health checks: the first when the process comes up (or after one interval). */
  private startHealthChecks(): void {
    if (this.checker !== null || this.closed) return;
    const intervalMs = this.spec.healthCheckIntervalSec * 1000;
    const checker = new HealthChecker(
      { timers: this.deps.timers ?? realTimers, random: this.deps.random, log: this.deps.log },
      { intervalMs, check: (signal) => this.checkHealth(signal, intervalMs), onResult: (result) => this.onHealth(checker, result) },
    );
    this.checker = checker;
    checker.start();
  }

  /** Stops the health checks (the service stops): health is unknown until it runs again. */
  private async stopHealthChecks(): Promise<void> {
    const checker = this.checker;
    this.checker = null;
    await checker?.stop();
    this.health = 'unknown';
    this.healthOutput = null;
  }

  private async checkHealth(signal: AbortSignal, intervalMs: number): Promise<HealthCheckResult> {
    const runAs = await this.hookUser();
    return runHealthCheck({
      hookPath: this.hookPath(HEALTH_CHECK_HOOK),
      processUp: this.process?.state === 'up',
      preamble: this.preamble,
      cwd: this.opts.svcPath,
      env: this.processEnv(),
      ...(runAs.user ? { user: runAs.user } : {}),
      logsDir: join(this.opts.svcPath, 'logs'),
      timeoutMs: healthCheckTimeoutMs(intervalMs),
      sink: this.deps.sink,
      log: this.deps.log,
      signal,
    });
  }

  private onHealth(checker: HealthChecker, result: HealthCheckResult): void {
    if (checker !== this.checker) return;
    if (result.health !== this.health) this.deps.log.info(`health is ${result.health.toUpperCase()}`, { was: this.health.toUpperCase() });
    this.health = result.health;
    this.healthOutput = { stdout: result.stdout, stderr: result.stderr };
    this.publish();
  }

  /** The user hooks run as (the package's, when this Supervisor is root and the user exists). */
  private hookUser(): Promise<RunAs> {
    this.runAs ??= decideRunAs(this.pkg.svcUser, this.pkg.svcGroup);
    return this.runAs;
  }

  /**
   * A Supervisor killed with SIGKILL leaves its services running (they lead their own process
   * groups). Before the first start, a process named by the service's PID file that is still
   * that service (`isOrphan`: its environment, or its start time) is that orphan: its process group is
   * stopped (TERM, then KILL after the shutdown timeout) so that the new process can take its
   * ports. Any other process with that PID is left alone.
   */
  private async reapOrphan(): Promise<void> {
    const pidFile = join(this.opts.svcPath, 'PID');
    const pidText = await readOptional(pidFile);
    const pid = Number(pidText?.trim());
    if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) return;
    const written = await stat(pidFile).catch(() => null);
    if (written === null || !(await isOrphan(pid, { svcPath: this.opts.svcPath, pidFileWrittenMs: written.mtimeMs }))) return;
    this.deps.log.warn('stopping the process a previous Supervisor left running', { pid });
    const signal = (sig: NodeJS.Signals): boolean => {
      try {
        process.kill(-pid, sig);
        return true;
      } catch {
        return false;
      }
    };
    signal(toSignal(this.pkg.shutdownSignal));
    const deadline = this.deps.wallNow() + (this.spec.shutdownTimeoutSec ?? this.pkg.shutdownTimeoutSec) * 1000;
    while (this.deps.wallNow() < deadline && (await running(pid))) await new Promise((r) => setTimeout(r, 50));
    signal('SIGKILL');
  }

  private onProcessState(state: ProcessState, previous: ProcessState): void {
    if (state === 'up') this.initialized = true;
    // The health may have changed with the process: check now rather than at the next interval.
    if (state === 'up' || previous === 'up') this.checker?.checkNow();
    this.stateEnteredMs = this.deps.wallNow();
    if (!this.closed) this.publish();
  }

  private processEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.opts.env)) if (v !== undefined) env[k] = v;
    const bin = join(this.pkg.path, 'bin');
    env.PATH = env.PATH ? `${bin}:${env.PATH}` : bin;
    env.HAB_SVC_PATH = this.opts.svcPath;
    env.HAB_PKG_PATH = this.pkg.path;
    return env;
  }

  private async runOneShotHook(name: 'reconfigure' | 'file-updated'): Promise<void> {
    const path = this.hookPath(name);
    if (path === null) return;
    // As the service's user, like the hooks of its process (init, run, post-run, post-stop).
    const runAs = await this.hookUser();
    const result = await runHook({
      ...(runAs.user ? { user: runAs.user } : {}),
      name,
      path,
      preamble: this.preamble,
      cwd: this.opts.svcPath,
      env: this.processEnv(),
      logsDir: join(this.opts.svcPath, 'logs'),
      timeoutMs: HOOK_TIMEOUT_MS,
      sink: this.deps.sink,
      log: this.deps.log,
    });
    if (result.exitCode !== 0) this.deps.log.warn(`${name} hook ${describeHookResult(result, HOOK_TIMEOUT_MS)}`);
  }

  private fail(message: string): void {
    if (message !== this.lastErrorText) this.deps.log.error(message);
    this.lastErrorText = message;
    this.publish();
  }

  private clearError(problem: string | null): void {
    if (problem !== null) {
      if (problem !== this.lastErrorText) this.deps.log.warn(problem);
      this.lastErrorText = problem;
    } else this.lastErrorText = null;
  }

  private serviceState(): ServiceState {
    const s = this.process?.state ?? 'down';
    return s === 'up' ? 'up' : s === 'starting' || s === 'restarting' ? 'starting' : 'down';
  }

  /**
   * Records the versions rendered and written (`APPLIED_FILE`), so that the next life of this
   * service reports them from its start. A failure is logged: only the report right after a
   * restart depends on it.
   */
  private async writeApplied(): Promise<void> {
    const text = JSON.stringify({ configVersion: this.appliedConfigVersion, files: this.fileVersions() });
    if (text === this.appliedWritten) return;
    try {
      await writeFileAtomic(join(this.opts.svcPath, APPLIED_FILE), `${text}\n`);
      this.appliedWritten = text;
    } catch (err) {
      this.deps.log.warn('could not record the applied versions', { path: join(this.opts.svcPath, APPLIED_FILE), error: String(err) });
    }
  }

  /** The versions reported in the status and the service rumor: a previous life's until this one renders. */
  private reportedVersions(): { configVersion: number; files: FileVersion[] } {
    return this.restored ?? { configVersion: this.appliedConfigVersion, files: this.fileVersions() };
  }

  private fileVersions(): FileVersion[] {
    return [...this.appliedFiles].map(([filename, version]) => ({ filename, version })).sort((a, b) => (a.filename < b.filename ? -1 : 1));
  }

  /** Publishes the service rumor when anything in it changed. */
  private publish(): void {
    if (this.closed) return;
    const rumor = {
      group: this.serviceGroup,
      pkg: this.pkg.identText,
      cfg: new TextEncoder().encode(toTomlText(exportedConfig(this.mergedConfig, this.pkg.exports))),
      sys: this.deps.ring.sys(),
      initialized: this.initialized,
      ...this.reportedVersions(),
      state: this.serviceState(),
      health: this.health,
      topology: this.spec.topology,
    };
    const fingerprint = JSON.stringify({ ...rumor, cfg: Buffer.from(rumor.cfg).toString('base64') });
    if (fingerprint === this.lastPublished) return;
    this.lastPublished = fingerprint;
    this.deps.ring.publishService(rumor);
  }
}

/**
 * In the service's directory: the config version and file versions last rendered and written,
 * as JSON (`{"configVersion": 5, "files": [{"filename": "tls.pem", "version": 2}]}`), read when the
 * service is loaded again (a Supervisor restart).
 */
export const APPLIED_FILE = '.murmur-applied';

/** `APPLIED_FILE`'s versions; null when absent or not in its shape (then nothing is reported from it). */
function readApplied(path: string): { configVersion: number; files: FileVersion[] } | null {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
  const v = value as { configVersion?: unknown; files?: unknown };
  const version = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!version(v.configVersion) || !Array.isArray(v.files)) return null;
  const files: FileVersion[] = [];
  for (const f of v.files as { filename?: unknown; version?: unknown }[]) {
    if (typeof f?.filename !== 'string' || !version(f.version)) return null;
    files.push({ filename: f.filename, version: f.version });
  }
  return { configVersion: v.configVersion, files };
}

/** The version templates see as `sys.version`. */
const MURMUR_VERSION = '0.1.0';

/** Whether a process runs (exists and is not a zombie waiting to be reaped). */
async function running(pid: number): Promise<boolean> {
  const st = await readStat(pid);
  return st !== null && st.state !== 'Z';
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new MurmurError('IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}
