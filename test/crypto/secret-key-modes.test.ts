/**
 * Secret key files that others may read are not used (issue 5), wherever murmur reads a box or
 * signing secret key to use it: `boxKey`/`latestBoxSecretKey` (sealing with a user key, opening
 * with a service key), `openBox1` (a `BoxOpenError` the Supervisor waits on, like a missing key),
 * `latestOriginSecretKey` (signing a build) and the exports of secret halves. Each refusal names
 * the file, its mode and `chmod 600 FILE`, and never the key. Public keys may be 0644.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { MurmurError } from '../../src/core/index.js';
import {
  BOX_SECRET_HEADER,
  BoxOpenError,
  ORIGIN_SECRET_HEADER,
  SecretFileModeError,
  boxKey,
  encryptBox1,
  exportBoxKey,
  exportOriginKey,
  formatKeyText,
  generateOriginKeyPair,
  generateServiceKeyPair,
  generateUserKeyPair,
  latestBoxPublicKey,
  latestBoxSecretKey,
  latestOriginPublicKey,
  latestOriginSecretKey,
  openBox1,
  readSecretKeyFile,
  type BoxKeyPair,
  type KeyFile,
} from '../../src/crypto/index.js';
import { rejection } from '../murmur-error.js';

const JAN_1 = new Date('2024-01-01T12:00:00Z');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'murmur-secret-modes-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The base64 line of a key file: what a message must never hold. */
function keyText(key: KeyFile): string {
  return formatKeyText(key).split('\n')[3] ?? '';
}

/** A refusal of `file` at `mode`: names it, its mode and the fix; quotes no key. */
function expectModeRefusal(err: MurmurError, file: string, mode: string, key: KeyFile): void {
  expect(err.code).toBe('BAD_INPUT');
  expect(err.exitCode).toBe(2);
  expect(err.message).toContain(file);
  expect(err.message).toContain(`(mode ${mode})`);
  expect(err.message).toContain(`chmod 600 ${file}`);
  expect(err.message).not.toContain(keyText(key));
}

describe('box secret keys (user and service)', () => {
  let user: BoxKeyPair;
  let service: BoxKeyPair;
  beforeEach(async () => {
    user = await generateUserKeyPair(dir, 'alice', JAN_1);
    service = await generateServiceKeyPair(dir, 'demo.prod', 'acme', JAN_1);
  });

  test('a user secret key readable by the group is not used to seal (config apply --user, file upload --user)', async () => {
    await chmod(user.secret.path, 0o640);
    const err = await rejection(latestBoxSecretKey(dir, 'user', 'alice'));
    expect(err).toBeInstanceOf(SecretFileModeError);
    expectModeRefusal(err, user.secret.path, '640', user.secret);
    expect(err.message).toMatch(/^the secret encryption key /);
    // Nor exported: `hab user key export alice --type secret`.
    expectModeRefusal(await rejection(exportBoxKey(dir, 'user', 'alice', 'secret')), user.secret.path, '640', user.secret);
  });

  test('any group or other bit refuses it; 0600 and 0400 are fine; public keys may be 0644', async () => {
    for (const mode of [0o604, 0o620, 0o660, 0o644, 0o610, 0o601]) {
      await chmod(service.secret.path, mode);
      expectModeRefusal(await rejection(latestBoxSecretKey(dir, 'service', 'demo.prod@acme')), service.secret.path, mode.toString(8), service.secret);
    }
    for (const mode of [0o600, 0o400]) {
      await chmod(service.secret.path, mode);
      expect((await latestBoxSecretKey(dir, 'service', 'demo.prod@acme')).key).toEqual(service.secret.key);
    }
    await chmod(service.public.path, 0o644);
    expect((await latestBoxPublicKey(dir, 'service', 'demo.prod@acme')).key).toEqual(service.public.key);
    expect((await boxKey(dir, service.public, 'BOX-PUB-1')).key).toEqual(service.public.key);
  });

  test('a Supervisor does not open a payload with a group-readable service secret key: unsafe-key, named like a missing one', async () => {
    const payload = await encryptBox1({ userSecret: user.secret, servicePublic: service.public }, new TextEncoder().encode('password = "hunter2"'));
    await chmod(service.secret.path, 0o640);
    const err = await rejection(openBox1(payload, dir));
    expect(err).toBeInstanceOf(BoxOpenError);
    expect((err as BoxOpenError).reason).toBe('unsafe-key');
    expect((err as BoxOpenError).key).toEqual({ nameRevision: 'demo.prod@acme-20240101120000', header: BOX_SECRET_HEADER, path: service.secret.path });
    expect(err.message).toMatch(/^cannot use key demo\.prod@acme-20240101120000: the secret encryption key /);
    expectModeRefusal(err, service.secret.path, '640', service.secret);
    expect(err.message).not.toContain('hunter2');
    // Once private it opens.
    await chmod(service.secret.path, 0o600);
    expect(new TextDecoder().decode(await openBox1(payload, dir))).toBe('password = "hunter2"');
  });

  test('readSecretKeyFile: a missing file is NOT_FOUND as before, not a mode error', async () => {
    const err = await rejection(readSecretKeyFile(path.join(dir, 'nobody-20240101120000.box.key'), BOX_SECRET_HEADER));
    expect(err.code).toBe('NOT_FOUND');
    expect(err).not.toBeInstanceOf(SecretFileModeError);
  });
});

describe('origin signing secret keys', () => {
  test('a world-readable origin secret key is not used to sign (hab pkg build) nor exported; the public one is fine', async () => {
    const pair = await generateOriginKeyPair(dir, 'core', JAN_1);
    await chmod(pair.secret.path, 0o644);
    const err = await rejection(latestOriginSecretKey(dir, 'core'));
    expect(err).toBeInstanceOf(SecretFileModeError);
    expectModeRefusal(err, pair.secret.path, '644', pair.secret);
    expect(err.message).toMatch(/^the secret signing key /);
    expectModeRefusal(await rejection(exportOriginKey(dir, 'core', 'secret')), pair.secret.path, '644', pair.secret);
    expect((await latestOriginPublicKey(dir, 'core')).key).toEqual(pair.public.key);
    await chmod(pair.secret.path, 0o600);
    expect((await readSecretKeyFile(pair.secret.path, ORIGIN_SECRET_HEADER)).key).toEqual(pair.secret.key);
  });
});
