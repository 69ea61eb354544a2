/**
 * Group encryption keys and the BOX-1 payload: key generation as Habitat names and writes it,
 * Habitat's own test vectors, sealing and opening through the key cache with exactly the
 * revisions a payload names, and a parser that refuses junk with BAD_INPUT only.
 */
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { MurmurError } from '../../src/core/index.js';
import {
  BoxOpenError,
  encryptBox1,
  exportBoxKey,
  formatBox1,
  formatKeyText,
  generateServiceKeyPair,
  generateUserKeyPair,
  importKey,
  latestBoxPublicKey,
  latestBoxSecretKey,
  loadSodium,
  openBox1,
  parseBox1,
  parseKeyText,
  sealBox1WithNonce,
  serviceKeyName,
  type BoxKeyPair,
} from '../../src/crypto/index.js';
import { rejection, thrown } from '../murmur-error.js';

const JAN_1 = new Date('2024-01-01T12:00:00Z');
const later = (date: Date, seconds: number): Date => new Date(date.getTime() + seconds * 1000);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'murmur-box-'));
  dir = path.join(root, 'keys');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function pairs(): Promise<{ user: BoxKeyPair; service: BoxKeyPair }> {
  return { user: await generateUserKeyPair(dir, 'alice', JAN_1), service: await generateServiceKeyPair(dir, 'demo.prod', 'acme', JAN_1) };
}

describe('hab user key generate and hab svc key generate', () => {
  test('write both halves under Habitat names with the revision of now, secret 0600 and public 0644', async () => {
    const { user, service } = await pairs();
    expect((await readdir(dir)).sort()).toEqual([
      'alice-20240101120000.box.key',
      'alice-20240101120000.pub',
      'demo.prod@acme-20240101120000.box.key',
      'demo.prod@acme-20240101120000.pub',
    ]);
    for (const pair of [user, service]) {
      expect(parseKeyText(await readFile(pair.secret.path, 'utf8'))).toMatchObject({ header: 'BOX-SEC-1', name: pair.secret.name, revision: '20240101120000' });
      expect(parseKeyText(await readFile(pair.public.path, 'utf8'))).toMatchObject({ header: 'BOX-PUB-1', name: pair.secret.name, revision: '20240101120000' });
      expect((await stat(pair.secret.path)).mode & 0o777).toBe(0o600);
      expect((await stat(pair.public.path)).mode & 0o777).toBe(0o644);
    }
  });

  test('the public key is the Curve25519 public key of the secret key', async () => {
    const sodium = await loadSodium();
    const { user, service } = await pairs();
    for (const pair of [user, service]) expect(sodium.crypto_scalarmult_base(pair.secret.key)).toEqual(pair.public.key);
  });

  test("Habitat's fixture user key pair (ruby-rhod) is a Curve25519 pair as we read it", async () => {
    const sodium = await loadSodium();
    const secret = parseKeyText('BOX-SEC-1\nruby-rhod-20200813204159\n\nzOHZ45DTUm4mIvU9g+OsIW/CFqjMtJvjtUx+5HtJ2Rc=', { expect: 'BOX-SEC-1' });
    const pub = parseKeyText('BOX-PUB-1\nruby-rhod-20200813204159\n\njJZxtCxhf92SLWWvMgO8WgN/W0uATXxtzOyaK6Eo4Rg=', { expect: 'BOX-PUB-1' });
    expect(sodium.crypto_scalarmult_base(secret.key)).toEqual(pub.key);
  });

  test('service key names: SVC.GROUP and ORG, or SVC.GROUP@ORG; nothing else', () => {
    expect(serviceKeyName('demo.prod', 'acme')).toBe('demo.prod@acme');
    expect(serviceKeyName('demo.prod@acme')).toBe('demo.prod@acme');
    expect(serviceKeyName('demo.prod@acme', 'acme')).toBe('demo.prod@acme');
    expect(thrown(() => serviceKeyName('demo.prod@acme', 'other')).message).toContain('"acme" but the org given is "other"');
    expect(thrown(() => serviceKeyName('demo.prod')).message).toContain('hab svc key generate demo.prod acme');
    expect(thrown(() => serviceKeyName('demo', 'acme')).code).toBe('BAD_INPUT');
    expect(thrown(() => serviceKeyName('../x.y', 'acme')).code).toBe('BAD_INPUT');
  });

  test('a second pair in the same second is refused; a later one becomes the latest', async () => {
    await generateUserKeyPair(dir, 'alice', JAN_1);
    const again = await rejection(generateUserKeyPair(dir, 'alice', JAN_1));
    expect(again.code).toBe('CONFLICT');
    const next = await generateUserKeyPair(dir, 'alice', later(JAN_1, 1));
    expect((await latestBoxSecretKey(dir, 'user', 'alice')).revision).toBe(next.secret.revision);
    expect((await latestBoxPublicKey(dir, 'user', 'alice')).revision).toBe(next.public.revision);
  });

  test('the latest public key passes over an origin signing key of the same name (both are .pub)', async () => {
    const user = await generateUserKeyPair(dir, 'acme', JAN_1);
    await writeFile(path.join(dir, 'acme-20250101000000.pub'), `SIG-PUB-1\nacme-20250101000000\n\n${Buffer.alloc(32, 7).toString('base64')}`);
    expect((await latestBoxPublicKey(dir, 'user', 'acme')).revision).toBe(user.public.revision);
  });

  test('missing keys name the key and the command that makes it', async () => {
    const secret = await rejection(latestBoxSecretKey(dir, 'user', 'bob'));
    expect(secret.code).toBe('NOT_FOUND');
    expect(secret.message).toContain('`hab user key generate bob`');
    const pub = await rejection(latestBoxPublicKey(dir, 'service', 'demo.prod@acme'));
    expect(pub.message).toContain('no public encryption key for service group demo.prod@acme');
    expect(pub.message).toContain('`hab svc key generate demo.prod acme`');
  });

  test('export prints the key file text, which imports elsewhere byte for byte', async () => {
    const { service } = await pairs();
    const exported = await exportBoxKey(dir, 'service', 'demo.prod@acme', 'secret');
    expect(exported).toBe(formatKeyText(service.secret));
    const other = path.join(root, 'other');
    const imported = await importKey(other, exported, 'standard input', 'BOX-SEC-1');
    expect(imported.created).toBe(true);
    expect(await readFile(imported.path, 'utf8')).toBe(await readFile(service.secret.path, 'utf8'));
  });
});

describe('BOX-1', () => {
  // Habitat's own vector (components/core/src/crypto/keys/encryption/message.rs, `signed`).
  const HABITAT_SIGNED =
    'BOX-1\nruby-rhod-20200813204159\nservice-key-valid.default@acme-20160509181736\nB7e4QAO4aKZFNbiBQAOm+8kZhqVDtOwo\n+faMzEwgX1EDcjl9ab4MVBR8klaQnLegxSmGygWOHU+Y8PUz';
  const HABITAT_NONCE = [7, 183, 184, 64, 3, 184, 104, 166, 69, 53, 184, 129, 64, 3, 166, 251, 201, 25, 134, 165, 67, 180, 236, 40];

  test("parses Habitat's vector and writes it back byte for byte", () => {
    const box = parseBox1(HABITAT_SIGNED);
    expect(box.encryptor).toEqual({ name: 'ruby-rhod', revision: '20200813204159' });
    expect(box.decryptor).toEqual({ name: 'service-key-valid.default@acme', revision: '20160509181736' });
    expect([...box.nonce]).toEqual(HABITAT_NONCE);
    expect(box.ciphertext.length).toBe(36);
    expect(formatBox1(box)).toBe(HABITAT_SIGNED);
  });

  test('seals to five lines with no trailing newline, naming the exact revisions, and opens from the key cache', async () => {
    const { user, service } = await pairs();
    const payload = await encryptBox1({ userSecret: user.secret, servicePublic: service.public }, text('password = "hunter2"\n'));
    const lines = payload.split('\n');
    expect(lines).toHaveLength(5);
    expect(lines.slice(0, 3)).toEqual(['BOX-1', 'alice-20240101120000', 'demo.prod@acme-20240101120000']);
    expect(payload.endsWith('\n')).toBe(false);
    expect(payload).not.toContain('hunter2');
    expect(new TextDecoder().decode(await openBox1(payload, dir))).toBe('password = "hunter2"\n');
    // The same bytes as a Uint8Array, and with a trailing newline or CRLF (Rust's `lines`), open too.
    expect(await openBox1(text(payload), dir)).toEqual(text('password = "hunter2"\n'));
    expect(await openBox1(`${payload.replaceAll('\n', '\r\n')}\r\n`, dir)).toEqual(text('password = "hunter2"\n'));
  });

  test('an empty plaintext seals to the MAC alone and opens to nothing', async () => {
    const { user, service } = await pairs();
    const payload = await encryptBox1({ userSecret: user.secret, servicePublic: service.public }, new Uint8Array());
    expect(parseBox1(payload).ciphertext.length).toBe(16);
    expect(await openBox1(payload, dir)).toEqual(new Uint8Array());
  });

  test('two seals of one plaintext differ (a fresh nonce each time)', async () => {
    const { user, service } = await pairs();
    const keys = { userSecret: user.secret, servicePublic: service.public };
    expect(await encryptBox1(keys, text('a'))).not.toBe(await encryptBox1(keys, text('a')));
  });

  test('a member without the service secret key is told which file is missing', async () => {
    const { user, service } = await pairs();
    const payload = await encryptBox1({ userSecret: user.secret, servicePublic: service.public }, text('x = 1'));
    await rm(service.secret.path);
    const err = await rejection(openBox1(payload, dir));
    expect(err).toBeInstanceOf(BoxOpenError);
    expect(err.code).toBe('NOT_FOUND');
    expect((err as BoxOpenError).reason).toBe('missing-key');
    expect((err as BoxOpenError).key).toEqual({ nameRevision: 'demo.prod@acme-20240101120000', header: 'BOX-SEC-1', path: service.secret.path });
    expect(err.message).toContain(`secret key of service group demo.prod@acme revision 20240101120000 is not in the key cache (expected ${service.secret.path})`);
    expect(err.message).toContain('hab svc key import');
  });

  test('a member without the user public key is told which file is missing', async () => {
    const { user, service } = await pairs();
    const payload = await encryptBox1({ userSecret: user.secret, servicePublic: service.public }, text('x = 1'));
    await rm(user.public.path);
    const err = (await rejection(openBox1(payload, dir))) as BoxOpenError;
    expect(err.reason).toBe('missing-key');
    expect(err.key?.path).toBe(user.public.path);
    expect(err.message).toContain('public key of user alice revision 20240101120000');
    expect(err.message).toContain('hab user key import');
  });

  test('only the exact revisions named open it: a newer service key pair does not', async () => {
    const { user, service } = await pairs();
    const payload = await encryptBox1({ userSecret: user.secret, servicePublic: service.public }, text('x = 1'));
    await generateServiceKeyPair(dir, 'demo.prod', 'acme', later(JAN_1, 60));
    expect(await openBox1(payload, dir)).toEqual(text('x = 1'));
    await rm(service.secret.path);
    expect(((await rejection(openBox1(payload, dir))) as BoxOpenError).reason).toBe('missing-key');
  });

  test('an altered payload, or other keys under the same names, do not authenticate', async () => {
    const { user, service } = await pairs();
    const payload = await encryptBox1({ userSecret: user.secret, servicePublic: service.public }, text('x = 1'));
    const box = parseBox1(payload);
    const flipped = box.ciphertext.slice();
    flipped[20] = (flipped[20] ?? 0) ^ 1;
    const altered = await rejection(openBox1(formatBox1({ ...box, ciphertext: flipped }), dir));
    expect((altered as BoxOpenError).reason).toBe('not-authentic');
    expect(altered.code).toBe('BAD_INPUT');
    // A key cache elsewhere holding another pair with the same name-revision.
    const other = path.join(root, 'other');
    const impostor = await generateServiceKeyPair(other, 'demo.prod', 'acme', JAN_1);
    await importKey(other, formatKeyText(user.public), 'test', 'BOX-PUB-1');
    expect(impostor.secret.revision).toBe(service.secret.revision);
    expect(((await rejection(openBox1(payload, other))) as BoxOpenError).reason).toBe('not-authentic');
  });

  test('a key file that is not the key it should be is a bad-key error naming it', async () => {
    const { user, service } = await pairs();
    const payload = await encryptBox1({ userSecret: user.secret, servicePublic: service.public }, text('x = 1'));
    await chmod(service.secret.path, 0o600);
    await writeFile(service.secret.path, 'junk');
    const err = (await rejection(openBox1(payload, dir))) as BoxOpenError;
    expect(err.reason).toBe('bad-key');
    expect(err.message).toContain('demo.prod@acme-20240101120000');
  });

  test('sealing checks which key is which', async () => {
    const sodium = await loadSodium();
    const { user, service } = await pairs();
    const nonce = new Uint8Array(24);
    const swapped = { userSecret: service.secret, servicePublic: user.public };
    expect(thrown(() => sealBox1WithNonce(sodium, swapped, text('x'), nonce)).message).toContain('is a service key');
    expect(thrown(() => sealBox1WithNonce(sodium, { userSecret: user.secret, servicePublic: service.public }, text('x'), new Uint8Array(8))).code).toBe('BAD_INPUT');
  });

  describe('parseBox1 refuses junk with BAD_INPUT, saying what is wrong', () => {
    const good = HABITAT_SIGNED;
    const lines = good.split('\n');
    const replace = (i: number, line: string): string => lines.map((l, j) => (j === i ? line : l)).join('\n');
    const cases: [string, string | Uint8Array, RegExp][] = [
      ['empty', '', /is empty/],
      ['another header', replace(0, 'BOX-2'), /line 1 must be "BOX-1", found "BOX-2"/],
      ['an anonymous box', 'ANONYMOUS-BOX-1\nfhloston-paradise-20200813211603\nAAAA', /line 1 must be "BOX-1"/],
      ['four lines', lines.slice(0, 4).join('\n'), /has 4 lines, not 5/],
      ['six lines', `${good}\nextra`, /has 6 lines, not 5/],
      ['a blank line after the header', ['BOX-1', '', ...lines.slice(1)].join('\n'), /has 6 lines/],
      ['no revision on the user key', replace(1, 'ruby-rhod'), /line 2 \(the user key\)/],
      ['a service key as the user key', replace(1, 'a.b@c-20200813204159'), /must name a user key/],
      ['a user key as the service key', replace(2, 'ruby-rhod-20200813204159'), /line 3 must name a service key/],
      ['a nonce that is not base64', replace(3, 'not base64!'), /nonce\) is not valid base64/],
      ['a short nonce', replace(3, 'AAAA'), /nonce is 3 bytes, not 24/],
      ['non-canonical base64 (stray bits before the padding)', replace(4, `${'A'.repeat(21)}B==`), /ciphertext\) is not valid base64/],
      ['a ciphertext shorter than the MAC', replace(4, 'AAAA'), /shorter than its 16-byte MAC/],
      ['spaces around a line', replace(3, ` ${lines[3]}`), /nonce\) is not valid base64/],
      ['bytes that are not UTF-8', new Uint8Array([0x42, 0xff, 0xfe]), /is not UTF-8/],
    ];
    test.each(cases)('%s', (_name, input, message) => {
      const err = thrown(() => parseBox1(input));
      expect(err.code).toBe('BAD_INPUT');
      expect(err.message).toMatch(message);
    });

    test('any mutation of a valid payload parses or is BAD_INPUT, never another error', () => {
      const bytes = text(good);
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(bytes.length), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(bytes.length), (edits, cut) => {
          const mutated = bytes.slice(0, Math.max(cut, 1));
          for (const [at, value] of edits) if (at < mutated.length) mutated[at] = value;
          try {
            parseBox1(mutated);
          } catch (err) {
            return err instanceof MurmurError && err.code === 'BAD_INPUT';
          }
          return true;
        }),
        { numRuns: 2000 },
      );
    });
  });
});
