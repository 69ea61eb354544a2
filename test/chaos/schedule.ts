/**
 * The fault schedule of a chaos run (issue 7): a seeded, deterministic list of timed actions for
 * the lab to carry out — Supervisors killed with SIGKILL and restarted, service processes killed,
 * partitions that heal, bursts of packet loss, Supervisors starved with SIGSTOP/SIGCONT — mixed
 * with `hab config apply` and `hab file upload` of rising versions from random members.
 *
 * The schedule is data, made before the run: a failing run prints it (`formatSchedule`) and a
 * replay reads it back (`parseSchedule`, `--schedule FILE`), so that the same faults come in the
 * same order. Nothing here touches the lab; `test/chaos/invariants.ts` checks what was observed.
 *
 * Constraints every generated schedule keeps (`validateSchedule` checks them, on parsed files too):
 * - a killed or paused host is not acted on again (no kill, pause, kill-service or publish from
 *   it) until it is restarted or resumed;
 * - a paused host resumes within `pauseMs[1]`;
 * - at most `maxDown` hosts are killed or paused at once (a minority by default);
 * - one partition at a time, with a strict majority side, and it always heals; one loss burst at
 *   a time, and it always ends;
 * - versions rise strictly per group: config versions per group, file versions per group (all of
 *   a group's files share one counter, so each file's versions rise too);
 * - the last `quietTailMs` hold no action at all: by then every host is restarted and resumed,
 *   every partition healed and every loss burst ended.
 */
import { seededRandom, type Random } from '../../src/core/index.js';

/** A lab host, by its index (`Lab.ns(i)`, `Lab.supervisor(i)`). */
export type HostIndex = number;

export type ChaosAction =
  | { kind: 'kill-sup'; host: HostIndex }
  | { kind: 'restart-sup'; host: HostIndex }
  | { kind: 'kill-service'; host: HostIndex; group: string }
  | { kind: 'partition'; a: HostIndex[]; b: HostIndex[] }
  | { kind: 'heal' }
  | { kind: 'loss-start'; hosts: HostIndex[]; percent: number }
  | { kind: 'loss-end'; hosts: HostIndex[] }
  | { kind: 'pause'; host: HostIndex }
  | { kind: 'resume'; host: HostIndex }
  | { kind: 'config-apply'; group: string; version: number; fromHost: HostIndex }
  | { kind: 'file-upload'; group: string; filename: string; version: number; fromHost: HostIndex };

export type ChaosActionKind = ChaosAction['kind'];

export interface TimedAction {
  /** Milliseconds from the start of the run. */
  atMs: number;
  action: ChaosAction;
}

/** A service group under test and the hosts that load it. */
export interface ChaosGroup {
  /** The service group string, `service.group` or `service.group@org`. */
  name: string;
  topology: 'standalone' | 'leader';
  /** Hosts that load the service. */
  members: HostIndex[];
  /** File names `file-upload` uses (no spaces, commas or `=`). */
  filenames: string[];
}

export interface Schedule {
  seed: number;
  hosts: number;
  durationMs: number;
  quietTailMs: number;
  /** Most hosts killed or paused at once. */
  maxDown: number;
  /** Longest a host stays paused. */
  maxPauseMs: number;
  groups: ChaosGroup[];
  /** In time order (ties keep their order). */
  actions: TimedAction[];
}

/** How often each kind of fault is picked, relative to the others; 0 turns a kind off. */
export interface FaultMix {
  killSup: number;
  killService: number;
  partition: number;
  loss: number;
  pause: number;
  configApply: number;
  fileUpload: number;
}

export interface ScheduleOptions {
  seed: number;
  /** Number of lab hosts (indices 0 … hosts-1). */
  hosts: number;
  /** The whole run, quiet tail included. */
  durationMs: number;
  /** The groups under test. @default one group `chaos.default` on every host, standalone, file `chaos.txt` */
  groups?: ChaosGroup[];
  /** Relative weights of the fault kinds. @default DEFAULT_MIX */
  mix?: Partial<FaultMix>;
  /** Mean gap between two faults; each gap is uniform in [0.5, 1.5] × this. @default 2000 ms */
  meanGapMs?: number;
  /** Most hosts killed or paused at once. @default ⌊(hosts − 1) / 2⌋, a minority */
  maxDown?: number;
  /** How long a killed Supervisor stays down, [min, max]. @default [1000, 8000] ms */
  downMs?: [number, number];
  /** How long a Supervisor stays paused (SIGSTOP), [min, max]; max is the bound. @default [500, 5000] ms */
  pauseMs?: [number, number];
  /** How long a partition lasts, [min, max]. @default [2000, 15000] ms */
  partitionMs?: [number, number];
  /** How long a loss burst lasts, [min, max]. @default [1000, 8000] ms */
  lossMs?: [number, number];
  /** Packet loss of a burst, in percent. @default 30 */
  lossPercent?: number;
  /** The end of the run with no action, for the cluster to converge. @default max(10 000, 20 % of durationMs) ms */
  quietTailMs?: number;
}

export const DEFAULT_MIX: FaultMix = {
  killSup: 2,
  killService: 2,
  partition: 2,
  loss: 2,
  pause: 2,
  configApply: 3,
  fileUpload: 3,
};

/** The TOML a `config-apply` of this version publishes, so that hosts' files can be checked. */
export function configBody(group: string, version: number): string {
  return `chaos_group = "${group}"\nchaos_version = ${version}\n`;
}

/** The contents a `file-upload` of this version publishes. */
export function fileBody(group: string, filename: string, version: number): string {
  return `${group} ${filename} v${version}\n`;
}

/** Builds a schedule; the same options always give the same schedule. */
export function generateSchedule(opts: ScheduleOptions): Schedule {
  const o = resolveOptions(opts);
  const random = seededRandom(o.seed);
  const faultEnd = o.durationMs - o.quietTailMs;
  const actions: TimedAction[] = [];
  /** Recoveries owed (restart, resume, heal, loss-end), flushed in time order. */
  let pending: TimedAction[] = [];
  const killed = new Set<HostIndex>();
  const paused = new Set<HostIndex>();
  let partitioned = false;
  let lossy = false;
  const configVersion = new Map<string, number>();
  const fileVersion = new Map<string, number>();

  const flush = (upTo: number): void => {
    const due = pending.filter((p) => p.atMs <= upTo).sort((x, y) => x.atMs - y.atMs);
    pending = pending.filter((p) => p.atMs > upTo);
    for (const p of due) {
      actions.push(p);
      const a = p.action;
      if (a.kind === 'restart-sup') killed.delete(a.host);
      else if (a.kind === 'resume') paused.delete(a.host);
      else if (a.kind === 'heal') partitioned = false;
      else if (a.kind === 'loss-end') lossy = false;
    }
  };
  const until = (t: number, range: [number, number]): number => Math.min(faultEnd, t + between(random, range));

  let t = 0;
  for (;;) {
    t += Math.round(o.meanGapMs * (0.5 + random.next()));
    if (t >= faultEnd) break;
    flush(t);
    const free = range(o.hosts).filter((h) => !killed.has(h) && !paused.has(h));
    const canDown = killed.size + paused.size < o.maxDown && free.length > 0;
    const serviceHosts = o.groups.flatMap((g) => g.members.filter((h) => free.includes(h)).map((h) => ({ g, h })));
    const weights: [keyof FaultMix, number][] = [
      ['killSup', canDown ? o.mix.killSup : 0],
      ['pause', canDown ? o.mix.pause : 0],
      ['killService', serviceHosts.length > 0 ? o.mix.killService : 0],
      ['partition', partitioned || o.hosts < 3 ? 0 : o.mix.partition],
      ['loss', lossy ? 0 : o.mix.loss],
      ['configApply', free.length > 0 ? o.mix.configApply : 0],
      ['fileUpload', free.length > 0 && o.groups.some((g) => g.filenames.length > 0) ? o.mix.fileUpload : 0],
    ];
    const kind = pickWeighted(random, weights);
    if (kind === undefined) continue;
    const at = (action: ChaosAction): void => void actions.push({ atMs: t, action });
    switch (kind) {
      case 'killSup': {
        const host = pick(random, free);
        killed.add(host);
        at({ kind: 'kill-sup', host });
        pending.push({ atMs: until(t, o.downMs), action: { kind: 'restart-sup', host } });
        break;
      }
      case 'pause': {
        const host = pick(random, free);
        paused.add(host);
        at({ kind: 'pause', host });
        pending.push({ atMs: until(t, o.pauseMs), action: { kind: 'resume', host } });
        break;
      }
      case 'killService': {
        const { g, h } = pick(random, serviceHosts);
        at({ kind: 'kill-service', host: h, group: g.name });
        break;
      }
      case 'partition': {
        // A strict minority on one side, so that there is always a majority side.
        const minority = Math.max(1, Math.ceil(o.hosts / 2) - 1);
        const size = 1 + random.int(minority);
        const shuffled = shuffle(random, range(o.hosts));
        const a = shuffled.slice(0, size).sort(byNumber);
        const b = shuffled.slice(size).sort(byNumber);
        partitioned = true;
        at({ kind: 'partition', a, b });
        pending.push({ atMs: until(t, o.partitionMs), action: { kind: 'heal' } });
        break;
      }
      case 'loss': {
        const count = 1 + random.int(o.hosts);
        const hosts = shuffle(random, range(o.hosts)).slice(0, count).sort(byNumber);
        lossy = true;
        at({ kind: 'loss-start', hosts, percent: o.lossPercent });
        pending.push({ atMs: until(t, o.lossMs), action: { kind: 'loss-end', hosts } });
        break;
      }
      case 'configApply': {
        const group = pick(random, o.groups).name;
        const version = (configVersion.get(group) ?? 0) + 1;
        configVersion.set(group, version);
        at({ kind: 'config-apply', group, version, fromHost: pick(random, free) });
        break;
      }
      case 'fileUpload': {
        const g = pick(random, o.groups.filter((x) => x.filenames.length > 0));
        const version = (fileVersion.get(g.name) ?? 0) + 1;
        fileVersion.set(g.name, version);
        at({ kind: 'file-upload', group: g.name, filename: pick(random, g.filenames), version, fromHost: pick(random, free) });
        break;
      }
    }
  }
  flush(Number.POSITIVE_INFINITY);
  return {
    seed: o.seed,
    hosts: o.hosts,
    durationMs: o.durationMs,
    quietTailMs: o.quietTailMs,
    maxDown: o.maxDown,
    maxPauseMs: o.pauseMs[1],
    groups: o.groups,
    actions,
  };
}

type ResolvedOptions = Required<Omit<ScheduleOptions, 'mix'>> & { mix: FaultMix };

function resolveOptions(opts: ScheduleOptions): ResolvedOptions {
  const { hosts, durationMs } = opts;
  if (!Number.isInteger(hosts) || hosts < 1) throw new Error(`hosts must be a positive integer, got ${hosts}`);
  if (!(durationMs > 0)) throw new Error(`durationMs must be positive, got ${durationMs}`);
  const o: ResolvedOptions = {
    seed: opts.seed >>> 0,
    hosts,
    durationMs,
    groups: opts.groups ?? [{ name: 'chaos.default', topology: 'standalone', members: range(hosts), filenames: ['chaos.txt'] }],
    mix: { ...DEFAULT_MIX, ...opts.mix },
    meanGapMs: opts.meanGapMs ?? 2000,
    maxDown: opts.maxDown ?? Math.floor((hosts - 1) / 2),
    downMs: opts.downMs ?? [1000, 8000],
    pauseMs: opts.pauseMs ?? [500, 5000],
    partitionMs: opts.partitionMs ?? [2000, 15_000],
    lossMs: opts.lossMs ?? [1000, 8000],
    lossPercent: opts.lossPercent ?? 30,
    quietTailMs: opts.quietTailMs ?? Math.max(10_000, Math.round(durationMs * 0.2)),
  };
  if (!(o.meanGapMs > 0)) throw new Error(`meanGapMs must be positive, got ${o.meanGapMs}`);
  if (!(o.quietTailMs >= 0 && o.quietTailMs <= durationMs)) throw new Error(`quietTailMs must be in [0, durationMs], got ${o.quietTailMs}`);
  if (!(o.lossPercent > 0 && o.lossPercent < 100)) throw new Error(`lossPercent must be in (0, 100), got ${o.lossPercent}`);
  for (const [name, r] of [['downMs', o.downMs], ['pauseMs', o.pauseMs], ['partitionMs', o.partitionMs], ['lossMs', o.lossMs]] as const) {
    if (!(r[0] >= 0 && r[0] <= r[1])) throw new Error(`${name} must be [min, max] with 0 ≤ min ≤ max, got [${r.join(', ')}]`);
  }
  for (const g of o.groups) {
    if (!NAME.test(g.name)) throw new Error(`group name ${JSON.stringify(g.name)} must have no spaces, commas or '='`);
    for (const f of g.filenames) if (!NAME.test(f)) throw new Error(`file name ${JSON.stringify(f)} must have no spaces, commas or '='`);
    for (const h of g.members) if (!(Number.isInteger(h) && h >= 0 && h < hosts)) throw new Error(`group ${g.name}: host ${h} is not in 0…${hosts - 1}`);
  }
  return o;
}

const NAME = /^[^\s,=]+$/;

// ---------------------------------------------------------------------------------------------
// Checking a schedule

/**
 * Every constraint of the module comment that `schedule` breaks, as messages (none: `[]`). Run on
 * every generated schedule in the tests, and on a `--schedule FILE` before it is replayed.
 */
export function validateSchedule(s: Schedule): string[] {
  const problems: string[] = [];
  const killed = new Set<HostIndex>();
  const pausedAt = new Map<HostIndex, number>();
  let partitioned = false;
  let lossy = false;
  let last = 0;
  const configVersion = new Map<string, number>();
  const fileVersion = new Map<string, number>();
  const groups = new Map(s.groups.map((g) => [g.name, g]));
  const faultEnd = s.durationMs - s.quietTailMs;
  const busy = (h: HostIndex): string | undefined => (killed.has(h) ? 'killed' : pausedAt.has(h) ? 'paused' : undefined);

  for (const [i, { atMs, action: a }] of s.actions.entries()) {
    const where = `action ${i + 1} (${formatAction({ atMs, action: a })})`;
    const bad = (why: string): void => void problems.push(`${where}: ${why}`);
    if (atMs < last) bad(`out of time order (after ${last} ms)`);
    last = atMs;
    if (atMs > faultEnd) bad(`inside the quiet tail (from ${faultEnd} ms)`);
    for (const h of hostsOf(a)) if (!(Number.isInteger(h) && h >= 0 && h < s.hosts)) bad(`host ${h} is not in 0…${s.hosts - 1}`);
    switch (a.kind) {
      case 'kill-sup':
      case 'pause':
      case 'kill-service': {
        const why = busy(a.host);
        if (why !== undefined) bad(`host ${a.host} is ${why}`);
        if (a.kind === 'kill-sup') killed.add(a.host);
        if (a.kind === 'pause') pausedAt.set(a.host, atMs);
        if (a.kind === 'kill-service' && !(groups.get(a.group)?.members.includes(a.host) ?? false)) bad(`host ${a.host} does not run ${a.group}`);
        if (killed.size + pausedAt.size > s.maxDown) bad(`${killed.size + pausedAt.size} hosts down, more than ${s.maxDown}`);
        break;
      }
      case 'restart-sup':
        if (!killed.delete(a.host)) bad(`host ${a.host} was not killed`);
        break;
      case 'resume': {
        const since = pausedAt.get(a.host);
        if (since === undefined) bad(`host ${a.host} was not paused`);
        else if (atMs - since > s.maxPauseMs) bad(`host ${a.host} was paused for ${atMs - since} ms, more than ${s.maxPauseMs} ms`);
        pausedAt.delete(a.host);
        break;
      }
      case 'partition': {
        if (partitioned) bad('a partition is already in force');
        partitioned = true;
        const all = [...a.a, ...a.b].sort(byNumber);
        if (all.length !== s.hosts || all.some((h, k) => h !== k)) bad('the two sides must split every host once');
        if (a.a.length === a.b.length) bad('no side is a strict majority');
        break;
      }
      case 'heal':
        if (!partitioned) bad('no partition to heal');
        partitioned = false;
        break;
      case 'loss-start':
        if (lossy) bad('a loss burst is already in force');
        if (!(a.percent > 0 && a.percent < 100)) bad(`percent ${a.percent} is not in (0, 100)`);
        lossy = true;
        break;
      case 'loss-end':
        if (!lossy) bad('no loss burst to end');
        lossy = false;
        break;
      case 'config-apply':
      case 'file-upload': {
        const why = busy(a.fromHost);
        if (why !== undefined) bad(`published from host ${a.fromHost}, which is ${why}`);
        const g = groups.get(a.group);
        if (g === undefined) bad(`unknown group ${a.group}`);
        if (a.kind === 'file-upload' && g !== undefined && !g.filenames.includes(a.filename)) bad(`${a.filename} is not a file of ${a.group}`);
        const versions = a.kind === 'config-apply' ? configVersion : fileVersion;
        const before = versions.get(a.group) ?? 0;
        if (!(Number.isInteger(a.version) && a.version > before)) bad(`version ${a.version} does not rise above ${before}`);
        versions.set(a.group, Math.max(before, a.version));
        break;
      }
    }
  }
  const end = `at the end`;
  for (const h of killed) problems.push(`${end}: host ${h} is still killed`);
  for (const h of pausedAt.keys()) problems.push(`${end}: host ${h} is still paused`);
  if (partitioned) problems.push(`${end}: a partition is not healed`);
  if (lossy) problems.push(`${end}: a loss burst has not ended`);
  return problems;
}

function hostsOf(a: ChaosAction): HostIndex[] {
  switch (a.kind) {
    case 'partition':
      return [...a.a, ...a.b];
    case 'loss-start':
    case 'loss-end':
      return a.hosts;
    case 'heal':
      return [];
    case 'config-apply':
    case 'file-upload':
      return [a.fromHost];
    default:
      return [a.host];
  }
}

/** The faults in force once every action at or before `atMs` is done, e.g. to fill a snapshot's `expected` and `partition`. */
export interface FaultState {
  killed: Set<HostIndex>;
  paused: Set<HostIndex>;
  partition?: { a: HostIndex[]; b: HostIndex[] };
  loss?: { hosts: HostIndex[]; percent: number };
}

export function faultStateAt(s: Schedule, atMs: number): FaultState {
  const st: FaultState = { killed: new Set(), paused: new Set() };
  for (const { atMs: t, action: a } of s.actions) {
    if (t > atMs) break;
    if (a.kind === 'kill-sup') st.killed.add(a.host);
    else if (a.kind === 'restart-sup') st.killed.delete(a.host);
    else if (a.kind === 'pause') st.paused.add(a.host);
    else if (a.kind === 'resume') st.paused.delete(a.host);
    else if (a.kind === 'partition') st.partition = { a: a.a, b: a.b };
    else if (a.kind === 'heal') delete st.partition;
    else if (a.kind === 'loss-start') st.loss = { hosts: a.hosts, percent: a.percent };
    else if (a.kind === 'loss-end') delete st.loss;
  }
  return st;
}

/** What the schedule has published: each group's highest config version and each file's highest version. */
export interface Published {
  /** Group → highest config version (absent: none published). */
  config: Map<string, number>;
  /** Group → file name → highest version. */
  files: Map<string, Map<string, number>>;
}

/** What `schedule` has published by `atMs` (everything by default). */
export function publishedBy(s: Schedule, atMs = Number.POSITIVE_INFINITY): Published {
  const out: Published = { config: new Map(), files: new Map() };
  for (const { atMs: t, action: a } of s.actions) {
    if (t > atMs) break;
    if (a.kind === 'config-apply') out.config.set(a.group, Math.max(out.config.get(a.group) ?? 0, a.version));
    if (a.kind === 'file-upload') {
      const files = out.files.get(a.group) ?? new Map<string, number>();
      files.set(a.filename, Math.max(files.get(a.filename) ?? 0, a.version));
      out.files.set(a.group, files);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Text form
//
//   # comments and blank lines are ignored
//   seed 12345
//   hosts 7
//   duration-ms 120000
//   quiet-tail-ms 24000
//   max-down 3
//   max-pause-ms 5000
//   group kv.chaos topology=leader members=0,1,2,3,4 files=tls.pem,motd.txt
//   1523 kill-sup host=3
//   2210 partition a=1,5 b=0,2,3,4,6
//   3000 loss-start hosts=2,4 percent=30
//   4100 config-apply group=kv.chaos version=1 from=0
//   4800 file-upload group=kv.chaos file=tls.pem version=1 from=6
//
// An action line is its time in ms, its kind, then `key=value` fields; host lists are comma-separated.

const HEADER_KEYS = ['seed', 'hosts', 'duration-ms', 'quiet-tail-ms', 'max-down', 'max-pause-ms'] as const;

export function formatSchedule(s: Schedule): string {
  const lines = [
    '# murmur chaos schedule: replay with --schedule FILE',
    `seed ${s.seed}`,
    `hosts ${s.hosts}`,
    `duration-ms ${s.durationMs}`,
    `quiet-tail-ms ${s.quietTailMs}`,
    `max-down ${s.maxDown}`,
    `max-pause-ms ${s.maxPauseMs}`,
    ...s.groups.map((g) => `group ${g.name} topology=${g.topology} members=${g.members.join(',')} files=${g.filenames.join(',')}`),
    ...s.actions.map(formatAction),
  ];
  return lines.join('\n') + '\n';
}

export function formatAction({ atMs, action: a }: TimedAction): string {
  const fields = ((): string => {
    switch (a.kind) {
      case 'kill-sup':
      case 'restart-sup':
      case 'pause':
      case 'resume':
        return `host=${a.host}`;
      case 'kill-service':
        return `host=${a.host} group=${a.group}`;
      case 'partition':
        return `a=${a.a.join(',')} b=${a.b.join(',')}`;
      case 'heal':
        return '';
      case 'loss-start':
        return `hosts=${a.hosts.join(',')} percent=${a.percent}`;
      case 'loss-end':
        return `hosts=${a.hosts.join(',')}`;
      case 'config-apply':
        return `group=${a.group} version=${a.version} from=${a.fromHost}`;
      case 'file-upload':
        return `group=${a.group} file=${a.filename} version=${a.version} from=${a.fromHost}`;
    }
  })();
  return `${atMs} ${a.kind}${fields === '' ? '' : ' ' + fields}`;
}

export interface ScheduleParseError {
  /** 1-based line number (0: the file as a whole). */
  line: number;
  message: string;
}

export type ScheduleParseResult = { ok: true; schedule: Schedule } | { ok: false; error: ScheduleParseError };

/** Reads `formatSchedule`'s text back. Never throws: junk gives an error naming its line. */
export function parseSchedule(text: string): ScheduleParseResult {
  const header = new Map<string, number>();
  const groups: ChaosGroup[] = [];
  const actions: TimedAction[] = [];
  const lines = text.split('\n');
  for (const [k, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parsed = parseLine(line, header, groups, actions);
    if (parsed !== undefined) return { ok: false, error: { line: k + 1, message: parsed } };
  }
  for (const key of HEADER_KEYS) {
    if (!header.has(key)) return { ok: false, error: { line: 0, message: `missing "${key}" line` } };
  }
  const h = (key: (typeof HEADER_KEYS)[number]): number => header.get(key) ?? 0;
  return {
    ok: true,
    schedule: {
      seed: h('seed'),
      hosts: h('hosts'),
      durationMs: h('duration-ms'),
      quietTailMs: h('quiet-tail-ms'),
      maxDown: h('max-down'),
      maxPauseMs: h('max-pause-ms'),
      groups,
      actions,
    },
  };
}

/** One non-blank line into `header`, `groups` or `actions`; returns what is wrong with it, if anything. */
function parseLine(line: string, header: Map<string, number>, groups: ChaosGroup[], actions: TimedAction[]): string | undefined {
  const [first = '', second = '', ...rest] = line.split(/\s+/);
  if ((HEADER_KEYS as readonly string[]).includes(first)) {
    const n = toInt(second);
    if (n === undefined || rest.length > 0) return `"${first}" wants one whole number`;
    header.set(first, n);
    return undefined;
  }
  if (first === 'group') {
    const f = toFields(rest);
    if (typeof f === 'string') return f;
    const topology = f.get('topology');
    const members = toHostList(f.get('members') ?? '');
    if (!NAME.test(second)) return 'a group line wants a group name';
    if (topology !== 'leader' && topology !== 'standalone') return 'topology must be leader or standalone';
    if (members === undefined) return 'members must be a comma-separated list of hosts';
    const files = f.get('files') ?? '';
    groups.push({ name: second, topology, members, filenames: files === '' ? [] : files.split(',') });
    return undefined;
  }
  const atMs = toInt(first);
  if (atMs === undefined) return `unknown line "${first}"`;
  const f = toFields(rest);
  if (typeof f === 'string') return f;
  const action = toAction(second, f);
  if (typeof action === 'string') return action;
  actions.push({ atMs, action });
  return undefined;
}

function toAction(kind: string, f: Map<string, string>): ChaosAction | string {
  const wanted: Record<ChaosActionKind, string[]> = {
    'kill-sup': ['host'],
    'restart-sup': ['host'],
    pause: ['host'],
    resume: ['host'],
    'kill-service': ['host', 'group'],
    partition: ['a', 'b'],
    heal: [],
    'loss-start': ['hosts', 'percent'],
    'loss-end': ['hosts'],
    'config-apply': ['group', 'version', 'from'],
    'file-upload': ['group', 'file', 'version', 'from'],
  };
  if (!Object.hasOwn(wanted, kind)) return `unknown action "${kind}"`;
  const k = kind as ChaosActionKind;
  const keys = wanted[k];
  const extra = [...f.keys()].filter((x) => !keys.includes(x));
  const missing = keys.filter((x) => !f.has(x));
  if (extra.length > 0 || missing.length > 0) return `${k} wants exactly ${keys.join(', ') || 'no fields'}`;
  const str = (x: string): string => f.get(x) ?? '';
  const num = (x: string): number => toInt(str(x)) ?? Number.NaN;
  const list = (x: string): HostIndex[] | undefined => toHostList(str(x));
  const nums = keys.filter((x) => ['host', 'version', 'from', 'percent'].includes(x));
  const badNum = nums.find((x) => Number.isNaN(num(x)));
  if (badNum !== undefined) return `${badNum} must be a whole number`;
  switch (k) {
    case 'kill-sup':
    case 'restart-sup':
    case 'pause':
    case 'resume':
      return { kind: k, host: num('host') };
    case 'kill-service':
      return { kind: k, host: num('host'), group: str('group') };
    case 'partition': {
      const a = list('a');
      const b = list('b');
      return a === undefined || b === undefined ? 'a and b must be comma-separated lists of hosts' : { kind: k, a, b };
    }
    case 'heal':
      return { kind: k };
    case 'loss-start':
    case 'loss-end': {
      const hosts = list('hosts');
      if (hosts === undefined) return 'hosts must be a comma-separated list of hosts';
      return k === 'loss-start' ? { kind: k, hosts, percent: num('percent') } : { kind: k, hosts };
    }
    case 'config-apply':
      return { kind: k, group: str('group'), version: num('version'), fromHost: num('from') };
    case 'file-upload':
      return { kind: k, group: str('group'), filename: str('file'), version: num('version'), fromHost: num('from') };
  }
}

function toFields(words: string[]): Map<string, string> | string {
  const f = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0) return `"${w}" is not key=value`;
    const key = w.slice(0, eq);
    if (f.has(key)) return `${key} is given twice`;
    f.set(key, w.slice(eq + 1));
  }
  return f;
}

function toInt(s: string): number | undefined {
  return /^\d+$/.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : undefined;
}

function toHostList(s: string): HostIndex[] | undefined {
  if (s === '') return [];
  const out = s.split(',').map(toInt);
  return out.every((x) => x !== undefined) ? out : undefined;
}

// ---------------------------------------------------------------------------------------------
// Small helpers on the seeded random

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function byNumber(x: number, y: number): number {
  return x - y;
}

function between(random: Random, [lo, hi]: [number, number]): number {
  return lo + Math.round(random.next() * (hi - lo));
}

function pick<T>(random: Random, xs: readonly T[]): T {
  const x = xs[random.int(xs.length)];
  if (x === undefined) throw new Error('pick from an empty list');
  return x;
}

function shuffle<T>(random: Random, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function pickWeighted<K>(random: Random, weights: readonly [K, number][]): K | undefined {
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  if (!(total > 0)) return undefined;
  let r = random.next() * total;
  for (const [k, w] of weights) {
    if (r < w) return k;
    r -= w;
  }
  return weights.findLast(([, w]) => w > 0)?.[0];
}
