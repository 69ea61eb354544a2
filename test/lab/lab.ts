/**
 * The network-namespace lab: N hosts, each a Linux network namespace with one veth on a private
 * Linux bridge, so that real Supervisors (and Serf agents) run as separate hosts with their own
 * addresses, their own traffic counters, and partitions and loss injected by iptables inside
 * the namespaces. Usable from vitest (`test/lab/*.test.ts`), from the benchmark
 * (`bench/serf-vs-murmur.ts`) and from a shell (`scripts/lab`, through `test/lab/cli.ts`).
 *
 * The traps of /work/shared/reference/lab-notes.md, handled here:
 * - ARP floods at 50–100 hosts overflow the kernel's backlog: every namespace gets a permanent
 *   neighbour entry for every other host, and the bridge a static FDB entry for every host, so
 *   no ARP request and no unknown-unicast flood crosses the bridge.
 * - IPv6 is off in every namespace and on the bridge and its root-side veths (no link-local
 *   addresses, no router or multicast-listener chatter; and so no address at all in the root
 *   namespace).
 * - Processes outlive `ip netns del`: teardown kills the processes this lab started (by PID),
 *   then every process still inside one of its namespaces (found by the namespace inode in
 *   /proc/<pid>/ns/net), and only then deletes the namespaces, veths and bridge.
 * - `ip netns exec` shares the filesystem: every host has its own directory (FS_ROOT, logs).
 * - The root namespace has no address on the bridge and so no route to the lab's private range:
 *   nothing is ever sent to it from the root namespace. `butterfly(i)` runs curl inside host i.
 *
 * Teardown is idempotent and always runs: `destroy()`, and synchronously on process exit,
 * SIGINT, SIGTERM and SIGHUP. Each lab also writes a state file (`/tmp/murmur-lab/<id>.json`)
 * naming everything it made, so `gcStaleLabs()` (and `scripts/lab gc`) can remove what a
 * SIGKILLed run left behind.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MURMUR_BIN = join(REPO_ROOT, 'bin', 'murmur');
/** Where every lab writes its state file. */
export const STATE_DIR = process.env.MURMUR_LAB_STATE_DIR ?? '/tmp/murmur-lab';

export const PORTS = { gossip: 9638, http: 9631, ctl: 9632 } as const;

/** Milliseconds on the monotonic clock (CLOCK_MONOTONIC, the same in every network namespace). */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Polls `probe` until it returns something other than undefined/false; bounded by `limitMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, limitMs = 30_000, stepMs = 200): Promise<T> {
  const end = monoMs() + limitMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (monoMs() >= end) break;
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${limitMs} ms waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})` : ''}`);
}

/** Runs `items` through `fn` with at most `limit` at once. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, killed after `timeoutMs`. Never throws for a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd ?? REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

async function must(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code ?? r.signal}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

function runSync(cmd: string, args: readonly string[], input = ''): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------
// Addresses

function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 address ${JSON.stringify(ip)}`);
  return (((parts[0] as number) << 24) | ((parts[1] as number) << 16) | ((parts[2] as number) << 8) | (parts[3] as number)) >>> 0;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Private ranges only (RFC 1918): the lab's addresses must never mean a real host. */
function isPrivate(n: number): boolean {
  return n >>> 24 === 10 || n >>> 20 === (172 << 4) + 1 || n >>> 16 === (192 << 8) + 168;
}

// ---------------------------------------------------------------------------------------------
// State

export interface SupervisorSpec {
  peers: string[];
  env: Record<string, string>;
  args: string[];
  /** What runs `sup run` (default: bin/murmur; the benchmark runs it through a listening wrapper). */
  command?: string[];
}

/** Everything a lab made, as written to its state file. */
export interface LabState {
  id: string;
  ownerPid: number;
  /** A persistent lab (made by `scripts/lab up`) outlives its owner; `gc` leaves it alone. */
  persistent: boolean;
  hosts: number;
  subnet: string;
  prefixLen: number;
  bridge: string;
  namespaces: string[];
  veths: string[];
  addresses: string[];
  macs: string[];
  dir: string;
  /** PIDs of the processes this lab started, per host (1-based; index 0 unused). */
  pids: number[][];
  supervisors: (SupervisorSpec | null)[];
  /** PID of each host's current Supervisor (0: none). */
  supPids: number[];
  /** Desired firewall state: partition groups and loss per host. */
  blocked: string[][];
  loss: number[];
}

function statePath(id: string): string {
  return join(STATE_DIR, `${id}.json`);
}

function writeState(s: LabState): void {
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(statePath(s.id), `${JSON.stringify(s, null, 2)}\n`);
}

export function readState(id: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(id), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export function listStates(): LabState[] {
  if (!existsSync(STATE_DIR)) return [];
  return readdirSync(STATE_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => readState(f.slice(0, -5)))
    .filter((s): s is LabState => s !== undefined);
}

/** The inode of a named network namespace (`/run/netns/NAME`), or undefined. */
function netnsInode(name: string): number | undefined {
  try {
    return statSync(`/run/netns/${name}`).ino;
  } catch {
    return undefined;
  }
}

/** PIDs of every process inside one of these network namespaces (by namespace inode). */
function pidsInNamespaces(names: readonly string[]): number[] {
  const inodes = new Set(names.map(netnsInode).filter((x): x is number => x !== undefined));
  if (inodes.size === 0) return [];
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/ns/net`));
      if (m && inodes.has(Number(m[1]))) out.push(Number(entry));
    } catch {
      // gone, or a kernel thread
    }
  }
  return out;
}

/**
 * Removes everything a state names, synchronously: processes (by PID, then whatever is still in
 * its namespaces), namespaces, veths, bridge, directory, state file. Errors are collected, never
 * thrown, so that one missing piece never leaves the rest behind.
 */
export function teardownState(s: LabState): string[] {
  const problems: string[] = [];
  const kill = (pid: number): void => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  for (const list of s.pids) for (const pid of list ?? []) if (pid !== process.pid) kill(pid);
  for (let round = 0; round < 50; round++) {
    const left = pidsInNamespaces(s.namespaces).filter((p) => p !== process.pid);
    if (left.length === 0) break;
    left.forEach(kill);
    sleepSync(100);
    if (round === 49) problems.push(`processes still in the lab's namespaces after 5 s: ${left.join(' ')}`);
  }
  // Deleting a namespace deletes its end of the veth, and so the pair; then what is left.
  const ipBatch = (lines: string[]): void => {
    if (lines.length === 0) return;
    const r = runSync('ip', ['-force', '-batch', '-'], `${lines.join('\n')}\n`);
    const err = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/Cannot find device|^Command failed/.test(l));
    if (r.code !== 0 && err.length > 0) problems.push(`ip -batch: ${err.join('; ')}`);
  };
  ipBatch(s.namespaces.filter((n) => netnsInode(n) !== undefined).map((n) => `netns del ${n}`));
  // The kernel removes a deleted namespace's devices asynchronously: give it a moment.
  const linkLeft = (l: string): boolean => l !== '' && existsSync(`/sys/class/net/${l}`);
  for (let round = 0; round < 30 && s.veths.some(linkLeft); round++) sleepSync(100);
  ipBatch([...s.veths, s.bridge].filter(linkLeft).map((l) => `link del ${l}`));
  for (const n of s.namespaces) if (netnsInode(n) !== undefined) problems.push(`namespace ${n} is still there`);
  if (s.bridge !== '' && existsSync(`/sys/class/net/${s.bridge}`)) problems.push(`bridge ${s.bridge} is still there`);
  try {
    if (s.dir.startsWith(tmpdir()) && s.dir.includes('murmur-lab-')) rmSync(s.dir, { recursive: true, force: true });
  } catch (err) {
    problems.push(`cannot remove ${s.dir}: ${(err as Error).message}`);
  }
  rmSync(statePath(s.id), { force: true });
  return problems;
}

/**
 * Removes what labs whose owner died left behind (a SIGKILLed test run): state files of
 * non-persistent labs with a dead owner, and `mlab-<id>-*` namespaces / `mlb<id>` bridges /
 * `mlv<id>x*` veths with no state file whose owner PID (the id, base 36) is dead.
 */
export function gcStaleLabs(log: (line: string) => void = () => {}): number {
  let removed = 0;
  const known = new Set<string>();
  for (const s of listStates()) {
    known.add(s.id);
    if (s.persistent || pidAlive(s.ownerPid)) continue;
    log(`removing stale lab ${s.id} (owner PID ${s.ownerPid} is gone)`);
    for (const p of teardownState(s)) log(`  ${p}`);
    removed++;
  }
  const orphanIds = new Set<string>();
  const ownerDead = (id: string): boolean => !known.has(id) && !pidAlive(parseInt(id, 36));
  const nsNames = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
  for (const n of nsNames) {
    const m = /^mlab-([0-9a-z]+)-(\d+)$/.exec(n);
    if (m && ownerDead(m[1] as string)) orphanIds.add(m[1] as string);
  }
  for (const l of readdirSync('/sys/class/net')) {
    const m = /^mlb([0-9a-z]+)$/.exec(l) ?? /^mlv([0-9a-z]+)x\d+$/.exec(l);
    if (m && ownerDead(m[1] as string)) orphanIds.add(m[1] as string);
  }
  for (const id of orphanIds) {
    log(`removing orphaned lab pieces of ${id}`);
    const namespaces = nsNames.filter((n) => n.startsWith(`mlab-${id}-`));
    const veths = readdirSync('/sys/class/net').filter((l) => l.startsWith(`mlv${id}x`));
    for (const p of teardownState({ ...emptyState(id), namespaces, veths, bridge: `mlb${id}` })) log(`  ${p}`);
    removed++;
  }
  return removed;
}

function emptyState(id: string): LabState {
  return { id, ownerPid: 0, persistent: false, hosts: 0, subnet: '', prefixLen: 0, bridge: '', namespaces: [], veths: [], addresses: [], macs: [], dir: '', pids: [], supervisors: [], supPids: [], blocked: [], loss: [] };
}

// Labs alive in this process, torn down on exit and on signals.
const live = new Set<Lab>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const lab of live) lab.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      for (const lab of live) lab.destroySync();
      process.off(sig, onSignal);
      // Nobody else handles it: die of the signal as we would have.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

/** One process started in a host, with its output as timestamped lines. */
export class LabProcess {
  readonly lines: { t: number; text: string }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private listeners: ((text: string, t: number) => void)[] = [];

  constructor(
    readonly host: number,
    readonly name: string,
    readonly child: ChildProcess,
    logFile: string | undefined,
    readonly startedAt: number,
  ) {
    const fd = logFile === undefined ? undefined : openSync(logFile, 'a');
    const write = (text: string, t: number): void => {
      if (fd !== undefined) writeSync(fd, `${t.toFixed(1)} ${text}\n`);
    };
    write(`# ${name} started (PID ${child.pid ?? '?'}): ${child.spawnargs.join(' ')}`, startedAt);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      let partial = '';
      stream.on('data', (chunk: Buffer) => {
        const t = monoMs();
        const parts = (partial + chunk.toString('utf8')).split('\n');
        partial = parts.pop() ?? '';
        for (const text of parts) {
          if (text === '') continue;
          this.lines.push({ t, text });
          write(text, t);
          for (const l of this.listeners) l(text, t);
        }
      });
    }
    // 'close', not 'exit': every line the process printed has been read by then.
    this.exited = new Promise((resolve) => {
      let done = false;
      const end = (code: number | null, signal: NodeJS.Signals | null, why = ''): void => {
        if (done) return;
        done = true;
        write(`# ${name} exited (code ${code}, signal ${signal})${why}`, monoMs());
        if (fd !== undefined) closeSync(fd);
        resolve({ code, signal });
      };
      child.once('close', (code, signal) => end(code, signal));
      child.once('error', (err) => end(null, null, `: ${err.message}`));
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Calls `fn` for every line from now on; returns a function that stops it. */
  onLine(fn: (text: string, t: number) => void): () => void {
    this.listeners.push(fn);
    return () => (this.listeners = this.listeners.filter((l) => l !== fn));
  }

  /** The first line (already seen or to come) matching `re`, within `limitMs`. */
  waitForLine(re: RegExp, limitMs = 30_000): Promise<{ t: number; text: string; match: RegExpExecArray }> {
    for (const l of this.lines) {
      const m = re.exec(l.text);
      if (m) return Promise.resolve({ ...l, match: m });
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        stop();
        return true;
      };
      const timer = setTimeout(() => {
        if (finish()) reject(new Error(`timed out after ${limitMs} ms waiting for ${re} from ${this.name} on host ${this.host}; last lines:\n${this.lines.slice(-10).map((l) => l.text).join('\n')}`));
      }, limitMs);
      const stop = this.onLine((text, t) => {
        const m = re.exec(text);
        if (m && finish()) resolve({ t, text, match: m });
      });
      void this.exited.then(({ code, signal }) => {
        if (finish()) reject(new Error(`${this.name} on host ${this.host} exited (code ${code}, signal ${signal}) before printing ${re}; last lines:\n${this.lines.slice(-20).map((l) => l.text).join('\n')}`));
      });
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL', limitMs = 10_000): Promise<void> {
    if (this.running) this.child.kill(signal);
    await Promise.race([this.exited, sleep(limitMs)]);
  }
}

/** A Supervisor in a host: its process, FS_ROOT, member id and addresses. */
export interface LabSupervisor {
  host: number;
  proc: LabProcess;
  fsRoot: string;
  id: string;
  ip: string;
  gossip: string;
  http: string;
}

export interface ButterflyView {
  membership: Record<string, { health: string; incarnation: number; address: string }>;
  latest_service_config: Record<string, { incarnation: number; config: number[]; from_id: string } | null>;
  [k: string]: unknown;
}

export interface HostCounters extends Omit<NetDevRow, 'iface'> {
  host: number;
  /** /proc/net/snmp of the namespace (what `nstat`/`netstat -su` print). */
  udp: { InDatagrams: number; NoPorts: number; InErrors: number; OutDatagrams: number; RcvbufErrors: number; SndbufErrors: number };
  tcp: { RetransSegs: number; InErrs: number; OutRsts: number };
}

export interface LabCounters {
  at: number;
  hosts: HostCounters[];
  /** /proc/net/softnet_stat, summed over CPUs (global, not per namespace). */
  softnet: { processed: number; dropped: number; timeSqueeze: number };
  /** Drops on the root-side veths and the bridge (/proc/net/dev of the root namespace). */
  bridgeRxDropped: number;
  bridgeTxDropped: number;
}

export interface LabOptions {
  hosts: number;
  /** A private IPv4 range, `a.b.c.d/len`; host i gets the i-th address. @default '10.77.0.0/24' (a /16 above 250 hosts) */
  subnet?: string;
  /** Lab id: names `mlab-<id>-<i>`, `mlb<id>`, `mlv<id>x<i>`. @default this PID in base 36 */
  id?: string;
  /** Outlive this process (for `scripts/lab up`): no exit hooks; `down` removes it. */
  persistent?: boolean;
  /** Called with progress lines. */
  log?: (line: string) => void;
  /**
   * Run every process the lab starts at this `nice` level (`nice -n N`), so that the observer (the
   * test or benchmark reading their output) is scheduled first and takes each line's time when it
   * is written, not when two busy cores get round to it. @default 0
   */
  nice?: number;
}

// ---------------------------------------------------------------------------------------------
// The lab

export class Lab {
  private readonly procs = new Map<number, LabProcess[]>();
  private readonly sups = new Map<number, LabSupervisor>();
  private destroyed = false;
  private readonly log: (line: string) => void;
  /** `LabOptions.nice`. */
  nice = 0;

  private constructor(
    readonly state: LabState,
    log: (line: string) => void,
  ) {
    this.log = log;
  }

  get hosts(): number {
    return this.state.hosts;
  }

  get id(): string {
    return this.state.id;
  }

  /** Host numbers, 1..N. */
  get hostList(): number[] {
    return Array.from({ length: this.state.hosts }, (_, i) => i + 1);
  }

  ns(i: number): string {
    this.check(i);
    return this.state.namespaces[i - 1] as string;
  }

  ip(i: number): string {
    this.check(i);
    return this.state.addresses[i - 1] as string;
  }

  /** Host i's own directory (FS_ROOT, logs). */
  dir(i: number): string {
    this.check(i);
    return join(this.state.dir, `host${i}`);
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 1 || i > this.state.hosts) throw new Error(`no host ${i}: this lab has hosts 1..${this.state.hosts}`);
  }

  static async create(opts: LabOptions): Promise<Lab> {
    if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces, veths, a bridge, iptables)');
    const n = opts.hosts;
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`hosts must be 1..1000, got ${n}`);
    const id = opts.id ?? process.pid.toString(36);
    if (!/^[0-9a-z]{1,6}$/.test(id)) throw new Error(`lab id must be 1-6 characters [0-9a-z], got ${JSON.stringify(id)}`);
    const subnet = opts.subnet ?? (n > 250 ? '10.77.0.0/16' : '10.77.0.0/24');
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(subnet);
    if (!m) throw new Error(`subnet must be a.b.c.d/len, got ${JSON.stringify(subnet)}`);
    const prefixLen = Number(m[2]);
    const size = 2 ** (32 - prefixLen);
    const base = ipToInt(m[1] as string) & ~(size - 1);
    if (!isPrivate(base) || !isPrivate(base + size - 1)) throw new Error(`subnet ${subnet} is not inside a private range (10/8, 172.16/12, 192.168/16)`);
    if (n > size - 2) throw new Error(`subnet ${subnet} holds ${size - 2} hosts, not ${n}`);
    if (existsSync(`/sys/class/net/mlb${id}`) || readState(id)) throw new Error(`a lab with id ${id} exists already (scripts/lab gc removes stale ones)`);
    const log = opts.log ?? (() => {});
    const hosts = Array.from({ length: n }, (_, i) => i + 1);
    const state: LabState = {
      id,
      ownerPid: process.pid,
      persistent: opts.persistent ?? false,
      hosts: n,
      subnet,
      prefixLen,
      bridge: `mlb${id}`,
      namespaces: hosts.map((i) => `mlab-${id}-${i}`),
      veths: hosts.map((i) => `mlv${id}x${i}`),
      addresses: hosts.map((i) => intToIp(base + i)),
      // Locally administered, unique on this bridge: 02:6d:6c:<lab>:<host>.
      macs: hosts.map((i) => `02:6d:6c:${(parseInt(id, 36) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`),
      dir: mkdtempSync(join(tmpdir(), `murmur-lab-${id}-`)),
      pids: hosts.map(() => []),
      supervisors: hosts.map(() => null),
      supPids: hosts.map(() => 0),
      blocked: hosts.map(() => []),
      loss: hosts.map(() => 0),
    };
    state.pids.unshift([]);
    state.supervisors.unshift(null);
    state.supPids.unshift(0);
    state.blocked.unshift([]);
    state.loss.unshift(0);
    // The state file first, so that a crash halfway through can still be cleaned up.
    writeState(state);
    const lab = new Lab(state, log);
    lab.nice = opts.nice ?? 0;
    if (!state.persistent) {
      installExitHooks();
      live.add(lab);
    }
    try {
      await lab.build();
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  /** A lab made by another process (`scripts/lab`), from its state file. Not torn down on exit. */
  static attach(id: string, log: (line: string) => void = () => {}): Lab {
    const s = readState(id);
    if (!s) throw new Error(`no lab ${id} (no ${statePath(id)})`);
    return new Lab(s, log);
  }

  private async build(): Promise<void> {
    const s = this.state;
    const t0 = monoMs();
    const hosts = this.hostList;
    // The bridge, with IPv6 off before it comes up: no link-local address in the root namespace.
    await must('ip', ['link', 'add', s.bridge, 'type', 'bridge']);
    writeFileSync(`/proc/sys/net/ipv6/conf/${s.bridge}/disable_ipv6`, '1');
    await must('ip', ['-batch', '-'], { input: hosts.map((i) => `netns add ${this.ns(i)}\n`).join('') });
    await must('ip', ['-batch', '-'], {
      input: hosts.map((i) => `link add ${s.veths[i - 1]} type veth peer name eth0 address ${s.macs[i - 1]} netns ${this.ns(i)}\n`).join(''),
    });
    for (const v of s.veths) writeFileSync(`/proc/sys/net/ipv6/conf/${v}/disable_ipv6`, '1');
    await must('ip', ['-batch', '-'], { input: `${s.veths.map((v) => `link set ${v} master ${s.bridge} up\n`).join('')}link set ${s.bridge} up\n` });
    // Static FDB entries: the bridge never floods unknown unicast for a lab host.
    await must('bridge', ['-batch', '-'], { input: hosts.map((i) => `fdb replace ${s.macs[i - 1]} dev ${s.veths[i - 1]} master static\n`).join('') });
    // Inside each namespace: IPv6 off, lo up, the address, and a permanent neighbour entry for
    // every other host (no ARP at all between lab hosts).
    await mapLimit(hosts, 8, async (i) => {
      for (const f of ['all', 'default', 'lo', 'eth0']) await must('ip', ['netns', 'exec', this.ns(i), 'sh', '-c', `echo 1 > /proc/sys/net/ipv6/conf/${f}/disable_ipv6`]);
      const lines = ['link set lo up', `addr add ${this.ip(i)}/${s.prefixLen} dev eth0`, 'link set eth0 up'];
      for (const j of hosts) if (j !== i) lines.push(`neigh replace ${this.ip(j)} lladdr ${s.macs[j - 1]} dev eth0 nud permanent`);
      await must('ip', ['-n', this.ns(i), '-batch', '-'], { input: `${lines.join('\n')}\n` });
      mkdirSync(this.dir(i), { recursive: true });
    });
    this.log(`lab ${s.id}: ${s.hosts} hosts on ${s.bridge} (${s.subnet}) in ${((monoMs() - t0) / 1000).toFixed(1)} s`);
  }

  // ------------------------------------------------------------------------------------------
  // Processes

  /** `ip netns exec <ns> cmd args…` for host i, tracked for teardown. Output goes to `logFile` and to `lines`. */
  spawn(i: number, name: string, cmd: string, args: readonly string[], opts: { env?: Record<string, string>; logFile?: string } = {}): LabProcess {
    const spawnOpts: SpawnOptions = { cwd: REPO_ROOT, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] };
    const command = this.nice > 0 ? ['nice', '-n', String(this.nice), cmd, ...args] : [cmd, ...args];
    const child = spawn('ip', ['netns', 'exec', this.ns(i), ...command], spawnOpts);
    const proc = new LabProcess(i, name, child, opts.logFile, monoMs());
    child.stdin?.on('error', () => undefined);
    const list = this.procs.get(i) ?? [];
    list.push(proc);
    this.procs.set(i, list);
    if (child.pid !== undefined) {
      (this.state.pids[i] ??= []).push(child.pid);
      writeState(this.state);
    }
    void proc.exited.then(() => {
      this.state.pids[i] = (this.state.pids[i] ?? []).filter((p) => p !== child.pid);
      if (!this.destroyed) writeState(this.state);
    });
    return proc;
  }

  /** Runs a command in host i to completion (bounded by `timeoutMs`). */
  exec(i: number, cmd: string, args: readonly string[] = [], opts: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.ns(i), cmd, ...args], { input: opts.input, timeoutMs: opts.timeoutMs ?? 30_000, env: { ...process.env, ...opts.env } });
  }

  /** Records a process started outside `spawn` (a detached one, by `scripts/lab`), for teardown. */
  recordPid(i: number, pid: number): void {
    this.check(i);
    (this.state.pids[i] ??= []).push(pid);
    writeState(this.state);
  }

  /** Records a Supervisor started outside `startSupervisor` (a detached one, by `scripts/lab`). */
  recordSupervisor(i: number, spec: SupervisorSpec, pid: number): void {
    this.check(i);
    this.state.supervisors[i] = spec;
    this.state.supPids[i] = pid;
    this.recordPid(i, pid);
  }

  processes(i: number): LabProcess[] {
    return this.procs.get(i) ?? [];
  }

  /**
   * Starts `murmur sup run` in host i: gossip on <ip>:9638, HTTP on <ip>:9631, control on
   * 127.0.0.1:9632 (inside the namespace), FS_ROOT in the host's own directory. `peers` are host
   * numbers or `host:port` strings. Resolves when the HTTP gateway is up.
   */
  async startSupervisor(i: number, opts: { peers?: (number | string)[]; env?: Record<string, string>; args?: string[]; command?: string[]; readyMs?: number } = {}): Promise<LabSupervisor> {
    const current = this.sups.get(i);
    if (current?.proc.running) throw new Error(`host ${i} already runs a Supervisor (PID ${current.proc.pid})`);
    const spec: SupervisorSpec = {
      peers: (opts.peers ?? []).map((p) => (typeof p === 'number' ? `${this.ip(p)}:${PORTS.gossip}` : p)),
      env: opts.env ?? {},
      args: opts.args ?? [],
      ...(opts.command ? { command: opts.command } : {}),
    };
    this.state.supervisors[i] = spec;
    return this.launchSupervisor(i, spec, opts.readyMs);
  }

  /** The command line, environment and files of host i's Supervisor (`ip netns exec` not included). */
  supervisorCommand(i: number, spec: SupervisorSpec): { cmd: string; args: string[]; env: Record<string, string>; fsRoot: string; logFile: string } {
    const ip = this.ip(i);
    const fsRoot = join(this.dir(i), 'fs');
    mkdirSync(fsRoot, { recursive: true });
    const args = [...(spec.command ?? [MURMUR_BIN]), 'sup', 'run', '--listen-gossip', `${ip}:${PORTS.gossip}`, '--listen-http', `${ip}:${PORTS.http}`, '--listen-ctl', `127.0.0.1:${PORTS.ctl}`, ...spec.peers.flatMap((p) => ['--peer', p]), ...spec.args];
    return { cmd: process.execPath, args, env: { FS_ROOT: fsRoot, ...spec.env }, fsRoot, logFile: join(this.dir(i), 'sup.log') };
  }

  private async launchSupervisor(i: number, spec: SupervisorSpec, readyMs = 60_000): Promise<LabSupervisor> {
    const ip = this.ip(i);
    const c = this.supervisorCommand(i, spec);
    const proc = this.spawn(i, 'supervisor', c.cmd, c.args, { env: c.env, logFile: c.logFile });
    const sup: LabSupervisor = { host: i, proc, fsRoot: c.fsRoot, id: '', ip, gossip: `${ip}:${PORTS.gossip}`, http: `${ip}:${PORTS.http}` };
    this.sups.set(i, sup);
    this.state.supPids[i] = proc.pid;
    writeState(this.state);
    await proc.waitForLine(/Starting http-gateway on (\S+)/, readyMs);
    sup.id = (await proc.waitForLine(/Supervisor Member-ID ([0-9a-f]{32})/, 1000)).match[1] as string;
    return sup;
  }

  supervisor(i: number): LabSupervisor {
    const s = this.sups.get(i);
    if (!s) throw new Error(`host ${i} has no Supervisor`);
    return s;
  }

  /** SIGKILL of host i's Supervisor; resolves once it is gone. */
  async kill9(i: number): Promise<void> {
    await this.supervisor(i).proc.kill('SIGKILL');
  }

  /** Starts host i's Supervisor again, with the same FS_ROOT, peers, flags and environment. */
  async restart(i: number): Promise<LabSupervisor> {
    const spec = this.state.supervisors[i];
    if (!spec) throw new Error(`host ${i} never ran a Supervisor`);
    const old = this.sups.get(i);
    if (old?.proc.running) await old.proc.kill('SIGKILL');
    return this.launchSupervisor(i, spec);
  }

  /** Every line host i's Supervisor printed (all of its runs). */
  logs(i: number): string[] {
    const file = join(this.dir(i), 'sup.log');
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
  }

  /**
   * Runs `murmur ARGS --remote-sup 127.0.0.1:9632` inside host i (a control-gateway command such
   * as `config apply`), with `HAB_CTL_SECRET` read from host i's `$FS_ROOT/hab/sup/default/CTL_SECRET`
   * and `env` added (e.g. the operator's `HAB_CACHE_KEY_PATH`).
   */
  async ctl(i: number, args: readonly string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
    const secret = readFileSync(join(this.supervisor(i).fsRoot, 'hab/sup/default/CTL_SECRET'), 'utf8').trim();
    return this.exec(i, process.execPath, [MURMUR_BIN, ...args, '--remote-sup', `127.0.0.1:${PORTS.ctl}`], { ...opts, env: { ...opts.env, HAB_CTL_SECRET: secret } });
  }

  /** Copies every host's log to `dest` (for a failed run: the lab's own directory goes at teardown). */
  saveLogs(dest: string): void {
    mkdirSync(dest, { recursive: true });
    for (const i of this.hostList) for (const f of ['sup.log', 'serf.log']) if (existsSync(join(this.dir(i), f))) writeFileSync(join(dest, `host${i}-${f}`), readFileSync(join(this.dir(i), f)));
  }

  /**
   * What a lab test prints at its end: the kernel's drop counters since `before` (so that a lab
   * artifact is never read as a protocol result), and, when a test failed, where the
   * Supervisors' logs were copied (the lab's own directory goes at teardown).
   */
  async report(before: LabCounters, failed: boolean, print: (line: string) => void = console.log): Promise<void> {
    print(`lab ${this.id}: ${describeDrops(counterDelta(before, await this.counters()))}`);
    if (!failed) return;
    const dest = join(tmpdir(), `murmur-lab-logs-${this.id}-${Date.now()}`);
    this.saveLogs(dest);
    print(`lab ${this.id}: a test failed; the Supervisors' logs are in ${dest}`);
  }

  /** `/butterfly` of host i, fetched by curl inside host i's namespace. */
  async butterfly(i: number, timeoutMs = 5000): Promise<ButterflyView> {
    const r = await this.exec(i, 'curl', ['-sS', '--max-time', String(timeoutMs / 1000), `http://${this.ip(i)}:${PORTS.http}/butterfly`], { timeoutMs: timeoutMs + 2000 });
    if (r.code !== 0) throw new Error(`curl /butterfly of host ${i} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as ButterflyView;
  }

  /** Health of host j's Supervisor as host i sees it (`Alive`, `Suspect`, `Confirmed`, `Departed`, or undefined). */
  async healthOf(i: number, j: number): Promise<string | undefined> {
    return (await this.butterfly(i)).membership[this.supervisor(j).id]?.health;
  }

  // ------------------------------------------------------------------------------------------
  // Faults: iptables inside the namespaces. The filter table of a lab namespace is the lab's, and
  // is rewritten whole from the desired state on every change (iptables-restore is atomic).

  /** Drops all traffic between every host of `a` and every host of `b`, both ways (on arrival, at each end). */
  async partition(a: readonly number[], b: readonly number[]): Promise<void> {
    for (const i of a) for (const j of b) this.block(i, j);
    for (const i of b) for (const j of a) this.block(i, j);
    await this.applyFirewall([...a, ...b]);
  }

  private block(i: number, j: number): void {
    const list = (this.state.blocked[i] ??= []);
    if (!list.includes(this.ip(j))) list.push(this.ip(j));
  }

  /** Removes every partition (loss stays as set). */
  async heal(): Promise<void> {
    const touched = this.hostList.filter((i) => (this.state.blocked[i] ?? []).length > 0);
    for (const i of this.hostList) this.state.blocked[i] = [];
    await this.applyFirewall(touched);
  }

  /** Drops each packet arriving on host i's eth0 (or every host's) with probability p. */
  async setLoss(i: number | 'all', p: number): Promise<void> {
    if (!(p >= 0 && p < 1)) throw new Error(`loss must be in [0, 1), got ${p}`);
    const hosts = i === 'all' ? this.hostList : [i];
    for (const h of hosts) this.state.loss[h] = p;
    await this.applyFirewall(hosts);
  }

  private async applyFirewall(hosts: readonly number[]): Promise<void> {
    await mapLimit([...new Set(hosts)], 8, async (i) => {
      const rules = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
      // INPUT only, on both ends of every pair: what is sent leaves and is lost, as on a real
      // network. (An OUTPUT DROP would fail the sender's sendto() with EPERM, which no real
      // partition does.)
      for (const ip of this.state.blocked[i] ?? []) rules.push(`-A INPUT -s ${ip}/32 -j DROP`);
      const p = this.state.loss[i] ?? 0;
      if (p > 0) rules.push(`-A INPUT -i eth0 -m statistic --mode random --probability ${p} -j DROP`);
      rules.push('COMMIT', '');
      await must('ip', ['netns', 'exec', this.ns(i), 'iptables-restore'], { input: rules.join('\n') });
    });
    writeState(this.state);
  }

  /** Packets the loss rule (`setLoss`) has dropped so far, per host (iptables' own counters). */
  async lossDrops(): Promise<number[]> {
    return mapLimit(this.hostList, 8, async (i) => {
      const out = await must('ip', ['netns', 'exec', this.ns(i), 'iptables', '-w', '-n', '-v', '-x', '-L', 'INPUT']);
      return out
        .split('\n')
        .filter((l) => /statistic mode random/.test(l))
        .reduce((a, l) => a + Number(l.trim().split(/\s+/)[0] ?? 0), 0);
    });
  }

  // ------------------------------------------------------------------------------------------
  // Counters

  /** Per-host traffic (/proc/net/dev, /proc/net/snmp inside each namespace) and the kernel's drop counters. */
  async counters(): Promise<LabCounters> {
    const at = monoMs();
    const hosts = await mapLimit(this.hostList, 8, async (i) => {
      const out = await must('ip', ['netns', 'exec', this.ns(i), 'cat', '/proc/net/dev', '/proc/net/snmp']);
      return parseHostCounters(i, out);
    });
    const softnet = { processed: 0, dropped: 0, timeSqueeze: 0 };
    for (const line of readFileSync('/proc/net/softnet_stat', 'utf8').trim().split('\n')) {
      const f = line.trim().split(/\s+/).map((x) => parseInt(x, 16));
      softnet.processed += f[0] ?? 0;
      softnet.dropped += f[1] ?? 0;
      softnet.timeSqueeze += f[2] ?? 0;
    }
    let bridgeRxDropped = 0;
    let bridgeTxDropped = 0;
    const mine = new Set([this.state.bridge, ...this.state.veths]);
    for (const d of parseNetDev(readFileSync('/proc/net/dev', 'utf8'))) {
      if (!mine.has(d.iface)) continue;
      bridgeRxDropped += d.rxDropped;
      bridgeTxDropped += d.txDropped;
    }
    return { at, hosts, softnet, bridgeRxDropped, bridgeTxDropped };
  }

  // ------------------------------------------------------------------------------------------
  // Teardown

  /** SIGKILL to every process this lab started that still runs; resolves when they are gone. */
  async killAll(limitMs = 10_000): Promise<void> {
    const running = [...this.procs.values()].flat().filter((p) => p.running);
    for (const p of running) p.child.kill('SIGKILL');
    await Promise.race([Promise.all(running.map((p) => p.exited)), sleep(limitMs)]);
  }

  /** Removes everything this lab made. Idempotent; never throws (problems are logged). */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await this.killAll(5000);
    this.destroySync();
  }

  /** The same, synchronously (for exit and signal handlers). */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const p of [...this.procs.values()].flat()) if (p.running) p.child.kill('SIGKILL');
    const problems = teardownState(this.state);
    for (const p of problems) this.log(`lab ${this.state.id} teardown: ${p}`);
    if (problems.length > 0) process.stderr.write(`lab ${this.state.id} teardown problems:\n  ${problems.join('\n  ')}\n`);
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }
}

interface NetDevRow {
  iface: string;
  rxBytes: number;
  rxPackets: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txDropped: number;
}

function parseNetDev(text: string): NetDevRow[] {
  const rows: NetDevRow[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = (m[2] as string).trim().split(/\s+/).map(Number);
    if (f.length < 16) continue;
    rows.push({ iface: m[1] as string, rxBytes: f[0] as number, rxPackets: f[1] as number, rxDropped: f[3] as number, txBytes: f[8] as number, txPackets: f[9] as number, txDropped: f[11] as number });
  }
  return rows;
}

function parseSnmp(text: string, proto: string): Record<string, number> {
  const lines = text.split('\n').filter((l) => l.startsWith(`${proto}: `));
  if (lines.length < 2) return {};
  const names = (lines[0] as string).split(/\s+/).slice(1);
  const values = (lines[1] as string).split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, k) => [n, values[k] ?? 0]));
}

function parseHostCounters(host: number, text: string): HostCounters {
  const eth = parseNetDev(text).find((d) => d.iface === 'eth0');
  const udp = parseSnmp(text, 'Udp');
  const tcp = parseSnmp(text, 'Tcp');
  return {
    host,
    rxBytes: eth?.rxBytes ?? 0,
    rxPackets: eth?.rxPackets ?? 0,
    rxDropped: eth?.rxDropped ?? 0,
    txBytes: eth?.txBytes ?? 0,
    txPackets: eth?.txPackets ?? 0,
    txDropped: eth?.txDropped ?? 0,
    udp: { InDatagrams: udp.InDatagrams ?? 0, NoPorts: udp.NoPorts ?? 0, InErrors: udp.InErrors ?? 0, OutDatagrams: udp.OutDatagrams ?? 0, RcvbufErrors: udp.RcvbufErrors ?? 0, SndbufErrors: udp.SndbufErrors ?? 0 },
    tcp: { RetransSegs: tcp.RetransSegs ?? 0, InErrs: tcp.InErrs ?? 0, OutRsts: tcp.OutRsts ?? 0 },
  };
}

/** What changed between two counter snapshots: totals over the lab, and the kernel's drops. */
export function counterDelta(a: LabCounters, b: LabCounters): {
  seconds: number;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  ifaceDropped: number;
  udpInErrors: number;
  udpRcvbufErrors: number;
  udpSndbufErrors: number;
  udpNoPorts: number;
  tcpRetransSegs: number;
  softnetDropped: number;
  softnetTimeSqueeze: number;
  bridgeDropped: number;
  perHostTxBytes: number[];
  perHostRxBytes: number[];
} {
  const sum = (f: (h: HostCounters) => number): number => b.hosts.reduce((acc, h, k) => acc + f(h) - f(a.hosts[k] as HostCounters), 0);
  return {
    seconds: (b.at - a.at) / 1000,
    rxBytes: sum((h) => h.rxBytes),
    txBytes: sum((h) => h.txBytes),
    rxPackets: sum((h) => h.rxPackets),
    txPackets: sum((h) => h.txPackets),
    ifaceDropped: sum((h) => h.rxDropped + h.txDropped),
    udpInErrors: sum((h) => h.udp.InErrors),
    udpRcvbufErrors: sum((h) => h.udp.RcvbufErrors),
    udpSndbufErrors: sum((h) => h.udp.SndbufErrors),
    udpNoPorts: sum((h) => h.udp.NoPorts),
    tcpRetransSegs: sum((h) => h.tcp.RetransSegs),
    softnetDropped: b.softnet.dropped - a.softnet.dropped,
    softnetTimeSqueeze: b.softnet.timeSqueeze - a.softnet.timeSqueeze,
    bridgeDropped: b.bridgeRxDropped + b.bridgeTxDropped - a.bridgeRxDropped - a.bridgeTxDropped,
    perHostTxBytes: b.hosts.map((h, k) => h.txBytes - (a.hosts[k] as HostCounters).txBytes),
    perHostRxBytes: b.hosts.map((h, k) => h.rxBytes - (a.hosts[k] as HostCounters).rxBytes),
  };
}

/** One line naming the kernel-side drops of a delta, for every report. */
export function describeDrops(d: ReturnType<typeof counterDelta>): string {
  return `kernel drops: softnet ${d.softnetDropped} (time squeeze ${d.softnetTimeSqueeze}), bridge/veth ${d.bridgeDropped}, eth0 ${d.ifaceDropped}, UDP InErrors ${d.udpInErrors} (RcvbufErrors ${d.udpRcvbufErrors}, SndbufErrors ${d.udpSndbufErrors}, NoPorts ${d.udpNoPorts}), TCP retransmits ${d.tcpRetransSegs}`;
}
