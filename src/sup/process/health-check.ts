/**
 * Health checks (reference §7 "Health checks"; Habitat's `manager/service/health.rs`): a
 * service's `health-check` hook, run over and over while the service runs, and its exit code
 * read as Habitat reads it: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, anything else UNKNOWN. A
 * service without the hook is OK while its process is up and CRITICAL otherwise.
 *
 * Two parts:
 *
 * - `runHealthCheck` runs one check (the hook, or the process state) and returns the health and
 *   the output the HTTP gateway shows (`…/health`): what the hook wrote to its log files
 *   (`logs/health-check.stdout.log`, `.stderr.log`, rewritten by every run, as in Habitat).
 * - `HealthChecker` decides when checks run. Habitat's schedule: after the first OK result, the
 *   next check waits a random splay within the interval, so that the services of a ring do not
 *   all check at the same moment; after an OK, the interval; after any other result, the
 *   interval or 30 s, whichever is shorter (`nextCheckDelayMs`). Ours adds checks at moments
 *   where the answer may have changed: when the process comes up or goes down, and after the
 *   `reconfigure` hook (Habitat does the latter too). Checks never overlap: one asked for while
 *   one runs follows it.
 *
 * Unlike Habitat, a hook that hangs does not stop health checking: it is killed at its time
 * limit (the interval, at least `MIN_HEALTH_CHECK_TIMEOUT_MS`) and the result is UNKNOWN, as
 * Habitat reports a hook that could not run.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger, Random } from '../../core/index.js';
import type { ServiceHealth } from '../../wire/index.js';
import type { SpawnUser } from './child.js';
import { describeHookResult, runHook } from './hooks.js';
import type { OutputSink } from './output.js';
import type { Timers } from './timers.js';

/** The hook's name, its log files' names. */
export const HEALTH_CHECK_HOOK = 'health-check';

/** Habitat's `HealthCheckInterval::default()`: the longest wait after a result that is not OK. @default 30 s */
export const HEALTH_CHECK_RETRY_CAP_MS = 30_000;

/** The shortest time limit of one check: a shell needs a moment to start on a busy host. @default 1 s */
export const MIN_HEALTH_CHECK_TIMEOUT_MS = 1_000;

/** How much of each of the hook's log files a result keeps. @default 64 KiB */
export const HEALTH_CHECK_OUTPUT_BYTES = 64 * 1024;

/** One check's result. `stdout`/`stderr` are empty when no hook ran. */
export interface HealthCheckResult {
  health: ServiceHealth;
  stdout: string;
  stderr: string;
}

/** Habitat's reading of a health-check hook's exit code; `null` (killed, never ran) is UNKNOWN. */
export function healthOfExitCode(code: number | null): ServiceHealth {
  switch (code) {
    case 0:
      return 'ok';
    case 1:
      return 'warning';
    case 2:
      return 'critical';
    default:
      return 'unknown';
  }
}

/**
 * How long to wait after a check before the next one, Habitat's rule: after the first OK, a
 * random splay in [0, interval); after a later OK, the interval; after anything else,
 * min(interval, 30 s).
 */
export function nextCheckDelayMs(health: ServiceHealth, intervalMs: number, firstOk: boolean, random: Random): number {
  if (health !== 'ok') return Math.min(intervalMs, HEALTH_CHECK_RETRY_CAP_MS);
  return firstOk ? Math.floor(random.next() * intervalMs) : intervalMs;
}

/** The time limit of one check: the interval, so that a hung hook never delays the next, but not less than 1 s. */
export function healthCheckTimeoutMs(intervalMs: number): number {
  return Math.max(intervalMs, MIN_HEALTH_CHECK_TIMEOUT_MS);
}

export interface RunHealthCheckOptions {
  /** The rendered hook, or `null` when the package has none: the process state decides. */
  hookPath: string | null;
  /** Whether the service's process is up (used only without a hook). */
  processUp: boolean;
  preamble: string;
  cwd: string;
  env: Readonly<Record<string, string>>;
  user?: SpawnUser;
  /** `<svc>/logs`: the hook's output files go there. */
  logsDir: string;
  timeoutMs: number;
  sink: OutputSink;
  log: Logger;
  /** Aborting kills the hook (the service stops); the result is then UNKNOWN. */
  signal?: AbortSignal;
}

/**
 * One check. A hook that exits outside 0–3, times out, is killed or cannot run gives UNKNOWN
 * and one warning line saying why; the check itself never throws.
 */
export async function runHealthCheck(opts: RunHealthCheckOptions): Promise<HealthCheckResult> {
  if (opts.hookPath === null) return { health: opts.processUp ? 'ok' : 'critical', stdout: '', stderr: '' };
  const result = await runHook({
    name: HEALTH_CHECK_HOOK,
    path: opts.hookPath,
    preamble: opts.preamble,
    cwd: opts.cwd,
    env: opts.env,
    ...(opts.user === undefined ? {} : { user: opts.user }),
    logsDir: opts.logsDir,
    timeoutMs: opts.timeoutMs,
    sink: opts.sink,
    log: opts.log,
    ...(opts.signal === undefined ? {} : { signal: opts.signal }),
  });
  const health = result.error === undefined && !result.timedOut ? healthOfExitCode(result.exitCode) : 'unknown';
  if (!result.aborted) {
    if (result.error !== undefined) {
      opts.log.warn(`${result.error}; health is UNKNOWN`);
    } else if (result.timedOut || result.signal !== null) {
      opts.log.warn(`health-check hook ${describeHookResult(result, opts.timeoutMs)}; health is UNKNOWN`);
    } else if (result.exitCode !== null && (result.exitCode < 0 || result.exitCode > 3)) {
      opts.log.warn(`health-check hook exited with status ${result.exitCode}, which is not 0 (OK), 1 (WARNING), 2 (CRITICAL) or 3 (UNKNOWN); health is UNKNOWN`);
    }
  }
  const [stdout, stderr] = await Promise.all(['stdout', 'stderr'].map((s) => readHead(join(opts.logsDir, `${HEALTH_CHECK_HOOK}.${s}.log`), HEALTH_CHECK_OUTPUT_BYTES)));
  return { health, stdout: stdout ?? '', stderr: stderr ?? '' };
}

/** The first `max` bytes of a file as text, or '' when it cannot be read. */
async function readHead(path: string, max: number): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
    const buf = Buffer.alloc(max);
    const { bytesRead } = await handle.read(buf, 0, max, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } catch {
    return '';
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

export interface HealthCheckerDeps {
  timers: Timers;
  random: Random;
  log: Logger;
}

export interface HealthCheckerOptions {
  /** The nominal interval between checks, in ms (`--health-check-interval`). */
  intervalMs: number;
  /** Runs one check; aborting `signal` should end it promptly. */
  check: (signal: AbortSignal) => Promise<HealthCheckResult>;
  /** Every result, in order; never called after `stop()`. */
  onResult: (result: HealthCheckResult) => void;
}

/**
 * The schedule of one service's health checks, from `start()` to `stop()`. One instance per
 * run of the service: a service started again gets a new one (and starts over with a splay).
 */
export class HealthChecker {
  private readonly deps: HealthCheckerDeps;
  private readonly opts: HealthCheckerOptions;
  private timer: unknown;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private started = false;
  private okSeen = false;
  private readonly abort = new AbortController();

  constructor(deps: HealthCheckerDeps, opts: HealthCheckerOptions) {
    this.deps = deps;
    this.opts = opts;
  }

  /**
   * Starts checking: the first check runs after `firstDelayMs` (by default one interval) unless
   * `checkNow()` comes first, as it does when the process comes up. Idempotent.
   */
  start(firstDelayMs = this.opts.intervalMs): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.schedule(firstDelayMs);
  }

  /** Checks as soon as possible: now, or right after the check that runs. */
  checkNow(): void {
    if (!this.started || this.stopped) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.clearTimer();
    this.running = this.loop();
  }

  /** Stops checking and kills a hook that runs; resolves once it has ended. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    this.abort.abort();
    await this.running;
  }

  private schedule(ms: number): void {
    this.clearTimer();
    this.timer = this.deps.timers.setTimeout(() => {
      this.timer = undefined;
      this.checkNow();
    }, Math.max(0, ms));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.deps.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Checks until no check is asked for, then schedules the next one. */
  private async loop(): Promise<void> {
    try {
      let result: HealthCheckResult;
      let firstOk: boolean;
      do {
        this.again = false;
        result = await this.opts.check(this.abort.signal).catch((err: unknown): HealthCheckResult => {
          this.deps.log.warn('health check failed to run', { error: String(err) });
          return { health: 'unknown', stdout: '', stderr: '' };
        });
        if (this.stopped) return;
        firstOk = result.health === 'ok' && !this.okSeen;
        if (result.health === 'ok') this.okSeen = true;
        try {
          this.opts.onResult(result);
        } catch (err) {
          this.deps.log.warn('health check result listener failed', { error: String(err) });
        }
      } while (this.again && !this.stopped);
      if (this.stopped) return;
      this.schedule(nextCheckDelayMs(result.health, this.opts.intervalMs, firstOk, this.deps.random));
    } finally {
      this.running = null;
    }
  }
}
