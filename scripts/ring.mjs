#!/usr/bin/env node
// The seed scenario on this machine: N Supervisors (`murmur sup run`), one per loopback address
// 127.0.0.2, 127.0.0.3, … with Habitat's default ports, peered into one ring, each running the
// same service in one service group. Then a config applied to the group on any member restarts
// the service everywhere on the new config (README.md, docs/services.md).
//
//   scripts/ring.mjs [--members N] [--minutes M] [--service redis|demo]
//
// What it does, in order:
// 1. starts afresh in /tmp/murmur-ring (removed first; refused while a ring still runs there):
//    one FS_ROOT per Supervisor (/tmp/murmur-ring/<address>) and a key cache shared by all
//    (/tmp/murmur-ring/keys, HAB_CACHE_KEY_PATH);
// 2. `hab origin key generate core`, then `hab pkg build` of examples/demo, and of
//    examples/redis when `redis-server` is on PATH;
// 3. starts the Supervisors, their output shown line by line prefixed with their address;
// 4. `hab svc load` on each: core/redis in redis.default when Redis is there (each with a
//    user.toml `bind = "127.0.0.N"`, so that the three listen on 6379 side by side), else
//    core/demo in demo.default; `--service demo` picks the demo anyway;
// 5. waits for the group to be up everywhere, prints the commands to try from another terminal,
//    and then one line whenever the group or the ring changes.
// Ctrl-C (or --minutes, default 60) stops every Supervisor gracefully: each stops its service
// (shutdown signal, then SIGKILL after the package's timeout) and announces its departure.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = '/tmp/murmur-ring';
const KEYS = join(ROOT, 'keys');
const RESULTS = join(ROOT, 'results');
const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = join(repo, 'bin', 'murmur');

// ------------------------------------------------------------------------------ arguments

const argv = process.argv.slice(2);
const option = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const usage = (message) => {
  console.error(`${message}\nusage: scripts/ring.mjs [--members N] [--minutes M] [--service redis|demo]`);
  process.exit(2);
};
for (let i = 0; i < argv.length; i += 2) {
  if (!['--members', '--minutes', '--service'].includes(argv[i]) || argv[i + 1] === undefined) usage(`unknown or incomplete option ${argv[i]}`);
}
const members = Number(option('--members') ?? 3);
const minutes = Number(option('--minutes') ?? 60);
if (!(Number.isInteger(members) && members >= 1 && members <= 50)) usage('--members must be an integer from 1 to 50');
if (!(minutes > 0)) usage('--minutes must be a number above 0');
const hasRedis = onPath('redis-server');
const service = option('--service') ?? (hasRedis ? 'redis' : 'demo');
if (service !== 'redis' && service !== 'demo') usage('--service must be redis or demo');
if (service === 'redis' && !hasRedis) usage('--service redis needs redis-server on PATH (Debian: apt-get install redis-server)');
const group = `${service}.default`;
const hosts = Array.from({ length: members }, (_, i) => `127.0.0.${i + 2}`);
const fsRoot = (host) => join(ROOT, host);

const children = [];
let stopping = false;
let timer;
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

function onPath(command) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, command)));
}

// ------------------------------------------------------------------------------ output

const say = (line) => console.log(`ring: ${line}`);

/** Each line of `stream` on our stdout, behind `tag`. */
function relay(stream, tag) {
  createInterface({ input: stream }).on('line', (line) => console.log(`${tag}${line}`));
}

/**
 * Runs `hab ARGS` to the end, its stderr shown behind `tag` as it comes (the Supervisors' output
 * keeps flowing meanwhile); resolves to its stdout, or to null after a failure, which stops the ring.
 */
function hab(args, env, tag) {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  relay(child.stderr, tag);
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      if (code === 0) return resolve(stdout);
      if (!stopping) {
        console.error(`ring: hab ${args.join(' ')} failed (exit ${code ?? signal})`);
        for (const line of stdout.split('\n')) if (line !== '') console.error(`${tag}${line}`);
        if (children.length === 0) process.exit(1);
        stop(1);
      }
      resolve(null);
    });
  });
}

// ------------------------------------------------------------------------------ 1. a fresh root

/** A Supervisor still running in /tmp/murmur-ring, by its LOCK file. */
function runningSupervisor() {
  for (const host of hosts) {
    try {
      const pid = Number(readFileSync(join(fsRoot(host), 'hab/sup/default/LOCK'), 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0) {
        process.kill(pid, 0);
        return { host, pid };
      }
    } catch {
      // No lock, or its process is gone.
    }
  }
  return null;
}

/** Resolves to null when `host:port` can be listened on (TCP), else to the error code. */
function portTaken(host, port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err) => resolve(err.code ?? String(err)));
    server.listen({ host, port }, () => server.close(() => resolve(null)));
  });
}

const running = runningSupervisor();
if (running) {
  console.error(`ring: a Supervisor (pid ${running.pid}) still runs in ${fsRoot(running.host)}: stop that ring first (Ctrl-C in its terminal).`);
  process.exit(1);
}
for (const host of hosts) {
  for (const port of [9631, 9632, 9638, ...(service === 'redis' ? [6379] : [])]) {
    const taken = await portTaken(host, port);
    if (taken) {
      console.error(`ring: cannot use ${host}:${port} (${taken})${taken === 'EADDRINUSE' ? ': another program listens there' : ''}. Nothing was started.`);
      process.exit(1);
    }
  }
}
rmSync(ROOT, { recursive: true, force: true });
for (const dir of [KEYS, RESULTS, ...hosts.map(fsRoot)]) mkdirSync(dir, { recursive: true });

// ------------------------------------------------------------------------------ 2. key and packages

say(`origin key "core" and packages, in ${ROOT}`);
const keyEnv = { HAB_CACHE_KEY_PATH: KEYS };
await hab(['origin', 'key', 'generate', 'core'], keyEnv, 'build: ');
const harts = {};
for (const name of hasRedis ? ['demo', 'redis'] : ['demo']) {
  const out = await hab(['pkg', 'build', join(repo, 'examples', name), '--output', RESULTS], keyEnv, 'build: ');
  harts[name] = out?.trim().split('\n').pop();
}
const hart = harts[service];

// ------------------------------------------------------------------------------ 3. the Supervisors

say(`starting ${members} Supervisor${members > 1 ? 's' : ''} on ${hosts.join(', ')} (FS_ROOT=${ROOT}/<address>)`);
for (const [i, host] of hosts.entries()) {
  const args = ['sup', 'run', '--listen-gossip', `${host}:9638`, '--listen-http', `${host}:9631`, '--listen-ctl', `${host}:9632`];
  if (i > 0) args.push('--peer', hosts[0]);
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, FS_ROOT: fsRoot(host), HAB_CACHE_KEY_PATH: KEYS },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tag = `[${host}] `;
  relay(child.stdout, tag);
  relay(child.stderr, tag);
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.once('close', (code, signal) => {
    console.log(`${tag}exited with ${code ?? signal}`);
    if (!stopping) {
      say(`the Supervisor on ${host} stopped unexpectedly; stopping the others`);
      stop(1);
    }
  });
  children.push({ host, child, closed });
}

async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.json();
}

async function until(what, probe, limitMs) {
  const end = Date.now() + limitMs;
  while (!stopping && Date.now() < end) {
    if (await probe().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (!stopping) say(`still waiting for ${what} after ${limitMs / 1000} s; carrying on (see the output above)`);
  return false;
}

await until('every Supervisor to answer on :9631', async () => {
  for (const { host } of children) await getJson(`http://${host}:9631/butterfly`);
  return true;
}, 30_000);

// ------------------------------------------------------------------------------ 4. the service

if (!stopping) say(`loading ${service} in ${group} on each Supervisor`);
for (const host of hosts) {
  if (stopping) break;
  if (service === 'redis') {
    // The user layer: without it every Redis would bind 0.0.0.0:6379, and only one could.
    const dir = join(fsRoot(host), 'hab/user/redis/config');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'user.toml'), `bind = "${host}"\n`);
  }
  const out = await hab(['svc', 'load', hart, '--remote-sup', host], { FS_ROOT: fsRoot(host), HAB_CTL_SECRET: '' }, `[${host}] hab: `);
  if (out) say(`${host}: ${out.trim()}`);
}

// ------------------------------------------------------------------------------ 5. watch

/** One line for the group and one for the ring, as 127.0.0.2 sees them. */
async function view() {
  const census = await getJson(`http://${hosts[0]}:9631/census`);
  const pop = Object.values(census.census_groups[group]?.population ?? {});
  const states = pop.map((m) => `${m.sys.ip}=${m.alive ? m.process_state : 'gone'}@v${m.config_version}`).sort();
  const b = await getJson(`http://${hosts[0]}:9631/butterfly`);
  const ring = Object.values(b.membership).map((m) => `${m.address}=${m.health}`).sort();
  return { members: pop, line: `${group} [${states.join(' ')}]   ring [${ring.join(' ')}]` };
}

await until(`${group} to be up on all ${members} members`, async () => {
  const v = await view();
  return v.members.length === members && v.members.every((m) => m.alive && m.process_state === 'up');
}, 60_000);

if (!stopping) {
  // The commands name ./bin/hab when run from the checkout, else its full path.
  const inRepo = resolve(process.cwd()) === resolve(repo);
  const cli = inRepo ? './bin/hab' : join(repo, 'bin', 'hab');
  const habAt = (host) => `FS_ROOT=${fsRoot(host)} ${cli}`;
  const [a, b = a] = hosts;
  const lines =
    service === 'redis'
      ? [
          `redis-cli -h ${b} ping                                   # PONG: Redis on ${b}:6379`,
          `echo 'port = 2112' | ${habAt(a)} config apply ${group} 1 --remote-sup ${a} --wait`,
          `                                                              # every member restarts on port 2112`,
          `redis-cli -h ${b} -p 2112 ping`,
          `curl -s http://${b}:9631/census                         # config_version 1, process_state up`,
          `${habAt(b)} svc status --remote-sup ${b}`,
          `${habAt(b)} config show core/redis --remote-sup ${b}     # the merged layers`,
          `echo 'port = 2112' | ${habAt(a)} config apply ${group} 1 --remote-sup ${a}   # refused: not newer`,
        ]
      : [
          `echo 'message = "hello, ring"' | ${habAt(a)} config apply ${group} 1 --remote-sup ${a} --wait`,
          `                                                              # every member restarts; its lines say the new message`,
          `curl -s http://${b}:9631/census                         # config_version 1, process_state up`,
          `${habAt(b)} svc status --remote-sup ${b}`,
          `${habAt(b)} config show core/demo --remote-sup ${b}      # the merged layers`,
          `echo 'message = "again"' | ${habAt(a)} config apply ${group} 1 --remote-sup ${a}   # refused: not newer`,
        ];
  console.log(
    [
      '',
      `ring: ${group} runs on ${hosts.join(', ')}. Try, in another terminal:`,
      '',
      ...lines.map((l) => `  ${l}`),
      '',
      `ring: docs/services.md tells the rest. Ctrl-C stops everything (${minutes} min at most).`,
      '',
    ].join('\n'),
  );
}

let last = '';
async function show() {
  try {
    const { line } = await view();
    if (line !== last) say((last = line));
  } catch (err) {
    say(`${hosts[0]} does not answer: ${err.message}`);
  }
}

// ------------------------------------------------------------------------------ stopping

/** SIGTERM to every Supervisor (each stops its service, then leaves the ring); exit once all are gone. */
function stop(code = 0) {
  if (stopping) {
    say('still stopping: each Supervisor waits for its service to stop (up to its shutdown timeout)');
    return;
  }
  stopping = true;
  clearInterval(timer);
  if (children.length > 0) say('stopping every Supervisor (SIGTERM: each stops its service, then announces its departure)');
  for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  // A Supervisor stuck past every shutdown timeout is killed; its services may then outlive it.
  const force = setTimeout(() => {
    for (const { host, child } of children) {
      if (child.exitCode === null && child.signalCode === null) {
        say(`${host} did not stop within 30 s: SIGKILL (its service may still run; see ${fsRoot(host)}/hab/svc/*/PID)`);
        child.kill('SIGKILL');
      }
    }
  }, 30_000);
  force.unref();
  void Promise.all(children.map((c) => c.closed)).then(() => {
    clearTimeout(force);
    process.exit(code);
  });
}

if (!stopping) {
  await show();
  timer = setInterval(() => void show(), 1000);
  setTimeout(() => stop(0), minutes * 60_000).unref();
}
