/**
 * Service groups end to end, on loopback: the seed scenario with the demo service. Four real
 * Supervisors on 127.0.0.81–84 and the real `hab` CLI: A and B run `core/demo` in `demo.prod`,
 * C runs it in `demo.dev` on the same ring, D runs it in `demo.prod` but is not peered. A config
 * applied to `demo.prod` restarts A's and B's services (new PIDs) on the new config, and touches
 * neither C (another group) nor D (another ring). Then: a file upload reaches the group and runs
 * `file-updated`; a bad `user.toml` leaves the service running on its last good config with the
 * error shown; a config applied before a service loads is used when it loads; stop, start and
 * unload, which takes the member out of every census.
 *
 * The tests run in order on one set of Supervisors.
 */
import { mkdtemp, readFile, writeFile, mkdir, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hab, kill9, newFsRoot, startSup, stopAll, waitFor, writeTempFile, type Sup } from './supervisors.js';

afterAll(stopAll);

const root = join(import.meta.dirname, '..', '..');
let keys = '';
let hart = '';
let a: Sup;
let b: Sup;
let c: Sup;
let d: Sup;

interface ServiceJson {
  service_group: string;
  process: { pid: number | null; state: string };
  desired_state: string;
  config_version: number;
  last_error: string | null;
}

interface CensusJson {
  census_groups: Record<string, { population: Record<string, { config_version: number; alive: boolean; process_state: string }> } | undefined>;
}

async function services(sup: Sup): Promise<ServiceJson[]> {
  return (await (await fetch(`http://${sup.http}/services`)).json()) as ServiceJson[];
}

async function census(sup: Sup): Promise<CensusJson> {
  return (await (await fetch(`http://${sup.http}/census`)).json()) as CensusJson;
}

async function pidOf(sup: Sup): Promise<number | null> {
  return (await services(sup))[0]?.process.pid ?? null;
}

function renderedConfig(sup: Sup): Promise<string> {
  return readFile(join(sup.fsRoot, 'hab/svc/demo/config/demo.toml'), 'utf8');
}

/** The CLI's environment for talking to `sup`: its CTL_SECRET comes from its FS_ROOT. */
function cli(sup: Sup): Record<string, string> {
  return { FS_ROOT: sup.fsRoot, HAB_CTL_SECRET: '', HAB_CACHE_KEY_PATH: keys };
}

async function load(sup: Sup, group: string): Promise<void> {
  const r = await hab(['svc', 'load', hart, '--group', group, '--remote-sup', sup.ctl], { env: cli(sup) });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

beforeAll(async () => {
  // One origin key and one build, shared by every Supervisor through HAB_CACHE_KEY_PATH.
  keys = await mkdtemp(join(tmpdir(), 'murmur-keys-'));
  const out = await newFsRoot();
  const env = { HAB_CACHE_KEY_PATH: keys };
  expect((await hab(['origin', 'key', 'generate', 'core'], { env })).code).toBe(0);
  const built = await hab(['pkg', 'build', join(root, 'examples', 'demo'), '--output', out], { env, limitMs: 60_000 });
  expect(built.code, built.stderr).toBe(0);
  hart = (await readdir(out)).filter((f) => f.endsWith('.hart')).map((f) => join(out, f))[0] ?? '';
  expect(hart).not.toBe('');

  const supEnv = { HAB_CACHE_KEY_PATH: keys };
  a = await startSup({ host: '127.0.0.81', env: supEnv });
  [b, c] = await Promise.all(['127.0.0.82', '127.0.0.83'].map((host) => startSup({ host, peers: [a.gossip], env: supEnv }))) as [Sup, Sup];
  d = await startSup({ host: '127.0.0.84', env: supEnv });
  await Promise.all([load(a, 'prod'), load(b, 'prod'), load(c, 'dev'), load(d, 'prod')]);
  await waitFor('A to see A and B in demo.prod and C in demo.dev, all up', async () => {
    const groups = (await census(a)).census_groups;
    const prod = Object.values(groups['demo.prod']?.population ?? {});
    const dev = Object.values(groups['demo.dev']?.population ?? {});
    return prod.length === 2 && dev.length === 1 && [...prod, ...dev].every((m) => m.alive && m.process_state === 'up');
  });
}, 120_000);

describe('the seed scenario: hab config apply restarts the group on the new config', () => {
  test('every service first runs on its default config', async () => {
    for (const s of [a, b, c, d]) expect(await renderedConfig(s)).toContain('port = 8080');
  });

  test('config apply to demo.prod restarts A and B with new PIDs and leaves C (dev) and D (not peered) alone', async () => {
    const before = await Promise.all([a, b, c, d].map(pidOf));
    expect(before.every((p) => typeof p === 'number')).toBe(true);
    const r = await hab(['config', 'apply', 'demo.prod', '2', '--remote-sup', a.ctl], { env: cli(a), input: 'port = 9090\nmessage = "from gossip"\n' });
    expect(r.code, r.stderr).toBe(0);
    for (const s of [a, b]) {
      await waitFor(`${s.host} to render port 9090 and restart`, async () => (await renderedConfig(s)).includes('port = 9090') && (await pidOf(s)) !== before[[a, b].indexOf(s)]);
      expect((await services(s))[0]?.config_version).toBe(2);
    }
    // The group's members report the version they applied, so every census can tell.
    await waitFor('C to see both prod members at config version 2', async () =>
      Object.values((await census(c)).census_groups['demo.prod']?.population ?? {}).every((m) => m.config_version === 2),
    );
    expect(await renderedConfig(c)).toContain('port = 8080');
    expect(await renderedConfig(d)).toContain('port = 8080');
    expect(await pidOf(c)).toBe(before[2]);
    expect(await pidOf(d)).toBe(before[3]);
    expect(a.lines.some((l) => l.startsWith('demo.prod(O): demo demo.prod: message="from gossip" port=9090'))).toBe(true);
  });
});

describe('hab config apply --wait', () => {
  test('returns once every live member of the group has applied the version, and says so', async () => {
    const r = await hab(['config', 'apply', 'demo.prod', '3', '--wait', '--timeout', '30', '--remote-sup', c.ctl], { env: cli(c), input: 'port = 9090\nmessage = "waited"\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/2\/2 members applied version 3/);
    // When it returns, both members already report version 3 (no waiting here).
    for (const s of [a, b]) expect((await services(s))[0]?.config_version).toBe(3);
  });

  test('a group nobody runs yet ends at once, saying the config is kept', async () => {
    const r = await hab(['config', 'apply', 'demo.nobody-here', '1', '--wait', '--timeout', '5', '--remote-sup', a.ctl], { env: cli(a), input: 'x = 1\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/no live member runs demo\.nobody-here yet/i);
  });

  test('times out naming the member that has not applied it (a stopped service applies nothing)', async () => {
    expect((await hab(['svc', 'stop', 'core/demo', '--remote-sup', b.ctl], { env: cli(b) })).code).toBe(0);
    const r = await hab(['config', 'apply', 'demo.prod', '4', '--wait', '--timeout', '2', '--remote-sup', a.ctl], { env: cli(a), input: 'port = 9090\n' });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(b.id);
    expect(r.stderr).not.toContain(a.id);
    expect((await hab(['svc', 'start', 'core/demo', '--remote-sup', b.ctl], { env: cli(b) })).code).toBe(0);
    await waitFor('B to apply version 4 once started', async () => (await services(b))[0]?.config_version === 4);
  });
});

describe('files, bad input and the service lifecycle', () => {
  test('hab file upload writes files/<name> on every member of the group', async () => {
    const file = await writeTempFile('motd.txt', 'hello group\n');
    const r = await hab(['file', 'upload', 'demo.prod', '1', file, '--remote-sup', b.ctl], { env: cli(b) });
    expect(r.code, r.stderr).toBe(0);
    for (const s of [a, b]) {
      await waitFor(`${s.host} to write files/motd.txt`, () => readFile(join(s.fsRoot, 'hab/svc/demo/files/motd.txt'), 'utf8').then((t) => t === 'hello group\n', () => false));
    }
    await expect(readFile(join(c.fsRoot, 'hab/svc/demo/files/motd.txt'))).rejects.toThrow();
  });

  test('a user.toml that is not TOML keeps the service running on its last good config, and says why', async () => {
    const pid = await pidOf(a);
    const userDir = join(a.fsRoot, 'hab/user/demo/config');
    await mkdir(userDir, { recursive: true });
    await writeFile(join(userDir, 'user.toml'), 'port = = 1\n');
    await waitFor('the error in /services', async () => (await services(a))[0]?.last_error?.includes('user.toml') === true);
    expect(await pidOf(a)).toBe(pid);
    expect(await renderedConfig(a)).toContain('port = 9090');
    // A fixed user.toml is taken; the gossiped layer still wins over it.
    await writeFile(join(userDir, 'user.toml'), 'message = "from user.toml"\nport = 7070\n');
    await waitFor('the error to clear', async () => (await services(a))[0]?.last_error === null);
    expect(await renderedConfig(a)).toContain('port = 9090');
  });

  test('a config applied before a service is loaded is used when it loads', async () => {
    const r = await hab(['config', 'apply', 'demo.late', '1', '--remote-sup', a.ctl], { env: cli(a), input: 'port = 6060\n' });
    expect(r.code, r.stderr).toBe(0);
    await waitFor('C to hold demo.late version 1', async () => {
      const res = await fetch(`http://${c.http}/census`);
      return ((await res.json()) as { census_groups: Record<string, { service_config: { incarnation: number } | null }> }).census_groups['demo.late']?.service_config?.incarnation === 1;
    });
    expect((await hab(['svc', 'unload', 'core/demo', '--remote-sup', c.ctl], { env: cli(c) })).code).toBe(0);
    await load(c, 'late');
    await waitFor('C to render port 6060', async () => (await renderedConfig(c)).includes('port = 6060'));
  });

  test('hab config show prints the merged config; hab svc status lists the service', async () => {
    const shown = await hab(['config', 'show', 'core/demo', '--remote-sup', a.ctl], { env: cli(a) });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^port = 9090$/m);
    expect(shown.stdout).toMatch(/^interval = 5$/m);
    const status = await hab(['svc', 'status', '--remote-sup', a.ctl], { env: cli(a) });
    expect(status.code, status.stderr).toBe(0);
    const [head, row] = status.stdout.trim().split('\n');
    expect(head?.split(/\s{2,}/)).toEqual(['package', 'type', 'desired', 'state', 'elapsed (s)', 'pid', 'group']);
    expect(row?.split(/\s{2,}/)).toEqual([expect.stringMatching(/^core\/demo\/0\.1\.0\/\d{14}$/), 'standalone', 'up', 'up', expect.stringMatching(/^\d+$/), String(await pidOf(a)), 'demo.prod']);
  });

  test('editing a spec file by hand takes effect: desired_state = "down" stops the service', async () => {
    const file = join(d.fsRoot, 'hab/sup/default/specs/demo.spec');
    const spec = await readFile(file, 'utf8');
    expect(spec).toMatch(/^desired_state = "up"$/m);
    await writeFile(file, spec.replace('desired_state = "up"', 'desired_state = "down"'));
    await waitFor('D stopped by its spec', async () => (await services(d))[0]?.process.state === 'down');
    await writeFile(file, spec);
    await waitFor('D up again by its spec', async () => (await services(d))[0]?.process.state === 'up');
  });

  test('hab svc load --force restarts a loaded service; without --force it is refused', async () => {
    const refused = await hab(['svc', 'load', hart, '--group', 'prod', '--remote-sup', a.ctl], { env: cli(a) });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/already loaded.*--force/);
    const pid = await pidOf(a);
    const r = await hab(['svc', 'load', hart, '--group', 'prod', '--force', '--remote-sup', a.ctl], { env: cli(a) });
    expect(r.code, r.stderr).toBe(0);
    await waitFor('A to run a new process', async () => {
      const s = (await services(a))[0];
      return s?.process.state === 'up' && s.process.pid !== pid;
    });
  });

  test('a spec whose package is not installed starts once hab pkg install puts it there', async () => {
    const fsRoot = await newFsRoot();
    await mkdir(join(fsRoot, 'hab/sup/default/specs'), { recursive: true });
    await writeFile(join(fsRoot, 'hab/sup/default/specs/demo.spec'), 'ident = "core/demo"\ngroup = "prod"\n');
    const f = await startSup({ host: '127.0.0.86', fsRoot, env: { HAB_CACHE_KEY_PATH: keys } });
    await waitFor('the missing package in /services', async () => (await services(f))[0]?.last_error?.includes('hab pkg install') === true);
    const r = await hab(['pkg', 'install', hart], { env: { FS_ROOT: fsRoot, HAB_CACHE_KEY_PATH: keys } });
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the service to start', async () => (await services(f))[0]?.process.state === 'up');
  });

  test('hab svc stop and start', async () => {
    expect((await hab(['svc', 'stop', 'core/demo', '--remote-sup', d.ctl], { env: cli(d) })).code).toBe(0);
    await waitFor('D stopped', async () => (await services(d))[0]?.process.state === 'down');
    expect((await hab(['svc', 'start', 'core/demo', '--remote-sup', d.ctl], { env: cli(d) })).code).toBe(0);
    await waitFor('D up again', async () => (await services(d))[0]?.process.state === 'up');
  });

  test('hab svc load of a package that is not installed says how to install it', async () => {
    const r = await hab(['svc', 'load', 'core/nothing', '--remote-sup', a.ctl], { env: cli(a) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/core\/nothing/);
    expect(r.stderr).toMatch(/hab pkg install/);
  });

  test('hab svc unload takes the member out of every census', async () => {
    const r = await hab(['svc', 'unload', 'core/demo', '--remote-sup', b.ctl], { env: cli(b) });
    expect(r.code, r.stderr).toBe(0);
    for (const s of [a, c]) {
      await waitFor(`${s.host} to drop B from demo.prod`, async () => {
        const pop = (await census(s)).census_groups['demo.prod']?.population ?? {};
        return !(b.id in pop) && a.id in pop;
      });
    }
    expect(await services(b)).toEqual([]);
  });

  test('hab sup run IDENT loads the service at start', async () => {
    const e = await startSup({ host: '127.0.0.85', peers: [a.gossip], env: { HAB_CACHE_KEY_PATH: keys }, args: [hart, '--group', 'prod'] });
    await waitFor('E to run demo.prod', async () => (await services(e))[0]?.process.state === 'up');
    // The ring holds version 4 by now (the --wait tests); E takes it from the state its seed sends.
    await waitFor('E to apply config version 4 from the ring', async () => (await services(e))[0]?.config_version === 4);
    expect(await renderedConfig(e)).toContain('port = 9090');
  });

  test('a Supervisor restarted after kill -9 replaces the service process its previous life left running', async () => {
    const old = await pidOf(a);
    expect(old).not.toBeNull();
    await kill9(a);
    // The orphan keeps running: its process group outlives the Supervisor.
    expect(await readFile(`/proc/${old}/stat`, 'utf8')).toBeTruthy();
    a = await startSup({ host: '127.0.0.81', fsRoot: a.fsRoot, env: { HAB_CACHE_KEY_PATH: keys } });
    await waitFor('A to run the service again', async () => {
      const s = (await services(a))[0];
      return s?.process.state === 'up' && s.process.pid !== old;
    });
    await waitFor('the old process to be gone', () => readFile(`/proc/${old}/stat`, 'utf8').then((st) => st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) === 'Z', () => true));
    // Its config survived the restart: the gossiped version came back from the rumor store on disk.
    expect(await renderedConfig(a)).toContain('port = 9090');
  });
});

