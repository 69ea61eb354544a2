/**
 * Live Supervisors for the fuzz harness: a target (fuzzed) and a normal peer joined to it, each a
 * real `murmur sup run` process on its own loopback address with ports chosen by the OS, and the
 * checks made during and after a run: the process is alive, `/butterfly` and the control
 * gateway's `/v1/sup/status` answer within a bound, its RSS (from /proc), and whether a member
 * sees another alive.
 *
 * `from: 'src'` runs the TypeScript sources through tsx (`sup-main.ts`: what `npm test` uses, so
 * that a fix is tested without a build); `from: 'dist'` runs `bin/murmur` (the build, as
 * deployed: what the long run uses). Only processes started here are ever stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface LiveSup {
  host: string;
  fsRoot: string;
  proc: ChildProcess;
  pid: number;
  id: string;
  /** `host:port` of each listener. */
  gossip: string;
  http: string;
  ctl: string;
  /** The control gateway's bearer secret (CTL_SECRET). */
  secret: string;
  /** The last lines of its output (a ring of `MAX_LINES`). */
  lines: string[];
  /** Lines that say something went wrong inside (`(ERROR)`, an uncaught exception). */
  errors: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const MAX_LINES = 400;
const MAX_ERROR_LINES = 200;
const START_LIMIT_MS = 60_000;

export type SupBuild = 'src' | 'dist';

export async function startLiveSup(opts: { host: string; peers?: string[]; from?: SupBuild; env?: Record<string, string> }): Promise<LiveSup> {
  const fsRoot = await mkdtemp(join(tmpdir(), 'murmur-fuzz-'));
  const args = ['sup', 'run', '--listen-gossip', `${opts.host}:0`, '--listen-http', `${opts.host}:0`, '--listen-ctl', `${opts.host}:0`, ...(opts.peers ?? []).flatMap((p) => ['--peer', p])];
  const command = (opts.from ?? 'src') === 'src' ? ['--import', 'tsx', join(ROOT, 'test', 'fuzz', 'sup-main.ts'), ...args] : [join(ROOT, 'bin', 'murmur'), ...args];
  const proc = spawn(process.execPath, command, {
    cwd: ROOT,
    env: { ...process.env, FS_ROOT: fsRoot, MURMUR_GOSSIP_PRESET: 'localTest', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const errors: string[] = [];
  let partial = '';
  const take = (chunk: Buffer): void => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      if (line === '') continue;
      lines.push(line);
      if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES);
      if (isErrorLine(line) && errors.length < MAX_ERROR_LINES) errors.push(line);
    }
  };
  proc.stdout?.on('data', take);
  proc.stderr?.on('data', take);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const grab = (re: RegExp): string | undefined => lines.map((l) => re.exec(l)?.[1]).find((x) => x !== undefined);
  const end = Date.now() + START_LIMIT_MS;
  while (grab(/Starting http-gateway on (\S+)/) === undefined) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`the Supervisor on ${opts.host} exited at start: ${lines.join('\n')}`);
    if (Date.now() > end) {
      proc.kill('SIGKILL');
      throw new Error(`the Supervisor on ${opts.host} did not start within ${START_LIMIT_MS} ms: ${lines.join('\n')}`);
    }
    await sleep(50);
  }
  const secret = (await readFile(join(fsRoot, 'hab', 'sup', 'default', 'CTL_SECRET'), 'utf8')).trim();
  return {
    host: opts.host,
    fsRoot,
    proc,
    pid: proc.pid ?? 0,
    id: grab(/Supervisor Member-ID ([0-9a-f]{32})/) ?? '',
    gossip: grab(/Starting gossip-listener on (\S+)/) ?? '',
    http: grab(/Starting http-gateway on (\S+)/) ?? '',
    ctl: grab(/Starting ctl-gateway on (\S+)/) ?? '',
    secret,
    lines,
    errors,
    exited,
  };
}

/**
 * A line saying something went wrong inside: an `(ERROR)` line or an uncaught exception. (A
 * control request whose client went away mid-body is an info line, `client went away
 * mid-request`: the client's doing, not a finding.)
 */
export function isErrorLine(line: string): boolean {
  return /\(ERROR\)|Uncaught|uncaught|unhandled|FATAL|RangeError|TypeError/.test(line);
}

export function isRunning(sup: LiveSup): boolean {
  return sup.proc.exitCode === null && sup.proc.signalCode === null;
}

/** SIGTERM, then SIGKILL after `graceMs`; removes its FS_ROOT. */
export async function stopLiveSup(sup: LiveSup, graceMs = 10_000): Promise<void> {
  if (isRunning(sup)) {
    sup.proc.kill('SIGTERM');
    const done = await Promise.race([sup.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done && isRunning(sup)) {
      sup.proc.kill('SIGKILL');
      await sup.exited;
    }
  }
  await rm(sup.fsRoot, { recursive: true, force: true });
}

/** Resident memory of a process in bytes (Linux /proc), or undefined when it cannot be read. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** `fetch` that gives up after `limitMs`; resolves to the response and how long it took. */
export async function timedFetch(url: string, limitMs: number, init: RequestInit = {}): Promise<{ res: Response; body: string; ms: number }> {
  const start = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(limitMs) });
  const body = await res.text();
  return { res, body, ms: performance.now() - start };
}

export interface HealthCheck {
  ok: boolean;
  /** What failed: exited, a route that did not answer within the bound or answered an error. */
  problem?: string;
  /** The longer of the two answers, ms. */
  ms: number;
  rss: number | undefined;
}

/** Alive, `/butterfly` and ctl `/v1/sup/status` answering 200 within `boundMs` each, and its RSS. */
export async function checkHealth(sup: LiveSup, boundMs: number): Promise<HealthCheck> {
  const rss = rssBytes(sup.pid);
  if (!isRunning(sup)) return { ok: false, problem: `exited (${String(sup.proc.exitCode ?? sup.proc.signalCode)})`, ms: 0, rss };
  let ms = 0;
  try {
    const b = await timedFetch(`http://${sup.http}/butterfly`, boundMs);
    ms = Math.max(ms, b.ms);
    if (b.res.status !== 200) return { ok: false, problem: `/butterfly answered ${b.res.status}`, ms, rss };
    const s = await timedFetch(`http://${sup.ctl}/v1/sup/status`, boundMs, { headers: { authorization: `Bearer ${sup.secret}` } });
    ms = Math.max(ms, s.ms);
    if (s.res.status !== 200) return { ok: false, problem: `ctl /v1/sup/status answered ${s.res.status}`, ms, rss };
  } catch (err) {
    return { ok: false, problem: `no answer within ${boundMs} ms (${(err as Error).message})`, ms: boundMs, rss };
  }
  return { ok: true, ms, rss };
}

/** The health `observer` holds for `subject` in its `/butterfly` (`Alive`, `Suspect`…), if any. */
export async function healthSeen(observer: LiveSup, subject: LiveSup, limitMs = 5000): Promise<string | undefined> {
  const { body } = await timedFetch(`http://${observer.http}/butterfly`, limitMs);
  const view = JSON.parse(body) as { membership?: Record<string, { health?: string }> };
  return view.membership?.[subject.id]?.health;
}

/** Waits until `observer` sees `subject` alive; false after `limitMs`. */
export async function waitSeesAlive(observer: LiveSup, subject: LiveSup, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    try {
      if ((await healthSeen(observer, subject)) === 'Alive') return true;
    } catch {
      // not answering yet: try again
    }
    await sleep(200);
  }
  return false;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
