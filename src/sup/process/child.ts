/**
 * One child process in its own process group: the only place murmur starts a process
 * (ARCHITECTURE.md §3: `sup/` is the only layer that spawns). Services and hooks both run here.
 *
 * - The child is spawned `detached: true`: it calls `setsid()` before `exec`, so it leads a new
 *   session and process group whose id is its PID. Signals go to the whole group
 *   (`process.kill(-pgid, sig)`), so a `run` hook that is a shell script takes its children down
 *   with it.
 * - When the group leader exits, whatever is left of its group is SIGKILLed at once (as systemd's
 *   `KillMode=control-group`): a leftover grandchild would otherwise hold the service's ports and
 *   output pipes across a restart. After that the group is never signalled again, so a PID we did
 *   not start is never signalled (Linux does not reuse a number while a group of that id lives).
 * - A spawn that fails (missing command, not executable, bad working directory, no permission
 *   to change user) resolves `exited` with an `error` text; it never surfaces as an unhandled
 *   `'error'` event and never throws.
 * - Output goes line by line to the sink (`output.ts`), raw to optional log files. Reading ends
 *   at most `OUTPUT_DRAIN_MS` after the leader exited, even if a process outside the group still
 *   holds the pipes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { nullLogger, type Logger } from '../../core/index.js';
import { pipeOutput, type OutputSink } from './output.js';

export interface SpawnUser {
  uid: number;
  gid: number;
}

/** How a child ended. `error` is set when it could not be started at all (no pid). */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: string;
}

/** `exited with status 1`, `killed by signal SIGKILL`, or the spawn error. */
export function describeExit(status: ExitStatus): string {
  if (status.error !== undefined) return status.error;
  if (status.signal !== null) return `killed by signal ${status.signal}`;
  return `exited with status ${status.code ?? 'unknown'}`;
}

/** After the leader exits, how long its output may keep flowing before the pipes are closed. */
export const OUTPUT_DRAIN_MS = 1_000;

export interface SpawnServiceOptions {
  command: string;
  args?: readonly string[];
  cwd: string;
  /** The child's whole environment (nothing is inherited). */
  env: Readonly<Record<string, string>>;
  /** Run as this user and group (needs a root Supervisor). */
  user?: SpawnUser;
  /** `redis.prod`: lines go to the sink as `redis.prod(O): …`. */
  preamble: string;
  sink: OutputSink;
  /** @default { stdout: 'O', stderr: 'E' } */
  logkeys?: { stdout: string; stderr: string };
  /** Raw output is written to these files too; `flags` `a` appends (default), `w` truncates. */
  logFiles?: { stdout?: string; stderr?: string; flags?: 'a' | 'w' };
  log?: Logger;
}

export interface ChildHandle {
  /** The PID, also the process group id; `undefined` if the spawn failed. */
  readonly pid: number | undefined;
  /** Resolves when the leader has exited (and its group was swept); never rejects. */
  readonly exited: Promise<ExitStatus>;
  /** Resolves when both output streams have been read to the end and log files closed. */
  readonly outputDone: Promise<void>;
  /** `true` until the leader has exited. */
  readonly running: boolean;
  /**
   * Sends `signal` to the whole group, then SIGKILL to the group if the leader has not exited
   * within `timeoutMs`. Resolves when it has exited. Idempotent: a second call while stopping
   * returns the same wait; a call after exit returns the exit status.
   */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<ExitStatus>;
}

export function spawnService(opts: SpawnServiceOptions): ChildHandle {
  const log = opts.log ?? nullLogger;
  const keys = opts.logkeys ?? { stdout: 'O', stderr: 'E' };
  let child: ChildProcess;
  try {
    child = spawn(opts.command, [...(opts.args ?? [])], {
      cwd: opts.cwd,
      env: { ...opts.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.user === undefined ? {} : { uid: opts.user.uid, gid: opts.user.gid }),
    });
  } catch (err) {
    // Synchronous failures: an invalid argument (a NUL byte in a path), or EACCES/EPERM on some
    // platforms. Same result as an asynchronous spawn error.
    return failedHandle(spawnError(opts, err));
  }

  let exitStatus: ExitStatus | null = null;
  let stopping: Promise<ExitStatus> | null = null;
  let resolveExit!: (status: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((resolve) => (resolveExit = resolve));
  const pid = child.pid;

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (pid === undefined || exitStatus !== null) return;
    try {
      process.kill(-pid, signal);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ESRCH') log.warn('could not signal a process group', { pid, signal, error: String(err) });
    }
  };

  const finish = (status: ExitStatus): void => {
    if (exitStatus !== null) return;
    // Sweep what is left of the group while its id is still ours (see the module comment).
    signalGroup('SIGKILL');
    exitStatus = status;
    resolveExit(status);
  };

  child.once('exit', (code, signal) => finish({ code, signal }));
  child.on('error', (err) => {
    if (child.pid === undefined) finish({ code: null, signal: null, error: spawnError(opts, err) });
    else log.warn('child process error', { pid: child.pid, error: err.message });
  });

  const streams = [
    child.stdout === null ? Promise.resolve() : pipeOutput(child.stdout, {
      preamble: opts.preamble,
      logkey: keys.stdout,
      sink: opts.sink,
      log,
      ...(opts.logFiles?.stdout === undefined ? {} : { logFile: opts.logFiles.stdout, logFlags: opts.logFiles.flags ?? 'a' }),
    }),
    child.stderr === null ? Promise.resolve() : pipeOutput(child.stderr, {
      preamble: opts.preamble,
      logkey: keys.stderr,
      sink: opts.sink,
      log,
      ...(opts.logFiles?.stderr === undefined ? {} : { logFile: opts.logFiles.stderr, logFlags: opts.logFiles.flags ?? 'a' }),
    }),
  ];
  const outputDone = Promise.all(streams).then(() => undefined);

  // Bound the drain: a process that left the group (setsid) may hold our pipes forever.
  void exited.then(() => {
    let drained = false;
    const timer = setTimeout(() => {
      if (drained) return;
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, OUTPUT_DRAIN_MS);
    void outputDone.then(() => {
      drained = true;
      clearTimeout(timer);
    });
  });

  return {
    pid,
    exited,
    outputDone,
    get running() {
      return exitStatus === null;
    },
    stop(signal, timeoutMs) {
      if (exitStatus !== null) return exited;
      if (stopping !== null) return stopping;
      signalGroup(signal);
      const timer = setTimeout(() => {
        log.debug('shutdown timeout; killing the process group', { pid, timeoutMs });
        signalGroup('SIGKILL');
      }, Math.max(0, timeoutMs));
      stopping = exited.then((status) => {
        clearTimeout(timer);
        return status;
      });
      return stopping;
    },
  };
}

/** A handle for a child that never started. */
function failedHandle(error: string): ChildHandle {
  const exited = Promise.resolve<ExitStatus>({ code: null, signal: null, error });
  return { pid: undefined, exited, outputDone: Promise.resolve(), running: false, stop: () => exited };
}

/** The reason a spawn failed, naming the command and what to check. */
function spawnError(opts: SpawnServiceOptions, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const what = `could not start ${opts.command}`;
  switch (code) {
    case 'ENOENT':
      return `${what}: no such file (ENOENT); check that it exists and that the working directory ${opts.cwd} exists`;
    case 'EACCES':
      return `${what}: permission denied (EACCES); make it executable (chmod +x ${opts.command}) and check the directories above it`;
    case 'ENOEXEC':
      return `${what}: not an executable format (ENOEXEC); a script needs a #! line`;
    case 'EPERM':
      return `${what}: not permitted (EPERM); running as another user needs a root Supervisor`;
    default:
      return `${what}: ${err instanceof Error ? err.message : String(err)}`;
  }
}
