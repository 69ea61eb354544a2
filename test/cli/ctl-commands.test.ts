/**
 * `config apply`, `file upload`, `sup depart` and `sup secret generate` in process, with a fake
 * control client: what is checked before anything is sent, where the secret and the address come
 * from, and what is printed.
 */
import { describe, expect, test } from 'vitest';
import type { CliDeps } from '../../src/cli/index.js';
import { MurmurError } from '../../src/core/index.js';
import type { CtlApi } from '../../src/ctl/client.js';
import { runProgram } from './run-program.js';

interface Sent {
  address: string;
  secret: string;
  call: [string, ...unknown[]];
}

function enoent(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
}

async function run(args: string[], opts: { env?: Record<string, string>; files?: Record<string, string | Uint8Array>; stdin?: string; fail?: MurmurError } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const sent: Sent[] = [];
  const files = opts.files ?? {};
  const deps: CliDeps = {
    simulate: () => Promise.reject(new Error('not in this test')),
    runSupervisor: () => Promise.reject(new Error('not in this test')),
    termSupervisor: () => Promise.reject(new Error('not in this test')),
    env: opts.env ?? { HAB_CTL_SECRET: 's3cret' },
    readStdin: () => Promise.resolve(opts.stdin ?? ''),
    readFile: (path) => {
      const f = files[path];
      if (f === undefined) return Promise.reject(enoent(path));
      return Promise.resolve(typeof f === 'string' ? new TextEncoder().encode(f) : f);
    },
    ctlClient: ({ address, secret }) => {
      const record = <T>(call: Sent['call'], answer: T): Promise<T> => {
        sent.push({ address, secret, call });
        return opts.fail ? Promise.reject(opts.fail) : Promise.resolve(answer);
      };
      const api: CtlApi = {
        applyConfig: (g, v, c) => record(['applyConfig', g, v, c], { service_group: g, version: v, bytes: c.length, member_id: 'a'.repeat(32) }),
        uploadFile: (g, v, f, b) => record(['uploadFile', g, v, f, new TextDecoder().decode(b)], { service_group: g, version: v, filename: f, bytes: b.length, member_id: 'a'.repeat(32) }),
        depart: (m) => record(['depart', m], { member_id: m, already_departed: false }),
        status: () => Promise.reject(new Error('not in this test')),
        applyConfigWait: () => {
          throw new Error('not in this test');
        },
        configShow: () => Promise.reject(new Error('not in this test')),
        loadService: () => Promise.reject(new Error('not in this test')),
        unloadService: () => Promise.reject(new Error('not in this test')),
        startService: () => Promise.reject(new Error('not in this test')),
        stopService: () => Promise.reject(new Error('not in this test')),
        serviceStatus: () => Promise.reject(new Error('not in this test')),
      };
      return api;
    },
    stdout: (s) => void out.push(s),
    stderr: (s) => void err.push(s),
  };
  const code = await runProgram(deps, args);
  return { code, stdout: out.join(''), stderr: err.join(''), sent };
}

describe('hab config apply', () => {
  test('reads standard input, sends to 127.0.0.1:9632 with HAB_CTL_SECRET, and says what it applied', async () => {
    const r = await run(['config', 'apply', 'redis.prod', '1'], { stdin: 'port = 6380\n' });
    expect(r.code).toBe(0);
    expect(r.sent).toEqual([{ address: '127.0.0.1:9632', secret: 's3cret', call: ['applyConfig', 'redis.prod', 1, 'port = 6380\n'] }]);
    expect(r.stdout).toBe('Applied config version 1 to redis.prod\n');
  });

  test('reads FILE, and -r names another Supervisor (port defaulting to 9632)', async () => {
    const r = await run(['config', 'apply', 'redis.prod', '7', 'cfg.toml', '-r', '10.0.0.5'], { files: { 'cfg.toml': 'a = 1' } });
    expect(r.sent[0]).toMatchObject({ address: '10.0.0.5:9632', call: ['applyConfig', 'redis.prod', 7, 'a = 1'] });
    const long = await run(['config', 'apply', 'redis.prod', '7', '-', '--remote-sup', '[::1]:9700'], { stdin: 'a = 1' });
    expect(long.sent[0]?.address).toBe('[::1]:9700');
  });

  test('without --remote-sup, HAB_LISTEN_CTL names the Supervisor', async () => {
    const r = await run(['config', 'apply', 'redis.prod', '3'], { stdin: 'a = 1', env: { HAB_CTL_SECRET: 'x', HAB_LISTEN_CTL: '127.0.0.9' } });
    expect(r.sent[0]?.address).toBe('127.0.0.9:9632');
  });

  test('bad TOML exits 2 naming line and column, and nothing is sent', async () => {
    const r = await run(['config', 'apply', 'redis.prod', '2'], { stdin: 'a = 1\nb = = 2\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: config from standard input is not valid TOML: line 2, column 5: /);
    expect(r.sent).toEqual([]);
  });

  test('a bad VERSION or service group exits 2 and sends nothing', async () => {
    for (const args of [['redis.prod', '0'], ['redis.prod', 'one'], ['redis.prod', '-3'], ['redis', '1']]) {
      const r = await run(['config', 'apply', ...args], { stdin: 'a = 1' });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.sent).toEqual([]);
    }
  });

  test('a missing FILE is named', async () => {
    const r = await run(['config', 'apply', 'redis.prod', '1', 'nope.toml']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('error: nope.toml: no such file\n');
  });

  test("the server's refusal is printed and sets the exit code", async () => {
    const r = await run(['config', 'apply', 'redis.prod', '1'], { stdin: 'a = 1', fail: new MurmurError('CONFLICT', 'redis.prod already has config version 1; apply a version above 1') });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe('error: redis.prod already has config version 1; apply a version above 1\n');
    expect(r.stdout).toBe('');
  });

  test('without HAB_CTL_SECRET the secret is read from $FS_ROOT/hab/sup/default/CTL_SECRET', async () => {
    const r = await run(['config', 'apply', 'redis.prod', '1'], { env: { FS_ROOT: '/tmp/s1' }, files: { '/tmp/s1/hab/sup/default/CTL_SECRET': 'from-file\n' }, stdin: 'a = 1' });
    expect(r.code).toBe(0);
    expect(r.sent[0]?.secret).toBe('from-file');
  });

  test('with neither, the error names both places and nothing is sent', async () => {
    const r = await run(['config', 'apply', 'redis.prod', '1'], { env: { FS_ROOT: '/tmp/s1' }, stdin: 'a = 1' });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('HAB_CTL_SECRET');
    expect(r.stderr).toContain('/tmp/s1/hab/sup/default/CTL_SECRET');
    expect(r.sent).toEqual([]);
  });
});

describe('hab file upload', () => {
  test('sends the base name and the bytes', async () => {
    const r = await run(['file', 'upload', 'redis.prod', '3', '/etc/app/tls.pem'], { files: { '/etc/app/tls.pem': 'PEM' } });
    expect(r.code).toBe(0);
    expect(r.sent[0]?.call).toEqual(['uploadFile', 'redis.prod', 3, 'tls.pem', 'PEM']);
    expect(r.stdout).toBe('Uploaded tls.pem version 3 to redis.prod\n');
  });

  test('a missing file is named; a file over the limit is refused with its size; nothing is sent', async () => {
    const missing = await run(['file', 'upload', 'redis.prod', '1', 'gone.txt']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe('error: gone.txt: no such file\n');
    const big = await run(['file', 'upload', 'redis.prod', '1', 'big.bin'], { files: { 'big.bin': new Uint8Array(512 * 1024 + 1) } });
    expect(big.code).toBe(6);
    expect(big.stderr).toBe('error: big.bin is 524289 bytes; the limit is 524288 bytes (512 KiB) per config or file\n');
    expect([...missing.sent, ...big.sent]).toEqual([]);
  });
});

describe('hab sup depart', () => {
  test('sends the member id', async () => {
    const id = 'b'.repeat(32);
    const r = await run(['sup', 'depart', id, '-r', '127.0.0.9:9000']);
    expect(r.code).toBe(0);
    expect(r.sent).toEqual([{ address: '127.0.0.9:9000', secret: 's3cret', call: ['depart', id] }]);
    expect(r.stdout).toBe(`Departed member ${id}\n`);
  });

  test('a malformed member id exits 2 and sends nothing', async () => {
    const r = await run(['sup', 'depart', 'B'.repeat(32)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/member id must be 32 lowercase hex characters/);
    expect(r.sent).toEqual([]);
  });
});

describe('hab sup secret generate', () => {
  test('prints base64 of 64 random bytes and a newline, new each time', async () => {
    const a = await run(['sup', 'secret', 'generate']);
    const b = await run(['sup', 'secret', 'generate']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^[A-Za-z0-9+/]{86}==\n$/);
    expect(Buffer.from(a.stdout.trim(), 'base64')).toHaveLength(64);
    expect(a.stdout).not.toBe(b.stdout);
  });
});
