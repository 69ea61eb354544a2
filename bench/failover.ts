/**
 * Leader failover in the network-namespace lab (test/lab/lab.ts): how long from a kill -9 of a
 * leader-topology group's leader until every surviving member has the new leader rendered in its
 * config. Prints one Markdown section and, with --write-docs, puts it in docs/benchmarks.md under
 * "Leader failover (lab)".
 *
 *   npm run bench:failover                          # N = 3, 5, 20, 5 reps each, lan (about 10 minutes; root)
 *   npm run bench:failover -- --sizes 3,5 --reps 3
 *   npm run bench:failover -- --presets lan,localTest   # also the localTest timings
 *   npm run bench:failover -- --write-docs          # also writes the section into docs/benchmarks.md
 *   npm run bench:failover -- --keep-logs DIR       # keeps every member's log (DIR/<preset>-n<N>/host<i>-sup.log)
 *   npm run bench:failover -- --nice 0              # members at the benchmark's priority (default: nice 5)
 *
 * What is measured, at each N: N hosts each run a Supervisor (`MURMUR_GOSSIP_PRESET=lan` unless
 * `--presets` says otherwise) with `core/kv` loaded in `kv.bench` with `--topology leader`
 * (test/lab/leader-group.ts: `config/kv.conf` renders `leader = {{svc.leader.sys.ip}}`). Each
 * repetition:
 * - waits until the group is steady: every host's kv.conf names the same leader L, L's roster
 *   holds all N, every member sees every other alive; then 3 s more;
 * - t0, then kill -9 of L's Supervisor and of its service's process group (a host crash; a
 *   Supervisor killed alone leaves its service running);
 * - polls every surviving host's rendered kv.conf every 20 ms, from the root namespace (each
 *   host's FS_ROOT is on this filesystem; the observer reads only files), until every one names
 *   the same new leader. **Failover**: t0 → that moment. Per host, when its file first named it.
 * - the split, from the Supervisors' own log lines (read through their pipes, on the same
 *   monotonic clock): **detection**, t0 → the first survivor's `member confirmed member=L`; and
 *   the first survivor's `starting a new election` line. The rest is the election and the render.
 * - restarts L (same FS_ROOT and flags) and waits until it follows the new leader and is back in
 *   its roster.
 * Alongside, the simulator's prediction for the same N and preset (`measureFailover`, 10 seeds,
 * virtual time, src/testkit/elections.ts), computed in the same run. Members run at `nice 5`
 * (`--nice`) and this process at 0, so that it reads each file as it is written. The kernel's
 * drop counters are recorded with every lab.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GossipOptions } from '../src/gossip/index.js';
import { presets } from '../src/gossip/index.js';
import { measureFailover } from '../src/testkit/index.js';
import buildDist from '../test/global-setup.js';
import { counterDelta, describeDrops, Lab, mapLimit, monoMs, REPO_ROOT, sleep, waitFor, type LabProcess } from '../test/lab/lab.js';
import { buildLeaderPackages, censusLeader, crashHost, kvConf, pidRunning, roster, servicePid } from '../test/lab/leader-group.js';
import { writeDocsSection } from './docs.js';

const SECTION = '## Leader failover (lab)';
const GROUP = 'kv.bench';
const POLL_MS = 20;

// ---------------------------------------------------------------------------------------------
// Options

type PresetName = 'lan' | 'localTest';

interface Options {
  sizes: number[];
  reps: number;
  presets: PresetName[];
  writeDocs: boolean;
  keepLogs: string | undefined;
  nice: number;
}

function parseArgs(argv: string[]): Options {
  const value = (f: string): string | undefined => {
    const k = argv.indexOf(f);
    return k >= 0 ? argv[k + 1] : undefined;
  };
  const sizes = (value('--sizes') ?? '3,5,20').split(',').filter((x) => x !== '').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 3 || n > 100)) throw new Error('--sizes takes sizes 3..100, e.g. --sizes 3,5,20');
  const reps = Number(value('--reps') ?? 5);
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps takes a positive integer');
  const chosen = (value('--presets') ?? 'lan').split(',') as PresetName[];
  if (chosen.some((p) => p !== 'lan' && p !== 'localTest')) throw new Error('--presets takes lan, localTest or both');
  const nice = Number(value('--nice') ?? 5);
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new Error('--nice takes 0..19');
  return { sizes, reps, presets: chosen, writeDocs: argv.includes('--write-docs'), keepLogs: value('--keep-logs'), nice };
}

const say = (line: string): void => void process.stderr.write(`${line}\n`);

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

const ms = (v: number | null | undefined): string => (v === undefined ? '—' : v === null ? 'not reached' : v < 1000 ? `${v.toFixed(0)} ms` : `${(v / 1000).toFixed(2)} s`);

/** `median (min–max)` of the values that were reached, with how many were not. */
function spread(xs: readonly (number | null)[]): string {
  const got = xs.filter((x): x is number => x !== null);
  if (got.length === 0) return 'not reached';
  const missing = xs.length - got.length;
  return `${ms(median(got))} (${ms(Math.min(...got))}–${ms(Math.max(...got))})${missing > 0 ? `, ${missing} not reached` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// One lab

interface Rep {
  /** The host killed (the leader) and the host elected in its place. */
  killed: number;
  elected: number | null;
  /** t0 → every survivor's kv.conf names the new leader. */
  failover: number | null;
  /** t0 → the first survivor's `member confirmed` line about the killed leader. */
  detection: number | null;
  /** t0 → the first survivor's `starting a new election` line. */
  newTerm: number | null;
  /** t0 → the first survivor's kv.conf stopped naming the killed leader. */
  firstFile: number | null;
  /** t0 → each survivor's kv.conf named the new leader (sorted). */
  perHost: number[];
}

interface SizeResult {
  preset: PresetName;
  n: number;
  reps: Rep[];
  /** The simulator's failover times for the same N and preset (10 seeds). */
  sim: number[];
  drops: string;
}

/** The host whose address `ip` is, or null. */
function hostOf(lab: Lab, ip: string): number | null {
  return lab.hostList.find((i) => lab.ip(i) === ip) ?? null;
}

/** The first line of `proc` at or after `since` matching `re`: its time. */
function lineAfter(proc: LabProcess, since: number, re: RegExp): number | null {
  for (const l of proc.lines) if (l.t >= since && re.test(l.text)) return l.t;
  return null;
}

/** Every host names the same leader in kv.conf and its census, the leader's roster holds all N, and every member sees every other alive. */
async function steady(lab: Lab): Promise<number | undefined> {
  const hosts = lab.hostList;
  const confs = hosts.map((i) => kvConf(lab, i));
  const ip = confs[0]?.leader;
  if (ip === undefined || ip === '' || !confs.every((c) => c?.leader === ip)) return undefined;
  const leader = hostOf(lab, ip);
  if (leader === null) return undefined;
  const named = await mapLimit(hosts, 8, (i) => censusLeader(lab, i, GROUP));
  if (!named.every((id) => id === lab.supervisor(leader).id)) return undefined;
  if ((await roster(lab, leader, GROUP)).length !== hosts.length) return undefined;
  const views = await mapLimit(hosts, 8, (i) => lab.butterfly(i));
  if (!views.every((v) => Object.values(v.membership).filter((m) => m.health === 'Alive').length === hosts.length)) return undefined;
  return leader;
}

async function failoverOnce(lab: Lab): Promise<Rep> {
  const leader = await waitFor('the group to be steady', () => steady(lab), 120_000, 500);
  await sleep(3000);
  const survivors = lab.hostList.filter((i) => i !== leader);
  const old = lab.ip(leader);
  const oldId = lab.supervisor(leader).id;
  const firstOff = new Map<number, number>();
  const named = new Map<number, { ip: string; t: number }>();
  const pid = await servicePid(lab, leader);
  const t0 = monoMs();
  await crashHost(lab, leader, pid);
  let agreed: { ip: string; t: number } | null = null;
  const deadline = t0 + 120_000;
  while (monoMs() < deadline) {
    const t = monoMs();
    for (const i of survivors) {
      const ip = kvConf(lab, i)?.leader;
      if (ip === undefined) continue;
      if (ip !== old && !firstOff.has(i)) firstOff.set(i, t);
      if (ip !== old && ip !== '' && named.get(i)?.ip !== ip) named.set(i, { ip, t });
      if (ip === old || ip === '') named.delete(i);
    }
    const ips = new Set(survivors.map((i) => named.get(i)?.ip));
    if (ips.size === 1 && !ips.has(undefined)) {
      agreed = { ip: [...ips][0] as string, t };
      break;
    }
    await sleep(POLL_MS);
  }
  if (pid !== null && pidRunning(pid)) say(`warning: the killed leader's service (PID ${pid}) still runs`);
  // Let the survivors' lines about it reach this process through their pipes.
  await sleep(500);
  const first = (re: RegExp): number | null => {
    const ts = survivors.map((i) => lineAfter(lab.supervisor(i).proc, t0, re)).filter((x): x is number => x !== null);
    return ts.length > 0 ? Math.min(...ts) - t0 : null;
  };
  const offs = [...firstOff.values()];
  const rep: Rep = {
    killed: leader,
    elected: agreed === null ? null : hostOf(lab, agreed.ip),
    failover: agreed === null ? null : agreed.t - t0,
    detection: first(new RegExp(`member confirmed member=${oldId}\\b`)),
    newTerm: first(new RegExp(`starting a new election group=${GROUP.replace('.', '\\.')}\\b`)),
    firstFile: offs.length > 0 ? Math.min(...offs) - t0 : null,
    perHost: agreed === null ? [] : survivors.map((i) => (named.get(i)?.t ?? agreed.t) - t0).sort((a, b) => a - b),
  };
  // The killed host comes back (same FS_ROOT, flags and peers) and must follow before the next rep.
  await lab.restart(leader);
  return rep;
}

async function measureSize(preset: PresetName, n: number, opts: Options, keys: string, kvHart: string): Promise<SizeResult> {
  const lab = await Lab.create({ hosts: n, log: say, nice: opts.nice });
  try {
    const before = await lab.counters();
    const env = { MURMUR_GOSSIP_PRESET: preset, HAB_CACHE_KEY_PATH: keys };
    // Every host knows a few seeds, so that any one of them can be killed and come back.
    const seedsOf = (i: number): number[] => [1, 2, 3].filter((j) => j !== i && j <= n);
    say(`${preset} N=${n}: starting ${n} Supervisors`);
    await lab.startSupervisor(1, { peers: seedsOf(1), env, readyMs: 120_000 });
    await mapLimit(lab.hostList.slice(1), 4, (i) => lab.startSupervisor(i, { peers: seedsOf(i), env, readyMs: 120_000 }));
    const load = async (i: number): Promise<void> => {
      const r = await lab.ctl(i, ['svc', 'load', kvHart, '--group', GROUP.split('.')[1] as string, '--topology', 'leader'], { env: { HAB_CACHE_KEY_PATH: keys }, timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`svc load on host ${i} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
    };
    await load(1);
    await waitFor('host 1 to lead', async () => (await censusLeader(lab, 1, GROUP)) === lab.supervisor(1).id, 120_000, 500);
    await mapLimit(lab.hostList.slice(1), 4, load);
    const reps: Rep[] = [];
    for (let r = 1; r <= opts.reps; r++) {
      const rep = await failoverOnce(lab);
      reps.push(rep);
      say(
        `${preset} N=${n} rep ${r}: killed host ${rep.killed}, host ${rep.elected ?? '?'} elected; every survivor rendered it after ${ms(rep.failover)} (detection ${ms(rep.detection)}, new term ${ms(rep.newTerm)}, first file changed ${ms(rep.firstFile)})`,
      );
    }
    await waitFor('the group to be steady after the last rep', () => steady(lab), 120_000, 500).catch((err: Error) => say(err.message));
    const drops = describeDrops(counterDelta(before, await lab.counters()));
    if (opts.keepLogs) lab.saveLogs(join(opts.keepLogs, `${preset}-n${n}`));
    return { preset, n, reps, sim: simulated(presets[preset], n), drops };
  } finally {
    await lab.destroy();
  }
}

/** The simulator's failover times for `n` members (10 seeds, virtual time). */
function simulated(options: GossipOptions, n: number): number[] {
  return Array.from({ length: 10 }, (_, k) => measureFailover({ members: n, options, seed: k + 1 }).failoverMs);
}

// ---------------------------------------------------------------------------------------------
// The report

function report(results: SizeResult[], opts: Options, meta: { command: string; revision: string; date: string; minutes: number; load: string; cpus: number; kernel: string }): string {
  const out: string[] = [];
  const row = (...cells: string[]): void => void out.push(`| ${cells.join(' | ')} |`);
  out.push(SECTION, '');
  out.push(
    `Real Supervisors (\`murmur sup run\`) in a leader-topology group (\`core/kv\`, \`--topology leader\`), one per network namespace on one Linux bridge (docs/lab.md), on this machine (${meta.cpus} cores shared by every member; Linux ${meta.kernel}; load average ${meta.load} when the run began). Members at \`nice ${opts.nice}\`, the benchmark at 0. Measured ${meta.date} at ${meta.revision}, ${meta.minutes.toFixed(1)} minutes, ${opts.reps} kills at each size, with`,
    '',
    '```sh',
    meta.command,
    '```',
    '',
    'How it is measured (details in the header of `bench/failover.ts`): every host renders `leader = {{svc.leader.sys.ip}}` into `kv.conf`. Once the group is steady (one leader rendered everywhere, all N in its roster, every member alive to every other), t0, then kill -9 of the leader\'s Supervisor and of its service\'s process group (a host crash). **Failover**: t0 until every surviving host\'s `kv.conf` names the same new leader, read from the root namespace every 20 ms. **Detection**: t0 until the first survivor logs `member confirmed` for the dead leader (its line, read through its pipe). The killed host is restarted and must follow the new leader and be back in its roster before the next kill. **Simulator**: `measureFailover` (src/testkit/elections.ts) for the same N and timings, 10 seeds, virtual time, 1 ± 1 ms links, computed in the same run: every member kills, detects, elects and is observed at once, with no CPU of its own to wait for.',
    '',
  );
  row('preset', 'N', 'failover: kill → every survivor renders the new leader, median (min–max)', 'detection: kill → first `member confirmed`, median (min–max)', 'rest: detection → all rendered, median', 'simulator, median (min–max)', 'lab / simulator (medians)');
  row('---', '---', '---', '---', '---', '---', '---');
  for (const r of results) {
    const f = r.reps.map((x) => x.failover);
    const d = r.reps.map((x) => x.detection);
    const rest = r.reps.flatMap((x) => (x.failover !== null && x.detection !== null ? [x.failover - x.detection] : []));
    const got = f.filter((x): x is number => x !== null);
    const ratio = got.length > 0 ? (median(got) / median(r.sim)).toFixed(2) : '—';
    row(`\`${r.preset}\``, String(r.n), spread(f), spread(d), rest.length > 0 ? ms(median(rest)) : '—', `${ms(median(r.sim))} (${ms(Math.min(...r.sim))}–${ms(Math.max(...r.sim))})`, ratio);
  }
  out.push(
    '',
    'Reading the figures: the failover is failure detection, then a few network delays of election and one render. Detection is the probe of the dead leader plus the suspicion timeout, which shrinks with independent confirmations: with 3 members only one other member can confirm, so 3 members are slower than 5 (as the simulator predicts). The rest — every survivor voting, the candidate finishing, every Supervisor rendering `kv.conf` again — grows with N here because all N Supervisors share the machine\'s two cores; the simulator\'s members have no CPU to wait for.',
    '',
    'No peer is measured: Serf, the peer of the other lab benchmarks, has no leader election, and Habitat, whose Supervisor this one follows, is not installable on this machine.',
    '',
    'Details of this run:',
  );
  for (const r of results) {
    out.push(
      `- \`${r.preset}\` N=${r.n}, per kill (killed → elected: failover; detection; first \`starting a new election\`; first file changed; survivors rendering it, first–last): ${r.reps
        .map((x) => `host ${x.killed} → ${x.elected ?? '?'}: ${ms(x.failover)}; ${ms(x.detection)}; ${ms(x.newTerm)}; ${ms(x.firstFile)}; ${x.perHost.length > 0 ? `${ms(x.perHost[0])}–${ms(x.perHost.at(-1))}` : '—'}`)
        .join(' · ')}.`,
    );
  }
  for (const r of results) out.push(`- \`${r.preset}\` lab of ${r.n} hosts: ${r.drops}.`);
  out.push('');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  const started = monoMs();
  const date = new Date().toISOString().slice(0, 10);
  const load = loadavg().map((x) => x.toFixed(2)).join(', ');
  // The Supervisors run dist/: build it from the sources first, as the lab tests do.
  buildDist();
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim() !== '';
  const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  const work = mkdtempSync(join(tmpdir(), 'murmur-bench-failover-'));
  const results: SizeResult[] = [];
  try {
    const { keys, harts } = await buildLeaderPackages(work);
    for (const preset of opts.presets) for (const n of opts.sizes) results.push(await measureSize(preset, n, opts, keys, harts.kv));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const shown = argv.filter((a) => a !== '--write-docs');
  const command = `npm run bench:failover${shown.length ? ` -- ${shown.join(' ')}` : ''}`;
  const section = report(results, opts, { command, revision: `${head}${dirty ? ' with uncommitted changes in src/' : ''}`, date, minutes: (monoMs() - started) / 60_000, load, cpus: cpus().length, kernel });
  process.stdout.write(`${section}\n`);
  if (opts.writeDocs) say(`wrote the section into ${writeDocsSection(SECTION, section)}`);
}

main().catch((err: unknown) => {
  say(`bench:failover: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
