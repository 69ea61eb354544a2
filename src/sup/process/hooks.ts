/**
 * Running one hook file (reference §7, Hooks): `init`, `post-run`, `post-stop`, and later
 * `health-check`, `reconfigure`, `suitability`, `file-updated`.
 *
 * As in Habitat (`components/common/src/templating/hooks.rs`), a hook's stdout and stderr are
 * printed with the preamble `<service>.<group> hook[<name>]:` and the log key `HK`:
 * `redis.prod hook[init]:(HK): <line>`, and written to `<logsDir>/<name>.stdout.log` and
 * `<name>.stderr.log`. Habitat recreates those files on every run (`File::create`), so that they
 * hold the last run's output (`suitability` reads its answer from there) and never grow without
 * bound; `logMode: 'append'` keeps every run instead.
 *
 * A hook that is missing or not executable gives a result with an `error` that names the path
 * and the fix; `runHook` never rejects. It does not print that error itself: the caller knows
 * whether it is worth a line. A hook runs in its own process group (`child.ts`); at its timeout,
 * or when `signal` aborts, the whole group gets SIGTERM, then SIGKILL after `killGraceMs`.
 */
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../core/index.js';
import { spawnService, type ExitStatus, type SpawnUser } from './child.js';
import type { OutputSink } from './output.js';

/** Log key of hook output lines, as in Habitat. */
export const HOOK_LOGKEY = 'HK';

/** Between SIGTERM and SIGKILL when a hook times out or is cancelled. @default 2 s */
export const DEFAULT_HOOK_KILL_GRACE_MS = 2_000;

export interface RunHookOptions {
  /** The hook's name (`init`, `post-run`…): names its preamble and its log files. */
  name: string;
  /** The rendered hook file, e.g. `/hab/svc/redis/hooks/init`. */
  path: string;
  /** `redis.prod`; lines are printed as `redis.prod hook[init]:(HK): …`. */
  preamble: string;
  cwd: string;
  env: Readonly<Record<string, string>>;
  user?: SpawnUser;
  /** `/hab/svc/<name>/logs` (created if missing). */
  logsDir: string;
  /** `truncate`: the log files hold the last run (Habitat); `append`: every run. @default 'truncate' */
  logMode?: 'truncate' | 'append';
  /** Kill the hook after this long, in ms. @default no limit (cancel through `signal`) */
  timeoutMs?: number;
  /** @default DEFAULT_HOOK_KILL_GRACE_MS */
  killGraceMs?: number;
  sink: OutputSink;
  log: Logger;
  /** Aborting kills the hook's process group. */
  signal?: AbortSignal;
}

export interface HookResult {
  /** The exit status; `null` if it was killed by a signal or never ran. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Killed at `timeoutMs`. */
  timedOut: boolean;
  /** Killed because `signal` aborted (or never started: already aborted). */
  aborted: boolean;
  /** Why the hook did not run: missing, not executable, could not be spawned. */
  error?: string;
  pid?: number;
}

/** `exited with status 2`, `timed out after 30000 ms`, or the error. */
export function describeHookResult(result: HookResult, timeoutMs?: number): string {
  if (result.error !== undefined) return result.error;
  if (result.timedOut) return `timed out${timeoutMs === undefined ? '' : ` after ${timeoutMs} ms`} and was killed`;
  if (result.aborted) return 'was cancelled';
  if (result.signal !== null) return `was killed by signal ${result.signal}`;
  return `exited with status ${result.exitCode ?? 'unknown'}`;
}

export async function runHook(opts: RunHookOptions): Promise<HookResult> {
  const notRun = (error: string | undefined, aborted = false): HookResult => ({
    exitCode: null,
    signal: null,
    timedOut: false,
    aborted,
    ...(error === undefined ? {} : { error }),
  });
  const problem = await checkHookFile(opts.name, opts.path);
  if (problem !== null) return notRun(problem);
  if (opts.signal?.aborted) return notRun(undefined, true);

  let logFiles: { stdout: string; stderr: string; flags: 'a' | 'w' } | undefined;
  try {
    await mkdir(opts.logsDir, { recursive: true });
    logFiles = {
      stdout: join(opts.logsDir, `${opts.name}.stdout.log`),
      stderr: join(opts.logsDir, `${opts.name}.stderr.log`),
      flags: opts.logMode === 'append' ? 'a' : 'w',
    };
  } catch (err) {
    opts.log.warn('hook logs directory unavailable; hook output is not kept', { dir: opts.logsDir, error: String(err) });
  }
  if (opts.signal?.aborted) return notRun(undefined, true);

  const child = spawnService({
    command: opts.path,
    cwd: opts.cwd,
    env: opts.env,
    ...(opts.user === undefined ? {} : { user: opts.user }),
    preamble: `${opts.preamble} hook[${opts.name}]:`,
    sink: opts.sink,
    logkeys: { stdout: HOOK_LOGKEY, stderr: HOOK_LOGKEY },
    ...(logFiles === undefined ? {} : { logFiles }),
    log: opts.log,
  });

  const grace = opts.killGraceMs ?? DEFAULT_HOOK_KILL_GRACE_MS;
  let timedOut = false;
  let aborted = false;
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    void child.stop('SIGTERM', grace);
  }, opts.timeoutMs);
  const onAbort = (): void => {
    aborted = true;
    void child.stop('SIGTERM', grace);
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  let status: ExitStatus;
  try {
    status = await child.exited;
    await child.outputDone;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return {
    exitCode: status.code,
    signal: status.signal,
    timedOut,
    aborted: aborted && !timedOut,
    ...(status.error === undefined ? {} : { error: `hook ${opts.name}: ${status.error}` }),
    ...(child.pid === undefined ? {} : { pid: child.pid }),
  };
}

/** `null` if `path` is an executable file; otherwise what is wrong and how to fix it. */
export async function checkHookFile(name: string, path: string): Promise<string | null> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return `hook ${name}: ${path} is not a regular file`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return `hook ${name}: ${path} does not exist; render the package's hooks again, or remove the hook from the package`;
    }
    return `hook ${name}: cannot read ${path}: ${String(err)}`;
  }
  try {
    await access(path, constants.X_OK);
  } catch {
    return `hook ${name}: ${path} is not executable; fix it with: chmod +x ${path}`;
  }
  return null;
}
