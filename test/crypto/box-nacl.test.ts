/**
 * Byte compatibility of group encryption with an independent libsodium binding: PyNaCl (Debian's
 * `python3-nacl`, a CPython binding of the system libsodium), in both directions.
 *
 * - Key files we write load in PyNaCl (raw key bytes from the base64 line), and its
 *   `PrivateKey(secret).public_key` is the public key we wrote.
 * - A BOX-1 we seal opens with `Box(PrivateKey(service_sk), PublicKey(user_pk)).decrypt(ciphertext, nonce)`.
 * - Key files and a BOX-1 that PyNaCl writes (`Box(user_sk, service_pk).encrypt`) import into our
 *   key cache and open with `openBox1`.
 *
 * `.ci/run` installs python3-nacl. Elsewhere, without it, these tests are skipped; under CI
 * (`CI` set) a missing PyNaCl fails them instead, so compatibility is never silently untested.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { encryptBox1, generateServiceKeyPair, generateUserKeyPair, importKey, openBox1, parseKeyText } from '../../src/crypto/index.js';

/** The first Python with PyNaCl: `python3` on PATH may be a pyenv shim without Debian's packages. */
const PYTHON = ['python3', '/usr/bin/python3'].find((bin) => spawnSync(bin, ['-c', 'import nacl.public'], { stdio: 'ignore' }).status === 0);
const MISSING = 'PyNaCl is not installed: apt-get install -y python3-nacl';

function python(script: string, input: unknown): unknown {
  if (PYTHON === undefined) throw new Error(MISSING);
  const run = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', timeout: 20_000 });
  if (run.status !== 0) throw new Error(`python failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as unknown;
}

/** Reads Habitat key files and BOX-1 text the plain way: split lines, base64-decode. */
const OPEN_WITH_NACL = `
import base64, json, sys
from nacl.public import Box, PrivateKey, PublicKey
req = json.load(sys.stdin)
def key_bytes(text):
    lines = text.split("\\n")
    assert lines[2] == "", "line 3 must be blank"
    return lines[0], lines[1], base64.b64decode(lines[3], validate=True)
out = {}
for name, text in req["keys"].items():
    header, named, raw = key_bytes(text)
    out[name] = {"header": header, "named": named, "len": len(raw)}
_, _, user_sk = key_bytes(req["keys"]["user_secret"])
_, _, user_pk = key_bytes(req["keys"]["user_public"])
_, _, svc_sk = key_bytes(req["keys"]["service_secret"])
_, _, svc_pk = key_bytes(req["keys"]["service_public"])
out["user_pair_matches"] = bytes(PrivateKey(user_sk).public_key) == user_pk
out["service_pair_matches"] = bytes(PrivateKey(svc_sk).public_key) == svc_pk
version, encryptor, decryptor, nonce, ciphertext = req["box"].split("\\n")
box = Box(PrivateKey(svc_sk), PublicKey(user_pk))
plain = box.decrypt(base64.b64decode(ciphertext, validate=True), base64.b64decode(nonce, validate=True))
out["box"] = {"version": version, "encryptor": encryptor, "decryptor": decryptor, "plaintext_hex": plain.hex()}
print(json.dumps(out))
`;

/** Makes a user and a service key pair with PyNaCl and seals a message, all in Habitat's text formats. */
const SEAL_WITH_NACL = `
import base64, json, sys
from nacl.public import Box, PrivateKey
from nacl.utils import random
req = json.load(sys.stdin)
b64 = lambda b: base64.b64encode(bytes(b)).decode()
def key_file(header, named, raw):
    return f"{header}\\n{named}\\n\\n{b64(raw)}"
user, svc = PrivateKey.generate(), PrivateKey.generate()
rev = req["revision"]
u, s = f"{req['user']}-{rev}", f"{req['service']}-{rev}"
nonce = random(Box.NONCE_SIZE)
sealed = Box(user, svc.public_key).encrypt(bytes.fromhex(req["plaintext_hex"]), nonce)
print(json.dumps({
    "user_secret": key_file("BOX-SEC-1", u, user), "user_public": key_file("BOX-PUB-1", u, user.public_key),
    "service_secret": key_file("BOX-SEC-1", s, svc), "service_public": key_file("BOX-PUB-1", s, svc.public_key),
    "box": "\\n".join(["BOX-1", u, s, b64(sealed.nonce), b64(sealed.ciphertext)]),
}))
`;

const PLAINTEXT = 'password = "correct horse battery staple"\n[tls]\nkey = "ünïcödé"\n';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'murmur-nacl-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(PYTHON === undefined && !process.env.CI)('group encryption against PyNaCl (python3-nacl)', () => {
  test('PyNaCl is installed', () => {
    expect(PYTHON, MISSING).toBeDefined();
  });

  test('our key files load in PyNaCl and our BOX-1 opens with its Box', async () => {
    const user = await generateUserKeyPair(dir, 'alice', new Date('2024-01-01T12:00:00Z'));
    const service = await generateServiceKeyPair(dir, 'demo.prod', 'acme', new Date('2024-01-01T12:00:00Z'));
    const box = await encryptBox1({ userSecret: user.secret, servicePublic: service.public }, new TextEncoder().encode(PLAINTEXT));
    const keys = {
      user_secret: await readFile(user.secret.path, 'utf8'),
      user_public: await readFile(user.public.path, 'utf8'),
      service_secret: await readFile(service.secret.path, 'utf8'),
      service_public: await readFile(service.public.path, 'utf8'),
    };
    const out = python(OPEN_WITH_NACL, { keys, box }) as Record<string, unknown>;
    expect(out).toMatchObject({
      user_secret: { header: 'BOX-SEC-1', named: 'alice-20240101120000', len: 32 },
      user_public: { header: 'BOX-PUB-1', named: 'alice-20240101120000', len: 32 },
      service_secret: { header: 'BOX-SEC-1', named: 'demo.prod@acme-20240101120000', len: 32 },
      service_public: { header: 'BOX-PUB-1', named: 'demo.prod@acme-20240101120000', len: 32 },
      user_pair_matches: true,
      service_pair_matches: true,
      box: { version: 'BOX-1', encryptor: 'alice-20240101120000', decryptor: 'demo.prod@acme-20240101120000', plaintext_hex: Buffer.from(PLAINTEXT).toString('hex') },
    });
  });

  test("PyNaCl's key files import into our key cache and its BOX-1 opens with openBox1", async () => {
    const made = python(SEAL_WITH_NACL, { user: 'ruby-rhod', service: 'demo.prod@acme', revision: '20200813204159', plaintext_hex: Buffer.from(PLAINTEXT).toString('hex') }) as Record<string, string>;
    // Only what a member holds: the user's public key and the service's secret key.
    for (const [name, header] of [['user_public', 'BOX-PUB-1'], ['service_secret', 'BOX-SEC-1']] as const) {
      const imported = await importKey(dir, made[name] ?? '', name, header);
      expect(imported).toMatchObject({ header, created: true });
    }
    expect(parseKeyText(made.user_secret ?? '', { expect: 'BOX-SEC-1' }).key).toHaveLength(32);
    const plaintext = await openBox1(made.box ?? '', dir);
    expect(new TextDecoder().decode(plaintext)).toBe(PLAINTEXT);
  });

  test('a BOX-1 sealed by PyNaCl under other keys of the same names does not open', async () => {
    const first = python(SEAL_WITH_NACL, { user: 'ruby-rhod', service: 'demo.prod@acme', revision: '20200813204159', plaintext_hex: '00' }) as Record<string, string>;
    const second = python(SEAL_WITH_NACL, { user: 'ruby-rhod', service: 'demo.prod@acme', revision: '20200813204159', plaintext_hex: '00' }) as Record<string, string>;
    await importKey(dir, first.user_public ?? '', 'user_public');
    await importKey(dir, first.service_secret ?? '', 'service_secret');
    await expect(openBox1(second.box ?? '', dir)).rejects.toMatchObject({ reason: 'not-authentic' });
  });
});
