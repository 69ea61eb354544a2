/**
 * Key parse errors never echo key text (issue 5: secrets never appear in logs or errors).
 * Malformed key texts that hold a recognisable secret — a wrong header, the key alone, a missing
 * name or blank line, the key where the name goes, bad or truncated base64, a key of the wrong
 * length, text after the key — go through every parser and importer: `parseKeyText`,
 * `importKey`, `hab user|svc|origin|ring key import`, `hab ring key install` (the file it reads,
 * and the control gateway route that takes the text, broken JSON included), `HAB_RING_KEY` and
 * `--ring` at `hab sup run`, and a key file a Supervisor reads to open a `BOX-1` payload. Each is
 * refused with a message naming the source and the problem, and holding no 16-character piece of
 * the secret.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { runSupervisor } from '../../src/app/sup-run.js';
import type { CliDeps } from '../../src/cli/index.js';
import { parseSupRunOptions } from '../../src/cli/sup.js';
import type { CtlApi } from '../../src/ctl/client.js';
import { seededRandom } from '../../src/core/index.js';
import {
  KEY_FORMATS,
  createKeyring,
  encryptBox1,
  formatKeyText,
  generateServiceKeyPair,
  generateUserKeyPair,
  importKey,
  isKeyHeader,
  openBox1,
  parseKeyText,
  type KeyHeader,
} from '../../src/crypto/index.js';
import { CtlGateway, type CtlSupervisor } from '../../src/ctl/index.js';
import { GossipCore, presets } from '../../src/gossip/index.js';
import { startHttpServer } from '../../src/net/index.js';
import { RingKeys } from '../../src/sup/ring-keys.js';
import { runProgram } from '../cli/run-program.js';
import { request } from '../http/serve.js';
import { rejection, thrown } from '../murmur-error.js';

/** Recognisable secrets: 32 bytes (ring and box keys) and 64 bytes (signing secret keys). */
const SECRET_32 = Buffer.from('murmur-test-secret-32-bytes-ABCD');
const SECRET_64 = Buffer.from('murmur-test-secret-64-bytes-of-a-signing-key-0123456789abcdefghi');
const B64_32 = SECRET_32.toString('base64');
const B64_64 = SECRET_64.toString('base64');
const NAME = 'foo-20240101000000';

/** Every 16-character piece of the secrets, as base64 and as the raw bytes read as text. */
const PIECES = (() => {
  const out = new Set<string>();
  for (const s of [B64_32, B64_64, SECRET_32.toString('latin1'), SECRET_64.toString('latin1')]) {
    for (let i = 0; i + 16 <= s.length; i++) out.add(s.slice(i, i + 16));
  }
  return [...out];
})();

function expectNoSecret(message: string, context: string): void {
  const leaked = PIECES.find((p) => message.includes(p));
  expect(leaked, `${context} leaked "${leaked}" in: ${message}`).toBeUndefined();
}

/** Malformed key texts holding a secret, for a key of `header`, each with what is wrong. */
function malformed(header: KeyHeader): [string, string][] {
  const b64 = KEY_FORMATS[header].keyBytes === 64 ? B64_64 : B64_32;
  const wrongLength = KEY_FORMATS[header].keyBytes === 64 ? B64_32 : B64_64;
  return [
    ['the key alone', b64],
    ['the key alone, twice', `${b64}\n${b64}`],
    ['an unknown header', `XYZ-SEC-9\n${NAME}\n\n${b64}`],
    ['the key on the header line', `${header} ${b64}\n${NAME}\n\n${b64}`],
    ['the key glued to the header', `${header}-${b64}\n${NAME}\n\n${b64}`],
    ['no name line', `${header}\n${b64}`],
    ['no name line, with the blank line', `${header}\n\n${b64}`],
    ['the key where the name goes', `${header}\n${b64}-20240101000000\n\n${b64}`],
    ['no blank line', `${header}\n${NAME}\n${b64}`],
    ['no blank line, CRLF', `${header}\r\n${NAME}\r\n${b64}\r\n`],
    ['the key on line 3 and again on line 4', `${header}\n${NAME}\n${b64}\n${b64}`],
    ['bad base64: a stray character', `${header}\n${NAME}\n\n${b64.slice(0, -1)}!`],
    ['bad base64: spaces inside', `${header}\n${NAME}\n\n${b64.slice(0, 20)} ${b64.slice(20)}`],
    ['bad base64: no padding', `${header}\n${NAME}\n\n${b64.replace(/=+$/, '')}`],
    ['truncated key', `${header}\n${NAME}\n\n${b64.slice(0, 24)}`],
    ['a key of the wrong length', `${header}\n${NAME}\n\n${wrongLength}`],
    ['text after the key', `${header}\n${NAME}\n\n${b64}\n${b64}`],
    ['text after the key, after a blank line', `${header}\n${NAME}\n\n${b64}\n\nsecret: ${b64}`],
  ];
}

const HEADERS = Object.keys(KEY_FORMATS).filter(isKeyHeader);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'murmur-no-echo-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseKeyText and importKey', () => {
  test('every malformed text, for every header and any expected header, is BAD_INPUT naming the source and no secret', async () => {
    for (const header of HEADERS) {
      for (const [what, text] of malformed(header)) {
        for (const expect_ of [undefined, header, 'SYM-SEC-1' as const]) {
          const err = thrown(() => parseKeyText(text, { source: 'pasted.key', ...(expect_ ? { expect: expect_ } : {}) }));
          expect(err.code, what).toBe('BAD_INPUT');
          expect(err.message, what).toMatch(/^pasted\.key: /);
          expectNoSecret(err.message, `${header}: ${what}`);
        }
        const imported = await rejection(importKey(dir, text, 'standard input'));
        expect(imported.message).toMatch(/^standard input: /);
        expectNoSecret(imported.message, `importKey ${header}: ${what}`);
      }
    }
  });

  test('messages still say what is wrong and where', () => {
    const [, , , , , noName, , keyAsName, noBlank, , , badB64, , , , wrongLength, trailing] = malformed('SYM-SEC-1').map(([, t]) => t);
    const msg = (text: string | undefined) => thrown(() => parseKeyText(text ?? '', { source: 'k' })).message;
    expect(msg(B64_32)).toMatch(/^k: line 1 is not a key header; expected one of SYM-SEC-1/);
    expect(msg(noName)).toMatch(/^k: line 2: it looks like base64 key text \(is the name line missing\?\) and is not <name>-<revision>/);
    expect(msg(keyAsName)).toMatch(/^k: line 2: key name may hold only/);
    expect(msg(noBlank)).toMatch(/^k: line 3 must be blank, but it holds text/);
    expect(msg(badB64)).toMatch(/^k: line 4 is not valid base64/);
    expect(msg(wrongLength)).toMatch(/^k: the key is 64 bytes, but a SYM-SEC-1 ring key is 32 bytes/);
    expect(msg(trailing)).toMatch(/^k: unexpected text after the key/);
  });
});

/** The CLI in process, with `stdin` as standard input. */
async function hab(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const sent: string[] = [];
  const reject = () => Promise.reject(new Error('not in this test'));
  const deps: CliDeps = {
    simulate: reject,
    runSupervisor: reject,
    termSupervisor: reject,
    env: { HAB_CTL_SECRET: 's3cret', HAB_CACHE_KEY_PATH: dir, ...opts.env },
    readStdin: () => Promise.resolve(opts.stdin ?? ''),
    readFile: () => Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })),
    ctlClient: () =>
      ({
        ringKeyInstall: (text: string) => {
          sent.push(text);
          return Promise.reject(new Error('nothing should be sent'));
        },
      }) as unknown as CtlApi,
    stdout: (s) => void out.push(s),
    stderr: (s) => void err.push(s),
  };
  const code = await runProgram(deps, args);
  return { code, stdout: out.join(''), stderr: err.join(''), sent };
}

describe('hab … key import', () => {
  const importers: [string[], KeyHeader[]][] = [
    [['user', 'key', 'import'], ['BOX-SEC-1', 'BOX-PUB-1']],
    [['svc', 'key', 'import'], ['BOX-SEC-1', 'BOX-PUB-1']],
    [['origin', 'key', 'import'], ['SIG-SEC-1', 'SIG-PUB-1']],
    [['ring', 'key', 'import'], ['SYM-SEC-1', 'BOX-SEC-1']],
  ];
  test('each importer refuses every malformed text with exit 2, naming standard input, echoing nothing', async () => {
    for (const [args, headers] of importers) {
      for (const header of headers) {
        for (const [what, text] of malformed(header)) {
          const r = await hab(args, { stdin: text });
          const context = `hab ${args.join(' ')} (${header}: ${what})`;
          expect(r.code, context).toBe(2);
          expect(r.stdout, context).toBe('');
          expect(r.stderr, context).toMatch(/^error: standard input: /);
          expectNoSecret(r.stderr, context);
        }
      }
    }
  });

  test('a well-formed key of the wrong kind is refused without echoing it either', async () => {
    const ring = `SYM-SEC-1\n${NAME}\n\n${B64_32}`;
    const box = `BOX-SEC-1\n${NAME}\n\n${B64_32}`;
    for (const [args, text] of [
      [['user', 'key', 'import'], ring],
      [['svc', 'key', 'import'], box],
      [['origin', 'key', 'import'], box],
      [['ring', 'key', 'import'], box],
    ] as const) {
      const r = await hab([...args], { stdin: text });
      expect(r.code).toBe(2);
      expectNoSecret(r.stderr, args.join(' '));
    }
  });
});

describe('key files read from the key cache', () => {
  test('hab ring key install NAME with a malformed key file names the file and sends nothing', async () => {
    for (const [what, text] of malformed('SYM-SEC-1')) {
      const file = path.join(dir, 'prod-20240101000000.sym.key');
      await writeFile(file, text, { mode: 0o600 });
      for (const name of ['prod', 'prod-20240101000000']) {
        const r = await hab(['ring', 'key', 'install', name]);
        expect(r.code, what).toBe(2);
        expect(r.stderr, what).toContain(`key file ${file}: `);
        expectNoSecret(r.stderr, `ring key install (${what})`);
        expect(r.sent).toEqual([]);
      }
      await rm(file);
    }
  });

  test('a malformed service secret key file makes openBox1 fail naming the file, not the key', async () => {
    const user = await generateUserKeyPair(dir, 'alice', new Date('2024-01-01T12:00:00Z'));
    const service = await generateServiceKeyPair(dir, 'demo.prod', 'acme', new Date('2024-01-01T12:00:00Z'));
    const payload = await encryptBox1({ userSecret: user.secret, servicePublic: service.public }, new TextEncoder().encode('a = 1'));
    for (const [what, text] of malformed('BOX-SEC-1')) {
      await writeFile(service.secret.path, text, { mode: 0o600 });
      const err = await rejection(openBox1(payload, dir));
      expect(err.message, what).toContain(`key file ${service.secret.path}: `);
      expectNoSecret(err.message, `openBox1 (${what})`);
      expect(err.message).not.toContain(formatKeyText(service.secret).split('\n')[3]);
    }
  });
});

describe('hab sup run with HAB_RING_KEY or --ring', () => {
  const listen = { listenGossip: '127.0.0.1:0', listenHttp: '127.0.0.1:0', listenCtl: '127.0.0.1:0' };

  test('a malformed HAB_RING_KEY stops it before anything listens, naming HAB_RING_KEY and no secret', async () => {
    for (const [what, text] of malformed('SYM-SEC-1')) {
      const env = { FS_ROOT: path.join(dir, 'fs'), HAB_CACHE_KEY_PATH: path.join(dir, 'keys'), HAB_RING_KEY: text };
      const lines: string[] = [];
      const err = await rejection(runSupervisor(parseSupRunOptions(listen, env), env, (l) => void lines.push(l)));
      expect(err.code, what).toBe('BAD_INPUT');
      expect(err.message, what).toMatch(/^HAB_RING_KEY: /);
      expectNoSecret(err.message, `HAB_RING_KEY (${what})`);
      expect(lines.filter((l) => /Starting/.test(l))).toEqual([]);
    }
  });

  test('a malformed ring key file for --ring names the file and no secret', async () => {
    const keys = path.join(dir, 'keys');
    await rm(keys, { recursive: true, force: true });
    const { mkdir } = await import('node:fs/promises');
    await mkdir(keys, { recursive: true });
    const file = path.join(keys, 'prod-20240101000000.sym.key');
    for (const [what, text] of malformed('SYM-SEC-1')) {
      await writeFile(file, text, { mode: 0o600 });
      const env = { FS_ROOT: path.join(dir, 'fs'), HAB_CACHE_KEY_PATH: keys };
      const err = await rejection(runSupervisor(parseSupRunOptions({ ...listen, ring: 'prod' }, env), env, () => {}));
      expect(err.message, what).toContain(`key file ${file}: `);
      expectNoSecret(err.message, `--ring (${what})`);
    }
  });
});

describe('the control gateway route POST /v1/ring/key/install', () => {
  const SECRET = 'ctl-secret';
  async function gateway(): Promise<CtlGateway> {
    const id = 'a'.repeat(32);
    const keyring = await createKeyring([{ name: 'prod', revision: '20240101000000', key: new Uint8Array(32).fill(7) }]);
    const core = new GossipCore({ random: seededRandom(1) }, { self: { id, incarnation: 0, address: '127.0.0.1', swimPort: 9638, gossipPort: 9638, persistent: false }, options: presets.lan });
    const ringKeys = new RingKeys({ keyring, ring: { id, core, publish: () => {} } });
    const supervisor = { id } as unknown as CtlSupervisor;
    return new CtlGateway({ supervisor, secret: SECRET, ringKeys, listen: startHttpServer });
  }
  const post = (gw: CtlGateway, body: string) =>
    request(gw.handle, '/v1/ring/key/install', { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body });

  test('malformed key_text is 400 naming key_text and no secret', async () => {
    const gw = await gateway();
    for (const header of HEADERS) {
      for (const [what, text] of malformed(header)) {
        const res = await post(gw, JSON.stringify({ key_text: text }));
        expect(res.status, what).toBe(400);
        const body = await res.text();
        expect(body, what).toContain('key_text: ');
        expectNoSecret(body, `install route (${header}: ${what})`);
      }
    }
  });

  test('a body that is not JSON is 400 without the text around the fault', async () => {
    const gw = await gateway();
    const text = `SYM-SEC-1\\n${NAME}\\n\\n${B64_32}`;
    for (const body of [`{"key_text": ${text}}`, `{"key_text": "${text}" ${B64_32}}`, `{"key_text": "${text}`, `{${B64_32}}`, `${B64_32}`, `{"key_text": "${text}", }`]) {
      const res = await post(gw, body);
      expect(res.status, body).toBe(400);
      const { error } = (await res.json()) as { error: { message: string } };
      // Only the position: V8's own message quotes the text around the fault.
      expect(error.message).toMatch(/^request body is not valid JSON( \(at character \d+\))?: send one JSON object$/);
    }
  });
});
