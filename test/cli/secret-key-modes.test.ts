/**
 * The CLI does not use a secret key file that others may read (issue 5): `config apply --user`
 * and `file upload --user` (the user's box secret key) and `hab pkg build` (the origin's signing
 * secret key) stop with exit 2, one line naming the file, its mode and `chmod 600 FILE`, and send
 * or build nothing. In process, with a real key cache in a temp dir and a fake control client.
 */
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { CliDeps } from '../../src/cli/index.js';
import type { CtlApi } from '../../src/ctl/client.js';
import { formatKeyText, latestBoxSecretKey, latestOriginSecretKey } from '../../src/crypto/index.js';
import { runProgram } from './run-program.js';

const root = path.resolve(import.meta.dirname, '..', '..');

let work: string;
let keys: string;
beforeEach(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'murmur-cli-modes-'));
  keys = path.join(work, 'keys');
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function run(args: string[], opts: { stdin?: string; files?: Record<string, string> } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const sent: string[] = [];
  const reject = () => Promise.reject(new Error('not in this test'));
  const record = (what: string) => () => {
    sent.push(what);
    return Promise.reject(new Error('nothing should be sent'));
  };
  const deps: CliDeps = {
    simulate: reject,
    runSupervisor: reject,
    termSupervisor: reject,
    env: { HAB_CTL_SECRET: 's3cret', HAB_CACHE_KEY_PATH: keys, FS_ROOT: path.join(work, 'fs'), PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    readStdin: () => Promise.resolve(opts.stdin ?? ''),
    readFile: (p) => {
      const f = opts.files?.[p];
      return f === undefined ? Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })) : Promise.resolve(new TextEncoder().encode(f));
    },
    ctlClient: () => ({ applyConfig: record('applyConfig'), uploadFile: record('uploadFile') }) as unknown as CtlApi,
    stdout: (s) => void out.push(s),
    stderr: (s) => void err.push(s),
  };
  const code = await runProgram(deps, args);
  return { code, stdout: out.join(''), stderr: err.join(''), sent };
}

describe('--user with a user secret key that others may read', () => {
  test('config apply and file upload stop with exit 2 naming the file, its mode and chmod 600; nothing is sent', async () => {
    expect((await run(['user', 'key', 'generate', 'alice'])).code).toBe(0);
    expect((await run(['svc', 'key', 'generate', 'demo.prod', 'acme'])).code).toBe(0);
    const secret = await latestBoxSecretKey(keys, 'user', 'alice');
    await chmod(secret.path, 0o640);

    const apply = await run(['config', 'apply', 'demo.prod@acme', '2', '--user', 'alice'], { stdin: 'password = "hunter2"\n' });
    const upload = await run(['file', 'upload', 'demo.prod@acme', '1', 'tls.key', '--user', 'alice'], { files: { 'tls.key': 'hunter2\n' } });
    for (const r of [apply, upload]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `error: the secret encryption key ${secret.path} is readable or writable by other users (mode 640): a secret must be private to its owner; run: chmod 600 ${secret.path}\n`,
      );
      expect(r.stderr).not.toContain(formatKeyText(secret).split('\n')[3]);
      expect(r.stdout).toBe('');
      expect(r.sent).toEqual([]);
    }

    // The fix the message gives is all it takes.
    await chmod(secret.path, 0o600);
    const fixed = await run(['config', 'apply', 'demo.prod@acme', '2', '--user', 'alice'], { stdin: 'a = 1\n' });
    expect(fixed.sent).toEqual(['applyConfig']);
  });
});

describe('hab pkg build with an origin secret key that others may read', () => {
  test('stops with exit 2 naming the file, its mode and chmod 600, and builds nothing', async () => {
    expect((await run(['origin', 'key', 'generate', 'core'])).code).toBe(0);
    const secret = await latestOriginSecretKey(keys, 'core');
    await chmod(secret.path, 0o644);
    const output = path.join(work, 'results');
    const built = await run(['pkg', 'build', path.join(root, 'examples', 'demo'), '--output', output]);
    expect(built.code).toBe(2);
    expect(built.stderr).toBe(
      `error: the secret signing key ${secret.path} is readable or writable by other users (mode 644): a secret must be private to its owner; run: chmod 600 ${secret.path}\n`,
    );
    expect(built.stdout).toBe('');
    await expect(readdir(output)).rejects.toThrow();
    // Nor is it exported.
    const exported = await run(['origin', 'key', 'export', 'core', '--type', 'secret']);
    expect(exported.code).toBe(2);
    expect(exported.stdout).toBe('');
    expect(exported.stderr).toContain(`chmod 600 ${secret.path}`);
  });
});

describe('hab ring key install and export with a ring key that others may read', () => {
  test('stop with exit 2 naming the file, its mode and chmod 600; nothing is sent or printed', async () => {
    expect((await run(['ring', 'key', 'generate', 'prod'])).code).toBe(0);
    const [file] = (await readdir(keys)).filter((f) => f.endsWith('.sym.key'));
    const keyPath = path.join(keys, file as string);
    const revision = /^prod-(\d{14})\.sym\.key$/.exec(file as string)?.[1] as string;
    await chmod(keyPath, 0o604);
    for (const args of [['install', 'prod'], ['install', `prod-${revision}`], ['export', 'prod']]) {
      const r = await run(['ring', 'key', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(`${keyPath} is readable or writable by other users (mode 604)`);
      expect(r.stderr).toContain(`chmod 600 ${keyPath}`);
      expect(r.stdout).toBe('');
      expect(r.sent).toEqual([]);
    }
  });
});
