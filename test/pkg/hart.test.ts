/** The .hart header, byte by byte, and its signature over the BLAKE2b hash of the payload. */
import { describe, expect, test } from 'vitest';
import { MurmurError } from '../../src/core/index.js';
import { loadSodium, type KeyFile } from '../../src/crypto/index.js';
import { blake2b256Hex, encodeHart, readHart, signHart, verifyHart } from '../../src/pkg/index.js';

const PAYLOAD = new Uint8Array(Buffer.from('\xfd7zXZ\0 not really xz, but any bytes will do', 'latin1'));

async function keyPair(revision = '20240101120000'): Promise<{ secret: KeyFile<'SIG-SEC-1'>; publicKey: Uint8Array }> {
  const sodium = await loadSodium();
  const pair = sodium.crypto_sign_keypair();
  return { secret: { header: 'SIG-SEC-1', name: 'core', revision, key: pair.privateKey }, publicKey: pair.publicKey };
}

function header(lines: string[], payload = 'xz'): Uint8Array {
  return new Uint8Array(Buffer.from(`${lines.join('\n')}\n${payload}`, 'latin1'));
}

function readError(bytes: Uint8Array): MurmurError {
  try {
    readHart(bytes, 'x.hart');
  } catch (err) {
    expect(err).toBeInstanceOf(MurmurError);
    return err as MurmurError;
  }
  throw new Error('readHart accepted junk');
}

const SIG = Buffer.alloc(128, 7).toString('base64');

describe('the .hart header', () => {
  test('a signed .hart reads back: key, hash type, combined signed message, payload', async () => {
    const { secret } = await keyPair();
    const bytes = await signHart(PAYLOAD, secret);
    const text = Buffer.from(bytes).toString('latin1');
    expect(text.startsWith('HART-1\ncore-20240101120000\nBLAKE2b\n')).toBe(true);
    const hart = readHart(bytes);
    expect(hart.key).toEqual({ name: 'core', revision: '20240101120000' });
    expect(hart.hashType).toBe('BLAKE2b');
    // crypto_sign's combined form: 64-byte signature, then the 64-character hex hash.
    expect(hart.signedMessage.length).toBe(128);
    expect(Buffer.from(hart.signedMessage.subarray(64)).toString()).toBe(await blake2b256Hex(PAYLOAD));
    expect(Buffer.from(hart.payload).equals(Buffer.from(PAYLOAD))).toBe(true);
    expect(Buffer.from(encodeHart(hart)).equals(Buffer.from(bytes))).toBe(true);
  });

  test.each([
    ['empty', new Uint8Array(0), 'does not start with "HART-1"'],
    ['another format', header(['HART-2', 'core-20240101120000', 'BLAKE2b', SIG, '']), 'line 1 is "HART-2"'],
    ['gzip junk', new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 10, 0]), 'line 1 is "??'],
    ['truncated after line 2', header(['HART-1', 'core-20240101120000'], ''), 'the header is truncated (2 of its 5 lines)'],
    ['no newline at all', new Uint8Array(Buffer.from('HART-1')), 'the header is truncated (0 of its 5 lines)'],
    ['a bad key name', header(['HART-1', 'core', 'BLAKE2b', SIG, '']), 'is not <name>-<revision>'],
    ['an unknown hash type', header(['HART-1', 'core-20240101120000', 'SHA256', SIG, '']), 'unknown hash type "SHA256"'],
    ['bad base64', header(['HART-1', 'core-20240101120000', 'BLAKE2b', 'not base64!', '']), 'is not valid base64'],
    ['a signature too short', header(['HART-1', 'core-20240101120000', 'BLAKE2b', Buffer.alloc(64).toString('base64'), '']), 'too short'],
    ['a missing blank line', header(['HART-1', 'core-20240101120000', 'BLAKE2b', SIG, 'x']), 'line 5 must be blank'],
    ['no payload', header(['HART-1', 'core-20240101120000', 'BLAKE2b', SIG, ''], ''), 'no archive after the header'],
  ])('%s is BAD_INPUT', (_name, bytes, problem) => {
    const err = readError(bytes);
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain('x.hart is not a valid .hart');
    expect(err.message).toContain(problem);
  });

  test('random junk of every length is only ever BAD_INPUT', () => {
    for (let length = 0; length < 300; length += 7) {
      const junk = new Uint8Array(length).map((_, i) => (i * 37 + length) % 256);
      expect(readError(junk).code).toBe('BAD_INPUT');
    }
  });
});

describe('verifying a .hart', () => {
  test('the right key verifies and gives the payload hash', async () => {
    const { secret, publicKey } = await keyPair();
    const hart = readHart(await signHart(PAYLOAD, secret));
    expect(await verifyHart(hart, publicKey)).toBe(await blake2b256Hex(PAYLOAD));
  });

  test('another key is refused', async () => {
    const { secret } = await keyPair();
    const other = await keyPair();
    const err = await verifyHart(readHart(await signHart(PAYLOAD, secret)), other.publicKey).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MurmurError);
    expect((err as MurmurError).message).toContain('signature does not verify with the public key core-20240101120000');
  });

  test('a flipped byte in the payload or in the signature is refused', async () => {
    const { secret, publicKey } = await keyPair();
    const bytes = await signHart(PAYLOAD, secret);
    const payloadFlipped = bytes.slice();
    payloadFlipped[payloadFlipped.length - 3]! ^= 0x01;
    const err = await verifyHart(readHart(payloadFlipped), publicKey).catch((e: unknown) => e);
    expect((err as MurmurError).code).toBe('BAD_INPUT');
    expect((err as MurmurError).message).toContain('does not match its signature');

    const hart = readHart(bytes);
    const signedMessage = hart.signedMessage.slice();
    signedMessage[10]! ^= 0x80;
    const sigErr = await verifyHart({ ...hart, signedMessage }, publicKey).catch((e: unknown) => e);
    expect((sigErr as MurmurError).code).toBe('BAD_INPUT');
    expect((sigErr as MurmurError).message).toContain('signature does not verify');
  });
});
