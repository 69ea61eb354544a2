/**
 * The operator operations of a real Supervisor (`applyConfig`, `uploadFile`, `depart`) on a
 * temporary FS_ROOT, with a transport that only records and timers that never fire: what is
 * published, what is refused, and what the refusals say. Also the control secret on disk.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { MurmurError, nullLogger, seededRandom } from '../../src/core/index.js';
import { encryptBox1, generateServiceKeyPair, generateUserKeyPair } from '../../src/crypto/index.js';
import { keyOf, presets } from '../../src/gossip/index.js';
import { loadOrCreateCtlSecret, MAX_GOSSIP_PAYLOAD_BYTES, Supervisor, supPaths } from '../../src/sup/index.js';
import { loadState } from '../../src/sup/state.js';
import type { MemberRumor, Rumor } from '../../src/wire/index.js';

const OTHER = 'b'.repeat(32);
const roots: string[] = [];
const open: Supervisor[] = [];

afterEach(async () => {
  for (const s of open.splice(0)) await s.stop();
  for (const dir of roots.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempRoot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'murmur-sup-'));
  roots.push(dir);
  return dir;
}

async function supervisor(root?: string): Promise<{ sup: Supervisor; sent: string[] }> {
  const sent: string[] = [];
  const sup = await Supervisor.open(
    {
      clock: { now: () => 1000 },
      random: seededRandom(7),
      log: nullLogger,
      transport: { send: (to) => void sent.push(to) },
      timers: { at: () => {} },
      every: () => () => {},
    },
    { paths: supPaths({ FS_ROOT: root ?? (await tempRoot()) }), address: '127.0.0.1', gossipPort: 9638, seeds: [], permanent: false, gossip: presets.lan },
  );
  open.push(sup);
  return { sup, sent };
}

function held(sup: Supervisor, kind: 'service-config' | 'service-file' | 'departure', group: string, id: string): Rumor | undefined {
  return sup.core.store.get(keyOf(kind, group, id))?.rumor;
}

/** Calls `fn`, expecting a MurmurError; returns it. */
function refusal(fn: () => unknown): MurmurError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MurmurError) return err;
    throw err;
  }
  throw new Error('expected a MurmurError, nothing was thrown');
}

function peer(id: string): MemberRumor {
  return { kind: 'member', member: { id, incarnation: 0, address: '10.0.0.2', swimPort: 9638, gossipPort: 9638, persistent: false }, health: 'alive', from: id };
}

describe('applyConfig', () => {
  test('publishes a service-config rumor from this member with the TOML bytes', async () => {
    const { sup } = await supervisor();
    expect(sup.applyConfig('redis.prod', 1, 'port = 6380\n')).toEqual({ group: 'redis.prod', version: 1, bytes: 12 });
    const r = held(sup, 'service-config', 'redis.prod', 'service_config');
    expect(r).toMatchObject({ kind: 'service-config', group: 'redis.prod', version: 1, encrypted: false, from: sup.id });
    expect(new TextDecoder().decode((r as { config: Uint8Array }).config)).toBe('port = 6380\n');
  });

  test('a version not above the held one is refused naming the held version, and nothing changes', async () => {
    const { sup } = await supervisor();
    sup.applyConfig('redis.prod', 3, 'a = 1');
    for (const v of [3, 2]) {
      const err = refusal(() => sup.applyConfig('redis.prod', v, 'a = 2'));
      expect(err.code).toBe('CONFLICT');
      expect(err.message).toBe('redis.prod already has config version 3; apply a version above 3');
    }
    expect(held(sup, 'service-config', 'redis.prod', 'service_config')).toMatchObject({ version: 3 });
    expect(sup.applyConfig('redis.prod', 4, 'a = 2').version).toBe(4);
  });

  test('versions are per group', async () => {
    const { sup } = await supervisor();
    sup.applyConfig('redis.prod', 5, 'a = 1');
    expect(sup.applyConfig('redis.dev', 1, 'a = 1').version).toBe(1);
  });

  test('bad TOML is refused naming the line and the column', async () => {
    const { sup } = await supervisor();
    const err = refusal(() => sup.applyConfig('redis.prod', 1, 'port = 6380\nbind = [\n  "a",\n  = 3\n'));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toMatch(/^config for redis\.prod is not valid TOML: line 4, column 3: /);
    expect(held(sup, 'service-config', 'redis.prod', 'service_config')).toBeUndefined();
  });

  test('a config over MAX_GOSSIP_PAYLOAD_BYTES is refused with the size and the limit', async () => {
    const { sup } = await supervisor();
    const text = `a = "${'x'.repeat(MAX_GOSSIP_PAYLOAD_BYTES)}"`;
    const err = refusal(() => sup.applyConfig('redis.prod', 1, text));
    expect(err.code).toBe('TOO_LARGE');
    expect(err.message).toBe(`config for redis.prod is ${text.length} bytes; the limit is 524288 bytes (512 KiB) per config or file`);
  });

  test('a config of exactly the limit is accepted', async () => {
    const { sup } = await supervisor();
    const text = `a = "${'x'.repeat(MAX_GOSSIP_PAYLOAD_BYTES - 6)}"`;
    expect(Buffer.byteLength(text)).toBe(MAX_GOSSIP_PAYLOAD_BYTES);
    expect(sup.applyConfig('redis.prod', 1, text).bytes).toBe(MAX_GOSSIP_PAYLOAD_BYTES);
  });

  test.each(['redis', 'redis.', '.prod', 'redis.prod.x', 'redis prod', 'redis.prod@', 'redis/x.prod', ''])('service group %j is refused with what is accepted', async (group) => {
    const { sup } = await supervisor();
    const err = refusal(() => sup.applyConfig(group, 1, 'a = 1'));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toBe(`service group must be SERVICE.GROUP or SERVICE.GROUP@ORG (each part letters, digits, _ or -), e.g. redis.prod; got ${JSON.stringify(group)}`);
  });

  test('SVC.GROUP@ORG with _ and - is accepted', async () => {
    const { sup } = await supervisor();
    expect(sup.applyConfig('my_redis.prod-eu@acme-corp', 1, 'a = 1').group).toBe('my_redis.prod-eu@acme-corp');
  });

  test.each([0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1])('version %d is refused', async (version) => {
    const { sup } = await supervisor();
    const err = refusal(() => sup.applyConfig('redis.prod', version, 'a = 1'));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toMatch(/^version must be a positive integer \(1 to 9007199254740991\), got /);
  });

  test('a stopped Supervisor publishes nothing', async () => {
    const { sup } = await supervisor();
    await sup.stop();
    expect(refusal(() => sup.applyConfig('redis.prod', 1, 'a = 1')).code).toBe('IO');
  });
});

describe('uploadFile', () => {
  test('publishes a service-file rumor; versions are per file name', async () => {
    const { sup } = await supervisor();
    sup.uploadFile('redis.prod', 2, 'tls.pem', new Uint8Array([1, 2, 3]));
    expect(held(sup, 'service-file', 'redis.prod', 'tls.pem')).toMatchObject({ kind: 'service-file', filename: 'tls.pem', version: 2, body: new Uint8Array([1, 2, 3]), from: sup.id });
    expect(sup.uploadFile('redis.prod', 1, 'other.conf', new Uint8Array()).version).toBe(1);
    const err = refusal(() => sup.uploadFile('redis.prod', 2, 'tls.pem', new Uint8Array([4])));
    expect(err.code).toBe('CONFLICT');
    expect(err.message).toBe('redis.prod already has version 2 of file tls.pem; upload a version above 2');
  });

  test.each([
    ['', 'filename is empty; got ""'],
    ['.', 'filename may not be "."; got "."'],
    ['..', 'filename may not be ".."; got ".."'],
    ['a/b.conf', 'filename may not contain "/" (give the base name only); got "a/b.conf"'],
    ['x'.repeat(256), `filename is 256 bytes long; the limit is 255; got "${'x'.repeat(256)}"`],
  ])('file name %j is refused', async (filename, message) => {
    const { sup } = await supervisor();
    const err = refusal(() => sup.uploadFile('redis.prod', 1, filename, new Uint8Array()));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toBe(message);
  });

  test('a name of 255 bytes is accepted (bytes, not characters, count)', async () => {
    const { sup } = await supervisor();
    expect(sup.uploadFile('redis.prod', 1, 'x'.repeat(255), new Uint8Array()).version).toBe(1);
    expect(refusal(() => sup.uploadFile('redis.prod', 1, 'é'.repeat(128), new Uint8Array())).message).toMatch(/256 bytes long/);
  });

  test('a body over the limit is refused with the size and the limit', async () => {
    const { sup } = await supervisor();
    const err = refusal(() => sup.uploadFile('redis.prod', 1, 'big.bin', new Uint8Array(MAX_GOSSIP_PAYLOAD_BYTES + 1)));
    expect(err.code).toBe('TOO_LARGE');
    expect(err.message).toBe(`file big.bin is ${MAX_GOSSIP_PAYLOAD_BYTES + 1} bytes; the limit is 524288 bytes (512 KiB) per config or file`);
  });
});

describe('depart', () => {
  test('publishes a departure for a known member, who is then departed here', async () => {
    const { sup } = await supervisor();
    sup.node.receivePacket('10.0.0.2:9638', { type: 'push', from: OTHER, rumors: [peer(OTHER)] });
    expect(sup.core.member(OTHER)?.health).toBe('alive');
    expect(sup.depart(OTHER)).toEqual({ alreadyDeparted: false });
    expect(held(sup, 'departure', '', OTHER)).toEqual({ kind: 'departure', memberId: OTHER });
    expect(sup.core.member(OTHER)?.health).toBe('departed');
    expect(sup.status().members.departed).toEqual([OTHER]);
    expect(sup.depart(OTHER)).toEqual({ alreadyDeparted: true });
  });

  test('an unknown member is NOT_FOUND', async () => {
    const { sup } = await supervisor();
    const err = refusal(() => sup.depart(OTHER));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toBe(`no member ${OTHER} in this Supervisor's ring`);
  });

  test.each(['B'.repeat(32), 'b'.repeat(31), 'g'.repeat(32), ''])('member id %j is refused', async (id) => {
    const { sup } = await supervisor();
    const err = refusal(() => sup.depart(id));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toBe(`member id must be 32 lowercase hex characters (as in MEMBER_ID or /butterfly), got ${JSON.stringify(id)}`);
  });
});

describe('status', () => {
  test('gives this member id, its incarnation and the members by health', async () => {
    const { sup } = await supervisor();
    sup.node.receivePacket('10.0.0.2:9638', { type: 'push', from: OTHER, rumors: [peer(OTHER)] });
    expect(sup.status()).toEqual({ memberId: sup.id, incarnation: 0, members: { alive: [sup.id, OTHER].sort(), suspect: [], confirmed: [], departed: [] } });
  });
});

describe('a restart', () => {
  test('comes back one incarnation up, so that its first word outranks what the ring says of its previous life', async () => {
    const root = await tempRoot();
    const { sup: first } = await supervisor(root);
    first.node.receivePacket('10.0.0.2:9638', { type: 'push', from: OTHER, rumors: [peer(OTHER)] });
    await first.stop();
    open.splice(open.indexOf(first), 1);
    // The ring confirmed it dead at the incarnation it had.
    const { sup: second } = await supervisor(root);
    expect(second.id).toBe(first.id);
    expect(second.status().incarnation).toBe(1);
    second.node.receivePacket('10.0.0.2:9638', {
      type: 'push',
      from: OTHER,
      rumors: [{ kind: 'member', member: { id: second.id, incarnation: 0, address: '127.0.0.1', swimPort: 9638, gossipPort: 9638, persistent: false }, health: 'confirmed', from: OTHER }],
    });
    // Nothing to refute: the accusation is about an older life.
    expect(second.status().incarnation).toBe(1);
    expect(second.core.member(second.id)?.health).toBe('alive');
  });
});

describe('persistence', () => {
  const SAVE_MS = 777;

  test('a change is written SAVE_MS after it, once for a burst of changes, and an idle Supervisor schedules no write', async () => {
    const root = await tempRoot();
    const due: { at: number; fire: () => void }[] = [];
    // The gossip core's timers go through the same service: the writes are the ones due at 1000 + SAVE_MS.
    const writes = (): { at: number; fire: () => void }[] => due.filter((t) => t.at === 1000 + SAVE_MS);
    const sup = await Supervisor.open(
      { clock: { now: () => 1000 }, random: seededRandom(7), log: nullLogger, transport: { send: () => {} }, timers: { at: (at, fire) => void due.push({ at, fire }) }, every: () => () => {} },
      { paths: supPaths({ FS_ROOT: root }), address: '127.0.0.1', gossipPort: 9638, seeds: [], permanent: false, gossip: presets.lan, persistIntervalMs: SAVE_MS },
    );
    open.push(sup);
    sup.start();
    expect(writes()).toHaveLength(1);
    writes()[0]?.fire();
    due.length = 0;
    // A burst: one config apply and a rumor from the ring, one write.
    sup.applyConfig('redis.prod', 1, 'a = 1');
    sup.node.receivePacket('10.0.0.2:9638', { type: 'push', from: OTHER, rumors: [peer(OTHER)] });
    expect(writes()).toHaveLength(1);
    const before = (await loadState(supPaths({ FS_ROOT: root }), nullLogger)).rumors;
    expect(before.some((r) => r.kind === 'service-config')).toBe(false);
    writes()[0]?.fire();
    await sup.save();
    // Written by the timer, before any stop: the file holds both.
    const after = (await loadState(supPaths({ FS_ROOT: root }), nullLogger)).rumors;
    expect(after.find((r) => r.kind === 'service-config')).toMatchObject({ group: 'redis.prod', version: 1 });
    expect(after.some((r) => r.kind === 'member' && r.member.id === OTHER)).toBe(true);
    // Nothing changed since: no write is scheduled.
    due.length = 0;
    sup.node.receivePacket('10.0.0.2:9638', { type: 'push', from: OTHER, rumors: [peer(OTHER)] });
    expect(writes()).toHaveLength(0);
  });
});

describe('CTL_SECRET', () => {
  test('is created at first start as base64 of 64 bytes, mode 0600, and kept afterwards', async () => {
    const paths = supPaths({ FS_ROOT: await tempRoot() });
    const first = await loadOrCreateCtlSecret(paths);
    expect(Buffer.from(first, 'base64')).toHaveLength(64);
    expect(Buffer.from(first, 'base64').toString('base64')).toBe(first);
    expect((await stat(paths.ctlSecretFile)).mode & 0o777).toBe(0o600);
    expect(await readFile(paths.ctlSecretFile, 'utf8')).toBe(first);
    expect(await loadOrCreateCtlSecret(paths)).toBe(first);
  });

  test('a secret put there by the operator is used as it is (trimmed)', async () => {
    const paths = supPaths({ FS_ROOT: await tempRoot() });
    await loadOrCreateCtlSecret(paths);
    await writeFile(paths.ctlSecretFile, 'operator-chosen\n');
    expect(await loadOrCreateCtlSecret(paths)).toBe('operator-chosen');
  });
});

describe('encrypted config and files (--user): the Supervisor checks the BOX-1 form, not the TOML it cannot read', () => {
  async function sealFor(group: string, org: string, plaintext: string): Promise<string> {
    const keys = await tempRoot();
    const when = new Date('2024-01-01T12:00:00Z');
    const user = await generateUserKeyPair(keys, 'alice', when);
    const service = await generateServiceKeyPair(keys, group, org, when);
    return encryptBox1({ userSecret: user.secret, servicePublic: service.public }, new TextEncoder().encode(plaintext));
  }

  test('a BOX-1 sealed for the group is published as it is, with encrypted: true', async () => {
    const { sup } = await supervisor();
    const box = await sealFor('redis.prod', 'acme', 'password = "hunter2"\n');
    expect(sup.applyConfig('redis.prod@acme', 1, box, true)).toEqual({ group: 'redis.prod@acme', version: 1, bytes: box.length });
    const r = held(sup, 'service-config', 'redis.prod@acme', 'service_config');
    expect(r).toMatchObject({ kind: 'service-config', version: 1, encrypted: true });
    expect(new TextDecoder().decode((r as { config: Uint8Array }).config)).toBe(box);
    sup.uploadFile('redis.prod@acme', 1, 'tls.key', new TextEncoder().encode(box), true);
    expect(held(sup, 'service-file', 'redis.prod@acme', 'tls.key')).toMatchObject({ encrypted: true, version: 1 });
  });

  test('TOML sent as encrypted, a BOX-1 for another group, or one over the size limit are refused', async () => {
    const { sup } = await supervisor();
    expect(refusal(() => sup.applyConfig('redis.prod@acme', 1, 'port = 1\n', true)).message).toMatch(/^encrypted config for redis\.prod@acme: line 1 must be "BOX-1"/);
    const other = await sealFor('web.prod', 'acme', 'x = 1');
    const wrong = refusal(() => sup.applyConfig('redis.prod@acme', 1, other, true));
    expect(wrong.code).toBe('BAD_INPUT');
    expect(wrong.message).toMatch(/is sealed for the service key web\.prod@acme-20240101120000, not for redis\.prod@acme/);
    expect(refusal(() => sup.uploadFile('redis.prod@acme', 1, 'f', new TextEncoder().encode(other), true)).code).toBe('BAD_INPUT');
    expect(refusal(() => sup.applyConfig('redis.prod@acme', 1, 'x'.repeat(MAX_GOSSIP_PAYLOAD_BYTES + 1), true)).code).toBe('TOO_LARGE');
    expect(held(sup, 'service-config', 'redis.prod@acme', 'service_config')).toBeUndefined();
  });
});
