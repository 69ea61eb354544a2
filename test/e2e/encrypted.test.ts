/**
 * Group encryption end to end, on loopback: three real Supervisors on 127.0.0.91–93, started with
 * `--org acme`, run `core/demo` in `demo.prod@acme`. An operator with its own key cache makes a
 * user key (alice) and the group's service key; every member gets alice's public key, only A and
 * B get the group's secret key. `hab config apply --user alice` reaches all three encrypted: A
 * and B open it and render the new config, C keeps its config and says which key it lacks in
 * `/services`; no `/census`, `/butterfly`, `/metrics` or Supervisor log shows the plaintext.
 * Then an encrypted file, and C picking the config up once it is given the key.
 *
 * The tests run in order on one set of Supervisors.
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hab, newFsRoot, startSup, stopAll, waitFor, writeTempFile, type Sup } from './supervisors.js';

afterAll(stopAll);

const root = join(import.meta.dirname, '..', '..');
const GROUP = 'demo.prod@acme';
/** A value only the encrypted config holds: it must never show anywhere but on A's and B's disks. */
const SECRET = 'sw0rdfish-9f3c1e';
let ops = '';
let hart = '';
let a: Sup;
let b: Sup;
let c: Sup;

interface ServiceJson {
  service_group: string;
  config_version: number;
  last_error: string | null;
  process: { state: string };
}

async function services(sup: Sup): Promise<ServiceJson[]> {
  return (await (await fetch(`http://${sup.http}/services`)).json()) as ServiceJson[];
}

async function get(sup: Sup, route: string): Promise<string> {
  return (await fetch(`http://${sup.http}${route}`)).text();
}

function renderedConfig(sup: Sup): Promise<string> {
  return readFile(join(sup.fsRoot, 'hab/svc/demo/config/demo.toml'), 'utf8');
}

function keysOf(fsRoot: string): string {
  return join(fsRoot, 'hab', 'cache', 'keys');
}

/** The operator's CLI: its own key cache, talking to `sup`'s control gateway. */
function asOperator(sup: Sup): Record<string, string> {
  return { FS_ROOT: sup.fsRoot, HAB_CTL_SECRET: '', HAB_CACHE_KEY_PATH: ops };
}

async function exported(args: string[]): Promise<string> {
  const r = await hab(args, { env: { HAB_CACHE_KEY_PATH: ops } });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

async function importInto(fsRoot: string, command: 'origin' | 'user' | 'svc', text: string): Promise<void> {
  const r = await hab([command, 'key', 'import'], { env: { HAB_CACHE_KEY_PATH: keysOf(fsRoot) }, input: text });
  expect(r.code, r.stderr).toBe(0);
}

beforeAll(async () => {
  ops = await mkdtemp(join(tmpdir(), 'murmur-operator-keys-'));
  const env = { HAB_CACHE_KEY_PATH: ops };
  const out = await newFsRoot();
  expect((await hab(['origin', 'key', 'generate', 'core'], { env })).code).toBe(0);
  const built = await hab(['pkg', 'build', join(root, 'examples', 'demo'), '--output', out], { env, limitMs: 60_000 });
  expect(built.code, built.stderr).toBe(0);
  hart = (await readdir(out)).filter((f) => f.endsWith('.hart')).map((f) => join(out, f))[0] ?? '';
  expect((await hab(['user', 'key', 'generate', 'alice'], { env })).code).toBe(0);
  expect((await hab(['svc', 'key', 'generate', 'demo.prod', 'acme'], { env })).code).toBe(0);

  const originPublic = await exported(['origin', 'key', 'export', 'core']);
  const userPublic = await exported(['user', 'key', 'export', 'alice']);
  const serviceSecret = await exported(['svc', 'key', 'export', 'demo.prod', 'acme', '--type', 'secret']);
  const roots = await Promise.all([newFsRoot(), newFsRoot(), newFsRoot()]);
  for (const [i, fsRoot] of roots.entries()) {
    await importInto(fsRoot, 'origin', originPublic);
    await importInto(fsRoot, 'user', userPublic);
    if (i < 2) await importInto(fsRoot, 'svc', serviceSecret);
  }
  const start = (i: number, peers: string[]): Promise<Sup> =>
    startSup({ host: `127.0.0.${91 + i}`, fsRoot: roots[i], peers, args: ['--org', 'acme'], env: { HAB_CACHE_KEY_PATH: keysOf(roots[i] ?? '') } });
  a = await start(0, []);
  [b, c] = await Promise.all([start(1, [a.gossip]), start(2, [a.gossip])]);
  for (const s of [a, b, c]) {
    const r = await hab(['svc', 'load', hart, '--group', 'prod', '--remote-sup', s.ctl], { env: asOperator(s) });
    expect(r.code, r.stderr).toBe(0);
  }
  await waitFor(`A to see three members of ${GROUP} up`, async () => {
    const census = JSON.parse(await get(a, '/census')) as { census_groups: Record<string, { population: Record<string, { alive: boolean; process_state: string }> } | undefined> };
    const members = Object.values(census.census_groups[GROUP]?.population ?? {});
    return members.length === 3 && members.every((m) => m.alive && m.process_state === 'up');
  });
}, 120_000);

describe('hab config apply --user', () => {
  test('members holding the service key apply it; the one without keeps its config and says which key it lacks', async () => {
    for (const s of [a, b, c]) expect(await renderedConfig(s)).toContain('port = 8080');
    const r = await hab(['config', 'apply', GROUP, '2', '--user', 'alice', '--remote-sup', a.ctl], { env: asOperator(a), input: `port = 9191\npassword = "${SECRET}"\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Applied encrypted config version 2 to demo\.prod@acme \(sealed by alice-\d{14} for demo\.prod@acme-\d{14}\)\n$/);
    for (const s of [a, b]) {
      await waitFor(`${s.host} to render port 9191`, async () => (await renderedConfig(s)).includes('port = 9191'));
      await waitFor(`${s.host} to report version 2`, async () => (await services(s))[0]?.config_version === 2);
    }
    await waitFor('C to say it cannot decrypt version 2', async () => (await services(c))[0]?.last_error?.includes('cannot decrypt encrypted config version 2') === true);
    const [cService] = await services(c);
    expect(cService?.last_error).toMatch(/the secret key of service group demo\.prod@acme revision \d{14} is not in the key cache \(expected .*\/demo\.prod@acme-\d{14}\.box\.key\)/);
    expect(cService?.config_version).toBe(0);
    expect(cService?.process.state).toBe('up');
    expect(await renderedConfig(c)).toContain('port = 8080');
    // Logged once, as a warning, however many passes ran since.
    expect(c.lines.filter((l) => l.includes('cannot decrypt encrypted config version 2'))).toHaveLength(1);
  });

  test('/census says encrypted with no value, and no gateway or log shows the plaintext', async () => {
    for (const s of [a, b, c]) {
      const census = JSON.parse(await get(s, '/census')) as { census_groups: Record<string, { service_config: unknown } | undefined> };
      expect(census.census_groups[GROUP]?.service_config).toEqual({ incarnation: 2, value: null, encrypted: true });
      for (const route of ['/census', '/butterfly', '/metrics', '/services']) expect(await get(s, route), `${s.host}${route}`).not.toContain(SECRET);
      expect(s.lines.join('\n')).not.toContain(SECRET);
    }
    const butterfly = JSON.parse(await get(c, '/butterfly')) as { latest_service_config: Record<string, { encrypted: boolean; config: number[] } | null> };
    const rumor = butterfly.latest_service_config[GROUP];
    expect(rumor?.encrypted).toBe(true);
    expect(Buffer.from(rumor?.config ?? []).toString('utf8')).toMatch(/^BOX-1\nalice-\d{14}\ndemo\.prod@acme-\d{14}\n/);
  });
});

describe('hab file upload --user, and a key given later', () => {
  test('members with the key write the file decrypted; C writes nothing', async () => {
    const file = await writeTempFile('creds.txt', `token=${SECRET}\n`);
    const r = await hab(['file', 'upload', GROUP, '1', file, '--user', 'alice', '--remote-sup', b.ctl], { env: asOperator(b) });
    expect(r.code, r.stderr).toBe(0);
    for (const s of [a, b]) {
      await waitFor(`${s.host} to write files/creds.txt`, () => readFile(join(s.fsRoot, 'hab/svc/demo/files/creds.txt'), 'utf8').then((t) => t === `token=${SECRET}\n`, () => false));
    }
    await waitFor('C to say it cannot decrypt the file', async () => (await services(c))[0]?.last_error?.includes('encrypted file creds.txt version 1') === true);
    await expect(readFile(join(c.fsRoot, 'hab/svc/demo/files/creds.txt'))).rejects.toThrow();
    for (const route of ['/census', '/butterfly']) expect(await get(c, route)).not.toContain(SECRET);
  });

  test('once C is given the service secret key, it applies the config and writes the file, and the error clears', async () => {
    await importInto(c.fsRoot, 'svc', await exported(['svc', 'key', 'export', 'demo.prod', 'acme', '--type', 'secret']));
    await waitFor('C to render port 9191', async () => (await renderedConfig(c)).includes('port = 9191'));
    await waitFor('C to report version 2 and no error', async () => {
      const [s] = await services(c);
      return s?.config_version === 2 && s.last_error === null;
    });
    expect(await readFile(join(c.fsRoot, 'hab/svc/demo/files/creds.txt'), 'utf8')).toBe(`token=${SECRET}\n`);
    expect(c.lines.join('\n')).not.toContain(SECRET);
  });

  test('plain text sent as encrypted is refused by the Supervisor: it gossips only well-formed BOX-1', async () => {
    const secret = (await readFile(join(a.fsRoot, 'hab/sup/default/CTL_SECRET'), 'utf8')).trim();
    const res = await fetch(`http://${a.ctl}/v1/config/apply`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ service_group: GROUP, version: 3, config: 'port = 1\n', encrypted: true }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/line 1 must be "BOX-1"/);
  });
});
