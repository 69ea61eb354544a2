import { beforeAll, describe, expect, test } from 'vitest';
import { MurmurError } from '../../src/core/index.js';
import {
  Keyring,
  SEAL_OVERHEAD,
  UNSEALED_OVERHEAD,
  createKeyring,
  loadSodium,
  parseKeyText,
  ringKeyId,
  sealWithNonce,
  type OpenErrorCode,
  type OpenResult,
  type RingKey,
  type Sodium,
} from '../../src/crypto/index.js';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await loadSodium();
});

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ringKey = (name: string, revision: string, fill: number): RingKey => ({
  name,
  revision,
  key: new Uint8Array(32).fill(fill),
});

const FOO = ringKey('foo', '20160504220722', 1);
const FOO_NEXT = ringKey('foo', '20170101000000', 2);
const BAR = ringKey('bar', '20160504220722', 3);

function errorCode(result: OpenResult): OpenErrorCode | 'ok' {
  return result.ok ? 'ok' : result.error.code;
}

describe('sealing and opening', () => {
  test('a sealed payload opens to the same bytes, 46 bytes longer on the wire', () => {
    const ring = new Keyring([FOO]);
    const plain = text('ping from member a');
    const sealed = ring.seal(plain);
    expect(sealed).toHaveLength(plain.length + SEAL_OVERHEAD);
    expect(SEAL_OVERHEAD).toBe(46);
    expect([sealed[0], sealed[1]]).toEqual([0x4d, 0x01]);
    expect(ring.open(sealed)).toEqual({ ok: true, value: plain });
  });

  test('an empty payload seals and opens', () => {
    const ring = new Keyring([FOO]);
    expect(ring.open(ring.seal(new Uint8Array(0)))).toEqual({ ok: true, value: new Uint8Array(0) });
  });

  test('every seal draws a fresh nonce', () => {
    const ring = new Keyring([FOO]);
    const a = ring.seal(text('same'));
    const b = ring.seal(text('same'));
    expect(hex(a.subarray(6, 30))).not.toBe(hex(b.subarray(6, 30)));
  });

  test('a ring sealed with a key the receiver does not hold fails with unknown-key', () => {
    const sealed = new Keyring([FOO]).seal(text('hello'));
    const result = new Keyring([BAR]).open(sealed);
    expect(errorCode(result)).toBe('unknown-key');
    expect(result.ok ? '' : result.error.message).toContain(hex(ringKeyId(FOO.key)));
  });

  test('any flipped byte after the key id fails with bad-mac', () => {
    const ring = new Keyring([FOO]);
    const sealed = ring.seal(text('a rumor worth protecting'));
    for (let i = 6; i < sealed.length; i++) {
      const damaged = sealed.slice();
      damaged[i]! ^= 0x01;
      expect(errorCode(ring.open(damaged)), `byte ${i}`).toBe('bad-mac');
    }
  });

  test('every truncation gives an error and never throws', () => {
    const keyed = new Keyring([FOO]);
    const unkeyed = new Keyring([]);
    const sealed = keyed.seal(text('hello'));
    for (let n = 0; n < sealed.length; n++) {
      const result = keyed.open(sealed.subarray(0, n));
      expect(result.ok, `length ${n}`).toBe(false);
      expect(['truncated', 'bad-mac']).toContain(errorCode(result));
      expect(errorCode(unkeyed.open(sealed.subarray(0, n))), `length ${n}`).toBe(n < 2 ? 'truncated' : 'sealed-without-key');
    }
    expect(errorCode(keyed.open(sealed.subarray(0, SEAL_OVERHEAD - 1)))).toBe('truncated');
    expect(errorCode(keyed.open(sealed.subarray(0, SEAL_OVERHEAD)))).toBe('bad-mac');
  });

  test('junk never throws: wrong magic, unknown version', () => {
    const ring = new Keyring([FOO]);
    expect(errorCode(ring.open(text('GET / HTTP/1.1')))).toBe('bad-magic');
    expect(errorCode(ring.open(new Uint8Array([0x4d, 0x02, 1, 2, 3])))).toBe('bad-version');
    for (let seed = 0; seed < 200; seed++) {
      const junk = sodium.randombytes_buf(seed % 80);
      expect(() => ring.open(junk)).not.toThrow();
      if (junk.length > 1) junk[0] = 0x4d;
      expect(() => ring.open(junk)).not.toThrow();
    }
  });
});

describe('keyed and unkeyed rings', () => {
  test('an unkeyed ring sends plaintext with a 2-byte header', () => {
    const ring = new Keyring([]);
    expect(ring.keyed).toBe(false);
    const sealed = ring.seal(text('hi'));
    expect(Array.from(sealed)).toEqual([0x4d, 0x00, 0x68, 0x69]);
    expect(UNSEALED_OVERHEAD).toBe(2);
    expect(ring.open(sealed)).toEqual({ ok: true, value: text('hi') });
  });

  test('an unkeyed ring rejects sealed bytes', () => {
    const sealed = new Keyring([FOO]).seal(text('secret'));
    expect(errorCode(new Keyring([]).open(sealed))).toBe('sealed-without-key');
  });

  test('a keyed ring rejects unsealed bytes', () => {
    const plain = new Keyring([]).seal(text('secret'));
    expect(errorCode(new Keyring([FOO]).open(plain))).toBe('not-sealed');
  });
});

describe('several keys: rotation', () => {
  test('a ring seals with its primary and opens with any key it holds', () => {
    const old = new Keyring([FOO]);
    const rotating = new Keyring([FOO, FOO_NEXT], 'foo-20170101000000');
    const rotated = new Keyring([FOO_NEXT]);
    expect(rotating.primary).toMatchObject({ name: 'foo', revision: '20170101000000' });
    expect(rotating.open(old.seal(text('from old'))).ok).toBe(true);
    expect(rotated.open(rotating.seal(text('from rotating'))).ok).toBe(true);
    expect(errorCode(old.open(rotating.seal(text('too new'))))).toBe('unknown-key');
  });

  test('the primary defaults to the first key, and a bare name picks its latest revision', () => {
    expect(new Keyring([FOO, FOO_NEXT, BAR]).primary?.revision).toBe('20160504220722');
    expect(new Keyring([FOO_NEXT, BAR, FOO], 'foo').primary?.revision).toBe('20170101000000');
    expect(new Keyring([FOO, BAR], 'bar').primary?.name).toBe('bar');
  });

  test('a primary that is not among the keys, or a key of the wrong length, is refused', () => {
    expect(() => new Keyring([FOO], 'baz')).toThrow(/primary ring key "baz" is not among/);
    expect(() => new Keyring([], 'foo')).toThrow(MurmurError);
    expect(() => new Keyring([{ name: 'x', revision: '20160504220722', key: new Uint8Array(31) }])).toThrow(
      /31 bytes; a ring key \(SYM-SEC-1\) is 32 bytes/,
    );
  });

  test('the keyring keeps its own copy of the key bytes', () => {
    const key = ringKey('foo', '20160504220722', 9);
    const ring = new Keyring([key]);
    const sealed = ring.seal(text('x'));
    key.key.fill(0);
    expect(ring.open(sealed).ok).toBe(true);
  });

  test('key info never includes the key bytes', () => {
    const ring = new Keyring([FOO, FOO]);
    expect(ring.keys).toEqual([{ name: 'foo', revision: '20160504220722', id: hex(ringKeyId(FOO.key)) }]);
  });

  test('createKeyring makes a keyring', async () => {
    const ring = await createKeyring([FOO]);
    expect(ring.keyed).toBe(true);
  });
});

describe('compatibility vectors', () => {
  test('the libsodium secretbox vector is reproduced through the envelope', () => {
    const key: RingKey = { name: 'vector', revision: '20160504220722', key: Uint8Array.from({ length: 32 }, (_, i) => i) };
    const nonce = Uint8Array.from({ length: 24 }, (_, i) => i);
    const plain = text('hello habitat ring key');
    const sealed = sealWithNonce(key, nonce, plain);
    expect(hex(sealed.subarray(30))).toBe('0cac428b0124e3ba9e19e4e6cf5040ef369a5423a8eaca71d955fb5f1caf38fe3cc266b4e95c');
    expect(hex(sealed.subarray(0, 2))).toBe('4d01');
    expect(sealed.subarray(2, 6)).toEqual(ringKeyId(key.key));
    expect(sealed.subarray(6, 30)).toEqual(nonce);
    expect(new Keyring([key]).open(sealed)).toEqual({ ok: true, value: plain });
  });

  test('envelopes open with libsodium and libsodium ciphertext opens here, both ways', () => {
    for (let n = 0; n < 50; n++) {
      const plain = sodium.randombytes_buf(n * 37);
      const sealed = new Keyring([FOO]).seal(plain);
      const opened = sodium.crypto_secretbox_open_easy(sealed.subarray(30), sealed.subarray(6, 30), FOO.key);
      expect(hex(opened)).toBe(hex(plain));
      const nonce = sodium.randombytes_buf(24);
      const boxed = sodium.crypto_secretbox_easy(plain, nonce, FOO.key);
      const envelope = new Uint8Array([0x4d, 0x01, ...ringKeyId(FOO.key), ...nonce, ...boxed]);
      const result = new Keyring([FOO]).open(envelope);
      expect(result.ok ? hex(result.value) : result.error.message).toBe(hex(plain));
      expect(hex(ringKeyId(plain))).toBe(hex(sodium.crypto_generichash(32, plain, null).slice(0, 4)));
    }
  });

  test('the key id is the first 4 bytes of BLAKE2b-256 (libsodium generichash vector)', () => {
    expect(hex(ringKeyId(text('hello habitat ring key')))).toBe('a700b1ab');
  });

  test("a Habitat ring key file opens Habitat's own ciphertext", () => {
    // Habitat's fixture key and the `decryption` test of components/core/src/crypto/keys/ring_key.rs.
    const habitatKey = parseKeyText(
      'SYM-SEC-1\nring-key-valid-20160504220722\n\nRCFaO84j41GmrzWddxMdsXpGdn3iuIy7Mw3xYrjPLsE=',
      { expect: 'SYM-SEC-1' },
    );
    const nonce = Uint8Array.from([
      175, 221, 237, 184, 68, 112, 40, 80, 11, 173, 215, 154, 129, 39, 146, 10, 51, 143, 150, 71, 146, 97, 70, 76,
    ]);
    const ciphertext = Uint8Array.from([
      161, 106, 124, 7, 144, 46, 9, 29, 90, 176, 207, 52, 61, 3, 209, 41, 144, 32, 72, 245, 159, 143, 192, 36, 5, 235,
      241, 98, 231, 21,
    ]);
    const envelope = new Uint8Array([0x4d, 0x01, ...ringKeyId(habitatKey.key), ...nonce, ...ciphertext]);
    const result = new Keyring([habitatKey]).open(envelope);
    expect(result.ok && new TextDecoder().decode(result.value)).toBe('This is a test');
    // And murmur's seal of the same plaintext under the same nonce is Habitat's ciphertext.
    expect(sealWithNonce(habitatKey, nonce, text('This is a test')).subarray(30)).toEqual(ciphertext);
  });
});
