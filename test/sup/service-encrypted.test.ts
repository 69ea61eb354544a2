/**
 * Encrypted configs and files as one service sees them (`hab config apply --user`,
 * `hab file upload --user`): a member holding the group's secret key and the user's public key
 * opens the BOX-1 payload and applies it like a plain one; a member without them keeps what it
 * has, says which key is missing in `lastError` and logs it once, and picks the payload up once
 * the key is imported. The plaintext never reaches a log line or the service rumor.
 *
 * The ring is an in-memory stand-in holding the group's config and files, as in service.test.ts.
 */
import { chmod, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { seededRandom, type LogFields, type Logger } from '../../src/core/index.js';
import { encryptBox1, formatKeyText, generateServiceKeyPair, generateUserKeyPair, importKey, type BoxKeyPair } from '../../src/crypto/index.js';
import { DEFAULT_SPEC } from '../../src/sup/index.js';
import { Service } from '../../src/sup/service.js';
import { createTemplateEngine } from '../../src/sup/template/index.js';
import { makePackage, TestRing } from './test-ring.js';
import { childEnv, recordingSink, removeTempDirs, tempDir, until } from './process/helpers.js';

const GROUP = 'svc.prod@acme';
const SECRET = 'correct-horse-battery-staple';

/** Every log line, message and fields, as text. */
function recordingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
  return { log, lines };
}

let operatorKeys: string;
let memberKeys: string;
let user: BoxKeyPair;
let service: BoxKeyPair;

beforeEach(async () => {
  operatorKeys = await tempDir('murmur-operator-keys-');
  memberKeys = await tempDir('murmur-member-keys-');
  user = await generateUserKeyPair(operatorKeys, 'alice', new Date('2024-01-01T12:00:00Z'));
  service = await generateServiceKeyPair(operatorKeys, 'svc.prod', 'acme', new Date('2024-01-01T12:00:00Z'));
});

const services: Service[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.close();
  await removeTempDirs();
});

/** Gives the member what it needs to read the group's secrets: the service secret key and the user public key. */
async function trustMember(): Promise<void> {
  await importKey(memberKeys, formatKeyText(service.secret), 'test', 'BOX-SEC-1');
  await importKey(memberKeys, formatKeyText(user.public), 'test', 'BOX-PUB-1');
}

function seal(plaintext: string): Promise<string> {
  return encryptBox1({ userSecret: user.secret, servicePublic: service.public }, new TextEncoder().encode(plaintext));
}

async function startService(): Promise<{ service: Service; ring: TestRing; svcPath: string; logs: string[] }> {
  const ring = new TestRing();
  const svcPath = await tempDir('murmur-svc-');
  const { log, lines } = recordingLogger();
  const s = new Service(
    { log, sink: recordingSink().sink, clock: { now: () => performance.now() }, wallNow: () => Date.now(), random: seededRandom(1), ring, engine: createTemplateEngine() },
    {
      spec: { ...DEFAULT_SPEC, ident: 'test/svc', group: 'prod', org: 'acme' },
      pkg: await makePackage({ defaultToml: 'port = 1\n', config: { 'app.conf': 'port={{cfg.port}}\n' }, hooks: { run: '#!/bin/sh\nexec sleep 1000\n' } }),
      svcPath,
      userToml: join(svcPath, 'no-user.toml'),
      env: childEnv,
      keyCacheDir: memberKeys,
      processTuning: { backoff: { minMs: 20, maxMs: 50, cooldownMs: 60_000 } },
    },
  );
  services.push(s);
  await s.update();
  await until(() => s.status().state === 'up', 'the service to be up');
  return { service: s, ring, svcPath, logs: lines };
}

async function applyEncrypted(ring: TestRing, version: number, toml: string): Promise<void> {
  ring.configs.set(GROUP, { kind: 'service-config', group: GROUP, version, encrypted: true, config: new TextEncoder().encode(await seal(toml)), from: '' });
}

async function uploadEncrypted(ring: TestRing, filename: string, version: number, body: string): Promise<void> {
  ring.fileList.push({ kind: 'service-file', group: GROUP, filename, version, encrypted: true, body: new TextEncoder().encode(await seal(body)), from: '' });
}

function appConf(svcPath: string): Promise<string> {
  return readFile(join(svcPath, 'config', 'app.conf'), 'utf8');
}

/** Nothing the service logged or told the ring holds the secret. */
function expectNoPlaintext(logs: string[], ring: TestRing, s: Service): void {
  expect(logs.join('\n')).not.toContain(SECRET);
  expect(JSON.stringify(ring.published.map((r) => new TextDecoder().decode(r.cfg)))).not.toContain(SECRET);
  expect(s.status().lastError ?? '').not.toContain(SECRET);
}

describe('a member holding the keys', () => {
  test('opens an encrypted config and applies it like a plain one', async () => {
    await trustMember();
    const { service: s, ring, svcPath, logs } = await startService();
    await applyEncrypted(ring, 2, `port = 2\npassword = "${SECRET}"\n`);
    await s.update();
    expect(await appConf(svcPath)).toBe('port=2\n');
    expect(s.status()).toMatchObject({ configVersion: 2, lastError: null });
    expect(s.config).toMatchObject({ password: SECRET });
    expectNoPlaintext(logs, ring, s);
  });

  test('writes an encrypted file decrypted and reports its version', async () => {
    await trustMember();
    const { service: s, ring, svcPath, logs } = await startService();
    await uploadEncrypted(ring, 'tls.key', 1, `${SECRET}\n`);
    await s.update();
    expect(await readFile(join(svcPath, 'files', 'tls.key'), 'utf8')).toBe(`${SECRET}\n`);
    expect(s.status().files).toEqual([{ filename: 'tls.key', version: 1 }]);
    expectNoPlaintext(logs, ring, s);
  });

  test('a payload that opens but is not TOML keeps the config, and the error quotes none of it', async () => {
    await trustMember();
    const { service: s, ring, svcPath, logs } = await startService();
    await applyEncrypted(ring, 2, `password = = "${SECRET}"\n`);
    await s.update();
    expect(await appConf(svcPath)).toBe('port=1\n');
    expect(s.status().lastError).toMatch(/^encrypted config version 2 opened, but it is not a valid config: line 1, column \d+; keeping the current config$/);
    expectNoPlaintext(logs, ring, s);
  });
});

describe('a member without the keys', () => {
  test('keeps its config, names the missing key in lastError, logs it once, and applies the config on the tick after the key arrives', async () => {
    await importKey(memberKeys, formatKeyText(user.public), 'test', 'BOX-PUB-1');
    const { service: s, ring, svcPath, logs } = await startService();
    await applyEncrypted(ring, 2, `port = 2\npassword = "${SECRET}"\n`);
    for (let i = 0; i < 3; i++) await s.update();
    expect(await appConf(svcPath)).toBe('port=1\n');
    expect(s.status().configVersion).toBe(0);
    const missing = join(memberKeys, 'svc.prod@acme-20240101120000.box.key');
    expect(s.status().lastError).toContain(`cannot decrypt encrypted config version 2: the secret key of service group svc.prod@acme revision 20240101120000 is not in the key cache (expected ${missing})`);
    expect(s.status().lastError).toMatch(/keeping the current config$/);
    expect(logs.filter((l) => l.includes('cannot decrypt'))).toHaveLength(1);
    expect(logs.find((l) => l.includes('cannot decrypt'))).toMatch(/^warn /);

    // The manager's tick retries a service that waits for a key; nothing else has to change.
    await importKey(memberKeys, formatKeyText(service.secret), 'test', 'BOX-SEC-1');
    await s.retryEncrypted();
    expect(await appConf(svcPath)).toBe('port=2\n');
    expect(s.status()).toMatchObject({ configVersion: 2, lastError: null });
    expectNoPlaintext(logs, ring, s);
  });

  test('without the user public key it names that key instead', async () => {
    await importKey(memberKeys, formatKeyText(service.secret), 'test', 'BOX-SEC-1');
    const { service: s, ring } = await startService();
    await applyEncrypted(ring, 2, 'port = 2\n');
    await s.update();
    expect(s.status().lastError).toContain(`the public key of user alice revision 20240101120000, who encrypted this payload, is not in the key cache (expected ${join(memberKeys, 'alice-20240101120000.pub')})`);
  });

  test('does not write an encrypted file, does not report it applied, and writes it once it can', async () => {
    const { service: s, ring, svcPath, logs } = await startService();
    await uploadEncrypted(ring, 'tls.key', 1, `${SECRET}\n`);
    await s.update();
    await expect(readFile(join(svcPath, 'files', 'tls.key'))).rejects.toThrow();
    expect(s.status().files).toEqual([]);
    expect(s.status().lastError).toMatch(/^cannot decrypt encrypted file tls\.key version 1: .*; the file is not written until it can be$/);
    await trustMember();
    await s.update();
    expect(await readFile(join(svcPath, 'files', 'tls.key'), 'utf8')).toBe(`${SECRET}\n`);
    expect(s.status()).toMatchObject({ files: [{ filename: 'tls.key', version: 1 }], lastError: null });
    expectNoPlaintext(logs, ring, s);
  });

  test('a payload that is not BOX-1 at all is an error, not a crash', async () => {
    const { service: s, ring } = await startService();
    ring.configs.set(GROUP, { kind: 'service-config', group: GROUP, version: 2, encrypted: true, config: new TextEncoder().encode('port = 2\n'), from: '' });
    await s.update();
    expect(s.status().lastError).toMatch(/^cannot decrypt encrypted config version 2: BOX-1 payload: line 1 must be "BOX-1"/);
    expect(s.status().state).toBe('up');
  });

  test('a key removed later does not undo a config already applied', async () => {
    await trustMember();
    const { service: s, ring, svcPath } = await startService();
    await applyEncrypted(ring, 2, 'port = 2\n');
    await s.update();
    await rm(join(memberKeys, 'svc.prod@acme-20240101120000.box.key'));
    await s.update();
    expect(await appConf(svcPath)).toBe('port=2\n');
    expect(s.status()).toMatchObject({ configVersion: 2, lastError: null });
  });
});

describe('a member whose service secret key others may read', () => {
  test('does not use it: lastError names the file, its mode and chmod 600, logged once; after chmod the tick applies the config', async () => {
    await trustMember();
    const keyFile = join(memberKeys, 'svc.prod@acme-20240101120000.box.key');
    await chmod(keyFile, 0o640);
    const { service: s, ring, svcPath, logs } = await startService();
    await applyEncrypted(ring, 2, `port = 2\npassword = "${SECRET}"\n`);
    for (let i = 0; i < 3; i++) await s.update();
    expect(await appConf(svcPath)).toBe('port=1\n');
    expect(s.status().configVersion).toBe(0);
    const lastError = s.status().lastError ?? '';
    expect(lastError).toContain(
      `cannot decrypt encrypted config version 2: cannot use key svc.prod@acme-20240101120000: the secret encryption key ${keyFile} is readable or writable by other users (mode 640)`,
    );
    expect(lastError).toContain(`chmod 600 ${keyFile}`);
    expect(lastError).toMatch(/keeping the current config$/);
    expect(lastError).not.toContain(formatKeyText(service.secret).split('\n')[3]);
    expect(logs.filter((l) => l.includes('cannot decrypt'))).toHaveLength(1);

    // As for a missing key, the manager's tick retries: chmod is all it takes.
    await chmod(keyFile, 0o600);
    await s.retryEncrypted();
    expect(await appConf(svcPath)).toBe('port=2\n');
    expect(s.status()).toMatchObject({ configVersion: 2, lastError: null });
    expectNoPlaintext(logs, ring, s);
  });

  test('an encrypted file is not written with it either', async () => {
    await trustMember();
    const keyFile = join(memberKeys, 'svc.prod@acme-20240101120000.box.key');
    await chmod(keyFile, 0o604);
    const { service: s, ring, svcPath } = await startService();
    await uploadEncrypted(ring, 'tls.key', 1, `${SECRET}\n`);
    await s.update();
    await expect(readFile(join(svcPath, 'files', 'tls.key'))).rejects.toThrow();
    expect(s.status().files).toEqual([]);
    expect(s.status().lastError).toContain(`(mode 604)`);
    expect(s.status().lastError).toContain(`chmod 600 ${keyFile}`);
  });
});
