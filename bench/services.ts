/**
 * Service groups in the network-namespace lab (test/lab/lab.ts): how fast a config change turns
 * into running services, and the same job done by Serf agents in the same run. Prints one
 * Markdown section and, with --write-docs, puts it in docs/benchmarks.md under
 * "Service groups (lab)".
 *
 *   npm run bench:services                        # 5 reps of each part, 20 hosts (a few minutes; root)
 *   npm run bench:services -- --reps 3 --hosts 10
 *   npm run bench:services -- --parts seed        # only the Redis part (or: wait)
 *   npm run bench:services -- --write-docs        # also writes the section into docs/benchmarks.md
 *   npm run bench:services -- --keep-logs DIR     # keeps every member's log (DIR/<part>/host<i>-*.log)
 *
 * What is measured (murmur: `MURMUR_GOSSIP_PRESET=lan`, default timings; Serf: Debian's
 * `serf agent`, lan profile). Every time is on the monotonic clock (the same in every namespace).
 * - Seed scenario (issue 4): hosts 1 and 2 run `core/redis` (examples/redis: the host's
 *   redis-server) in `redis.prod`, host 2 peered with host 1. `hab config apply redis.prod N`
 *   with `port = P` (P alternating between two ports) is sent to host 1; a prober in host 3 sends
 *   Redis `PING` to both hosts on port P every 10 ms over the bridge (the root namespace has no
 *   route to the lab, docs/lab.md) and stamps the first `+PONG` of each. Time from the command
 *   issued (and from host 1's Supervisor taking it: its `config applied` line) until both answer.
 * - `--wait` at N hosts: every host runs `core/demo` in `demo.bench`. `hab config apply
 *   demo.bench N --wait` on host 1; the time until the command returns (every live member
 *   applied), and until 50/90/100 % of the members logged `demo.bench(SR): config version
 *   applied version=N` (the service restarted on the new config).
 * - Serf, on the same hosts after the Supervisors are stopped: N agents, each with an event
 *   handler for the user event `cfg` that writes the payload to a file and restarts a `sleep`
 *   child (what a Supervisor does for a config change, in miniature). `serf event -coalesce=false
 *   cfg <payload>` on host 1; until 50/90/100 % of the handlers finished (the agent's `Event
 *   'user' script output` line, at `-log-level=debug`). Both systems are timed the same way:
 *   when a member's log line reaches this process through its pipe.
 * The kernel's drop counters are recorded with every lab and printed with the table.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import buildDist from '../test/global-setup.js';
import { counterDelta, describeDrops, Lab, mapLimit, MURMUR_BIN, monoMs, REPO_ROOT, run, sleep, waitFor, type LabCounters, type LabProcess } from '../test/lab/lab.js';
import { writeDocsSection } from './docs.js';

const SECTION = '## Service groups (lab)';
const HAB = join(REPO_ROOT, 'bin', 'hab');
const PORTS = [7001, 7002];

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  reps: number;
  hosts: number;
  parts: ('seed' | 'wait')[];
  writeDocs: boolean;
  keepLogs: string | undefined;
}

function parseArgs(argv: string[]): Options {
  const value = (f: string): string | undefined => {
    const k = argv.indexOf(f);
    return k >= 0 ? argv[k + 1] : undefined;
  };
  const reps = Number(value('--reps') ?? 5);
  const hosts = Number(value('--hosts') ?? 20);
  const parts = (value('--parts') ?? 'seed,wait').split(',') as Options['parts'];
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps takes a positive integer');
  if (!Number.isInteger(hosts) || hosts < 2 || hosts > 250) throw new Error('--hosts takes 2..250');
  if (parts.some((p) => p !== 'seed' && p !== 'wait')) throw new Error('--parts takes seed, wait or seed,wait');
  return { reps, hosts, parts, writeDocs: argv.includes('--write-docs'), keepLogs: value('--keep-logs') };
}

const say = (line: string): void => void process.stderr.write(`${line}\n`);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Median of the reps, or null when one of them did not complete. */
const medianOf = (xs: (number | null)[]): number | null => (xs.length > 0 && xs.every((x) => x !== null) ? median(xs) : null);
const maxOf = (xs: (number | null)[]): number | null => (xs.length > 0 && xs.every((x) => x !== null) ? Math.max(...xs) : null);
const ms = (v: number | null | undefined): string => (v === undefined ? '—' : v === null ? 'not reached' : v < 1000 ? `${v.toFixed(0)} ms` : `${(v / 1000).toFixed(2)} s`);
const ratio = (a: number | null | undefined, b: number | null | undefined): string => (a == null || b == null || b === 0 ? '—' : (a / b).toFixed(2));

/** The time after `t0` at which p % of `times` (one per member) had happened. */
function reach(times: number[], total: number, p: number, t0: number): number | null {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * total) - 1] === undefined ? null : (sorted[Math.ceil((p / 100) * total) - 1] as number) - t0;
}

// ---------------------------------------------------------------------------------------------
// Packages and Supervisors

/** One origin key and the .hart of each example package, built once. */
async function buildPackages(work: string): Promise<{ keys: string; harts: Record<'redis' | 'demo', string> }> {
  const keys = join(work, 'keys');
  const env = { ...process.env, HAB_CACHE_KEY_PATH: keys };
  const key = await run(process.execPath, [HAB, 'origin', 'key', 'generate', 'core'], { env });
  if (key.code !== 0) throw new Error(`hab origin key generate failed: ${key.stderr}`);
  const harts = { redis: '', demo: '' };
  for (const name of ['redis', 'demo'] as const) {
    const out = join(work, name);
    const r = await run(process.execPath, [HAB, 'pkg', 'build', join(REPO_ROOT, 'examples', name), '--output', out], { env, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`hab pkg build examples/${name} failed: ${r.stderr}`);
    harts[name] = join(out, readdirSync(out).find((f) => f.endsWith('.hart')) ?? '');
  }
  return { keys, harts };
}

async function ctl(lab: Lab, i: number, args: string[], input?: string): Promise<void> {
  const r = await lab.ctl(i, args, { input, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${args.join(' ')} on host ${i} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
}

async function getJson<T>(lab: Lab, i: number, path: string): Promise<T> {
  const r = await lab.exec(i, 'curl', ['-sS', '--max-time', '5', `http://${lab.ip(i)}:9631${path}`], { timeoutMs: 7000 });
  if (r.code !== 0) throw new Error(`curl ${path} of host ${i} failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

type Population = Record<string, { alive: boolean; process_state: string }>;

async function population(lab: Lab, i: number, group: string): Promise<Population> {
  return (await getJson<{ census_groups: Record<string, { population: Population } | undefined> }>(lab, i, '/census')).census_groups[group]?.population ?? {};
}

/** Starts Supervisors on `hosts` (the first one alone, the others peered with it) and loads `hart` in `group` on each. */
async function startGroup(lab: Lab, hosts: number[], keys: string, hart: string, group: string): Promise<void> {
  const env = { MURMUR_GOSSIP_PRESET: 'lan', HAB_CACHE_KEY_PATH: keys };
  const [first, ...rest] = hosts as [number, ...number[]];
  await lab.startSupervisor(first, { env, readyMs: 120_000 });
  await mapLimit(rest, 4, (i) => lab.startSupervisor(i, { peers: [first], env, readyMs: 120_000 }));
  await mapLimit(hosts, 4, (i) => ctl(lab, i, ['svc', 'load', hart, '--group', group.split('.')[1] as string]));
  await waitFor(`host ${first} to see ${hosts.length} members of ${group} alive and up`, async () => {
    const pop = Object.values(await population(lab, first, group));
    return pop.length === hosts.length && pop.every((m) => m.alive && m.process_state === 'up');
  }, 120_000, 500);
}

/** The first line of `proc` at or after `since` matching `re`, with its time. */
function lineAfter(proc: LabProcess, since: number, re: RegExp): { t: number; match: RegExpExecArray } | undefined {
  for (const l of proc.lines) {
    if (l.t < since) continue;
    const m = re.exec(l.text);
    if (m) return { t: l.t, match: m };
  }
  return undefined;
}

function appliedRe(group: string, version: number): RegExp {
  return new RegExp(`^${group.replace('.', '\\.')}\\(SR\\): config version applied version=${version}\\b`);
}

const ORIGIN_RE = (group: string, version: number): RegExp => new RegExp(`hab-sup\\(MR\\): config applied group=${group.replace('.', '\\.')} version=${version}\\b`);
const RECEIVED_RE = (group: string, version: number): RegExp => new RegExp(`hab-sup\\(MR\\): config received group=${group.replace('.', '\\.')} version=${version}\\b`);

// ---------------------------------------------------------------------------------------------
// The seed scenario: two Redis, a config apply, both answering on the new port

/**
 * A Redis PING prober, run inside a lab host. Reads `watch TAG HOST:PORT…` lines; prints
 * `watching TAG` at once, then for each target `pong TAG HOST:PORT T` (T: CLOCK_MONOTONIC ms
 * when `+PONG` arrived) once it answers, polling every 10 ms, or `none TAG HOST:PORT` after 30 s.
 */
const PROBER = `
const net = require('node:net');
const mono = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function ping(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    let buf = '';
    const done = (v) => { clearTimeout(timer); s.destroy(); resolve(v); };
    const timer = setTimeout(() => done(undefined), 250);
    s.on('connect', () => s.write('PING\\r\\n'));
    s.on('data', (d) => { buf += d; if (buf.includes('\\r\\n')) done(buf.startsWith('+PONG') ? mono() : undefined); });
    s.on('error', () => done(undefined));
  });
}
async function watch(tag, target) {
  const [host, port] = target.split(':');
  const end = mono() + 30000;
  while (mono() < end) {
    const started = mono();
    const t = await ping(host, Number(port));
    if (t !== undefined) return console.log('pong ' + tag + ' ' + target + ' ' + t.toFixed(2));
    await sleep(Math.max(0, 10 - (mono() - started)));
  }
  console.log('none ' + tag + ' ' + target);
}
let partial = '';
process.stdin.on('data', (c) => {
  const lines = (partial + c).split('\\n');
  partial = lines.pop();
  for (const line of lines) {
    const [cmd, tag, ...targets] = line.trim().split(/\\s+/);
    if (cmd !== 'watch') continue;
    console.log('watching ' + tag);
    for (const t of targets) void watch(tag, t);
  }
});
`;

interface SeedRep {
  port: number;
  /** Command issued → both Redis answer PING on the new port. */
  fromCommand: number | null;
  /** Host 1's `config applied` line → both answer. */
  fromOrigin: number | null;
  /** Command issued → host 1 took it (the CLI's start-up and the control gateway). */
  cli: number | null;
  /** Per Redis host: `config version applied` line and first PONG, after the command. */
  hosts: { applied: number | null; pong: number | null }[];
}

async function seedScenario(lab: Lab, opts: Options, keys: string, hart: string): Promise<SeedRep[]> {
  const redisHosts = [1, 2];
  const proberHost = 3;
  say('seed: two Supervisors with Redis in redis.prod');
  await startGroup(lab, redisHosts, keys, hart, 'redis.prod');
  const prober = lab.spawn(proberHost, 'redis-prober', process.execPath, ['-e', PROBER]);
  const reps: SeedRep[] = [];
  for (let v = 1; v <= opts.reps; v++) {
    const port = PORTS[v % 2] as number;
    const tag = `v${v}`;
    prober.child.stdin?.write(`watch ${tag} ${redisHosts.map((i) => `${lab.ip(i)}:${port}`).join(' ')}\n`);
    await prober.waitForLine(new RegExp(`^watching ${tag}$`), 5000);
    const t0 = monoMs();
    await ctl(lab, 1, ['config', 'apply', 'redis.prod', String(v)], `port = ${port}\n`);
    const answers = await Promise.all(redisHosts.map((i) => prober.waitForLine(new RegExp(`^(pong|none) ${tag} ${lab.ip(i).replace(/\./g, '\\.')}:${port}(?: (\\S+))?$`), 35_000)));
    const pongs = answers.map((a) => (a.match[1] === 'pong' ? Number(a.match[2]) : null));
    // The Supervisors' own lines arrive through their pipes; give them a moment.
    await sleep(500);
    const origin = lineAfter(lab.supervisor(1).proc, t0, ORIGIN_RE('redis.prod', v))?.t ?? null;
    const applied = redisHosts.map((i) => lineAfter(lab.supervisor(i).proc, t0, appliedRe('redis.prod', v))?.t ?? null);
    const both = pongs.every((p) => p !== null) ? Math.max(...pongs) : null;
    const rep: SeedRep = {
      port,
      fromCommand: both === null ? null : both - t0,
      fromOrigin: both === null || origin === null ? null : both - origin,
      cli: origin === null ? null : origin - t0,
      hosts: redisHosts.map((_, k) => ({ applied: applied[k] == null ? null : applied[k] - t0, pong: pongs[k] == null ? null : pongs[k] - t0 })),
    };
    reps.push(rep);
    say(`seed rep ${v} (port ${port}): both answer ${ms(rep.fromCommand)} after the command, ${ms(rep.fromOrigin)} after host 1 took it`);
    await sleep(1500);
  }
  await prober.kill('SIGKILL');
  return reps;
}

// ---------------------------------------------------------------------------------------------
// --wait at N hosts, and Serf's event handlers on the same hosts

interface SpreadRep {
  /** Command issued → the command returned (murmur `--wait` only). */
  returned: number | null;
  /** Command issued → the origin took it. */
  origin: number | null;
  /** Command issued → 50/90/100 % of the members applied (their log lines). */
  p50: number | null;
  p90: number | null;
  p100: number | null;
  /** Command issued → the `--wait` progress line reporting 50/90/100 % (murmur only). */
  progress?: { p50: number | null; p90: number | null; p100: number | null };
  /** Command issued → the last member received it (murmur `config received`, Serf `Received event`). */
  received100: number | null;
  /** Median over the members of received → applied (the member's own work). */
  localMedian: number | null;
  got: number;
}

/** Per member: when it received the change and when it had applied it; the summary of a rep. */
function spread(t0: number, n: number, origin: number | undefined, received: (number | undefined)[], applied: (number | undefined)[]): Omit<SpreadRep, 'returned' | 'progress'> {
  const done = applied.filter((t): t is number => t !== undefined);
  const local = applied.flatMap((a, k) => (a === undefined || received[k] === undefined ? [] : [a - received[k]]));
  return {
    origin: origin === undefined ? null : origin - t0,
    p50: reach(done, n, 50, t0),
    p90: reach(done, n, 90, t0),
    p100: reach(done, n, 100, t0),
    received100: reach(received.filter((t): t is number => t !== undefined), n, 100, t0),
    localMedian: local.length === n ? median(local) : null,
    got: done.length,
  };
}

async function waitScenario(lab: Lab, opts: Options, keys: string, hart: string): Promise<SpreadRep[]> {
  const hosts = lab.hostList;
  const n = hosts.length;
  say(`wait: ${n} Supervisors with the demo service in demo.bench`);
  await startGroup(lab, hosts, keys, hart, 'demo.bench');
  await waitFor(`every host to hold ${n} members alive`, async () => {
    const views = await mapLimit(hosts, 8, (i) => lab.butterfly(i));
    return views.every((v) => Object.values(v.membership).filter((m) => m.health === 'Alive').length === n);
  }, 60_000, 1000);
  await sleep(3000);
  const secret = readFileSync(join(lab.supervisor(1).fsRoot, 'hab/sup/default/CTL_SECRET'), 'utf8').trim();
  const reps: SpreadRep[] = [];
  for (let v = 1; v <= opts.reps; v++) {
    const t0 = monoMs();
    const cli = lab.spawn(1, 'config-apply', process.execPath, [MURMUR_BIN, 'config', 'apply', 'demo.bench', String(v), '--wait', '--timeout', '60', '--remote-sup', '127.0.0.1:9632'], { env: { HAB_CTL_SECRET: secret } });
    cli.child.stdin?.end(`message = "rep ${v}"\n`);
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([cli.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), 90_000)))]);
    clearTimeout(timer);
    const returnedAt = monoMs();
    if (exit === null) await cli.kill('SIGKILL');
    const ok = exit !== null && exit.code === 0;
    if (!ok) say(`wait rep ${v}: hab config apply --wait ended with ${exit === null ? 'no exit in 90 s' : `exit ${exit.code}`}: ${cli.lines.map((l) => l.text).join(' | ')}`);
    await sleep(500);
    const applied = hosts.map((i) => lineAfter(lab.supervisor(i).proc, t0, appliedRe('demo.bench', v))?.t);
    const origin = lineAfter(lab.supervisor(1).proc, t0, ORIGIN_RE('demo.bench', v))?.t;
    const received = hosts.map((i) => (i === 1 ? origin : lineAfter(lab.supervisor(i).proc, t0, RECEIVED_RE('demo.bench', v))?.t));
    // `k/N members applied version v` on stderr, one line per change (stderr is a pipe here).
    const progressAt = (p: number): number | null => {
      const need = Math.ceil((p / 100) * n);
      const l = cli.lines.find((x) => {
        const m = /^(\d+)\/(\d+) members applied version (\d+)$/.exec(x.text);
        return m !== null && Number(m[3]) === v && Number(m[1]) >= need;
      });
      return l === undefined ? null : l.t - t0;
    };
    const rep: SpreadRep = {
      returned: ok ? returnedAt - t0 : null,
      ...spread(t0, n, origin, received, applied),
      progress: { p50: progressAt(50), p90: progressAt(90), p100: progressAt(100) },
    };
    reps.push(rep);
    say(`wait rep ${v}: returned ${ms(rep.returned)}; applied 50/90/100 % ${ms(rep.p50)} / ${ms(rep.p90)} / ${ms(rep.p100)} (${rep.got}/${n}); origin ${ms(rep.origin)}`);
    await sleep(2000);
  }
  // Stop the Supervisors as an operator would (each stops its service), before Serf takes the hosts.
  await mapLimit(hosts, 8, (i) => lab.supervisor(i).proc.kill('SIGTERM', 20_000));
  await lab.killAll();
  return reps;
}

/** The user-event handler: the payload to a file, a `sleep` child restarted, one line of output. */
const HANDLER = `#!/bin/sh
# serf user event "cfg": what a Supervisor does for a config change, in miniature.
cat > "$BENCH_DIR/cfg.toml"
[ -f "$BENCH_DIR/child.pid" ] && kill "$(cat "$BENCH_DIR/child.pid")" 2>/dev/null
sleep 100000 </dev/null >/dev/null 2>&1 &
echo $! > "$BENCH_DIR/child.pid"
echo "cfg applied: $(head -n 1 "$BENCH_DIR/cfg.toml")"
`;

async function serfScenario(lab: Lab, opts: Options, work: string): Promise<SpreadRep[]> {
  const hosts = lab.hostList;
  const n = hosts.length;
  const handler = join(work, 'serf-handler.sh');
  writeFileSync(handler, HANDLER);
  chmodSync(handler, 0o755);
  say(`serf: ${n} agents with a user-event handler`);
  const procs = new Map<number, LabProcess>();
  const start = async (i: number): Promise<void> => {
    const dir = join(lab.dir(i), 'serf');
    mkdirSync(dir, { recursive: true });
    const args = ['agent', `-node=h${i}`, `-bind=${lab.ip(i)}:7946`, '-rpc-addr=127.0.0.1:7373', '-log-level=debug', '-event-handler', `user:cfg=${handler}`];
    if (i !== 1) args.push(`-retry-join=${lab.ip(1)}:7946`, '-retry-interval=2s');
    const p = lab.spawn(i, 'serf', 'serf', args, { env: { BENCH_DIR: dir }, logFile: join(lab.dir(i), 'serf.log') });
    await p.waitForLine(/Serf agent running!/, 60_000);
    procs.set(i, p);
  };
  await start(1);
  await mapLimit(hosts.slice(1), 8, start);
  const joined = (i: number): number => new Set((procs.get(i) as LabProcess).lines.map((l) => /serf: EventMemberJoin: (h\d+) /.exec(l.text)?.[1]).filter((x) => x !== undefined)).size;
  await waitFor(`every agent to see ${n} members`, () => hosts.every((i) => joined(i) === n), 60_000, 250);
  await sleep(3000);
  const reps: SpreadRep[] = [];
  for (let v = 1; v <= opts.reps; v++) {
    const payload = `message = "rep ${v}"`;
    const t0 = monoMs();
    const r = await lab.exec(1, 'serf', ['event', '-coalesce=false', 'cfg', payload]);
    if (r.code !== 0) throw new Error(`serf event failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
    const done = new RegExp(`agent: Event 'user' script output: cfg applied: message = "rep ${v}"`);
    await waitFor(`every Serf handler to run for rep ${v}`, () => hosts.every((i) => lineAfter(procs.get(i) as LabProcess, t0, done)), 30_000, 50).catch((err: Error) => say(err.message));
    await sleep(500);
    const handled = hosts.map((i) => lineAfter(procs.get(i) as LabProcess, t0, done)?.t);
    const origin = lineAfter(procs.get(1) as LabProcess, t0, /agent: Requesting user event send: cfg\./)?.t;
    const received = hosts.map((i) => lineAfter(procs.get(i) as LabProcess, t0, /agent: Received event: user-event: cfg$/)?.t);
    const rep: SpreadRep = { returned: null, ...spread(t0, n, origin, received, handled) };
    reps.push(rep);
    say(`serf rep ${v}: handlers done 50/90/100 % ${ms(rep.p50)} / ${ms(rep.p90)} / ${ms(rep.p100)} (${rep.got}/${n}); origin ${ms(rep.origin)}`);
    await sleep(2000);
  }
  await lab.killAll();
  return reps;
}

// ---------------------------------------------------------------------------------------------
// The report

interface Run {
  seed: SeedRep[];
  wait: SpreadRep[];
  serf: SpreadRep[];
  drops: { lab: string; delta: ReturnType<typeof counterDelta> }[];
}

function report(r: Run, opts: Options, meta: { command: string; revision: string; date: string; minutes: number; serfVersion: string; redisVersion: string; load: string }): string {
  const out: string[] = [];
  const row = (...cells: string[]): void => void out.push(`| ${cells.join(' | ')} |`);
  const n = opts.hosts;
  out.push(SECTION, '');
  out.push(
    `Real Supervisors (\`murmur sup run\`, \`MURMUR_GOSSIP_PRESET=lan\`) running real services, one per network namespace on one Linux bridge (docs/lab.md), and Serf agents (Debian's \`serf\` ${meta.serfVersion}, lan profile) on the same hosts in the same run, on this machine (2 cores shared by every member; load average ${meta.load} when the run began). Redis is the host's \`redis-server\` ${meta.redisVersion}. Measured ${meta.date} at ${meta.revision}, ${meta.minutes.toFixed(1)} minutes, ${opts.reps} repetitions of each figure, with`,
    '',
    '```sh',
    meta.command,
    '```',
    '',
    'How it is measured (details in the header of `bench/services.ts`); every time is on the monotonic clock, from the moment the command is started in host 1\'s namespace:',
    '',
    '- **Seed scenario** (issue 4): hosts 1 and 2 run `core/redis` (examples/redis) in `redis.prod`. `hab config apply redis.prod N` with `port = P` through host 1\'s control gateway, P alternating between 7001 and 7002; a prober in host 3 sends Redis `PING` to both hosts on port P every 10 ms across the bridge and stamps the first `+PONG` of each. Until both answer: each Supervisor renders `redis.conf`, stops its Redis (SIGTERM) and starts a new one, which must bind the new port. Also given from host 1\'s Supervisor taking the config (its `config applied` line), which leaves out the start-up of the `hab` CLI (a Node.js process).',
    `- **\`--wait\` at ${n} hosts**: every host runs \`core/demo\` in \`demo.bench\`; \`hab config apply demo.bench N --wait\` on host 1. Until the command returns (every live member applied), and until 50/90/100 % of the ${n} members (host 1 included) applied it: each logged \`demo.bench(SR): config version applied version=N\` (the service restarted on the new config; the line reaches the benchmark through the Supervisor's pipe).`,
    `- **Serf**: after the Supervisors stop, ${n} Serf agents on the same hosts (host 1 included), each with \`-event-handler user:cfg=<script>\`; the script writes the payload to a file and restarts a \`sleep\` child. \`serf event -coalesce=false cfg <payload>\` on host 1; until 50/90/100 % of the agents logged the script's output (\`Event 'user' script output\`, at \`-log-level=debug\`), read through their pipes as for murmur. Serf has no equivalent of \`--wait\`. The last row starts at the origin taking it (murmur: host 1's \`config applied\` line; Serf: host 1's \`Requesting user event send\`), which leaves out the CLIs' start-up (Node.js against Go). The two \`of which\` rows split the time: until the last member received the change (murmur \`config received\`, Serf \`Received event: user-event\`), and each member's own work from receiving it to having applied it (murmur: render the templates, stop the service, start it again, with all ${n} Supervisors on the machine's 2 cores at once; Serf: one shell script).`,
    '',
  );
  row('figure', 'N', 'target', 'murmur', 'Serf', 'murmur/Serf');
  row('---', '---', '---', '---', '---', '---');
  if (r.seed.length > 0) {
    const cmd = r.seed.map((x) => x.fromCommand);
    const org = r.seed.map((x) => x.fromOrigin);
    row('seed: `config apply` issued → both Redis answer PING on the new port (median; max)', '2', '≤ 1 s', `${ms(medianOf(cmd))}; ${ms(maxOf(cmd))}`, '—', '—');
    row('seed: host 1 takes the config → both Redis answer (median; max)', '2', '', `${ms(medianOf(org))}; ${ms(maxOf(org))}`, '—', '—');
  }
  if (r.wait.length > 0 || r.serf.length > 0) {
    const m = (k: 'p50' | 'p90' | 'p100'): number | null => medianOf(r.wait.map((x) => x[k]));
    const s = (k: 'p50' | 'p90' | 'p100'): number | null => medianOf(r.serf.map((x) => x[k]));
    const ret = medianOf(r.wait.map((x) => x.returned));
    row('`hab config apply --wait` returns: every live member applied (median)', String(n), '', r.wait.length ? ms(ret) : '—', '—', '—');
    for (const [label, k] of [['50 %', 'p50'], ['90 %', 'p90'], ['100 %', 'p100']] as const) {
      row(`command issued → ${label} of members applied (median)`, String(n), '', r.wait.length ? ms(m(k)) : '—', r.serf.length ? ms(s(k)) : '—', ratio(m(k), s(k)));
    }
    const mo = medianOf(r.wait.map((x) => (x.p100 === null || x.origin === null ? null : x.p100 - x.origin)));
    const so = medianOf(r.serf.map((x) => (x.p100 === null || x.origin === null ? null : x.p100 - x.origin)));
    row('host 1 takes it → 100 % of members applied (median)', String(n), '', r.wait.length ? ms(mo) : '—', r.serf.length ? ms(so) : '—', ratio(mo, so));
    const fromOrigin = (x: SpreadRep): number | null => (x.received100 === null || x.origin === null ? null : x.received100 - x.origin);
    const mr = medianOf(r.wait.map(fromOrigin));
    const sr = medianOf(r.serf.map(fromOrigin));
    row('of which: host 1 takes it → the last member received it (median)', String(n), '', r.wait.length ? ms(mr) : '—', r.serf.length ? ms(sr) : '—', ratio(mr, sr));
    const ml = medianOf(r.wait.map((x) => x.localMedian));
    const sl = medianOf(r.serf.map((x) => x.localMedian));
    row('of which: one member, received → applied (median over members, median of reps)', String(n), '', r.wait.length ? ms(ml) : '—', r.serf.length ? ms(sl) : '—', ratio(ml, sl));
  }
  out.push('', 'Details of this run:');
  if (r.seed.length > 0) {
    out.push(`- seed, per rep (port: command → both answer / host 1 took it after / host 1 applied, answered; host 2 applied, answered): ${r.seed.map((x) => `${x.port}: ${ms(x.fromCommand)} / ${ms(x.cli)} / ${x.hosts.map((h) => `${ms(h.applied)}, ${ms(h.pong)}`).join('; ')}`).join(' · ')}.`);
  }
  if (r.wait.length > 0) {
    out.push(`- murmur --wait, per rep (returned; applied 50/90/100 %; \`--wait\` progress lines at 50/90/100 %; origin took it after): ${r.wait.map((x) => `${ms(x.returned)}; ${ms(x.p50)}/${ms(x.p90)}/${ms(x.p100)}; ${ms(x.progress?.p50)}/${ms(x.progress?.p90)}/${ms(x.progress?.p100)}; ${ms(x.origin)}`).join(' · ')}.`);
  }
  if (r.serf.length > 0) {
    out.push(`- Serf, per rep (handlers done 50/90/100 %; origin took it after): ${r.serf.map((x) => `${ms(x.p50)}/${ms(x.p90)}/${ms(x.p100)}; ${ms(x.origin)}`).join(' · ')}.`);
  }
  for (const x of [...r.wait.map((w) => ['murmur', w] as const), ...r.serf.map((s) => ['Serf', s] as const)]) if (x[1].got < n) out.push(`- ${x[0]}: a rep reached only ${x[1].got} of ${n} members.`);
  for (const d of r.drops) out.push(`- ${d.lab}: ${describeDrops(d.delta)}.`);
  out.push('');
  return out.join('\n');
}

function writeDocs(section: string): void {
  say(`wrote the section into ${writeDocsSection(SECTION, section)}`);
}

// ---------------------------------------------------------------------------------------------

/** The version of an installed Debian package, or undefined. */
function debVersion(pkg: string): string | undefined {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
}

/** Serf is Debian's `serf` package: installed with apt-get when missing. Redis must be there. */
function checkTools(opts: Options): { serfVersion: string; redisVersion: string } {
  if (opts.parts.includes('seed') && ['redis-server', 'redis-cli'].some((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status !== 0)) {
    throw new Error('the seed scenario runs the host\'s Redis: apt-get install -y redis-server (it brings redis-cli)');
  }
  if (opts.parts.includes('wait') && spawnSync('serf', ['version'], { stdio: 'ignore' }).status !== 0) {
    say('serf is missing: apt-get install -y serf');
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'serf'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  return { serfVersion: debVersion('serf') ?? '?', redisVersion: debVersion('redis-server') ?? '?' };
}

async function withLab<T>(hosts: number, name: string, opts: Options, drops: Run['drops'], fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await Lab.create({ hosts, log: say });
  let before: LabCounters | undefined;
  try {
    before = await lab.counters();
    return await fn(lab);
  } finally {
    if (before) drops.push({ lab: `${name} lab (${hosts} hosts)`, delta: counterDelta(before, await lab.counters()) });
    if (opts.keepLogs) lab.saveLogs(join(opts.keepLogs, name));
    await lab.destroy();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  const started = monoMs();
  const date = new Date().toISOString().slice(0, 10);
  const load = loadavg().map((x) => x.toFixed(2)).join(', ');
  const versions = checkTools(opts);
  // The Supervisors run dist/: build it from the sources first, as the lab tests do.
  buildDist();
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim() !== '';
  const work = mkdtempSync(join(tmpdir(), 'murmur-bench-services-'));
  const result: Run = { seed: [], wait: [], serf: [], drops: [] };
  try {
    const { keys, harts } = await buildPackages(work);
    if (opts.parts.includes('seed')) result.seed = await withLab(3, 'seed', opts, result.drops, (lab) => seedScenario(lab, opts, keys, harts.redis));
    if (opts.parts.includes('wait')) {
      await withLab(opts.hosts, 'wait', opts, result.drops, async (lab) => {
        result.wait = await waitScenario(lab, opts, keys, harts.demo);
        result.serf = await serfScenario(lab, opts, work);
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const shown = argv.filter((a) => a !== '--write-docs');
  const command = `npm run bench:services${shown.length ? ` -- ${shown.join(' ')}` : ''}`;
  const section = report(result, opts, { command, revision: `${head}${dirty ? ' with uncommitted changes in src/' : ''}`, date, minutes: (monoMs() - started) / 60_000, load, ...versions });
  process.stdout.write(`${section}\n`);
  if (opts.writeDocs) writeDocs(section);
}

main().catch((err: unknown) => {
  say(`bench:services: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
