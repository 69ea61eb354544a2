/**
 * `hab user key`, `hab svc key`, and `--user` on `config apply` and `file upload`, in process
 * with a real key cache in a temp dir (HAB_CACHE_KEY_PATH) and a fake control client: what gets
 * generated, what is sealed and sent, and what is refused before anything is sent.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { CliDeps } from '../../src/cli/index.js';
import type { CtlApi, PayloadOptions } from '../../src/ctl/client.js';
import { openBox1, parseBox1 } from '../../src/crypto/index.js';
import { runProgram } from './run-program.js';

let keys: string;
beforeEach(async () => {
  keys = await mkdtemp(path.join(os.tmpdir(), 'murmur-cli-keys-'));
});
afterEach(async () => {
  await rm(keys, { recursive: true, force: true });
});

type Sent = [string, string, number, string, PayloadOptions | undefined];

async function run(args: string[], opts: { stdin?: string; files?: Record<string, string>; env?: Record<string, string> } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const sent: Sent[] = [];
  const reject = () => Promise.reject(new Error('not in this test'));
  const deps: CliDeps = {
    simulate: reject,
    runSupervisor: reject,
    termSupervisor: reject,
    env: { HAB_CTL_SECRET: 's3cret', HAB_CACHE_KEY_PATH: keys, ...opts.env },
    readStdin: () => Promise.resolve(opts.stdin ?? ''),
    readFile: (p) => {
      const f = opts.files?.[p];
      return f === undefined ? Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })) : Promise.resolve(new TextEncoder().encode(f));
    },
    ctlClient: () => {
      const api: CtlApi = {
        applyConfig: (g, v, c, o) => {
          sent.push(['applyConfig', g, v, c, o]);
          return Promise.resolve({ service_group: g, version: v, bytes: c.length, member_id: 'a'.repeat(32) });
        },
        uploadFile: (g, v, f, b, o) => {
          sent.push(['uploadFile', g, v, new TextDecoder().decode(b), o]);
          return Promise.resolve({ service_group: g, version: v, filename: f, bytes: b.length, member_id: 'a'.repeat(32) });
        },
        depart: reject,
        status: reject,
        applyConfigWait: () => {
          throw new Error('not in this test');
        },
        configShow: reject,
        loadService: reject,
        unloadService: reject,
        startService: reject,
        stopService: reject,
        serviceStatus: reject,
      };
      return api;
    },
    stdout: (s) => void out.push(s),
    stderr: (s) => void err.push(s),
  };
  const code = await runProgram(deps, args);
  return { code, stdout: out.join(''), stderr: err.join(''), sent };
}

async function makeKeys(): Promise<void> {
  expect((await run(['user', 'key', 'generate', 'alice'])).code).toBe(0);
  expect((await run(['svc', 'key', 'generate', 'demo.prod', 'acme'])).code).toBe(0);
}

describe('hab user key and hab svc key', () => {
  test('generate writes Habitat-named pairs and says where', async () => {
    const user = await run(['user', 'key', 'generate', 'alice']);
    expect(user.stdout).toMatch(/^Generated user encryption key pair alice-\d{14}:\n {2}secret .*\/alice-\d{14}\.box\.key\n {2}public .*\/alice-\d{14}\.pub\n$/);
    const svc = await run(['svc', 'key', 'generate', 'demo.prod', 'acme']);
    expect(svc.stdout).toMatch(/^Generated service encryption key pair demo\.prod@acme-\d{14}:\n/);
    const names = await readdir(keys);
    expect(names.filter((n) => n.startsWith('demo.prod@acme-')).map((n) => n.replace(/\d{14}/, 'REV')).sort()).toEqual(['demo.prod@acme-REV.box.key', 'demo.prod@acme-REV.pub']);
  });

  test('svc key generate takes the org from SVC.GROUP@ORG or HABITAT_ORG, and wants one', async () => {
    expect((await run(['svc', 'key', 'generate', 'web.prod@acme'])).code).toBe(0);
    expect((await run(['svc', 'key', 'generate', 'api.prod'], { env: { HABITAT_ORG: 'acme' } })).stdout).toContain('api.prod@acme-');
    const none = await run(['svc', 'key', 'generate', 'db.prod']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('give the org');
  });

  test('export prints the public key by default and the secret one with --type secret; import reads it back', async () => {
    await makeKeys();
    const pub = await run(['user', 'key', 'export', 'alice']);
    expect(pub.stdout).toMatch(/^BOX-PUB-1\nalice-\d{14}\n\n[A-Za-z0-9+/]{43}=$/);
    const secret = await run(['svc', 'key', 'export', 'demo.prod', 'acme', '--type', 'secret']);
    expect(secret.stdout).toMatch(/^BOX-SEC-1\ndemo\.prod@acme-\d{14}\n\n/);
    const again = await run(['svc', 'key', 'import'], { stdin: secret.stdout });
    expect(again.stdout).toMatch(/^Already had secret service key demo\.prod@acme-\d{14} in /);
    const wrongKind = await run(['user', 'key', 'import'], { stdin: secret.stdout });
    expect(wrongKind.code).toBe(2);
    expect(wrongKind.stderr).toContain('import it with `hab svc key import`');
    const ringKey = await run(['svc', 'key', 'import'], { stdin: `SYM-SEC-1\nfoo-20240101000000\n\n${Buffer.alloc(32).toString('base64')}` });
    expect(ringKey.stderr).toContain('not a service encryption key');
  });
});

describe('--user: encrypt for the service group', () => {
  test('config apply --user checks the TOML, seals it for the group and sends it marked encrypted', async () => {
    await makeKeys();
    const r = await run(['config', 'apply', 'demo.prod@acme', '2', '--user', 'alice'], { stdin: 'password = "hunter2"\n' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Applied encrypted config version 2 to demo\.prod@acme \(sealed by alice-\d{14} for demo\.prod@acme-\d{14}\)\n$/);
    const [call] = r.sent;
    expect(call?.slice(0, 3)).toEqual(['applyConfig', 'demo.prod@acme', 2]);
    expect(call?.[4]).toEqual({ encrypted: true });
    const payload = call?.[3] ?? '';
    expect(payload).not.toContain('hunter2');
    expect(parseBox1(payload).decryptor.name).toBe('demo.prod@acme');
    // This key cache holds the service secret key and the user public key too: it opens.
    expect(new TextDecoder().decode(await openBox1(payload, keys))).toBe('password = "hunter2"\n');
  });

  test('file upload --user seals the file', async () => {
    await makeKeys();
    const r = await run(['file', 'upload', 'demo.prod@acme', '1', 'tls.key', '-u', 'alice'], { files: { 'tls.key': 'SECRET KEY\n' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Uploaded encrypted tls\.key version 1 to demo\.prod@acme \(sealed by /);
    expect(r.sent[0]?.[4]).toEqual({ encrypted: true });
    expect(new TextDecoder().decode(await openBox1(r.sent[0]?.[3] ?? '', keys))).toBe('SECRET KEY\n');
  });

  test('without --user nothing changes: plain text, not marked encrypted', async () => {
    const r = await run(['config', 'apply', 'demo.prod', '2'], { stdin: 'a = 1\n' });
    expect(r.sent).toEqual([['applyConfig', 'demo.prod', 2, 'a = 1\n', { encrypted: false }]]);
    expect(r.stdout).toBe('Applied config version 2 to demo.prod\n');
  });

  test('refusals name what is missing, and nothing is sent', async () => {
    const noOrg = await run(['config', 'apply', 'demo.prod', '2', '--user', 'alice'], { stdin: 'a = 1\n' });
    expect(noOrg.code).toBe(2);
    expect(noOrg.stderr).toContain('name the group as SVC.GROUP@ORG (e.g. demo.prod@acme)');
    const noUserKey = await run(['config', 'apply', 'demo.prod@acme', '2', '--user', 'alice'], { stdin: 'a = 1\n' });
    expect(noUserKey.code).toBe(3);
    expect(noUserKey.stderr).toContain('no secret encryption key for user "alice"');
    expect(noUserKey.stderr).toContain('`hab user key generate alice`');
    expect((await run(['user', 'key', 'generate', 'alice'])).code).toBe(0);
    const noServiceKey = await run(['config', 'apply', 'demo.prod@acme', '2', '--user', 'alice'], { stdin: 'a = 1\n' });
    expect(noServiceKey.code).toBe(3);
    expect(noServiceKey.stderr).toContain('no public encryption key for service group demo.prod@acme');
    expect(noServiceKey.stderr).toContain('`hab svc key generate demo.prod acme`');
    const badToml = await run(['config', 'apply', 'demo.prod@acme', '2', '--user', 'alice'], { stdin: 'a = = 1\n' });
    expect(badToml.code).toBe(2);
    expect(badToml.stderr).toMatch(/is not valid TOML: line 1, column \d+/);
    for (const r of [noOrg, noUserKey, noServiceKey, badToml]) expect(r.sent).toEqual([]);
    expect(await readFile(path.join(keys, (await readdir(keys))[0] ?? ''), 'utf8')).toMatch(/^BOX-/);
  });
});
