/**
 * Real `murmur sup run` processes for end-to-end tests: each on its own loopback address with
 * its own FS_ROOT, ports chosen by the OS (read back from the start-up lines), the localTest
 * gossip preset. Every wait is bounded; `stopAll` ends only the processes started here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(root, 'bin', 'murmur');

export interface Sup {
  host: string;
  fsRoot: string;
  proc: ChildProcess;
  lines: string[];
  id: string;
  gossip: string;
  http: string;
  exited: Promise<number | null>;
}

const started: Sup[] = [];
const roots: string[] = [];

export async function newFsRoot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'murmur-e2e-'));
  roots.push(dir);
  return dir;
}

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, limitMs = 20_000, stepMs = 100): Promise<T> {
  const end = Date.now() + limitMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${limitMs} ms waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})` : ''}`);
}

export async function startSup(opts: { host: string; gossipPort?: number; fsRoot?: string; peers?: string[]; args?: string[]; env?: Record<string, string> }): Promise<Sup> {
  const fsRoot = opts.fsRoot ?? (await newFsRoot());
  const args = ['sup', 'run', '--listen-gossip', `${opts.host}:${opts.gossipPort ?? 0}`, '--listen-http', `${opts.host}:0`, ...(opts.peers ?? []).flatMap((p) => ['--peer', p]), ...(opts.args ?? [])];
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, FS_ROOT: fsRoot, MURMUR_GOSSIP_PRESET: 'localTest', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const take = (chunk: Buffer): void => void lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
  proc.stdout?.on('data', take);
  proc.stderr?.on('data', take);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const sup: Sup = { host: opts.host, fsRoot, proc, lines, id: '', gossip: '', http: '', exited };
  started.push(sup);
  const grab = (re: RegExp): string | undefined => lines.map((l) => re.exec(l)?.[1]).find((x) => x !== undefined);
  await waitFor(`start-up lines of the Supervisor on ${opts.host}`, () => {
    if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}: ${lines.join('\n')}`);
    return grab(/Starting http-gateway on (\S+)/);
  });
  sup.id = grab(/Supervisor Member-ID ([0-9a-f]{32})/) ?? '';
  sup.gossip = grab(/Starting gossip-listener on (\S+)/) ?? '';
  sup.http = grab(/Starting http-gateway on (\S+)/) ?? '';
  return sup;
}

/** `/butterfly` of a Supervisor. */
export async function butterfly(sup: Sup): Promise<{ membership: Record<string, { health: string; incarnation: number }>; latest_service_config: Record<string, unknown> }> {
  const res = await fetch(`http://${sup.http}/butterfly`);
  return (await res.json()) as never;
}

export async function healthOf(observer: Sup, subject: Sup): Promise<string | undefined> {
  return (await butterfly(observer)).membership[subject.id]?.health;
}

export async function kill9(sup: Sup): Promise<void> {
  if (sup.proc.exitCode === null) sup.proc.kill('SIGKILL');
  await sup.exited;
}

export async function stopAll(): Promise<void> {
  for (const s of started.splice(0)) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
  for (const dir of roots.splice(0)) await rm(dir, { recursive: true, force: true });
}
