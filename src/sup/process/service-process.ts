/**
 * The lifecycle of one service's main process (reference §7: Hooks, Restart backoff), as a small
 * state machine:
 *
 * ```
 *   down ──start()──▶ starting ──init ok, run spawned, post-run ok──▶ up
 *                       ▲   │ init failed / spawn failed                │ process exited
 *                       │   ▼                                           ▼
 *                       └── restarting (backoff wait) ◀─────────────────┘
 *   any ──stop()──▶ stopping ──signal, SIGKILL after timeout, post-stop──▶ down
 * ```
 *
 * - `starting`: the `init` hook runs (non-zero ⇒ `init_hook_failed`), then the run command (the
 *   rendered `run` hook, else the package's run file) is spawned in its own process group, its
 *   PID written to `<svc>/PID`, and `post-run` is retried until it exits 0 (every
 *   `postRunRetryMs`; it stops when the process exits or the service stops).
 * - `up`: the process runs. When it exits, one line goes out (`redis.prod(SV): run exited with
 *   status 1; restarting in 1.0 s (run_hook_failed)`), the PID file is removed, and the service
 *   waits out the backoff (`restarting`) before starting again.
 * - `stop()`: the package's shutdown signal to the group, SIGKILL after the shutdown timeout,
 *   PID file removed, then `post-stop`. A stop during a hook kills the hook; a stop during the
 *   backoff wait cancels the restart. Idempotent.
 * - `restart(reason)`: stop, then start at once with the backoff reset (Habitat's
 *   `run_hook_updated`, `package_updated`…).
 *
 * One async loop per start drives the machine. Every `start()` takes a new epoch; `stop()` moves
 * the epoch on and aborts the current one, and the loop checks its epoch after every `await`, so a
 * stale loop never spawns, writes or changes state. Every `await` of the loop ends promptly once
 * aborted, which keeps `stop()` bounded.
 */
import { constants as osConstants } from 'node:os';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MurmurError, type Clock, type Logger, type Random } from '../../core/index.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { describeExit, spawnService, type ChildHandle, type ExitStatus, type SpawnUser } from './child.js';
import { describeHookResult, runHook, type HookResult } from './hooks.js';
import type { OutputSink } from './output.js';
import { realTimers, sleep, type Timers } from './timers.js';
import { decideRunAs, type RunAs } from './user.js';

export type ProcessState = 'down' | 'starting' | 'up' | 'restarting' | 'stopping';

/** Why a service was (re)started: Habitat's reasons, e.g. `run_hook_failed`, `package_updated`. */
export type RestartReason = string;

export type StateListener = (state: ProcessState, previous: ProcessState) => void;

/** The Supervisor's own lines about a service's process use this log key (`redis.prod(SV): …`). */
export const SUPERVISOR_LOGKEY = 'SV';

export interface ServiceHooks {
  /** Paths of the rendered hook files, or `null` when the package has none. */
  init: string | null;
  run: string | null;
  postRun: string | null;
  postStop: string | null;
}

export interface ServiceProcessOptions {
  /** `redis.prod`. */
  preamble: string;
  /** `/hab/svc/redis`: the PID file goes here, hook logs under `logs/`. */
  svcDir: string;
  hooks: ServiceHooks;
  /** The package's run file, used when there is no `run` hook. */
  runCommand?: { command: string; args?: readonly string[] } | null;
  /** Working directory of the process and the hooks. @default svcDir */
  cwd?: string;
  /** The whole environment of the process and the hooks. */
  env: Readonly<Record<string, string>>;
  /** The package's `SVC_USER`/`SVC_GROUP`; used when the Supervisor is root (see `user.ts`). */
  svcUser?: string | null;
  svcGroup?: string | null;
  /** The package's `SHUTDOWN_SIGNAL`, with or without `SIG`. @default 'TERM' */
  shutdownSignal?: string;
  /** The package's `SHUTDOWN_TIMEOUT`, in ms; then SIGKILL. @default 8_000 (Habitat's 8 s) */
  shutdownTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** Longest run of `init` and of each `post-run` try, in ms. @default 300_000 */
  hookTimeoutMs?: number;
  /** Longest run of `post-stop`, in ms: it delays `stop()`. @default 30_000 */
  postStopTimeoutMs?: number;
  /** Between failed `post-run` tries, in ms. @default 5_000 */
  postRunRetryMs?: number;
  /** Between SIGTERM and SIGKILL of a hook that is timed out or cancelled, in ms. @default 2_000 */
  hookKillGraceMs?: number;
}

export interface ServiceProcessDeps {
  /** Monotonic time for the backoff cooldown. */
  clock: Clock;
  random: Random;
  /** @default realTimers */
  timers?: Timers;
  /** Wall-clock time for `startedAt`, in ms since the epoch. @default Date.now */
  wallClock?: Clock;
  log: Logger;
  /** Where the process's output, its hooks' output and the `SV` lines go. */
  sink: OutputSink;
  /** @default decideRunAs */
  decideRunAs?: (svcUser: string | null, svcGroup: string | null) => Promise<RunAs>;
}

const DEFAULTS = {
  shutdownTimeoutMs: 8_000,
  hookTimeoutMs: 300_000,
  postStopTimeoutMs: 30_000,
  postRunRetryMs: 5_000,
  hookKillGraceMs: 2_000,
} as const;

/** `TERM`, `SIGTERM`, `sigterm` → `SIGTERM`; an unknown name is a `BAD_INPUT` error. */
export function toSignal(name: string): NodeJS.Signals {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (!(full in osConstants.signals)) {
    throw new MurmurError('BAD_INPUT', `unknown shutdown signal ${JSON.stringify(name)} (expected a name like TERM, INT, QUIT)`);
  }
  return full as NodeJS.Signals;
}

export class ServiceProcess {
  readonly options: Readonly<ServiceProcessOptions>;
  readonly pidFile: string;
  readonly backoff: Backoff;
  private readonly deps: ServiceProcessDeps;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly shutdownSignal: NodeJS.Signals;
  private readonly settings: { -readonly [K in keyof typeof DEFAULTS]: number };

  private current: ProcessState = 'down';
  private epoch = 0;
  private abort: AbortController | null = null;
  private child: ChildHandle | null = null;
  private loop: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private runAs: Promise<RunAs> | null = null;
  private readonly listeners = new Set<StateListener>();
  private startedAtMs: number | null = null;
  private lastExitStatus: ExitStatus | null = null;
  private lastReasonText: RestartReason | null = null;
  private restartCount = 0;

  constructor(deps: ServiceProcessDeps, opts: ServiceProcessOptions) {
    if (opts.hooks.run === null && (opts.runCommand ?? null) === null) {
      throw new MurmurError('BAD_INPUT', `${opts.preamble}: neither a run hook nor a run command to start`);
    }
    this.options = opts;
    this.deps = deps;
    this.timers = deps.timers ?? realTimers;
    this.log = deps.log.child({ service: opts.preamble });
    this.shutdownSignal = toSignal(opts.shutdownSignal ?? 'TERM');
    this.settings = {
      shutdownTimeoutMs: opts.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs,
      hookTimeoutMs: opts.hookTimeoutMs ?? DEFAULTS.hookTimeoutMs,
      postStopTimeoutMs: opts.postStopTimeoutMs ?? DEFAULTS.postStopTimeoutMs,
      postRunRetryMs: opts.postRunRetryMs ?? DEFAULTS.postRunRetryMs,
      hookKillGraceMs: opts.hookKillGraceMs ?? DEFAULTS.hookKillGraceMs,
    };
    for (const [key, value] of Object.entries(this.settings)) {
      if (!(Number.isFinite(value) && value >= 0)) {
        throw new MurmurError('BAD_INPUT', `${opts.preamble}: ${key} must be a finite number >= 0, got ${value}`);
      }
    }
    this.pidFile = join(opts.svcDir, 'PID');
    this.backoff = new Backoff({ clock: deps.clock, random: deps.random }, opts.backoff);
  }

  get state(): ProcessState {
    return this.current;
  }

  /** The running process's PID (also its process group id). */
  get pid(): number | undefined {
    return this.child?.running ? this.child.pid : undefined;
  }

  /** When the current process was spawned, in ms since the epoch; `null` when none runs. */
  get startedAt(): number | null {
    return this.startedAtMs;
  }

  /** How the last process ended. */
  get lastExit(): ExitStatus | null {
    return this.lastExitStatus;
  }

  /** The reason of the last restart (`init_hook_failed`, `run_hook_failed`, or `restart(reason)`). */
  get lastReason(): RestartReason | null {
    return this.lastReasonText;
  }

  /** Restarts after a failure since this `ServiceProcess` was made. */
  get restarts(): number {
    return this.restartCount;
  }

  /** Calls `listener` on every state change; returns the unsubscribe function. */
  onStateChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * From `down`: start (backoff reset). Resolves once the start is under way, not once `up`.
   * While stopping, starts after the stop. Otherwise does nothing.
   */
  async start(): Promise<void> {
    while (this.stopping !== null) await this.stopping;
    if (this.current !== 'down') return;
    this.backoff.reset();
    const epoch = ++this.epoch;
    const abort = new AbortController();
    this.abort = abort;
    this.setState('starting');
    this.loop = this.run(epoch, abort.signal).catch((err: unknown) => {
      // A bug, not a service failure: say so, and leave the service down rather than stuck.
      this.log.error('service lifecycle failed', { error: String(err) });
      this.say(`process supervision failed: ${String(err)}`);
      if (this.epoch === epoch) {
        this.epoch++;
        void this.child?.stop('SIGKILL', 0);
        this.setState('down');
      }
    });
  }

  /**
   * Stops the service: shutdown signal, SIGKILL after the timeout, `post-stop`. Resolves when
   * the service is `down`. Idempotent; cancels a pending restart.
   */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    if (this.current === 'down') return Promise.resolve();
    this.stopping = this.shutdown().finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  /** Stop, then start at once with the backoff reset. */
  async restart(reason: RestartReason): Promise<void> {
    this.lastReasonText = reason;
    this.log.info('restarting', { reason });
    await this.stop();
    await this.start();
  }

  private async shutdown(): Promise<void> {
    this.epoch++;
    this.abort?.abort();
    this.abort = null;
    this.setState('stopping');
    const child = this.child;
    if (child?.running) {
      this.lastExitStatus = await child.stop(this.shutdownSignal, this.settings.shutdownTimeoutMs);
    }
    // The loop ends promptly: its epoch is stale and everything it may await was aborted.
    await this.loop;
    this.loop = null;
    this.child = null;
    this.startedAtMs = null;
    await this.removePidFile();
    if (this.options.hooks.postStop !== null) {
      const runAs = this.runAs === null ? undefined : (await this.runAs).user;
      const result = await this.hook('post-stop', this.options.hooks.postStop, runAs, this.settings.postStopTimeoutMs);
      if (result.exitCode !== 0) {
        this.say(`post-stop hook ${describeHookResult(result, this.settings.postStopTimeoutMs)}`);
      }
    }
    this.setState('down');
  }

  /** One start: init, spawn, post-run, wait for exit, back off, again; until the epoch moves on. */
  private async run(epoch: number, signal: AbortSignal): Promise<void> {
    const live = (): boolean => this.epoch === epoch;
    this.runAs ??= this.resolveRunAs();
    const runAs = await this.runAs;
    while (live()) {
      this.setState('starting');
      const { init, postRun } = this.options.hooks;
      if (init !== null) {
        const result = await this.hook('init', init, runAs.user, this.settings.hookTimeoutMs, signal);
        if (!live()) return;
        if (result.exitCode !== 0) {
          await this.backOff(signal, 'init_hook_failed', `init hook ${describeHookResult(result, this.settings.hookTimeoutMs)}`);
          continue;
        }
      }

      const child = this.spawnRun(runAs.user);
      this.child = child;
      if (child.pid === undefined) {
        const status = await child.exited;
        if (!live()) return;
        this.child = null;
        this.lastExitStatus = status;
        await this.backOff(signal, 'run_hook_failed', describeExit(status));
        continue;
      }
      this.startedAtMs = (this.deps.wallClock ?? { now: () => Date.now() }).now();
      this.backoff.up();
      await this.writePidFile(child.pid);
      if (!live()) return;

      if (postRun !== null) {
        await this.postRunUntilOk(postRun, child, runAs.user, signal);
        if (!live()) return;
      }
      if (child.running) this.setState('up');

      const status = await child.exited;
      // Its last words (a panic on stderr) print before the line about its exit; bounded by
      // OUTPUT_DRAIN_MS in child.ts.
      await child.outputDone;
      if (!live()) return;
      this.child = null;
      this.startedAtMs = null;
      this.lastExitStatus = status;
      await this.removePidFile();
      if (!live()) return;
      await this.backOff(signal, 'run_hook_failed', `run ${describeExit(status)}`);
    }
  }

  /** Retries `post-run` until it exits 0, the process exits, or the service stops. */
  private async postRunUntilOk(path: string, child: ChildHandle, user: SpawnUser | undefined, signal: AbortSignal): Promise<void> {
    const gone = new AbortController();
    void child.exited.then(() => gone.abort());
    const either = AbortSignal.any([signal, gone.signal]);
    for (;;) {
      const result = await this.hook('post-run', path, user, this.settings.hookTimeoutMs, either);
      if (either.aborted || result.exitCode === 0) return;
      const retry = this.settings.postRunRetryMs;
      this.say(`post-run hook ${describeHookResult(result, this.settings.hookTimeoutMs)}; trying again in ${seconds(retry)}`);
      if (!(await sleep(this.timers, retry, either))) return;
    }
  }

  /** Announce the failure, count it, and wait out the backoff (cancelled by `stop()`). */
  private async backOff(signal: AbortSignal, reason: RestartReason, what: string): Promise<void> {
    const wait = this.backoff.next();
    this.restartCount++;
    this.lastReasonText = reason;
    this.say(`${what}; restarting in ${seconds(wait)} (${reason})`);
    this.setState('restarting');
    await sleep(this.timers, wait, signal);
  }

  private spawnRun(user: SpawnUser | undefined): ChildHandle {
    const { hooks, runCommand } = this.options;
    const command = hooks.run ?? runCommand?.command;
    if (command === undefined) throw new MurmurError('INTERNAL', 'no run command (checked in the constructor)');
    return spawnService({
      command,
      args: hooks.run === null ? (runCommand?.args ?? []) : [],
      cwd: this.options.cwd ?? this.options.svcDir,
      env: this.options.env,
      ...(user === undefined ? {} : { user }),
      preamble: this.options.preamble,
      sink: this.deps.sink,
      log: this.log,
    });
  }

  private hook(name: string, path: string, user: SpawnUser | undefined, timeoutMs: number, signal?: AbortSignal): Promise<HookResult> {
    return runHook({
      name,
      path,
      preamble: this.options.preamble,
      cwd: this.options.cwd ?? this.options.svcDir,
      env: this.options.env,
      ...(user === undefined ? {} : { user }),
      logsDir: join(this.options.svcDir, 'logs'),
      timeoutMs,
      killGraceMs: this.settings.hookKillGraceMs,
      sink: this.deps.sink,
      log: this.log,
      ...(signal === undefined ? {} : { signal }),
    });
  }

  /** Decided once per `ServiceProcess`, and said once. */
  private async resolveRunAs(): Promise<RunAs> {
    const decide = this.deps.decideRunAs ?? decideRunAs;
    const svcUser = this.options.svcUser ?? null;
    let runAs: RunAs;
    try {
      runAs = await decide(svcUser, this.options.svcGroup ?? null);
    } catch (err) {
      runAs = { description: `Starting service as the Supervisor's user: could not look up ${svcUser}: ${String(err)}`, fallback: true };
    }
    if (svcUser !== null) this.say(runAs.description);
    return runAs;
  }

  private async writePidFile(pid: number): Promise<void> {
    const tmp = `${this.pidFile}.tmp`;
    try {
      await mkdir(this.options.svcDir, { recursive: true });
      await writeFile(tmp, String(pid), { mode: 0o644 });
      await rename(tmp, this.pidFile);
    } catch (err) {
      this.log.warn('could not write the PID file', { path: this.pidFile, error: String(err) });
    }
  }

  private async removePidFile(): Promise<void> {
    await rm(this.pidFile, { force: true }).catch((err: unknown) => {
      this.log.warn('could not remove the PID file', { path: this.pidFile, error: String(err) });
    });
  }

  private setState(next: ProcessState): void {
    const previous = this.current;
    if (next === previous) return;
    this.current = next;
    this.log.debug('process state', { state: next, previous });
    for (const listener of this.listeners) {
      try {
        listener(next, previous);
      } catch (err) {
        this.log.warn('state listener failed', { error: String(err) });
      }
    }
  }

  /** One `redis.prod(SV): …` line. */
  private say(content: string): void {
    try {
      this.deps.sink({ preamble: this.options.preamble, logkey: SUPERVISOR_LOGKEY, content });
    } catch (err) {
      this.log.warn('output sink failed', { error: String(err) });
    }
  }
}

/** `250 ms`, `1.5 s`, `42 s`. */
function seconds(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
