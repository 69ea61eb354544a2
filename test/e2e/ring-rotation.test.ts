/**
 * Ring key rotation end to end (docs/security.md "Ring key rotation"): real Supervisors on
 * loopback (127.0.0.161–166), each with its own key cache, and an operator with its own, driving
 * `hab ring key install|use|remove|list` through one Supervisor's control gateway.
 *
 * A, B and C run ring `prod` (revision OLD). D joins them holding OLD and, under the name of
 * another revision (STALE), other bytes than the operator's: it cannot install STALE, so `use` of
 * STALE is refused; D then leaves. The rotation proper: NEW is installed (every member lists it
 * held by 3 of 3 and writes it to its key cache), B is killed and restarted in between and comes
 * back sealing with OLD; `use` NEW (a Supervisor holding only NEW then joins, which it could only
 * do if every member seals with NEW); `remove` OLD (a Supervisor holding only OLD stays out, its
 * packets counted as open errors). Bad input along the way gets a clear message and a non-zero
 * exit, and the Supervisor keeps running.
 *
 * The tests run in order on one set of Supervisors; every wait is bounded.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { butterfly, hab, kill9, newFsRoot, startSup, stopAll, waitFor, type CliResult, type Sup } from './supervisors.js';

afterAll(stopAll);

const RING = ['--ring', 'prod'];
/** The operator's key cache. */
let ops = '';
let stale = '';
let old = '';
let fresh = '';
let a: Sup;
let b: Sup;
let c: Sup;
let d: Sup;
/** The one holding only NEW, started after `use`. */
let n: Sup | undefined;

interface Listed {
  id: string;
  state: string;
  holders: number;
  live: number;
  sealers: number;
}

function keysOf(fsRoot: string): string {
  return join(fsRoot, 'hab', 'cache', 'keys');
}

/** `hab ring key ARGS --remote-sup` against `sup`, as the operator (its key cache, `sup`'s CTL_SECRET). */
function ringKey(sup: Sup, args: string[], cache = ops): Promise<CliResult> {
  return hab(['ring', 'key', ...args, '--remote-sup', sup.ctl], { env: { FS_ROOT: sup.fsRoot, HAB_CTL_SECRET: '', HAB_CACHE_KEY_PATH: cache } });
}

/** `hab ring key list` on `sup`, by `name-revision`. */
async function list(sup: Sup): Promise<Record<string, Listed>> {
  const r = await ringKey(sup, ['list']);
  if (r.code !== 0) throw new Error(`hab ring key list on ${sup.host} exited ${r.code}: ${r.stderr}`);
  const out: Record<string, Listed> = {};
  for (const line of r.stdout.split('\n').filter((l) => l !== '')) {
    const m = /^(\S+) {2}(\S+) {2}(\S+)\s+(\d+)\/(\d+) live members, (\d+) sealing$/.exec(line);
    if (!m) throw new Error(`unexpected line of hab ring key list: ${JSON.stringify(line)}`);
    out[m[1] as string] = { id: m[2] as string, state: m[3] as string, holders: Number(m[4]), live: Number(m[5]), sealers: Number(m[6]) };
  }
  return out;
}

async function ctlSecret(sup: Sup): Promise<string> {
  return (await readFile(join(sup.fsRoot, 'hab/sup/default/CTL_SECRET'), 'utf8')).trim();
}

/** The ids of the ring keys `sup` opens with, the one that seals first (`GET /v1/sup/status`). */
async function sealing(sup: Sup): Promise<string[]> {
  const res = await fetch(`http://${sup.ctl}/v1/sup/status`, { headers: { authorization: `Bearer ${await ctlSecret(sup)}` } });
  return ((await res.json()) as { ring_keys: string[] }).ring_keys;
}

async function openErrors(sup: Sup): Promise<number> {
  const text = await (await fetch(`http://${sup.http}/metrics`)).text();
  return Number(/^hab_butterfly_open_errors_total (\d+)$/m.exec(text)?.[1] ?? NaN);
}

async function allSeeAlive(observers: Sup[], subjects: Sup[]): Promise<boolean> {
  for (const o of observers) {
    const view = await butterfly(o);
    for (const s of subjects) if (view.membership[s.id]?.health !== 'Alive') return false;
  }
  return true;
}

/** `hab ring key generate prod` in the operator's cache; a revision is one second wide, so a clash is retried. */
async function generate(): Promise<string> {
  const r = await waitFor('a new revision of ring key prod', async () => {
    const g = await hab(['ring', 'key', 'generate', 'prod'], { env: { HAB_CACHE_KEY_PATH: ops } });
    if (g.code === 4) return undefined;
    return g;
  }, 5000, 250);
  expect(r.code, r.stderr).toBe(0);
  return /Generated ring key (prod-\d{14})/.exec(r.stdout)?.[1] ?? '';
}

function keyText(label: string): Promise<string> {
  return readFile(join(ops, `${label}.sym.key`), 'utf8');
}

/** Imports key texts into the key cache of a new FS_ROOT; returns the FS_ROOT. */
async function rootWith(...texts: string[]): Promise<string> {
  const root = await newFsRoot();
  for (const text of texts) {
    const r = await hab(['ring', 'key', 'import'], { env: { FS_ROOT: root }, input: text });
    expect(r.code, r.stderr).toBe(0);
  }
  return root;
}

function base64Of(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

beforeAll(async () => {
  ops = await newFsRoot();
  stale = await generate();
  old = await generate();
  const forged = `SYM-SEC-1\n${stale}\n\n${randomBytes(32).toString('base64')}`;
  const oldText = await keyText(old);
  const [ra, rb, rc, rd] = await Promise.all([rootWith(oldText), rootWith(oldText), rootWith(oldText), rootWith(oldText, forged)]);
  a = await startSup({ host: '127.0.0.161', fsRoot: ra, args: RING });
  [b, c, d] = await Promise.all([
    startSup({ host: '127.0.0.162', fsRoot: rb, peers: [a.gossip], args: RING }),
    startSup({ host: '127.0.0.163', fsRoot: rc, peers: [a.gossip], args: RING }),
    startSup({ host: '127.0.0.164', fsRoot: rd, peers: [a.gossip], args: RING }),
  ]);
  for (const s of [a, b, c, d]) expect(s.lines).toContain(`hab-sup(MR): Using ring key ${old}`);
  await waitFor('four keyed Supervisors to see each other alive', () => allSeeAlive([a, b, c, d], [a, b, c, d]));
}, 60_000);

describe('hab ring key use before every member holds the key', () => {
  test('is refused, saying how many live members hold it, while a member holding other bytes under that name cannot install it', async () => {
    const installed = await ringKey(a, ['install', stale]);
    expect(installed.code, installed.stderr).toBe(0);
    // D holds other bytes under that name: it says so rather than pretend.
    const onD = await ringKey(d, ['install', stale]);
    expect(onD.code).toBe(4);
    expect(onD.stderr).toMatch(new RegExp(`ring key ${stale} is already installed with other bytes`));
    await waitFor(`A to count 3 of 4 live members holding ${stale}`, async () => {
      const k = (await list(a))[stale];
      return k?.holders === 3 && k.live === 4;
    });
    const used = await ringKey(a, ['use', stale]);
    expect(used.code).toBe(4);
    expect(used.stderr).toContain(`only 3 of 4 live members report ring key ${stale}`);
    const [oldId] = await sealing(a);
    for (const s of [a, b, c, d]) expect((await sealing(s))[0]).toBe(oldId);

    // The abandoned key goes; D leaves the ring for the rotation proper.
    expect((await ringKey(a, ['remove', stale])).code).toBe(0);
    d.proc.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    await waitFor('A, B and C to see D departed', async () => {
      for (const o of [a, b, c]) if ((await butterfly(o)).membership[d.id]?.health !== 'Departed') return false;
      return true;
    });
  });
});

describe('bad input', () => {
  test('gets a clear message and a non-zero exit, and the Supervisor keeps running', async () => {
    const unknown = await ringKey(a, ['install', 'nosuch']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/no ring key named "nosuch" in the key cache/);

    const broken = await newFsRoot();
    await writeFile(join(broken, 'prod-20200101000000.sym.key'), 'SYM-SEC-1\nprod-20200101000000\n\nnot base64 at all!\n', { mode: 0o600 });
    const malformed = await ringKey(a, ['install', 'prod-20200101000000'], broken);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/line 4 is not valid base64/);

    const bare = await ringKey(a, ['use', 'prod']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/"prod" is not <name>-<revision>.*NAME-REVISION/);
    const notHeld = await ringKey(a, ['use', 'prod-20990101000000']);
    expect(notHeld.code).toBe(3);
    expect(notHeld.stderr).toContain(`ring key prod-20990101000000 is not installed on this Supervisor (it holds ${old}`);
    const removeUnknown = await ringKey(a, ['remove', 'prod-20990101000000']);
    expect(removeUnknown.code).toBe(3);

    // Straight to the control gateway, as curl would: key text that is not a ring key.
    const post = (keyText: string): Promise<Response> =>
      ctlSecret(a).then((secret) =>
        fetch(`http://${a.ctl}/v1/ring/key/install`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ key_text: keyText }) }),
      );
    const short = await post(`SYM-SEC-1\nprod-20200101000000\n\n${Buffer.alloc(16).toString('base64')}`);
    expect(short.status).toBe(400);
    expect(((await short.json()) as { error: { message: string } }).error.message).toMatch(/key_text: the key is 16 bytes, but a SYM-SEC-1 .* is 32 bytes/);
    const other = await post('SIG-PUB-1\ncore-20200101000000\n\nAAAA');
    expect(other.status).toBe(400);

    expect(a.proc.exitCode).toBeNull();
    const keys = await list(a);
    expect(keys[old]).toMatchObject({ state: 'primary', holders: 3, live: 3 });
    expect(Object.keys(keys).sort()).toEqual([old, stale].sort());
  });
});

describe('a rotation from OLD to NEW', () => {
  test('install: every member holds NEW and writes it to its key cache; OLD still seals', async () => {
    fresh = await generate();
    const r = await ringKey(a, ['install', 'prod']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Installing ring key ${fresh} {2}[0-9a-f]{8} {2}installed {2}[1-3]/3 live members, 0 sealing\\n$`));
    for (const s of [a, b, c]) {
      await waitFor(`${s.host} to list ${fresh} held by 3 of 3`, async () => {
        const k = await list(s);
        const [f, o] = [k[fresh], k[old]];
        return f?.state === 'installed' && f.holders === 3 && f.live === 3 && o?.state === 'primary';
      });
    }
    const text = await keyText(fresh);
    const [oldId, freshId] = [(await list(a))[old]?.id, (await list(a))[fresh]?.id];
    for (const s of [a, b, c]) {
      const file = join(keysOf(s.fsRoot), `${fresh}.sym.key`);
      await waitFor(`${s.host} to write ${fresh} to its key cache`, () => readFile(file, 'utf8').then((t) => t === text, () => false), 5000);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(await sealing(s)).toEqual([oldId, freshId]);
    }
    // The key travels sealed, and nothing a Supervisor shows or logs carries it.
    const secret = base64Of(text);
    for (const s of [a, b, c]) {
      for (const route of ['/butterfly', '/census', '/metrics']) expect(await (await fetch(`http://${s.http}${route}`)).text(), `${s.host}${route}`).not.toContain(secret);
      expect(s.lines.join('\n')).not.toContain(secret);
    }
  });

  test('a Supervisor restarted after install and before use comes back sealing with OLD and holding NEW', async () => {
    // Its rumor store is written at most 250 ms after a change.
    await new Promise((r) => setTimeout(r, 1000));
    await kill9(b);
    b = await startSup({ host: b.host, fsRoot: b.fsRoot, peers: [a.gossip], args: RING });
    expect(b.lines.some((l) => /restored rumors from disk/.test(l))).toBe(true);
    // Its key cache's newest revision is NEW, but the stored commands say the ring seals with OLD.
    expect(b.lines).toContain(`hab-sup(MR): Using ring key ${old}`);
    await waitFor('A, B and C to see each other alive', () => allSeeAlive([a, b, c], [a, b, c]));
    const keys = await list(b);
    expect(keys[old]).toMatchObject({ state: 'primary', holders: 3, live: 3 });
    expect(keys[fresh]).toMatchObject({ state: 'installed', holders: 3, live: 3 });
  });

  test('use: every member seals with NEW, so a Supervisor holding only NEW joins and is seen alive by all', async () => {
    const r = await ringKey(c, ['use', fresh]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Using ring key ${fresh} {2}[0-9a-f]{8} {2}primary {4}3/3 live members, [1-3] sealing\\n$`));
    const freshId = (await list(c))[fresh]?.id;
    await waitFor('A, B and C to seal with NEW', async () => {
      for (const s of [a, b, c]) if ((await sealing(s))[0] !== freshId) return false;
      return true;
    });
    const removePrimary = await ringKey(a, ['remove', fresh]);
    expect(removePrimary.code).toBe(4);
    expect(removePrimary.stderr).toMatch(new RegExp(`cannot remove ring key ${fresh}: it is the primary`));

    // It opens nothing sealed with OLD: it sees the others only if all of them seal with NEW.
    n = await startSup({ host: '127.0.0.165', fsRoot: await rootWith(await keyText(fresh)), peers: [a.gossip], args: RING });
    const joined = n;
    await waitFor('the NEW-only Supervisor and A, B, C to see each other alive', () => allSeeAlive([a, b, c, joined], [a, b, c, joined]));
  });

  test('remove: OLD is held by no member, and a Supervisor holding only OLD cannot join', async () => {
    const joined = n as Sup;
    // While a member still reports sealing with OLD, remove is refused (as Serf refuses).
    await waitFor(`B to list ${old} sealed with by none`, async () => (await list(b))[old]?.sealers === 0);
    const r = await ringKey(b, ['remove', old]);
    expect(r.code, r.stderr).toBe(0);
    const freshId = (await list(a))[fresh]?.id;
    for (const s of [a, b, c, joined]) {
      await waitFor(`${s.host} to list ${old} removed, held by none`, async () => {
        const k = await list(s);
        const [f, o] = [k[fresh], k[old]];
        return o?.state === 'removed' && o.holders === 0 && o.live === 4 && f?.holders === 4;
      });
      expect(await sealing(s)).toEqual([freshId]);
    }

    const before = await openErrors(a);
    const outsider = await startSup({ host: '127.0.0.166', fsRoot: await rootWith(await keyText(old)), peers: [a.gossip], args: RING });
    await waitFor('A to drop the OLD-only Supervisor\'s packets', async () => (await openErrors(a)) > before);
    await waitFor('A to log why', () => a.lines.some((l) => /dropped a packet that does not open with the ring key from=127\.0\.0\.166 reason=unknown-key/.test(l)), 5000);
    expect(Object.keys((await butterfly(outsider)).membership)).toEqual([outsider.id]);
    for (const s of [a, b, c, joined]) expect((await butterfly(s)).membership[outsider.id]).toBeUndefined();
    // The ring itself lost nobody.
    expect(await allSeeAlive([a, b, c, joined], [a, b, c, joined])).toBe(true);
  });
});
