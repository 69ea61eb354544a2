/**
 * Real `murmur sup run` processes for end-to-end tests: each on its own loopback address with
 * its own FS_ROOT, ports chosen by the OS (read back from the start-up lines), the localTest
 * gossip preset. Every wait is bounded; `stopAll` ends only the processes started here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(root, 'bin', 'murmur');
/** The same program under Habitat's name. */
export const HAB = join(root, 'bin', 'hab');

export interface Sup {
  host: string;
  fsRoot: string;
  proc: ChildProcess;
  lines: string[];
  id: string;
  gossip: string;
  http: string;
  /** The control gateway's address (`hab … --remote-sup`). */
  ctl: string;
  exited: Promise<number | null>;
}

const started: Sup[] = [];
const roots: string[] = [];

export async function newFsRoot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'murmur-e2e-'));
  roots.push(dir);
  return dir;
}

/** Writes `name` with `text` into a fresh temporary directory (removed by `stopAll`); returns its path. */
export async function writeTempFile(name: string, text: string): Promise<string> {
  const path = join(await newFsRoot(), name);
  await writeFile(path, text);
  return path;
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
  const args = ['sup', 'run', '--listen-gossip', `${opts.host}:${opts.gossipPort ?? 0}`, '--listen-http', `${opts.host}:0`, '--listen-ctl', `${opts.host}:0`, ...(opts.peers ?? []).flatMap((p) => ['--peer', p]), ...(opts.args ?? [])];
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, FS_ROOT: fsRoot, MURMUR_GOSSIP_PRESET: 'localTest', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const take = (chunk: Buffer): void => void lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
  proc.stdout?.on('data', take);
  proc.stderr?.on('data', take);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const sup: Sup = { host: opts.host, fsRoot, proc, lines, id: '', gossip: '', http: '', ctl: '', exited };
  started.push(sup);
  const grab = (re: RegExp): string | undefined => lines.map((l) => re.exec(l)?.[1]).find((x) => x !== undefined);
  await waitFor(`start-up lines of the Supervisor on ${opts.host}`, () => {
    if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}: ${lines.join('\n')}`);
    return grab(/Starting http-gateway on (\S+)/);
  });
  sup.id = grab(/Supervisor Member-ID ([0-9a-f]{32})/) ?? '';
  sup.gossip = grab(/Starting gossip-listener on (\S+)/) ?? '';
  sup.http = grab(/Starting http-gateway on (\S+)/) ?? '';
  // Printed before the http-gateway line, so it is there by now.
  sup.ctl = grab(/Starting ctl-gateway on (\S+)/) ?? '';
  return sup;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one command of the built CLI (as `hab`) to completion, with `input` on standard input;
 * killed after `limitMs`. Does not block the test's event loop, unlike spawnSync.
 */
export function hab(args: string[], opts: { env?: Record<string, string>; input?: string; limitMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [HAB, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => void (stdout += c.toString('utf8')));
    proc.stderr.on('data', (c: Buffer) => void (stderr += c.toString('utf8')));
    const limit = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`hab ${args.join(' ')} did not finish within ${opts.limitMs ?? 20_000} ms; stderr: ${stderr}`));
    }, opts.limitMs ?? 20_000);
    proc.once('error', reject);
    proc.once('close', (code) => {
      clearTimeout(limit);
      resolve({ code, stdout, stderr });
    });
    proc.stdin.end(opts.input ?? '');
  });
}

/** `/butterfly` of a Supervisor. */
export interface ButterflyView {
  membership: Record<string, { health: string; incarnation: number }>;
  latest_service_config: Record<string, { incarnation: number; config: number[] } | null>;
  service_file: { list: Record<string, Record<string, { incarnation: number; filename: string; body: number[] }>> };
}

export async function butterfly(sup: Sup): Promise<ButterflyView> {
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

/**
 * Stops every Supervisor a test started: SIGTERM first, so that each stops its services (they
 * lead their own process groups and would outlive a SIGKILLed Supervisor), then SIGKILL for any
 * still running after 10 s.
 */
export async function stopAll(): Promise<void> {
  const running = started.splice(0).filter((s) => s.proc.exitCode === null && s.proc.signalCode === null);
  for (const s of running) s.proc.kill('SIGTERM');
  await Promise.all(running.map((s) => Promise.race([s.exited, new Promise((r) => setTimeout(r, 10_000))])));
  for (const s of running) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
  for (const dir of roots.splice(0)) await rm(dir, { recursive: true, force: true });
}

/**
 * Builds one signed `.hart` per plan with `hab pkg build` (the origin key must be in
 * `env.HAB_CACHE_KEY_PATH`): each plan is its files' texts by path (`plan.sh`, `hooks/run`, …;
 * hooks are made executable). Returns the path of each package by plan name.
 */
export async function buildPackages<K extends string>(plans: Record<K, Record<string, string>>, env: Record<string, string>): Promise<Record<K, string>> {
  const harts = {} as Record<K, string>;
  for (const name of Object.keys(plans) as K[]) {
    const plan = await newFsRoot();
    for (const [file, text] of Object.entries(plans[name])) {
      await mkdir(join(plan, file, '..'), { recursive: true });
      await writeFile(join(plan, file), text, { mode: file.startsWith('hooks/') ? 0o755 : 0o644 });
    }
    const out = await newFsRoot();
    const built = await hab(['pkg', 'build', plan, '--output', out], { env, limitMs: 60_000 });
    if (built.code !== 0) throw new Error(`hab pkg build ${name} exited ${built.code}: ${built.stderr}`);
    const hart = (await readdir(out)).find((f) => f.endsWith('.hart'));
    if (hart === undefined) throw new Error(`hab pkg build ${name} wrote no .hart in ${out}`);
    harts[name] = join(out, hart);
  }
  return harts;
}
