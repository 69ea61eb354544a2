/**
 * Origin signing keys: Habitat's SIG-SEC-1 / SIG-PUB-1 files, written, found and used through
 * libsodium exactly as Habitat (sodiumoxide) uses them.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  exportOriginKey,
  generateOriginKeyPair,
  importKey,
  latestOriginSecretKey,
  loadSodium,
  originPublicKey,
  parseKeyText,
} from '../../src/crypto/index.js';
import { rejection, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
const JAN_1 = new Date('2024-01-01T12:00:00Z');
const later = (seconds: number): Date => new Date(JAN_1.getTime() + seconds * 1000);

beforeEach(async () => {
  const temp = await tempDir('murmur-origin-keys-');
  dir = path.join(temp.dir, 'keys');
  cleanup = temp.cleanup;
});
afterEach(async () => cleanup());

// RFC 8032, section 7.1, TEST 1: an Ed25519 seed, its public key, and the signature of "".
const RFC_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const RFC_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const RFC_SIGNATURE =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
const b64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');

describe('hab origin key generate', () => {
  test('writes <origin>-<rev>.sig.key (SIG-SEC-1, 0600) and <origin>-<rev>.pub (SIG-PUB-1) with one revision', async () => {
    const pair = await generateOriginKeyPair(dir, 'core', JAN_1);
    expect(pair.secret.path).toBe(path.join(dir, 'core-20240101120000.sig.key'));
    expect(pair.public.path).toBe(path.join(dir, 'core-20240101120000.pub'));
    expect((await stat(pair.secret.path)).mode & 0o777).toBe(0o600);
    expect((await stat(pair.public.path)).mode & 0o777).toBe(0o644);

    const secretText = await readFile(pair.secret.path, 'utf8');
    const publicText = await readFile(pair.public.path, 'utf8');
    expect(secretText).toMatch(/^SIG-SEC-1\ncore-20240101120000\n\n[A-Za-z0-9+/]{86}==$/);
    expect(publicText).toMatch(/^SIG-PUB-1\ncore-20240101120000\n\n[A-Za-z0-9+/]{43}=$/);
    // libsodium's Ed25519 secret key is seed ‖ public key, as sodiumoxide stores it.
    const secret = parseKeyText(secretText, { expect: 'SIG-SEC-1' });
    const pub = parseKeyText(publicText, { expect: 'SIG-PUB-1' });
    expect(Buffer.from(secret.key.subarray(32)).equals(Buffer.from(pub.key))).toBe(true);
  });

  test('signing with the secret file verifies with the public file (combined and detached)', async () => {
    const sodium = await loadSodium();
    const pair = await generateOriginKeyPair(dir, 'core', JAN_1);
    const secret = await latestOriginSecretKey(dir, 'core');
    const pub = await originPublicKey(dir, { name: 'core', revision: pair.public.revision });
    const message = new TextEncoder().encode('a1b2c3');
    const signed = sodium.crypto_sign(message, secret.key);
    expect(Buffer.from(sodium.crypto_sign_open(signed, pub.key)).toString()).toBe('a1b2c3');
    const other = await generateOriginKeyPair(dir, 'core', later(1));
    expect(() => sodium.crypto_sign_open(signed, other.public.key)).toThrow();
  });

  test('a key file holding RFC 8032 test 1 signs exactly as the RFC says', async () => {
    const sodium = await loadSodium();
    await importKey(dir, `SIG-SEC-1\ncore-20240101120000\n\n${b64(RFC_SEED + RFC_PUBLIC)}`);
    await importKey(dir, `SIG-PUB-1\ncore-20240101120000\n\n${b64(RFC_PUBLIC)}`);
    const secret = await latestOriginSecretKey(dir, 'core');
    const signature = sodium.crypto_sign_detached(new Uint8Array(0), secret.key);
    expect(sodium.to_hex(signature)).toBe(RFC_SIGNATURE);
    const pub = await originPublicKey(dir, { name: 'core', revision: '20240101120000' });
    expect(sodium.crypto_sign_verify_detached(signature, new Uint8Array(0), pub.key)).toBe(true);
  });

  test('the same second twice is a CONFLICT; a bad origin name is BAD_INPUT', async () => {
    await generateOriginKeyPair(dir, 'core', JAN_1);
    expect((await rejection(generateOriginKeyPair(dir, 'core', JAN_1))).code).toBe('CONFLICT');
    const err = await rejection(generateOriginKeyPair(dir, 'Core!', JAN_1));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain('origin name "Core!" is not valid');
  });
});

describe('finding origin keys', () => {
  test('the latest secret revision signs', async () => {
    await generateOriginKeyPair(dir, 'core', JAN_1);
    await generateOriginKeyPair(dir, 'core', later(60));
    await generateOriginKeyPair(dir, 'acme', later(120));
    expect((await latestOriginSecretKey(dir, 'core')).revision).toBe('20240101120100');
  });

  test('no secret key: NOT_FOUND saying how to make one', async () => {
    const err = await rejection(latestOriginSecretKey(dir, 'core'));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('hab origin key generate core');
  });

  test('a public key is found by exact name-revision only', async () => {
    await generateOriginKeyPair(dir, 'core', JAN_1);
    const err = await rejection(originPublicKey(dir, { name: 'core', revision: '20240101120001' }));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('core-20240101120001');
    expect(err.message).toContain('hab origin key import');
  });

  test('export prints the latest public (default) or secret key text, which imports elsewhere', async () => {
    const pair = await generateOriginKeyPair(dir, 'core', JAN_1);
    const pub = await exportOriginKey(dir, 'core', 'public');
    expect(pub).toBe(await readFile(pair.public.path, 'utf8'));
    const secret = await exportOriginKey(dir, 'core', 'secret');
    const other = path.join(dir, '..', 'other-keys');
    expect((await importKey(other, secret)).header).toBe('SIG-SEC-1');
    expect((await latestOriginSecretKey(other, 'core')).key).toEqual(pair.secret.key);
  });
});
