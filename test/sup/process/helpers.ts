/**
 * Helpers for the process tests: temp directories with `/bin/sh` scripts, a sink that records
 * lines, waiting on a service's state changes, and checking whether a PID still runs.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatOutputLine, type OutputLine, type OutputSink, type ProcessState, type ServiceProcess } from '../../../src/sup/process/index.js';

/** The environment every test child gets: just enough to find `sleep` and `id`. */
export const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };

const dirs: string[] = [];

export async function tempDir(prefix = 'murmur-proc-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
}

/** Writes a `/bin/sh` script (`mode` 0755 unless given) and returns its path. */
export async function script(dir: string, name: string, body: string, mode = 0o755): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, mode);
  return path;
}

/** A sink that keeps every line, rendered. */
export function recordingSink(): { sink: OutputSink; lines: OutputLine[]; text: () => string[] } {
  const lines: OutputLine[] = [];
  return { sink: (line) => lines.push(line), lines, text: () => lines.map(formatOutputLine) };
}

/** A process is alive if /proc has it and it is not a zombie (PID 1 may not reap orphans here). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Resolves once `check()` holds, polling every 10 ms; rejects after `timeoutMs` (a generous
 * upper bound, never the expected duration).
 */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves when `sp` enters `state` for the `count`-th time from now; rejects after `timeoutMs`. */
export function nextState(sp: ServiceProcess, state: ProcessState, count = 1, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for state ${state} (#${count}); state is ${sp.state}`));
    }, timeoutMs);
    const off = sp.onStateChange((next) => {
      if (next === state && ++seen === count) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

export async function readLines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '');
}

/**
 * Grandchildren a test recorded and has not yet seen die: `afterEach` kills those still alive, so
 * a failing test leaves nothing behind. `expectGone` takes a PID off the list once it is gone, so
 * a number the system may reuse later is never signalled.
 */
export class Leftovers {
  private readonly pids = new Set<number>();

  add(pid: number | undefined): number {
    if (pid === undefined || !(pid > 0)) throw new Error(`no PID recorded (${pid})`);
    this.pids.add(pid);
    return pid;
  }

  async expectGone(pid: number): Promise<void> {
    await until(() => !isAlive(pid), `PID ${pid} to be gone`);
    this.pids.delete(pid);
  }

  killAll(): void {
    for (const pid of this.pids) {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    this.pids.clear();
  }
}
