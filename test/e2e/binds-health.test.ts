/**
 * Binds and health checks end to end: two real Supervisors on 127.0.0.131–132, packages built
 * with `hab pkg build`, and the real `hab` CLI. `web` needs a bind `db` to a group exporting
 * `port` and renders the healthy members of the bound group; `kv` exports its port and has a
 * `health-check` hook whose exit code the test sets through a file.
 *
 * - `hab svc load` refuses a package's missing required bind and an unknown bind name (exit 2).
 * - Loaded on A with `--bind db:kv.prod` (strict), `web` waits, and `/services` says why.
 * - `kv` loaded on B: A's `web` starts and renders B's address and port.
 * - B's hook exits 2: B's `…/health` answers 503 CRITICAL with the hook's output, A's `/census`
 *   shows B's member critical, and A's `web` leaves it out (`eachHealthy`); back to 0, back in.
 *
 * The tests run in order on one pair of Supervisors.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildPackages, hab, startSup, stopAll, waitFor, type Sup } from './supervisors.js';

afterAll(stopAll);

let keys = '';
let harts: Record<'web' | 'kv', string> = { web: '', kv: '' };
let a: Sup;
let b: Sup;

const PLANS = {
  kv: {
    'plan.sh': 'pkg_origin=core\npkg_name=kv\npkg_version=0.1.0\npkg_maintainer="murmur tests"\npkg_license=(\'Apache-2.0\')\npkg_exports=(\n  [port]=port\n)\n',
    'default.toml': 'port = 6379\n',
    'hooks/run': '#!/bin/sh\nexec sleep 1000\n',
    'hooks/health-check': '#!/bin/sh\ncode=$(cat {{pkg.svc_var_path}}/code 2>/dev/null || echo 0)\necho "health $code"\nexit $code\n',
  },
  web: {
    'plan.sh': 'pkg_origin=core\npkg_name=web\npkg_version=0.1.0\npkg_maintainer="murmur tests"\npkg_license=(\'Apache-2.0\')\npkg_binds=(\n  [db]="port"\n)\n',
    'config/upstream.conf': '{{#eachHealthy bind.db.members as |m|}}{{m.sys.ip}}:{{m.cfg.port}}{{#unless @last}},{{/unless}}{{else}}none{{/eachHealthy}}\n',
    'hooks/run': '#!/bin/sh\nexec sleep 1000\n',
    'hooks/reconfigure': '#!/bin/sh\ntrue\n',
  },
};

interface ServiceJson {
  service_group: string;
  health_check: string;
  process: { pid: number | null; state: string };
  last_error: string | null;
}

async function services(sup: Sup): Promise<ServiceJson[]> {
  return (await (await fetch(`http://${sup.http}/services`)).json()) as ServiceJson[];
}

async function memberHealth(observer: Sup, group: string, member: Sup): Promise<string | undefined> {
  const census = (await (await fetch(`http://${observer.http}/census`)).json()) as { census_groups: Record<string, { population: Record<string, { health_check: string }> } | undefined> };
  return census.census_groups[group]?.population[member.id]?.health_check;
}

function upstream(sup: Sup): Promise<string> {
  return readFile(join(sup.fsRoot, 'hab/svc/web/config/upstream.conf'), 'utf8').catch(() => '');
}

function cli(sup: Sup): Record<string, string> {
  return { FS_ROOT: sup.fsRoot, HAB_CTL_SECRET: '', HAB_CACHE_KEY_PATH: keys };
}

beforeAll(async () => {
  keys = await mkdtemp(join(tmpdir(), 'murmur-keys-'));
  const env = { HAB_CACHE_KEY_PATH: keys };
  expect((await hab(['origin', 'key', 'generate', 'core'], { env })).code).toBe(0);
  harts = await buildPackages(PLANS, env);
  a = await startSup({ host: '127.0.0.131', env });
  b = await startSup({ host: '127.0.0.132', peers: [a.gossip], env });
}, 120_000);

describe('hab svc load checks the binds', () => {
  test('a missing required bind is refused with exit 2, naming the flag to add', async () => {
    const r = await hab(['svc', 'load', harts.web, '--remote-sup', a.ctl], { env: cli(a) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/core\/web\/0\.1\.0\/\d{14} requires the bind db; add --bind db:SERVICE\.GROUP/);
    expect(await services(a)).toEqual([]);
  });

  test('a bind name the package does not declare is refused with exit 2, naming its binds', async () => {
    const r = await hab(['svc', 'load', harts.web, '--bind', 'db:kv.prod', '--bind', 'cache:kv.prod', '--remote-sup', a.ctl], { env: cli(a) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/core\/web\/0\.1\.0\/\d{14} has no bind named cache; its binds are: db/);
    expect(await services(a)).toEqual([]);
  });
});

describe('a strict bind across the ring', () => {
  test('web waits for its bound group, and /services says why', async () => {
    const r = await hab(['svc', 'load', harts.web, '--bind', 'db:kv.prod', '--remote-sup', a.ctl], { env: cli(a) });
    expect(r.code, r.stderr).toBe(0);
    const [web] = await services(a);
    expect(web).toMatchObject({
      service_group: 'web.default',
      process: { pid: null, state: 'down' },
      last_error: 'waiting for service binds (binding mode strict): bind db: the service group kv.prod is not (yet?) present in the census',
    });
    expect(a.lines).toContain('web.default(SR): Waiting for service binds... binds=db');
  });

  test("once kv runs on B, web starts on A and renders B's address and port", async () => {
    const r = await hab(['svc', 'load', harts.kv, '--group', 'prod', '--health-check-interval', '1', '--remote-sup', b.ctl], { env: cli(b) });
    expect(r.code, r.stderr).toBe(0);
    await waitFor('web to start on A', async () => (await services(a))[0]?.process.state === 'up');
    await waitFor("web to render B's kv", async () => (await upstream(a)) === '127.0.0.132:6379\n');
    expect((await services(a))[0]?.last_error).toBeNull();
  });
});

describe('health travels in the service rumor', () => {
  test("B's hook exits 2: B's /health is 503 CRITICAL, A's census shows it, and web leaves B out", async () => {
    await waitFor("A's census to show B's kv OK", async () => (await memberHealth(a, 'kv.prod', b)) === 'ok');
    await writeFile(join(b.fsRoot, 'hab/svc/kv/var/code'), '2\n');
    const health = await waitFor('B to answer 503', async () => {
      const res = await fetch(`http://${b.http}/services/kv/prod/health`);
      return res.status === 503 ? ((await res.json()) as object) : undefined;
    });
    expect(health).toEqual({ status: 'CRITICAL', stdout: 'health 2\n', stderr: '' });
    expect((await services(b))[0]?.health_check).toBe('Critical');
    await waitFor("A's census to show B's kv critical", async () => (await memberHealth(a, 'kv.prod', b)) === 'critical');
    await waitFor('web to leave B out', async () => (await upstream(a)) === 'none\n');
  });

  test('back to exit 0: OK everywhere, and web renders B again', async () => {
    await writeFile(join(b.fsRoot, 'hab/svc/kv/var/code'), '0\n');
    await waitFor("A's census to show B's kv OK", async () => (await memberHealth(a, 'kv.prod', b)) === 'ok');
    await waitFor('web to render B again', async () => (await upstream(a)) === '127.0.0.132:6379\n');
    expect((await fetch(`http://${b.http}/services/kv/prod/health`)).status).toBe(200);
  });
});
