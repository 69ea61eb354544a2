/**
 * murmur Supervisors against Serf agents, side by side in the network-namespace lab
 * (test/lab/lab.ts): one host per namespace on one Linux bridge, the same hosts, the same run.
 * Prints one Markdown section (a table of murmur, Serf and murmur/Serf) and, with --write-docs,
 * puts it in docs/benchmarks.md under "Supervisors against Serf (lab, network namespaces)".
 *
 *   npm run bench:serf                          # N = 10, 50, 100 (about 15 minutes; root)
 *   npm run bench:serf -- --sizes 10,50         # chosen sizes
 *   npm run bench:serf -- --quick               # N = 10, short windows: a smoke check
 *   npm run bench:serf -- --loss-run            # adds 5 minutes per system at 10 % loss, N = 10
 *   npm run bench:serf -- --write-docs          # also writes the section into docs/benchmarks.md
 *   npm run bench:serf -- --keep-logs DIR       # keeps every member's log (DIR/n<N>/host<i>-*.log)
 *   npm run bench:serf -- --nice 0              # members at the benchmark's priority (default: nice 5)
 *   npm run bench:serf -- --systems serf --reps 1 --kills 1 --idle-seconds 5   # one system, short
 *
 * What is measured, for each system at each N (murmur: `MURMUR_GOSSIP_PRESET=lan`, default
 * timings; Serf: Debian's `serf agent`, lan profile). Every time is taken in the root namespace on
 * the monotonic clock, when a member's log line reaches this process through its pipe. Members of
 * both systems run at `nice 5` (`--nice`), so that this process, at 0, reads each line as it is
 * written rather than when 100 busy members leave it a turn on two cores.
 * - Join: hosts 2..N start first, told host 1 as their peer (murmur `--peer`, Serf `-retry-join`
 *   with `-retry-interval 2s`, murmur's own retry interval while alone); host 1 starts last.
 *   From host 1 ready to every member holding every other member alive (murmur `member joined` /
 *   `member alive` lines, Serf `EventMemberJoin`), checked at the end through `/butterfly` and
 *   `serf members`.
 * - Idle: after the ring settles, CPU % (utime+stime from /proc/<pid>/stat) and RSS (VmRSS) of
 *   each member process, and bytes each member sends per second (eth0 in /proc/net/dev of its
 *   namespace: Ethernet frames, headers included), over one window.
 * - Dissemination: murmur `config apply` (through the control gateway of host 1) against
 *   `serf event -coalesce=false` (on host 1); from the origin taking it (its own line) to 50/90/100 %
 *   of the other members taking it (murmur: the Supervisor's `config received` line; Serf: `Received event: user-event`). Median of the reps.
 * - kill -9 of one member: from the SIGKILL to every survivor holding it confirmed (murmur
 *   `member confirmed`) or failed (Serf `EventMemberFailed`). Median of the kills.
 * - With --loss-run, at N = 10: every namespace drops 10 % of the packets arriving on its eth0
 *   (iptables statistic) for 5 minutes; false confirmations (murmur `member confirmed` lines,
 *   Serf `EventMemberFailed` lines: observer and member pairs) and suspicions.
 * The kernel's drop counters (softnet, veth/bridge, UDP errors) are recorded with every run and
 * printed with the table.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import buildDist from '../test/global-setup.js';
import { counterDelta, describeDrops, Lab, mapLimit, monoMs, REPO_ROOT, sleep, type LabProcess } from '../test/lab/lab.js';
import { writeDocsSection } from './docs.js';

const SECTION = '## Supervisors against Serf (lab, network namespaces)';
const CLK_TCK = 100;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  sizes: number[];
  quick: boolean;
  lossRun: boolean;
  lossSeconds: number;
  idleSeconds: number;
  reps: number;
  kills: number;
  writeDocs: boolean;
  systems: SystemName[];
  /** Where to copy every member's log before a lab goes (`--keep-logs DIR`). */
  keepLogs: string | undefined;
  /** The `nice` level of every member process (`--nice N`), so that this process reads their lines as they are written. */
  nice: number;
}

type SystemName = 'murmur' | 'serf';

function parseArgs(argv: string[]): Options {
  const has = (f: string): boolean => argv.includes(f);
  const value = (f: string): string | undefined => {
    const k = argv.indexOf(f);
    return k >= 0 ? argv[k + 1] : undefined;
  };
  const quick = has('--quick');
  const sizes = (value('--sizes') ?? (quick ? '10' : '10,50,100')).split(',').filter((x) => x !== '').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 3 || n > 250)) throw new Error('--sizes takes sizes 3..250, e.g. --sizes 10,50');
  const systems = (value('--systems') ?? 'murmur,serf').split(',') as SystemName[];
  return {
    sizes,
    quick,
    lossRun: has('--loss-run'),
    lossSeconds: Number(value('--loss-seconds') ?? 300),
    idleSeconds: Number(value('--idle-seconds') ?? (quick ? 10 : 30)),
    reps: Number(value('--reps') ?? (quick ? 1 : 3)),
    kills: Number(value('--kills') ?? (quick ? 1 : 2)),
    writeDocs: has('--write-docs'),
    systems,
    keepLogs: value('--keep-logs'),
    nice: Number(value('--nice') ?? 5),
  };
}

const say = (line: string): void => void process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------
// What a member's log lines say

type Seen = { kind: 'alive' | 'suspect' | 'confirmed' | 'gone' | 'suspect-raised'; subject: string } | { kind: 'rumor'; version: number };

interface System {
  name: SystemName;
  /** Starts host i's member, peered with host 1 unless it is host 1. Resolves when it is ready. */
  start(lab: Lab, i: number): Promise<LabProcess>;
  /** How the other members' log lines name host i. */
  key(i: number): string;
  parse(line: string): Seen | undefined;
  publish(lab: Lab, version: number): Promise<void>;
  /** Every member host i holds alive, by the system's own view (for the final check). */
  aliveView(lab: Lab, i: number): Promise<number>;
}

const murmur = (): System => {
  const ids = new Map<number, string>();
  return {
    name: 'murmur',
    async start(lab, i) {
      const sup = await lab.startSupervisor(i, { peers: i === 1 ? [] : [1], env: { MURMUR_GOSSIP_PRESET: 'lan' }, readyMs: 120_000 });
      ids.set(i, sup.id);
      return sup.proc;
    },
    key: (i) => ids.get(i) ?? `?${i}`,
    parse(line) {
      let m = /hab-sup\(MR\): member (joined|alive|suspect|confirmed|departed|removed) member=([0-9a-f]{32})/.exec(line);
      if (m) {
        const kind = ({ joined: 'alive', alive: 'alive', suspect: 'suspect', confirmed: 'confirmed', departed: 'gone', removed: 'gone' } as const)[m[1] as 'joined'];
        return { kind, subject: m[2] as string };
      }
      m = /hab-sup\(MR\): config (?:applied|received) group=bench\.lab version=(\d+)/.exec(line);
      if (m) return { kind: 'rumor', version: Number(m[1]) };
      return undefined;
    },
    async publish(lab, version) {
      const r = await lab.ctl(1, ['config', 'apply', 'bench.lab', String(version)], { input: `run = ${version}\n` });
      if (r.code !== 0) throw new Error(`config apply failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
    },
    async aliveView(lab, i) {
      const b = await lab.butterfly(i);
      return Object.values(b.membership).filter((m) => m.health === 'Alive').length;
    },
  };
};

const serf = (): System => ({
  name: 'serf',
  async start(lab, i) {
    const args = ['agent', `-node=h${i}`, `-bind=${lab.ip(i)}:7946`, '-rpc-addr=127.0.0.1:7373', '-log-level=info'];
    if (i !== 1) args.push(`-retry-join=${lab.ip(1)}:7946`, '-retry-interval=2s');
    const proc = lab.spawn(i, 'serf', 'serf', args, { logFile: join(lab.dir(i), 'serf.log') });
    await proc.waitForLine(/Serf agent running!/, 60_000);
    return proc;
  },
  key: (i) => `h${i}`,
  parse(line) {
    let m = /serf: EventMember(Join|Failed|Leave|Reap): (h\d+) /.exec(line);
    if (m) return { kind: m[1] === 'Join' ? 'alive' : m[1] === 'Failed' ? 'confirmed' : 'gone', subject: m[2] as string };
    m = /memberlist: Suspect (h\d+) has failed/.exec(line);
    if (m) return { kind: 'suspect-raised', subject: m[1] as string };
    m = /agent: Received event: user-event: bench-(\d+)/.exec(line);
    if (m) return { kind: 'rumor', version: Number(m[1]) };
    return undefined;
  },
  async publish(lab, version) {
    const r = await lab.exec(1, 'serf', ['event', '-coalesce=false', `bench-${version}`, `run=${version}`]);
    if (r.code !== 0) throw new Error(`serf event failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  },
  async aliveView(lab, i) {
    const r = await lab.exec(i, 'serf', ['members', '-status=alive']);
    return r.stdout.split('\n').filter((l) => l.trim() !== '').length;
  },
});

// ---------------------------------------------------------------------------------------------
// Watching every member's log

/** Every member's view of every other member, kept from the log lines as they arrive. */
class Watch {
  /** views[i]: subject key → health, as host i holds it. */
  readonly views = new Map<number, Map<string, string>>();
  readonly rumorAt = new Map<number, Map<number, number>>();
  readonly counts = { suspect: 0, confirmed: 0, suspectRaised: 0 };
  /**
   * When each host first touched the ring: the earlier of its first holding another member alive
   * and another member first holding it alive.
   */
  readonly firstContact = new Map<number, number>();
  private readonly stops: (() => void)[] = [];
  private readonly keyToHost = new Map<string, number>();

  constructor(
    private readonly sys: System,
    private readonly hosts: number[],
  ) {}

  attach(i: number, proc: LabProcess): void {
    this.keyToHost.set(this.sys.key(i), i);
    const view = this.views.get(i) ?? new Map<string, string>();
    this.views.set(i, view);
    const take = (text: string, t: number): void => {
      const s = this.sys.parse(text);
      if (!s) return;
      if (s.kind === 'rumor') {
        const at = this.rumorAt.get(s.version) ?? new Map<number, number>();
        this.rumorAt.set(s.version, at);
        if (!at.has(i)) at.set(i, t);
        return;
      }
      if (s.subject === this.sys.key(i)) return;
      if (s.kind === 'suspect-raised') {
        this.counts.suspectRaised++;
        return;
      }
      if (s.kind === 'suspect') this.counts.suspect++;
      if (s.kind === 'confirmed') this.counts.confirmed++;
      if (s.kind === 'alive') {
        const subjectHost = this.keyToHost.get(s.subject);
        for (const h of [i, subjectHost]) if (h !== undefined && !this.firstContact.has(h)) this.firstContact.set(h, t);
      }
      view.set(s.subject, s.kind);
    };
    for (const l of proc.lines) take(l.text, l.t);
    this.stops.push(proc.onLine(take));
  }

  /** Whether each of `observers` holds each of `subjects` as `health`. */
  all(observers: number[], subjects: number[], health: string): boolean {
    return observers.every((o) => subjects.every((s) => s === o || this.views.get(o)?.get(this.sys.key(s)) === health));
  }

  resetCounts(): void {
    this.counts.suspect = 0;
    this.counts.confirmed = 0;
    this.counts.suspectRaised = 0;
  }

  detach(): void {
    for (const s of this.stops.splice(0)) s();
  }

  get hostCount(): number {
    return this.hosts.length;
  }
}

/** The first time (monotonic ms) `cond` holds, checking after every log line; bounded. */
function whenTrue(procs: LabProcess[], cond: () => boolean, limitMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (cond()) return resolve(monoMs());
    const stops: (() => void)[] = [];
    const done = (v: number | null): void => {
      clearTimeout(timer);
      for (const s of stops) s();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), limitMs);
    for (const p of procs) stops.push(p.onLine((_text, t) => void (cond() && done(t))));
  });
}

// ---------------------------------------------------------------------------------------------
// /proc

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** How busy the whole machine is (/proc/stat), sampled every 250 ms until stopped. */
class MachineCpu {
  private prev = MachineCpu.read();
  private saturated = 0;
  private readonly timer = setInterval(() => this.sample(), 250);

  private static read(): { idle: number; total: number; at: number } {
    const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    return { idle: (f[3] ?? 0) + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0), at: monoMs() };
  }

  private sample(): void {
    const now = MachineCpu.read();
    const busy = 1 - (now.idle - this.prev.idle) / Math.max(1, now.total - this.prev.total);
    if (busy >= 0.95) this.saturated += (now.at - this.prev.at) / 1000;
    this.prev = now;
  }

  stop(): { saturatedSeconds: number } {
    clearInterval(this.timer);
    this.sample();
    return { saturatedSeconds: this.saturated };
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

// ---------------------------------------------------------------------------------------------
// One system at one size

interface Result {
  system: SystemName;
  n: number;
  bootSeconds: number;
  joinMs: number | null;
  /** CPU-seconds of all members, bytes sent per member, seconds the machine was ≥ 95 % busy, suspicion lines: from host 1's start to convergence. */
  join: { fromLastContactMs: number | null; cpuSeconds: number; txBytesPerMember: number; saturatedSeconds: number; suspicions: number };
  /** Kernel drop counters of the idle window and of the whole run. */
  kernel: { window: string; delta: ReturnType<typeof counterDelta> }[];
  joinCheck: string;
  idle: { cpuPct: number; rssMb: number; txBps: number; rxBps: number };
  dissem: { p50: number | null; p90: number | null; p100: number | null }[];
  kills: (number | null)[];
  drops: string;
  notes: string[];
}

async function measure(lab: Lab, sys: System, opts: Options): Promise<Result> {
  const n = lab.hosts;
  const hosts = lab.hostList;
  const notes: string[] = [];
  const before = await lab.counters();
  const watch = new Watch(sys, hosts);
  const procs = new Map<number, LabProcess>();
  const started = monoMs();

  // Join: everyone but host 1 first (they retry host 1), then host 1.
  say(`${sys.name} N=${n}: starting hosts 2..${n}`);
  await mapLimit(hosts.slice(1), sys.name === 'murmur' ? 4 : 8, async (i) => {
    const p = await sys.start(lab, i);
    procs.set(i, p);
    watch.attach(i, p);
  });
  // Let the boot load pass; the random part keeps host 1's start from falling at the same phase of
  // the others' 2 s retry timers in every run.
  await sleep(3000 + Math.random() * 2000);
  // What the join costs: CPU of every member process, bytes sent, and how busy the machine was
  // (at 100 members the two cores can be the bottleneck: recorded, so that it is never mistaken
  // for the protocol's own pace).
  const joinNet0 = await lab.counters();
  const othersTicks0 = hosts.slice(1).reduce((a, i) => a + cpuTicks(procs.get(i)?.pid ?? -1), 0);
  watch.resetCounts();
  const machine = new MachineCpu();
  say(`${sys.name} N=${n}: starting host 1`);
  const p1 = await sys.start(lab, 1);
  const host1Ticks0 = cpuTicks(p1.pid);
  procs.set(1, p1);
  watch.attach(1, p1);
  const ready = p1.lines.find((l) => (sys.name === 'murmur' ? /Starting http-gateway/ : /Serf agent running!/).test(l.text))?.t ?? monoMs();
  const bootSeconds = (ready - started) / 1000;
  const all = [...procs.values()];
  const converged = await whenTrue(all, () => watch.all(hosts, hosts, 'alive'), n >= 50 ? 180_000 : 90_000);
  const joinCpuSeconds = (hosts.slice(1).reduce((a, i) => a + cpuTicks(procs.get(i)?.pid ?? -1), 0) - othersTicks0 + cpuTicks(p1.pid) - host1Ticks0) / CLK_TCK;
  const busy = machine.stop();
  const joinSuspicions = watch.counts.suspect + watch.counts.suspectRaised;
  const joinNet = counterDelta(joinNet0, await lab.counters());
  const joinMs = converged === null ? null : converged - ready;
  const lastContact = Math.max(...hosts.map((i) => watch.firstContact.get(i) ?? Infinity));
  const fromLastContactMs = converged === null || !Number.isFinite(lastContact) ? null : converged - lastContact;
  const join = { fromLastContactMs, cpuSeconds: joinCpuSeconds, txBytesPerMember: joinNet.txBytes / n, saturatedSeconds: busy.saturatedSeconds, suspicions: joinSuspicions };
  say(`${sys.name} N=${n}: join ${joinMs === null ? 'not converged' : `${(joinMs / 1000).toFixed(2)} s`}, ${joinCpuSeconds.toFixed(1)} CPU-s, machine saturated ${busy.saturatedSeconds.toFixed(1)} s, ${joinSuspicions} suspicion lines`);
  // The system's own view, as a check on the log-derived one.
  await sleep(2000);
  const views = await mapLimit(hosts, 8, (i) => sys.aliveView(lab, i).catch(() => -1));
  const short = views.map((v, k) => [k + 1, v] as const).filter(([, v]) => v !== n);
  const joinCheck = short.length === 0 ? `all ${n} hold ${n} alive` : `${short.length} hosts hold fewer than ${n} alive (${short.slice(0, 5).map(([h, v]) => `host ${h}: ${v}`).join(', ')})`;
  if (short.length > 0) notes.push(`${sys.name} N=${n}: after join, ${joinCheck}`);

  // Idle.
  await sleep(opts.quick ? 2000 : 5000);
  say(`${sys.name} N=${n}: idle window ${opts.idleSeconds} s`);
  const c0 = await lab.counters();
  const ticks0 = new Map(hosts.map((i) => [i, cpuTicks(procs.get(i)?.pid ?? -1)]));
  const w0 = monoMs();
  await sleep(opts.idleSeconds * 1000);
  const ticks1 = new Map(hosts.map((i) => [i, cpuTicks(procs.get(i)?.pid ?? -1)]));
  const w1 = monoMs();
  const c1 = await lab.counters();
  const secs = (w1 - w0) / 1000;
  const cpuPct = hosts.reduce((a, i) => a + ((ticks1.get(i) ?? 0) - (ticks0.get(i) ?? 0)) / CLK_TCK / secs, 0) / n * 100;
  const rssMb = hosts.reduce((a, i) => a + rssKb(procs.get(i)?.pid ?? -1), 0) / n / 1024;
  const idleDelta = counterDelta(c0, c1);
  const idle = { cpuPct, rssMb, txBps: idleDelta.txBytes / idleDelta.seconds / n, rxBps: idleDelta.rxBytes / idleDelta.seconds / n };
  const kernel: Result['kernel'] = [{ window: 'idle window', delta: idleDelta }];

  // Dissemination.
  const dissem: Result['dissem'] = [];
  for (let rep = 1; rep <= opts.reps; rep++) {
    const version = rep;
    const others = hosts.filter((i) => i !== 1);
    const t = monoMs();
    await sys.publish(lab, version);
    const done = await whenTrue(all, () => hosts.every((i) => watch.rumorAt.get(version)?.has(i)), 30_000);
    const at = watch.rumorAt.get(version) ?? new Map<number, number>();
    const origin = at.get(1);
    if (origin === undefined) notes.push(`${sys.name} N=${n} rep ${rep}: no line from the origin; times from the command's start`);
    const t0 = origin ?? t;
    if (done === null) notes.push(`${sys.name} N=${n} rep ${rep}: ${at.size} of ${n} members took the rumor within 30 s`);
    const delays = others.map((i) => at.get(i)).filter((x): x is number => x !== undefined).map((x) => x - t0).sort((a, b) => a - b);
    // Time until p % of the other members hold it: the k-th arrival, k = ceil(p % of N - 1).
    const reach = (p: number): number | null => delays[Math.ceil((p / 100) * others.length) - 1] ?? null;
    dissem.push({ p50: reach(50), p90: reach(90), p100: reach(100) });
    say(`${sys.name} N=${n}: dissemination rep ${rep}: ${dissem.at(-1)?.p50?.toFixed(0)} / ${dissem.at(-1)?.p90?.toFixed(0)} / ${dissem.at(-1)?.p100?.toFixed(0)} ms`);
    await sleep(3000);
  }

  // kill -9.
  const kills: (number | null)[] = [];
  let alive = [...hosts];
  for (let k = 0; k < opts.kills; k++) {
    const victim = n - k;
    alive = alive.filter((i) => i !== victim);
    const t0 = monoMs();
    procs.get(victim)?.child.kill('SIGKILL');
    const seen = await whenTrue(alive.map((i) => procs.get(i) as LabProcess), () => watch.all(alive, [victim], 'confirmed'), 90_000);
    kills.push(seen === null ? null : seen - t0);
    say(`${sys.name} N=${n}: kill -9 of host ${victim}: ${seen === null ? 'not confirmed by all within 90 s' : `${((seen - t0) / 1000).toFixed(2)} s`}`);
    await sleep(2000);
  }

  watch.detach();
  await lab.killAll();
  const after = await lab.counters();
  const whole = counterDelta(before, after);
  kernel.push({ window: 'whole run', delta: whole });
  return { system: sys.name, n, bootSeconds, joinMs, join, joinCheck, idle, dissem, kills, drops: describeDrops(whole), kernel, notes };
}

interface LossResult {
  system: SystemName;
  n: number;
  seconds: number;
  confirmed: number;
  suspect: number;
  suspectRaised: number;
  distinctConfirmed: number;
  stillAliveEverywhere: boolean;
  effectiveLoss: string;
  drops: string;
}

async function lossRun(lab: Lab, sys: System, seconds: number): Promise<LossResult> {
  const hosts = lab.hostList;
  const n = lab.hosts;
  const watch = new Watch(sys, hosts);
  const procs: LabProcess[] = [];
  say(`${sys.name} N=${n}: loss run, starting`);
  await mapLimit(hosts.slice(1), 4, async (i) => {
    const p = await sys.start(lab, i);
    procs.push(p);
    watch.attach(i, p);
  });
  const p1 = await sys.start(lab, 1);
  procs.push(p1);
  watch.attach(1, p1);
  const ok = await whenTrue(procs, () => watch.all(hosts, hosts, 'alive'), 90_000);
  if (ok === null) throw new Error(`${sys.name}: the ring did not form before the loss run`);
  await sleep(5000);
  const distinct = new Set<string>();
  for (const p of procs) p.onLine((text) => {
    const s = sys.parse(text);
    if (s && s.kind === 'confirmed') distinct.add(s.subject);
  });
  watch.resetCounts();
  const c0 = await lab.counters();
  await lab.setLoss('all', 0.1);
  say(`${sys.name} N=${n}: 10 % loss for ${seconds} s`);
  await sleep(seconds * 1000);
  // Read before the rules go: the effective loss, from iptables' counters and eth0's.
  const dropped = (await lab.lossDrops()).reduce((a, b) => a + b, 0);
  const c1 = await lab.counters();
  await lab.setLoss('all', 0);
  const delta = counterDelta(c0, c1);
  const counts = { ...watch.counts };
  const stillAliveEverywhere = watch.all(hosts, hosts, 'alive');
  watch.detach();
  await lab.killAll();
  return {
    system: sys.name,
    n,
    seconds,
    confirmed: counts.confirmed,
    suspect: counts.suspect,
    suspectRaised: counts.suspectRaised,
    distinctConfirmed: distinct.size,
    stillAliveEverywhere,
    effectiveLoss: `${dropped} of ${delta.rxPackets} packets arriving on eth0 dropped (${((100 * dropped) / Math.max(1, delta.rxPackets)).toFixed(1)} %)`,
    drops: describeDrops(delta),
  };
}

// ---------------------------------------------------------------------------------------------
// The report

/** A duration; `null` is a measurement that did not complete, `undefined` one that was not made. */
const s2 = (ms: number | null | undefined): string => (ms === undefined ? '—' : ms === null ? 'not reached' : ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`);
const ratio = (a: number | null | undefined, b: number | null | undefined): string => (a === null || a === undefined || b === null || b === undefined || b === 0 ? '—' : (a / b).toFixed(2));

function medianOf(xs: (number | null)[] | undefined): number | null | undefined {
  if (xs === undefined || xs.length === 0) return undefined;
  const got = xs.filter((x): x is number => x !== null);
  return got.length === xs.length ? median(got) : null;
}

function report(results: Result[], losses: LossResult[], opts: Options, command: string, serfVersion: string, revision: string, startedIso: string, wallS: number): string {
  const out: string[] = [];
  const row = (...cells: string[]): void => void out.push(`| ${cells.join(' | ')} |`);
  out.push(SECTION, '');
  out.push(
    `Real Supervisors (\`murmur sup run\`, \`MURMUR_GOSSIP_PRESET=lan\`, default timings) and real Serf agents (Debian's \`serf\` ${serfVersion}, lan profile), one per network namespace on one Linux bridge (docs/lab.md), on this machine (2 cores: every member of a run shares them). Measured ${startedIso.slice(0, 10)} at ${revision}, ${(wallS / 60).toFixed(0)} minutes, with`,
    '',
    '```sh',
    command,
    '```',
    '',
  );
  out.push(
    `How it is measured (details in the header of \`bench/serf-vs-murmur.ts\`): every time is taken in the root namespace on the monotonic clock, when a member's log line reaches the benchmark through its pipe. Members of both systems run at \`nice ${opts.nice}\` and the benchmark at 0, so that it reads each line as it is written.`,
    '',
    '- **Join**: hosts 2..N start first with host 1 as their peer (murmur `--peer`, Serf `-retry-join` with `-retry-interval 2s`, the interval at which a lone Supervisor retries its peers); host 1 starts last. From host 1 ready until every member holds every other alive (murmur `member joined`/`member alive` lines, Serf `EventMemberJoin`), checked afterwards through `/butterfly` and `serf members`. The CPU row is the CPU time of all member processes over that interval.',
    '- **Dissemination**: `murmur config apply` through host 1\'s control gateway against `serf event -coalesce=false` on host 1; from the origin taking it to 50/90/100 % of the other members taking it (murmur: the Supervisor\'s `config received` line; Serf: `Received event: user-event`). Median over the repetitions.',
    '- **kill -9**: from the SIGKILL until every survivor logs the member confirmed (murmur) or failed (Serf). Median over the kills.',
    '- **Idle**: after the ring settles, CPU time (utime + stime in `/proc/<pid>/stat`) and RSS (`VmRSS`) of each member process, and the bytes each member sends (eth0 of its namespace in `/proc/net/dev`: Ethernet frames, all headers included), over one window.',
    '- **Loss**: every namespace drops 10 % of the packets arriving on its eth0 (iptables `statistic`); confirmations (murmur `member confirmed`) and failures (Serf `EventMemberFailed`) counted per observer and member.',
    '',
  );
  row('figure', 'N', 'murmur', 'Serf', 'murmur/Serf');
  row('---', '---', '---', '---', '---');
  const by = (sys: SystemName, n: number): Result | undefined => results.find((r) => r.system === sys && r.n === n);
  for (const n of opts.sizes) {
    const m = by('murmur', n);
    const s = by('serf', n);
    row('join: every member sees every member alive', String(n), m ? s2(m.joinMs) : '—', s ? s2(s.joinMs) : '—', ratio(m?.joinMs, s?.joinMs));
    row('join: from the last member\'s first contact to every member seeing every member alive', String(n), m ? s2(m.join.fromLastContactMs) : '—', s ? s2(s.join.fromLastContactMs) : '—', ratio(m?.join.fromLastContactMs, s?.join.fromLastContactMs));
    row('CPU used by all members during that join', String(n), m ? `${m.join.cpuSeconds.toFixed(2)} CPU-s` : '—', s ? `${s.join.cpuSeconds.toFixed(2)} CPU-s` : '—', ratio(m?.join.cpuSeconds, s?.join.cpuSeconds));
    for (const [label, key] of [['50 %', 'p50'], ['90 %', 'p90'], ['100 %', 'p100']] as const) {
      const mv = medianOf(m?.dissem.map((d) => d[key]));
      const sv = medianOf(s?.dissem.map((d) => d[key]));
      row(`dissemination to ${label} of members (config apply / serf event)`, String(n), s2(mv), s2(sv), ratio(mv, sv));
    }
    const mk = medianOf(m?.kills);
    const sk = medianOf(s?.kills);
    row('kill -9 → every survivor sees it confirmed / failed', String(n), s2(mk), s2(sk), ratio(mk, sk));
    row('idle CPU per member process', String(n), m ? `${m.idle.cpuPct.toFixed(2)} %` : '—', s ? `${s.idle.cpuPct.toFixed(2)} %` : '—', ratio(m?.idle.cpuPct, s?.idle.cpuPct));
    row('RSS per member process', String(n), m ? `${m.idle.rssMb.toFixed(1)} MiB` : '—', s ? `${s.idle.rssMb.toFixed(1)} MiB` : '—', ratio(m?.idle.rssMb, s?.idle.rssMb));
    row('idle bytes sent per member per second', String(n), m ? `${m.idle.txBps.toFixed(0)} B/s` : '—', s ? `${s.idle.txBps.toFixed(0)} B/s` : '—', ratio(m?.idle.txBps, s?.idle.txBps));
  }
  for (const n of [...new Set(losses.map((l) => l.n))]) {
    const m = losses.find((l) => l.system === 'murmur' && l.n === n);
    const s = losses.find((l) => l.system === 'serf' && l.n === n);
    const secs = m?.seconds ?? s?.seconds ?? 0;
    row(`false confirmations / failures in ${secs >= 60 ? `${+(secs / 60).toFixed(1)} min` : `${secs} s`} at 10 % loss (observer–member pairs)`, String(n), m ? String(m.confirmed) : '—', s ? String(s.confirmed) : '—', ratio(m?.confirmed, s?.confirmed));
  }
  out.push('');
  out.push('Details of this run:');
  for (const r of results) {
    const reps = r.dissem.map((d) => `${s2(d.p50)}/${s2(d.p90)}/${s2(d.p100)}`).join('; ');
    out.push(`- ${r.system}, N=${r.n}: members booted in ${r.bootSeconds.toFixed(1)} s; join: ${(r.join.txBytesPerMember / 1024).toFixed(1)} KiB sent per member, machine ≥ 95 % busy for ${r.join.saturatedSeconds.toFixed(1)} s, ${r.join.suspicions} suspicion lines, check: ${r.joinCheck}; dissemination 50/90/100 % per rep: ${reps}; kills: ${r.kills.map(s2).join(', ')}; idle receive ${r.idle.rxBps.toFixed(0)} B/s per member.`);
  }
  for (const l of losses) {
    out.push(
      `- ${l.system}, N=${l.n}, 10 % loss for ${l.seconds} s: ${l.confirmed} confirmed/failed lines (${l.distinctConfirmed} distinct members), ${l.system === 'murmur' ? `${l.suspect} \`member suspect\` lines (own and learned suspicions)` : `${l.suspectRaised} \`Suspect … has failed\` lines (own probes only)`}; afterwards every member ${l.stillAliveEverywhere ? 'held every member alive' : 'did NOT hold every member alive'}; loss: ${l.effectiveLoss}; ${l.drops}.`,
    );
  }
  for (const r of results) for (const note of r.notes) out.push(`- ${note}`);
  out.push('', 'Kernel drop counters (recorded so that a lab artifact never reads as a protocol result):');
  const windows = results.flatMap((r) => r.kernel.map((k) => ({ r, ...k })));
  const dirty = windows.filter(({ delta: d }) => d.softnetDropped + d.bridgeDropped + d.ifaceDropped + d.udpInErrors + d.udpRcvbufErrors + d.udpSndbufErrors > 0);
  out.push(
    `- ${dirty.length === 0 ? 'none: softnet backlog drops, bridge/veth drops, eth0 drops and UDP receive/send buffer errors were 0' : `${windows.length - dirty.length} of ${windows.length} windows clean (softnet, bridge/veth, eth0, UDP buffer errors 0)`} in every idle window and whole run above.`,
    `- UDP NoPorts per whole run (datagrams to a port nobody listens on: join attempts before host 1 starts, packets to killed members): ${results.map((r) => `${r.system} N=${r.n} ${r.kernel.find((k) => k.window === 'whole run')?.delta.udpNoPorts ?? '?'}`).join(', ')}.`,
    `- TCP retransmits per whole run: ${results.map((r) => `${r.system} N=${r.n} ${r.kernel.find((k) => k.window === 'whole run')?.delta.tcpRetransSegs ?? '?'}`).join(', ')}.`,
  );
  for (const { r, window, delta } of dirty) out.push(`- ${r.system} N=${r.n} ${window}: ${describeDrops(delta)}`);
  out.push('');
  return out.join('\n');
}

function writeDocs(section: string): void {
  say(`wrote the section into ${writeDocsSection(SECTION, section)}`);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  const started = monoMs();
  const startedIso = new Date().toISOString();
  const serfVersion = /serf\s+(\S+)/.exec(execFileSync('dpkg-query', ['-W', 'serf'], { encoding: 'utf8' }))?.[1] ?? '?';
  // The Supervisors run dist/: build it from the sources first, as the CLI tests do.
  buildDist();
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim() !== '';
  const revision = `${head}${dirty ? ' with uncommitted changes in src/' : ''}`;
  const systems = opts.systems.map((s) => (s === 'murmur' ? murmur : serf));
  const results: Result[] = [];
  const losses: LossResult[] = [];
  for (const n of opts.sizes) {
    const lab = await Lab.create({ hosts: n, log: say, nice: opts.nice });
    try {
      for (const make of systems) results.push(await measure(lab, make(), opts));
    } finally {
      if (opts.keepLogs) lab.saveLogs(join(opts.keepLogs, `n${n}`));
      await lab.destroy();
    }
  }
  if (opts.lossRun) {
    const lab = await Lab.create({ hosts: 10, log: say, nice: opts.nice });
    try {
      for (const make of systems) losses.push(await lossRun(lab, make(), opts.lossSeconds));
    } finally {
      if (opts.keepLogs) lab.saveLogs(join(opts.keepLogs, 'loss'));
      await lab.destroy();
    }
  }
  const command = `npm run bench:serf${argv.filter((a) => a !== '--write-docs').length ? ` -- ${argv.filter((a) => a !== '--write-docs').join(' ')}` : ''}`;
  const section = report(results, losses, opts, command, serfVersion, revision, startedIso, (monoMs() - started) / 1000);
  process.stdout.write(`${section}\n`);
  if (opts.writeDocs) writeDocs(section);
}

main().catch((err: unknown) => {
  say(`bench:serf: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
