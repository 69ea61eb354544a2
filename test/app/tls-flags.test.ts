/**
 * Bad TLS input, on both sides of the control gateway and on the HTTP gateway (issue 5: a clear
 * message naming the problem and what to do, a non-zero exit, nothing lost):
 *
 * - `hab sup run`'s flag pairs: `--key`/`--certs` (and `--ca-certs` alone), `--ctl-server-key`/
 *   `--ctl-server-certificate` (and `--ctl-client-ca-certificate` alone) (`parseSupRunOptions`);
 * - the files those flags name, read before anything listens (`readGatewayTls`, over
 *   `readTlsFiles`): missing, unreadable, a directory, empty, not PEM, key and certificate
 *   swapped, a key that does not match the certificate, a key others may read;
 * - the CLI's `HAB_CTL_SERVER_CA_CERTIFICATE`, `HAB_CTL_CLIENT_CERTIFICATE`, `HAB_CTL_CLIENT_KEY`,
 *   checked before it connects;
 * - and one real `hab sup run` (from the sources, through tsx) that exits 2 and starts nothing.
 *
 * Certificates are made with `openssl` in a temp dir (`test/net/certs.ts`). No message may hold a
 * file's contents.
 */
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readGatewayTls } from '../../src/app/sup-run.js';
import { buildProgram, exitCodeFor, type CliDeps } from '../../src/cli/index.js';
import { parseSupRunOptions, type GatewayTlsFiles, type RawSupRunOptions } from '../../src/cli/sup.js';
import { readTlsFiles } from '../../src/crypto/index.js';
import { makeTestCerts, type TestCerts } from '../net/certs.js';
import { rejection, thrown } from '../murmur-error.js';

const root = path.resolve(import.meta.dirname, '..', '..');

let certs: TestCerts;
let dir: string;
/** A file that is not PEM, a directory, an empty file, a group-readable copy of the server key. */
let junk: string;
let folder: string;
let empty: string;
let openKey: string;

beforeAll(async () => {
  certs = makeTestCerts();
  dir = await mkdtemp(path.join(os.tmpdir(), 'murmur-tls-flags-'));
  junk = path.join(dir, 'junk.pem');
  await writeFile(junk, 'this is not PEM at all\n', { mode: 0o600 });
  folder = path.join(dir, 'a-directory');
  await mkdir(folder);
  empty = path.join(dir, 'empty.pem');
  await writeFile(empty, '', { mode: 0o600 });
  openKey = path.join(dir, 'open.key');
  await copyFile(certs.serverKey, openKey);
  await chmod(openKey, 0o644);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(certs.dir, { recursive: true, force: true });
});

/** No message may quote a PEM file. */
function expectNoPem(message: string): void {
  expect(message).not.toMatch(/-----BEGIN|PRIVATE KEY|MII[A-Za-z0-9+/]{8}/);
  expect(message).not.toContain('this is not PEM');
}

describe('hab sup run: TLS flags come in pairs', () => {
  const parse = (raw: RawSupRunOptions) => parseSupRunOptions(raw, {});

  test('--key without --certs, and --certs without --key, are BAD_INPUT naming the flag, its file and the flag missing', () => {
    for (const raw of [{ key: certs.serverKey }, { key: certs.serverKey, caCerts: certs.caCert }]) {
      const err = thrown(() => parse(raw));
      expect(err.code).toBe('BAD_INPUT');
      expect(err.exitCode).toBe(2);
      expect(err.message).toBe(`--key ${certs.serverKey} was given without --certs: --key and --certs go together; give the private key and its certificate chain, or neither`);
    }
    expect(thrown(() => parse({ certs: certs.serverCert })).message).toBe(
      `--certs ${certs.serverCert} was given without --key: --key and --certs go together; give the private key and its certificate chain, or neither`,
    );
  });

  test('--ctl-server-key without --ctl-server-certificate, and the reverse, name the ctl flags', () => {
    expect(thrown(() => parse({ ctlServerKey: certs.serverKey })).message).toBe(
      `--ctl-server-key ${certs.serverKey} was given without --ctl-server-certificate: --ctl-server-key and --ctl-server-certificate go together; give the private key and its certificate chain, or neither`,
    );
    expect(thrown(() => parse({ ctlServerCertificate: certs.serverCert })).message).toMatch(/^--ctl-server-certificate \S+server\.crt was given without --ctl-server-key: /);
  });

  test('a client CA without TLS is refused rather than ignored', () => {
    expect(thrown(() => parse({ caCerts: certs.caCert })).message).toMatch(/^--ca-certs needs --key and --certs: client certificates are checked only over TLS/);
    expect(thrown(() => parse({ ctlClientCaCertificate: certs.caCert })).message).toMatch(/^--ctl-client-ca-certificate needs --ctl-server-key and --ctl-server-certificate/);
  });

  test('--key with --http-disable is refused; a full set is carried with its flags', () => {
    expect(thrown(() => parse({ key: certs.serverKey, certs: certs.serverCert, httpDisable: true })).message).toMatch(/--http-disable/);
    const request = parse({ key: certs.serverKey, certs: certs.serverCert, ctlServerKey: certs.serverKey, ctlServerCertificate: certs.serverCert, ctlClientCaCertificate: certs.caCert });
    expect(request.httpTls).toEqual({ key: { path: certs.serverKey, flag: '--key' }, cert: { path: certs.serverCert, flag: '--certs' } });
    expect(request.ctlTls?.ca).toEqual({ path: certs.caCert, flag: '--ctl-client-ca-certificate' });
  });
});

describe('hab sup run: the TLS files, checked before anything listens', () => {
  const http = (key: string, cert: string, ca?: string): GatewayTlsFiles => ({
    key: { path: key, flag: '--key' },
    cert: { path: cert, flag: '--certs' },
    ...(ca !== undefined ? { ca: { path: ca, flag: '--ca-certs' } } : {}),
  });
  const ctl = (key: string, cert: string, ca?: string): GatewayTlsFiles => ({
    key: { path: key, flag: '--ctl-server-key' },
    cert: { path: cert, flag: '--ctl-server-certificate' },
    ...(ca !== undefined ? { ca: { path: ca, flag: '--ctl-client-ca-certificate' } } : {}),
  });

  test('a good set reads: key, chain and CA', async () => {
    const tls = await readGatewayTls(http(certs.serverKey, certs.serverCert, certs.caCert));
    expect(tls.key).toEqual(certs.read(certs.serverKey));
    expect(tls.ca).toEqual(certs.read(certs.caCert));
  });

  test('a missing file is NOT_FOUND naming the flag and the file', async () => {
    const missing = path.join(dir, 'nowhere.pem');
    for (const [files, flag] of [
      [http(missing, certs.serverCert), '--key'],
      [http(certs.serverKey, missing), '--certs'],
      [http(certs.serverKey, certs.serverCert, missing), '--ca-certs'],
      [ctl(missing, certs.serverCert), '--ctl-server-key'],
      [ctl(certs.serverKey, missing), '--ctl-server-certificate'],
      [ctl(certs.serverKey, certs.serverCert, missing), '--ctl-client-ca-certificate'],
    ] as const) {
      const err = await rejection(readGatewayTls(files));
      expect(err.code).toBe('NOT_FOUND');
      expect(err.exitCode).toBe(3);
      expect(err.message).toBe(`${flag} ${missing}: no such file; give the path of a PEM file`);
    }
  });

  test('an unreadable file is IO naming the flag, the file and the reason', async () => {
    const eacces = (p: string) => Promise.reject(Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' }));
    const err = await rejection(readTlsFiles({ key: { path: '/secret/tls.key', flag: '--ctl-server-key' }, cert: { path: '/x.crt', flag: '--ctl-server-certificate' } }, { read: eacces }));
    expect(err.code).toBe('IO');
    expect(err.message).toBe('--ctl-server-key /secret/tls.key: cannot read it (EACCES); make it readable by the user this runs as');
    // A real unreadable file, where modes bind (not as root).
    if (process.getuid?.() !== 0) {
      const locked = path.join(dir, 'locked.crt');
      await copyFile(certs.serverCert, locked);
      await chmod(locked, 0o000);
      expect((await rejection(readGatewayTls(http(certs.serverKey, locked)))).message).toMatch(/^--certs .*locked\.crt: cannot read it \(EACCES\)/);
    }
    // A directory cannot be read as a file either.
    const dirErr = await rejection(readGatewayTls(http(certs.serverKey, folder)));
    expect(dirErr.code).toBe('BAD_INPUT');
    expect(dirErr.message).toBe(`--certs ${folder} is a directory: give the path of a PEM file`);
  });

  test('a file that is not PEM, or empty, or the wrong half, is BAD_INPUT naming the flag, the file and what it should hold', async () => {
    const cases: [GatewayTlsFiles, RegExp][] = [
      [http(junk, certs.serverCert), /^--key \S+junk\.pem is not a PEM private key \(PKCS#8, RSA or EC, unencrypted\): /],
      [http(certs.serverKey, junk), /^--certs \S+junk\.pem is not a PEM certificate chain \(leaf first\): /],
      [http(certs.serverKey, certs.serverCert, junk), /^--ca-certs \S+junk\.pem is not a PEM CA certificate: /],
      [ctl(empty, certs.serverCert), /^--ctl-server-key \S+empty\.pem is empty: give a PEM file$/],
      [ctl(certs.serverCert, certs.serverKey), /^--ctl-server-key \S+server\.crt is not a PEM private key .*\(it holds a certificate: are the key and the certificate swapped\?\)/],
      [http(certs.serverKey, certs.serverKey), /^--certs \S+server\.key is not a PEM certificate chain \(leaf first\) \(it holds a private key: are the key and the certificate swapped\?\)/],
    ];
    for (const [files, message] of cases) {
      const err = await rejection(readGatewayTls(files));
      expect(err.code).toBe('BAD_INPUT');
      expect(err.message).toMatch(message);
      expectNoPem(err.message);
    }
  });

  test('a key that does not match the certificate is BAD_INPUT naming both flags and files', async () => {
    const err = await rejection(readGatewayTls(ctl(certs.strangerKey, certs.serverCert)));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toBe(
      `--ctl-server-key ${certs.strangerKey} does not match the certificate in --ctl-server-certificate ${certs.serverCert}: give the private key that certificate was issued for`,
    );
    expect((await rejection(readGatewayTls(http(certs.clientKey, certs.serverCert)))).message).toMatch(/^--key \S+client\.key does not match the certificate in --certs \S+server\.crt/);
  });

  test('a private key others may read is refused with chmod 600, and its contents are never quoted', async () => {
    const err = await rejection(readGatewayTls(http(openKey, certs.serverCert)));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toBe(`--key ${openKey} is readable or writable by other users (mode 644): a secret must be private to its owner; run: chmod 600 ${openKey}`);
    expectNoPem(err.message);
  });
});

describe('the CLI: HAB_CTL_SERVER_CA_CERTIFICATE, HAB_CTL_CLIENT_CERTIFICATE, HAB_CTL_CLIENT_KEY', () => {
  async function svcStatus(env: Record<string, string>) {
    const err: string[] = [];
    let connected = 0;
    const reject = () => Promise.reject(new Error('not in this test'));
    const deps: CliDeps = {
      simulate: reject,
      runSupervisor: reject,
      termSupervisor: reject,
      env: { HAB_CTL_SECRET: 's3cret', ...env },
      readStdin: () => Promise.resolve(''),
      readFile: async (p) => new Uint8Array(await (await import('node:fs/promises')).readFile(p)),
      ctlClient: () => {
        connected++;
        return { serviceStatus: () => Promise.resolve({ services: [] }) } as unknown as ReturnType<CliDeps['ctlClient']>;
      },
      stdout: () => {},
      stderr: (s) => void err.push(s),
    };
    let code = 0;
    try {
      await buildProgram(deps, 'hab').parseAsync(['svc', 'status'], { from: 'user' });
    } catch (e) {
      code = exitCodeFor(e, deps.stderr);
    }
    return { code, stderr: err.join(''), connected };
  }

  test('a good CA and client pair connect', async () => {
    const r = await svcStatus({ HAB_CTL_SERVER_CA_CERTIFICATE: certs.caCert, HAB_CTL_CLIENT_CERTIFICATE: certs.clientCert, HAB_CTL_CLIENT_KEY: certs.clientKey });
    expect(r).toEqual({ code: 0, stderr: '', connected: 1 });
  });

  test('each bad file stops the command before it connects, naming the variable and the file', async () => {
    const missing = path.join(dir, 'missing.crt');
    const cases: [Record<string, string>, number, string | RegExp][] = [
      [{ HAB_CTL_SERVER_CA_CERTIFICATE: missing }, 3, `error: HAB_CTL_SERVER_CA_CERTIFICATE ${missing}: no such file; give the path of a PEM file\n`],
      [{ HAB_CTL_SERVER_CA_CERTIFICATE: junk }, 2, /^error: HAB_CTL_SERVER_CA_CERTIFICATE \S+junk\.pem is not a PEM CA certificate: /],
      [{ HAB_CTL_SERVER_CA_CERTIFICATE: folder }, 2, `error: HAB_CTL_SERVER_CA_CERTIFICATE ${folder} is a directory: give the path of a PEM file\n`],
      [
        { HAB_CTL_CLIENT_CERTIFICATE: certs.clientCert },
        2,
        `error: HAB_CTL_CLIENT_CERTIFICATE ${certs.clientCert} was given without HAB_CTL_CLIENT_KEY: HAB_CTL_CLIENT_CERTIFICATE and HAB_CTL_CLIENT_KEY go together; set both, or neither\n`,
      ],
      [{ HAB_CTL_CLIENT_KEY: certs.clientKey }, 2, /^error: HAB_CTL_CLIENT_KEY \S+client\.key was given without HAB_CTL_CLIENT_CERTIFICATE: /],
      [{ HAB_CTL_CLIENT_CERTIFICATE: certs.clientCert, HAB_CTL_CLIENT_KEY: missing }, 3, `error: HAB_CTL_CLIENT_KEY ${missing}: no such file; give the path of a PEM file\n`],
      [{ HAB_CTL_CLIENT_CERTIFICATE: junk, HAB_CTL_CLIENT_KEY: certs.clientKey }, 2, /^error: HAB_CTL_CLIENT_CERTIFICATE \S+junk\.pem is not a PEM certificate chain/],
      [{ HAB_CTL_CLIENT_CERTIFICATE: certs.clientCert, HAB_CTL_CLIENT_KEY: junk }, 2, /^error: HAB_CTL_CLIENT_KEY \S+junk\.pem is not a PEM private key/],
      [
        { HAB_CTL_CLIENT_CERTIFICATE: certs.clientCert, HAB_CTL_CLIENT_KEY: certs.strangerKey },
        2,
        `error: HAB_CTL_CLIENT_KEY ${certs.strangerKey} does not match the certificate in HAB_CTL_CLIENT_CERTIFICATE ${certs.clientCert}: give the private key that certificate was issued for\n`,
      ],
      [{ HAB_CTL_CLIENT_CERTIFICATE: certs.serverCert, HAB_CTL_CLIENT_KEY: openKey }, 2, `error: HAB_CTL_CLIENT_KEY ${openKey} is readable or writable by other users (mode 644): a secret must be private to its owner; run: chmod 600 ${openKey}\n`],
    ];
    for (const [env, code, message] of cases) {
      const r = await svcStatus(env);
      expect(r.code, JSON.stringify(env)).toBe(code);
      if (typeof message === 'string') expect(r.stderr).toBe(message);
      else expect(r.stderr).toMatch(message);
      expectNoPem(r.stderr);
      expect(r.connected).toBe(0);
    }
  });
});

describe('a real hab sup run with a bad TLS flag', () => {
  test('exits 2 with one message naming the flags and files, before it listens or writes anything', async () => {
    const fsRoot = await mkdtemp(path.join(os.tmpdir(), 'murmur-tls-sup-'));
    try {
      const args = ['--import', 'tsx', path.join(root, 'test', 'fuzz', 'sup-main.ts'), 'sup', 'run', '--listen-gossip', '127.0.0.1:0', '--listen-http', '127.0.0.1:0', '--listen-ctl', '127.0.0.1:0'];
      const tls = ['--ctl-server-key', certs.strangerKey, '--ctl-server-certificate', certs.serverCert];
      const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        const proc = spawn(process.execPath, [...args, ...tls], { cwd: root, env: { ...process.env, FS_ROOT: fsRoot, MURMUR_GOSSIP_PRESET: 'localTest' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let text = '';
        proc.stdout.on('data', (c: Buffer) => (text += c.toString()));
        proc.stderr.on('data', (c: Buffer) => (text += c.toString()));
        const limit = setTimeout(() => {
          proc.kill('SIGKILL');
          reject(new Error(`hab sup run did not exit: ${text}`));
        }, 50_000);
        proc.once('close', (c) => {
          clearTimeout(limit);
          resolve({ code: c, output: text });
        });
      });
      expect(code).toBe(2);
      expect(output).toBe(
        `error: --ctl-server-key ${certs.strangerKey} does not match the certificate in --ctl-server-certificate ${certs.serverCert}: give the private key that certificate was issued for\n`,
      );
      // Nothing started, nothing written: not even the control secret.
      await expect(stat(path.join(fsRoot, 'hab', 'sup', 'default', 'CTL_SECRET'))).rejects.toThrow();
    } finally {
      await rm(fsRoot, { recursive: true, force: true });
    }
  });
});
