/**
 * The seed scenario of issue 4 with real Redis, four Supervisors as four hosts in four network
 * namespaces (test/lab/lab.ts). A and B run `core/redis` (examples/redis, which runs the host's
 * `redis-server`) in `redis.prod`; C runs it in `redis.dev` on the same ring; D runs it in
 * `redis.prod` but is not peered. `hab config apply redis.prod 1` with `port = 2112`, sent to A,
 * restarts A's and B's Redis (new PIDs) on port 2112, which `redis-cli` reaches over the bridge
 * from another host; C (another group) and D (another ring) keep their Redis on 6379, same PID.
 * Then a file upload reaches the group only, an unload takes B out of every census, and Redis
 * goes with its Supervisor (stopped on SIGTERM; after a kill -9, by the lab's teardown).
 *
 * The same scenario on loopback with the demo service is test/e2e/services.test.ts. Run by
 * `npm run test:lab` (root). Needs `redis-server` and `redis-cli` (Debian: `apt-get install
 * redis-server`; .ci/run installs it): without them the run fails, saying so. The tests run in
 * order on one set of Supervisors; every wait is bounded.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, onTestFailed, test } from 'vitest';
import { Lab, REPO_ROOT, run, waitFor, type LabCounters } from './lab.js';

const enabled = process.env.MURMUR_LAB === '1';

const HAB = join(REPO_ROOT, 'bin', 'hab');
const PRESET = { MURMUR_GOSSIP_PRESET: 'localTest' };
const [A, B, C, D] = [1, 2, 3, 4] as const;
const NEW_PORT = 2112;

interface ServiceJson {
  service_group: string;
  process: { pid: number | null; state: string };
  config_version: number;
}

interface CensusMember {
  config_version: number;
  alive: boolean;
  process_state: string;
}

interface CensusJson {
  census_groups: Record<string, { population: Record<string, CensusMember> } | undefined>;
}

/** Fails the run (never skips it) when the host has no Redis to run. */
function requireRedis(): void {
  const missing = ['redis-server', 'redis-cli'].filter((cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status !== 0);
  if (missing.length > 0) {
    throw new Error(`test/lab/services.test.ts runs the host's Redis: ${missing.join(' and ')} not found. Install it: apt-get install -y redis-server (it brings redis-cli; .ci/run does this on CI)`);
  }
}

/** Whether `pid` runs (a zombie waiting for its parent to reap it does not). */
function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe.skipIf(!enabled)('the seed scenario with real Redis, in four network namespaces', () => {
  let lab: Lab;
  let before: LabCounters;
  let failed = false;
  let work = '';
  let hart = '';
  /** Every Redis PID seen, so that the last test can check none outlives the lab. */
  const redisPids = new Set<number>();
  const pidsBefore = new Map<number, number>();

  /** GET `path` from host `i`'s HTTP gateway (curl inside `from`'s namespace, host i's by default). */
  async function getJson<T>(i: number, path: string, from = i): Promise<T> {
    const r = await lab.exec(from, 'curl', ['-sS', '--max-time', '5', `http://${lab.ip(i)}:9631${path}`], { timeoutMs: 7000 });
    if (r.code !== 0) throw new Error(`curl ${path} of host ${i} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as T;
  }

  async function redisPid(i: number): Promise<number | null> {
    const pid = (await getJson<ServiceJson[]>(i, '/services'))[0]?.process.pid ?? null;
    if (pid !== null) redisPids.add(pid);
    return pid;
  }

  async function population(observer: number, group: string): Promise<Record<string, CensusMember>> {
    return (await getJson<CensusJson>(observer, '/census')).census_groups[group]?.population ?? {};
  }

  /** `redis-cli -h <host i> -p <port> ping`, run inside host `from`: true when it answers PONG. */
  async function pong(i: number, port: number, from: number): Promise<boolean> {
    const r = await lab.exec(from, 'redis-cli', ['-h', lab.ip(i), '-p', String(port), 'ping'], { timeoutMs: 5000 });
    return r.code === 0 && r.stdout.trim() === 'PONG';
  }

  async function ctl(i: number, args: string[], input?: string): Promise<void> {
    const r = await lab.ctl(i, args, { input });
    expect(r.code, `${args.join(' ')} on host ${i}: ${r.stdout}${r.stderr}`).toBe(0);
  }

  beforeAll(async () => {
    requireRedis();
    // One origin key and one build, shared by every Supervisor through HAB_CACHE_KEY_PATH.
    work = mkdtempSync(join(tmpdir(), 'murmur-lab-redis-'));
    const keys = join(work, 'keys');
    const env = { ...process.env, HAB_CACHE_KEY_PATH: keys };
    const key = await run(process.execPath, [HAB, 'origin', 'key', 'generate', 'core'], { env });
    expect(key.code, key.stderr).toBe(0);
    const built = await run(process.execPath, [HAB, 'pkg', 'build', join(REPO_ROOT, 'examples', 'redis'), '--output', join(work, 'out')], { env, timeoutMs: 60_000 });
    expect(built.code, built.stderr).toBe(0);
    hart = readdirSync(join(work, 'out')).filter((f) => f.endsWith('.hart')).map((f) => join(work, 'out', f))[0] ?? '';
    expect(hart).not.toBe('');

    lab = await Lab.create({ hosts: 4 });
    before = await lab.counters();
    const supEnv = { ...PRESET, HAB_CACHE_KEY_PATH: keys };
    await lab.startSupervisor(A, { env: supEnv });
    await Promise.all([
      lab.startSupervisor(B, { peers: [A], env: supEnv }),
      lab.startSupervisor(C, { peers: [A], env: supEnv }),
      lab.startSupervisor(D, { env: supEnv }),
    ]);
    const groups: [number, string][] = [[A, 'prod'], [B, 'prod'], [C, 'dev'], [D, 'prod']];
    await Promise.all(groups.map(([i, g]) => ctl(i, ['svc', 'load', hart, '--group', g])));
    await waitFor('A to see A and B in redis.prod and C in redis.dev, all up', async () => {
      const prod = await population(A, 'redis.prod');
      const dev = await population(A, 'redis.dev');
      const all = [...Object.values(prod), ...Object.values(dev)];
      return lab.supervisor(A).id in prod && lab.supervisor(B).id in prod && lab.supervisor(C).id in dev && all.length === 3 && all.every((m) => m.alive && m.process_state === 'up');
    }, 30_000);
    await waitFor('D to run its Redis', async () => (await getJson<ServiceJson[]>(D, '/services'))[0]?.process.state === 'up', 20_000);
  }, 90_000);

  /** Before the lab goes: its drop counters (so that a lab artifact is never read as a result), and the logs of a failed run. */
  async function record(): Promise<void> {
    if (!lab || lab.isDestroyed) return;
    await lab.report(before, failed);
  }

  afterAll(async () => {
    try {
      await record();
    } finally {
      await lab?.destroy();
      if (work !== '') rmSync(work, { recursive: true, force: true });
    }
  });

  test('every Redis answers PING on 6379 from another host', async () => {
    onTestFailed(() => void (failed = true));
    for (const [i, from] of [[A, C], [B, C], [C, A], [D, A]] as const) {
      await waitFor(`host ${i}'s Redis to answer on 6379`, () => pong(i, 6379, from), 15_000);
      const pid = await redisPid(i);
      expect(pid, `host ${i}'s Redis PID`).toBeTypeOf('number');
      pidsBefore.set(i, pid as number);
    }
  });

  test('config apply redis.prod through A restarts A and B on port 2112, and leaves C (dev) and D (not peered) alone', async () => {
    onTestFailed(() => void (failed = true));
    await ctl(A, ['config', 'apply', 'redis.prod', '1'], `port = ${NEW_PORT}\n`);
    for (const i of [A, B]) {
      await waitFor(`host ${i}'s Redis to restart (new PID) and answer on ${NEW_PORT}`, async () => {
        const pid = await redisPid(i);
        return pid !== null && pid !== pidsBefore.get(i) && (await pong(i, NEW_PORT, C));
      }, 20_000);
      expect(await pong(i, 6379, C), `host ${i} still answers on 6379`).toBe(false);
      expect((await getJson<ServiceJson[]>(i, '/services'))[0]?.config_version).toBe(1);
    }
    // Through C's census: the members of redis.prod report the version they applied.
    await waitFor('C to see A and B at config version 1', async () => {
      const pop = await population(C, 'redis.prod');
      return [A, B].every((i) => pop[lab.supervisor(i).id]?.config_version === 1);
    }, 15_000);
    for (const i of [C, D]) {
      expect(await pong(i, 6379, A), `host ${i} answers on 6379`).toBe(true);
      expect(await pong(i, NEW_PORT, A), `host ${i} does not answer on ${NEW_PORT}`).toBe(false);
      expect(await redisPid(i), `host ${i}'s Redis kept its PID`).toBe(pidsBefore.get(i));
    }
    expect(Object.keys(await population(D, 'redis.prod'))).toEqual([lab.supervisor(D).id]);
  });

  test('hab file upload redis.prod reaches A and B, not C', async () => {
    onTestFailed(() => void (failed = true));
    const file = join(work, 'motd.txt');
    writeFileSync(file, 'hello redis.prod\n');
    await ctl(A, ['file', 'upload', 'redis.prod', '2', file]);
    const written = (i: number): string => join(lab.supervisor(i).fsRoot, 'hab/svc/redis/files/motd.txt');
    for (const i of [A, B]) {
      await waitFor(`host ${i} to write files/motd.txt`, () => existsSync(written(i)) && readFileSync(written(i), 'utf8') === 'hello redis.prod\n', 15_000);
    }
    // C is in another group and D on another ring: neither writes it (C holds the rumor, though).
    await waitFor('C to hold the file rumor', async () => (await getJson<{ census_groups: Record<string, { service_files?: Record<string, unknown> } | undefined> }>(C, '/census')).census_groups['redis.prod']?.service_files?.['motd.txt'] !== undefined, 10_000);
    expect(existsSync(written(C))).toBe(false);
    expect(existsSync(written(D))).toBe(false);
  });

  test('hab svc unload on B stops its Redis and takes B out of A\'s and C\'s census', async () => {
    onTestFailed(() => void (failed = true));
    const pid = await redisPid(B);
    await ctl(B, ['svc', 'unload', 'core/redis']);
    for (const i of [A, C]) {
      await waitFor(`host ${i} to drop B from redis.prod`, async () => {
        const pop = await population(i, 'redis.prod');
        return !(lab.supervisor(B).id in pop) && lab.supervisor(A).id in pop;
      }, 15_000);
    }
    expect(await getJson<ServiceJson[]>(B, '/services')).toEqual([]);
    await waitFor('B\'s Redis to be gone', () => pid !== null && !pidAlive(pid), 10_000);
    expect(await pong(B, NEW_PORT, C)).toBe(false);
  });

  test('Redis goes with its Supervisor: stopped on SIGTERM; after a kill -9, killed by the lab\'s teardown', async () => {
    onTestFailed(() => void (failed = true));
    const d = (await redisPid(D)) as number;
    const c = (await redisPid(C)) as number;
    await lab.supervisor(D).proc.kill('SIGTERM', 15_000);
    expect(lab.supervisor(D).proc.running, 'D\'s Supervisor exits on SIGTERM').toBe(false);
    expect(pidAlive(d), 'D\'s Redis stopped by its Supervisor').toBe(false);
    // A kill -9 leaves no one to stop the service: its Redis lives on in the namespace…
    await lab.kill9(C);
    expect(pidAlive(c), 'C\'s Redis outlives a kill -9 of its Supervisor').toBe(true);
    // …until the lab's teardown kills every process left in its namespaces.
    await record();
    await lab.destroy();
    const left = [...redisPids].filter(pidAlive);
    expect(left, 'Redis processes left after teardown').toEqual([]);
  });
});
