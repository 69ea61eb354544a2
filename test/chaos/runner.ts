/**
 * Carries out a chaos schedule (`schedule.ts`) in the network-namespace lab and judges it with the
 * observer's invariants (`invariants.ts`): `runChaos` is what `test/lab/chaos.test.ts` (the short
 * run in CI) and `bench/chaos.ts` (`npm run chaos`, the long run) call.
 *
 * The lab: `hosts` hosts, each a Supervisor (every other host given as `--peer`), each running two
 * services built here with `hab pkg build`:
 * - `core/kv` in `kv.chaos`, `--topology leader` (test/lab/leader-group.ts's package: `sleep` as
 *   its process, the leader and role rendered in `config/kv.conf`);
 * - `core/redis` in `redis.chaos`, standalone: the host's real `redis-server` (examples/redis),
 *   restarted by its Supervisor on every config change (it has no `reconfigure` hook).
 * Both render `config/chaos.conf` from the gossiped config, so that the observer can compare the
 * file on disk with what was published (`configBody`).
 *
 * While the schedule runs, the observer takes a snapshot every `snapshotEveryMs`: from each host
 * that the suite has not killed or paused, `/services`, `/census` and `/butterfly` (one curl inside
 * the host's namespace) and the service's files and rendered config on disk; for every host, what
 * the suite did to it and whether its Supervisor's process exists. After the last action it polls
 * until `checkConvergence` passes (the convergence time) or `convergenceBoundMs` runs out, then
 * keeps watching for `settleMs` to see that the converged state holds. The run-long invariants
 * are checked over every snapshot at the end.
 *
 * Actions never wait for each other, except where the schedule's rules need it: an action on a
 * host that is being restarted waits for its gateway; config applies and file uploads of a group
 * go out one after another, so that versions reach the Supervisors in rising order.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, mapLimit, monoMs, REPO_ROOT, run, sleep, type LabCounters } from '../lab/lab.js';
import { getJson, LEADER_PLANS } from '../lab/leader-group.js';
import { checkConvergence, checkSnapshots, CONVERGENCE_BOUND_MS, type ButterflyJson, type CensusJson, type HostObservation, type ServicesEntry, type Snapshot, type Violation } from './invariants.js';
import { configBody, fileBody, formatAction, formatSchedule, type ChaosAction, type ChaosActionKind, type ChaosGroup, type HostIndex, type Schedule, type TimedAction } from './schedule.js';

const HAB = join(REPO_ROOT, 'bin', 'hab');

/** The groups of a chaos lab of `hosts` hosts: both on every host. */
export function chaosGroups(hosts: number): ChaosGroup[] {
  const all = Array.from({ length: hosts }, (_, h) => h);
  return [
    { name: 'kv.chaos', topology: 'leader', members: all, filenames: ['peers.txt', 'tls.pem'] },
    { name: 'redis.chaos', topology: 'standalone', members: all, filenames: ['motd.txt'] },
  ];
}

/** Renders what `config-apply` publishes, as `configBody` wrote it, so that the file on disk can be compared. */
const CHAOS_TEMPLATE = 'chaos_group = "{{cfg.chaos_group}}"\nchaos_version = {{cfg.chaos_version}}\n';
const CHAOS_DEFAULTS = '\nchaos_group = ""\nchaos_version = 0\n';

export interface ChaosOptions {
  schedule: Schedule;
  /** `MURMUR_GOSSIP_PRESET` of every Supervisor. @default 'localTest' */
  preset?: string;
  /** @default 1000 */
  snapshotEveryMs?: number;
  /** @default CONVERGENCE_BOUND_MS */
  convergenceBoundMs?: number;
  /** How long the converged state is watched to see that it holds. @default 5000 */
  settleMs?: number;
  /** Progress lines. @default nothing */
  log?: (line: string) => void;
}

/** An action the suite could not carry out, or carried out with a surprise. */
export interface ActionProblem {
  atMs: number;
  action: string;
  message: string;
}

export interface ChaosResult {
  schedule: Schedule;
  /** Actions carried out, by kind. */
  done: Partial<Record<ChaosActionKind, number>>;
  /** `kill-service` actions that found no running service to kill (it was restarting or waiting for its election). */
  skipped: number;
  /** Actions that failed: a publish refused, a restart that did not come up. Each is a failure of the run. */
  problems: ActionProblem[];
  /** Run-long invariants over every snapshot, then convergence (its last failing check when it never passed). */
  violations: Violation[];
  snapshots: number;
  /** From the last action to the first snapshot that passed `checkConvergence`; null when it never did. */
  convergenceMs: number | null;
  /** From the last heal (partition, loss burst end, restart or resume) to convergence. */
  convergenceAfterLastHealMs: number | null;
  /** How late actions ran against their schedule: median and worst, ms. */
  lateness: { medianMs: number; maxMs: number };
  /** The kernel's drop counters of the lab during the run (from `describeDrops`), for the report. */
  counters: { before: LabCounters; after: LabCounters };
  /** Where the Supervisors' logs were copied (a failed run). */
  logsDir?: string;
}

/** Whether a run passed: no violation, no failed action, converged. */
export function passed(r: ChaosResult): boolean {
  return r.violations.length === 0 && r.problems.length === 0 && r.convergenceMs !== null;
}

/** What a failing run prints so that it can be replayed: seed, the schedule, the violations. */
export function describeFailure(r: ChaosResult, scheduleFile: string): string {
  return [
    `chaos run failed: seed ${r.schedule.seed}; the schedule is in ${scheduleFile} (replay: npm run chaos -- --schedule ${scheduleFile})`,
    ...r.problems.map((p) => `[action] ${p.atMs} ms ${p.action}: ${p.message}`),
    ...r.violations.map((v) => `[${v.code}] ${v.atMs} ms: ${v.message}`),
    r.convergenceMs === null ? 'never converged' : `converged ${r.convergenceMs} ms after the last action`,
    r.logsDir === undefined ? '' : `Supervisors' logs: ${r.logsDir}`,
    '--- schedule ---',
    formatSchedule(r.schedule),
  ].join('\n');
}

/** Builds the two packages; returns the key cache and the harts. */
async function buildChaosPackages(work: string): Promise<{ keys: string; harts: Record<'kv' | 'redis', string> }> {
  const keys = join(work, 'keys');
  const env = { ...process.env, HAB_CACHE_KEY_PATH: keys };
  const key = await run(process.execPath, [HAB, 'origin', 'key', 'generate', 'core'], { env });
  if (key.code !== 0) throw new Error(`hab origin key generate failed: ${key.stderr}`);
  const kvPlan = join(work, 'kv-plan');
  for (const [file, text] of Object.entries(LEADER_PLANS.kv)) {
    mkdirSync(join(kvPlan, file, '..'), { recursive: true });
    writeFileSync(join(kvPlan, file), file === 'default.toml' ? text + CHAOS_DEFAULTS : text, { mode: file.startsWith('hooks/') ? 0o755 : 0o644 });
  }
  const redisPlan = join(work, 'redis-plan');
  cpSync(join(REPO_ROOT, 'examples', 'redis'), redisPlan, { recursive: true });
  writeFileSync(join(redisPlan, 'default.toml'), readFileSync(join(redisPlan, 'default.toml'), 'utf8') + CHAOS_DEFAULTS);
  for (const plan of [kvPlan, redisPlan]) writeFileSync(join(plan, 'config', 'chaos.conf'), CHAOS_TEMPLATE);
  const harts = { kv: '', redis: '' };
  for (const [name, plan] of [['kv', kvPlan], ['redis', redisPlan]] as const) {
    const out = join(work, `${name}-out`);
    const r = await run(process.execPath, [HAB, 'pkg', 'build', plan, '--output', out], { env, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`hab pkg build ${name} failed: ${r.stderr}`);
    harts[name] = join(out, readdirSync(out).find((f) => f.endsWith('.hart')) ?? '');
  }
  return { keys, harts };
}

const SVC_OF: Record<string, 'kv' | 'redis'> = { 'kv.chaos': 'kv', 'redis.chaos': 'redis' };

/**
 * Runs `opts.schedule` in a new lab and judges it. The lab is always torn down; on failure the
 * Supervisors' logs are copied first (`logsDir`).
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const s = opts.schedule;
  const log = opts.log ?? (() => {});
  const snapshotEveryMs = opts.snapshotEveryMs ?? 1000;
  const boundMs = opts.convergenceBoundMs ?? CONVERGENCE_BOUND_MS;
  const settleMs = opts.settleMs ?? 5000;
  for (const g of s.groups) if (SVC_OF[g.name] === undefined) throw new Error(`the chaos lab runs kv.chaos and redis.chaos; the schedule names ${g.name}`);
  const work = mkdtempSync(join(tmpdir(), 'murmur-chaos-'));
  const lab = await Lab.create({ hosts: s.hosts, log });
  try {
    const { keys, harts } = await buildChaosPackages(work);
    const before = await lab.counters();
    const labHost = (h: HostIndex): number => h + 1;
    const env = { MURMUR_GOSSIP_PRESET: opts.preset ?? 'localTest', HAB_CACHE_KEY_PATH: keys };
    const everyoneBut = (i: number): number[] => lab.hostList.filter((j) => j !== i);
    log(`chaos: starting ${s.hosts} Supervisors`);
    await lab.startSupervisor(1, { env, peers: everyoneBut(1) });
    await mapLimit(lab.hostList.slice(1), 3, (i) => lab.startSupervisor(i, { env, peers: everyoneBut(i) }));
    const ctl = async (h: HostIndex, args: string[], input?: string): Promise<void> => {
      const r = await lab.ctl(labHost(h), args, { input, env: { HAB_CACHE_KEY_PATH: keys }, timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`hab ${args.join(' ')} on host ${h} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
    };
    for (const g of s.groups) {
      const hart = harts[SVC_OF[g.name] as 'kv' | 'redis'];
      const group = g.name.split('.')[1] as string;
      // The first member alone, so that the leader group's election starts from one member.
      const [first, ...rest] = g.members;
      const load = (h: HostIndex): Promise<void> => ctl(h, ['svc', 'load', hart, '--group', group, ...(g.topology === 'leader' ? ['--topology', 'leader'] : [])]);
      if (first !== undefined) await load(first);
      await mapLimit(rest, 3, load);
    }
    log('chaos: services loaded; waiting for a steady start');
    const observe = new Observer(lab, s, work);
    const steady = await observe.until(boundMs * 2, (snap) => checkConvergence({ ...s, actions: [] }, snap));
    if (steady === null) throw new Error(`the chaos lab did not reach a steady start within ${boundMs * 2} ms: ${observe.lastProblems}`);

    // The run.
    const state = new HostStates(s.hosts);
    const problems: ActionProblem[] = [];
    const done: Partial<Record<ChaosActionKind, number>> = {};
    let skipped = 0;
    const lateness: number[] = [];
    const restarting = new Map<HostIndex, Promise<void>>();
    const publishing = new Map<string, Promise<void>>();
    const inFlight = new Set<Promise<void>>();
    const problem = (t: TimedAction, message: string): void => void problems.push({ atMs: t.atMs, action: formatAction(t), message });
    const background = (p: Promise<void>): void => {
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    const ready = async (h: HostIndex): Promise<void> => {
      await restarting.get(h);
    };

    const carryOut = async (t: TimedAction): Promise<void> => {
      const a: ChaosAction = t.action;
      switch (a.kind) {
        case 'kill-sup': {
          await ready(a.host);
          state.expected[a.host] = 'killed';
          await lab.kill9(labHost(a.host));
          break;
        }
        case 'restart-sup': {
          state.expected[a.host] = 'running';
          const p = lab.restart(labHost(a.host)).then(
            () => undefined,
            (err: unknown) => problem(t, `the Supervisor did not come back: ${(err as Error).message.split('\n')[0]}`),
          );
          restarting.set(a.host, p);
          background(p);
          break;
        }
        case 'pause':
          await ready(a.host);
          state.expected[a.host] = 'paused';
          process.kill(lab.supervisor(labHost(a.host)).proc.pid, 'SIGSTOP');
          break;
        case 'resume':
          process.kill(lab.supervisor(labHost(a.host)).proc.pid, 'SIGCONT');
          state.expected[a.host] = 'running';
          break;
        case 'kill-service': {
          background(
            (async () => {
              await ready(a.host);
              const pid = await observe.servicePid(labHost(a.host), a.group);
              if (pid === null) {
                skipped++;
                return;
              }
              try {
                process.kill(-pid, 'SIGKILL');
              } catch {
                skipped++;
              }
            })(),
          );
          break;
        }
        case 'partition':
          await lab.partition(a.a.map(labHost), a.b.map(labHost));
          state.partition = { a: a.a, b: a.b };
          break;
        case 'heal':
          await lab.heal();
          delete state.partition;
          break;
        case 'loss-start':
          for (const h of a.hosts) await lab.setLoss(labHost(h), a.percent / 100);
          break;
        case 'loss-end':
          for (const h of a.hosts) await lab.setLoss(labHost(h), 0);
          break;
        case 'config-apply':
        case 'file-upload': {
          const previous = publishing.get(a.group) ?? Promise.resolve();
          const p = previous.then(async () => {
            await ready(a.fromHost);
            try {
              if (a.kind === 'config-apply') {
                await ctl(a.fromHost, ['config', 'apply', a.group, String(a.version)], configBody(a.group, a.version));
              } else {
                const dir = join(work, 'uploads', a.group, String(a.version));
                mkdirSync(dir, { recursive: true });
                const file = join(dir, a.filename);
                writeFileSync(file, fileBody(a.group, a.filename, a.version));
                await ctl(a.fromHost, ['file', 'upload', a.group, String(a.version), file]);
              }
            } catch (err) {
              problem(t, (err as Error).message);
            }
          });
          publishing.set(a.group, p);
          background(p);
          break;
        }
      }
      done[a.kind] = (done[a.kind] ?? 0) + 1;
    };

    log(`chaos: seed ${s.seed}, ${s.actions.length} actions over ${s.durationMs} ms (${s.quietTailMs} ms quiet at the end)`);
    const start = monoMs();
    observe.start(start, state, snapshotEveryMs);
    let lastActionAt = start;
    let lastHealAt = start;
    for (const t of s.actions) {
      const wait = start + t.atMs - monoMs();
      if (wait > 0) await sleep(wait);
      lateness.push(Math.max(0, monoMs() - start - t.atMs));
      await carryOut(t);
      lastActionAt = monoMs();
      if (['heal', 'loss-end', 'restart-sup', 'resume'].includes(t.action.kind)) lastHealAt = lastActionAt;
    }
    await Promise.all([...inFlight]);
    lastActionAt = Math.max(lastActionAt, monoMs());
    log(`chaos: every action done (${((monoMs() - start) / 1000).toFixed(1)} s); waiting for convergence`);
    await observe.stop();

    const converged = await observe.until(boundMs, (snap) => checkConvergence(s, snap), start, state);
    const convergenceMs = converged === null ? null : Math.round(converged - lastActionAt);
    const convergenceAfterLastHealMs = converged === null ? null : Math.round(converged - lastHealAt);
    if (converged !== null) {
      // The converged state holds: still converged after `settleMs`, nothing regressed meanwhile.
      await sleep(settleMs);
      const last = await observe.snapshot(start, state);
      observe.snapshots.push(last);
      observe.lastConvergence = checkConvergence(s, last);
    }
    const violations = [...checkSnapshots(s, observe.snapshots), ...observe.lastConvergence];
    const after = await lab.counters();
    const sorted = [...lateness].sort((x, y) => x - y);
    const result: ChaosResult = {
      schedule: s,
      done,
      skipped,
      problems,
      violations,
      snapshots: observe.snapshots.length,
      convergenceMs,
      convergenceAfterLastHealMs,
      lateness: { medianMs: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0), maxMs: Math.round(sorted[sorted.length - 1] ?? 0) },
      counters: { before, after },
    };
    if (!passed(result)) {
      const dest = join(tmpdir(), `murmur-chaos-logs-${s.seed}-${Date.now()}`);
      lab.saveLogs(dest);
      result.logsDir = dest;
    }
    return result;
  } finally {
    await lab.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

/** What the suite has done to each host, read by the observer when it takes a snapshot. */
class HostStates {
  readonly expected: ('running' | 'killed' | 'paused')[];
  partition: { a: HostIndex[]; b: HostIndex[] } | undefined;

  constructor(hosts: number) {
    this.expected = Array.from({ length: hosts }, () => 'running' as const);
  }
}

/** Takes snapshots through the gateways and the hosts' files. */
class Observer {
  readonly snapshots: Snapshot[] = [];
  lastProblems = '';
  lastConvergence: Violation[] = [];
  private loop: Promise<void> | undefined;
  private running = false;

  constructor(
    private readonly lab: Lab,
    private readonly schedule: Schedule,
    private readonly work: string,
  ) {}

  /** Snapshots every `everyMs` until `stop`. */
  start(start: number, state: HostStates, everyMs: number): void {
    this.running = true;
    this.loop = (async () => {
      // Bounded by the run: `stop` ends it, and the schedule's duration plus a margin caps it.
      const cap = start + this.schedule.durationMs + 10 * 60_000;
      while (this.running && monoMs() < cap) {
        const t0 = monoMs();
        this.snapshots.push(await this.snapshot(start, state));
        const wait = everyMs - (monoMs() - t0);
        if (wait > 0) await sleep(wait);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /**
   * Snapshots every 500 ms until `check` finds nothing wrong with one (resolves with its monotonic time) or
   * `limitMs` passes (null). Snapshots are kept for the run-long checks when `start` is given.
   */
  async until(limitMs: number, check: (snap: Snapshot) => Violation[], start?: number, state?: HostStates): Promise<number | null> {
    const deadline = monoMs() + limitMs;
    const st = state ?? new HostStates(this.schedule.hosts);
    for (;;) {
      const t = monoMs();
      const snap = await this.snapshot(start ?? t, st);
      if (start !== undefined) this.snapshots.push(snap);
      this.lastConvergence = check(snap);
      if (this.lastConvergence.length === 0) return t;
      this.lastProblems = this.lastConvergence.map((v) => v.message).join('; ');
      if (monoMs() >= deadline) return null;
      await sleep(500);
    }
  }

  /** One snapshot of every host. `state` is read after the gateways answered, with the processes' state. */
  async snapshot(start: number, state: HostStates): Promise<Snapshot> {
    const atMs = Math.round(monoMs() - start);
    const hosts = await mapLimit(
      Array.from({ length: this.schedule.hosts }, (_, h) => h),
      this.schedule.hosts,
      async (h): Promise<HostObservation> => {
        const i = h + 1;
        const reachable = state.expected[h] === 'running';
        const got = reachable ? await this.gateways(i) : {};
        const files = reachable ? this.files(i) : {};
        const sup = this.lab.supervisor(i);
        const obs: HostObservation = { host: h, expected: state.expected[h] ?? 'running', processAlive: sup.proc.running, pid: sup.proc.pid, ...got, ...files };
        const id = got.census === undefined ? undefined : (got.census as CensusJson & { local_member_id?: string }).local_member_id;
        if (id !== undefined) obs.memberId = id;
        return obs;
      },
    );
    return { atMs, ...(state.partition ? { partition: state.partition } : {}), hosts };
  }

  /** `/services`, `/census`, `/butterfly` of host i in one curl inside its namespace; what answered. */
  private async gateways(i: number): Promise<{ services?: ServicesEntry[]; census?: CensusJson; butterfly?: ButterflyJson }> {
    const dir = join(this.work, 'observer', `host${i}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const base = `http://${this.lab.ip(i)}:9631`;
    const paths = ['services', 'census', 'butterfly'] as const;
    await this.lab.exec(i, 'curl', ['-sS', '--max-time', '3', '--fail', ...paths.flatMap((p) => ['-o', join(dir, `${p}.json`), `${base}/${p}`])], { timeoutMs: 6000 });
    const out: { services?: ServicesEntry[]; census?: CensusJson; butterfly?: ButterflyJson } = {};
    for (const p of paths) {
      try {
        const value: unknown = JSON.parse(readFileSync(join(dir, `${p}.json`), 'utf8'));
        (out as Record<string, unknown>)[p] = value;
      } catch {
        // not answered (or cut short): absent from the snapshot
      }
    }
    return out;
  }

  /** The files and rendered config of each group's service on host i's disk. */
  private files(i: number): Pick<HostObservation, 'fileContents' | 'configContents'> {
    const fileContents: Record<string, Record<string, string>> = {};
    const configContents: Record<string, string> = {};
    const root = join(this.lab.dir(i), 'fs', 'hab', 'svc');
    for (const g of this.schedule.groups) {
      const svc = SVC_OF[g.name] as string;
      const conf = readOptional(join(root, svc, 'config', 'chaos.conf'));
      if (conf !== undefined) configContents[g.name] = conf;
      const files: Record<string, string> = {};
      for (const f of g.filenames) {
        const text = readOptional(join(root, svc, 'files', f));
        if (text !== undefined) files[f] = text;
      }
      fileContents[g.name] = files;
    }
    return { fileContents, configContents };
  }

  /** The PID of `group`'s service on host i (its process group), from /services; null when it runs none. */
  async servicePid(i: number, group: string): Promise<number | null> {
    const list = await getJson<{ service_group: string; process: { pid: number | null } }[]>(this.lab, i, '/services').catch(() => []);
    return list.find((x) => x.service_group === group)?.process.pid ?? null;
  }
}

function readOptional(path: string): string | undefined {
  try {
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}
