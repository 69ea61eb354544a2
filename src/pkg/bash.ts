/**
 * bash: runs the bash scripts that read a plan and run its build callbacks. A plan is a bash
 * script, so only bash can say what it sets; this is why `pkg/` may spawn processes.
 *
 * Scripts run as `bash --noprofile --norc -c SCRIPT NAME ARGS…` in an environment built from a
 * short allow-list of the caller's variables (`planEnv`), so that a stray `BASH_ENV`, `CDPATH`
 * or exported function of the caller's shell cannot change what a plan means.
 */
import { spawn } from 'node:child_process';
import { MurmurError } from '../core/index.js';
import type { Env } from '../crypto/index.js';

export interface BashResult {
  /** The exit code, or null when a signal ended bash. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Everything bash wrote to stdout (empty when `onLine` takes the output). */
  stdout: Buffer;
  /** Everything bash wrote to stderr (empty when `onLine` takes the output). */
  stderr: string;
  /** True when `timeoutMs` ran out and bash was killed. */
  timedOut: boolean;
}

export interface BashOptions {
  env: Record<string, string>;
  cwd: string;
  /** `$0` of the script, shown in bash's own messages. */
  name: string;
  /** Kill bash (SIGKILL) after this long. @default no limit */
  timeoutMs?: number;
  /** Takes each line of stdout and stderr as it comes, instead of collecting them. */
  onLine?: (line: string) => void;
}

/** Variables a plan may see from the caller's environment: locale, home, paths and `HAB_*`. */
const PASSED_THROUGH = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'TERM']);

/** The caller's environment, reduced to what a plan may see, plus `extra`. */
export function planEnv(env: Env, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (PASSED_THROUGH.has(name) || name.startsWith('LC_') || name.startsWith('HAB_')) out[name] = value;
  }
  out['PATH'] ??= '/usr/local/bin:/usr/bin:/bin';
  return { ...out, ...extra };
}

/** Runs `script` with bash. Rejects only when bash cannot be started (IO). */
export function runBash(script: string, args: readonly string[], options: BashOptions): Promise<BashResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-c', script, options.name, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const { onLine } = options;
    if (onLine === undefined) {
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    } else {
      splitLines(child.stdout, onLine);
      splitLines(child.stderr, onLine);
    }
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const reason = err.code === 'ENOENT' ? 'bash is not on PATH' : err.message;
      reject(new MurmurError('IO', `cannot run bash in ${options.cwd}: ${reason}; plans are bash scripts, so bash must be installed`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8'), timedOut });
    });
  });
}

/** Calls `onLine` for each line of `stream`, and for a last line without a newline. */
function splitLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (pending !== '') onLine(pending);
  });
}
