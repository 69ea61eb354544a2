/**
 * The gateways' hardening end to end, with real `hab sup run` processes and the real CLI: the
 * control gateway over TLS (the CLI trusts the CA named by HAB_CTL_SERVER_CA_CERTIFICATE, and
 * still sends the secret), the HTTP gateway over HTTPS, and the refusals before anything
 * listens: a CTL_SECRET others can read, a TLS key file that is not one.
 * Needs `npm run build` (bin/hab runs dist/).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeTestCerts, type TestCerts } from '../net/certs.js';
import { BIN, hab, newFsRoot, startSup, stopAll } from './supervisors.js';

afterAll(stopAll);

let certs: TestCerts;
beforeAll(() => {
  certs = makeTestCerts();
});

/** `hab sup run ARGS` expected to fail at start: its exit code and everything it printed. */
function supRunFails(fsRoot: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, 'sup', 'run', '--listen-gossip', '127.0.0.1:0', '--listen-http', '127.0.0.1:0', '--listen-ctl', '127.0.0.1:0', ...args], {
      env: { ...process.env, FS_ROOT: fsRoot, MURMUR_GOSSIP_PRESET: 'localTest' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const limit = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`hab sup run did not exit: ${output}`));
    }, 20_000);
    proc.once('close', (code) => {
      clearTimeout(limit);
      resolve({ code, output });
    });
  });
}

describe('control gateway over TLS', () => {
  test('hab talks to it with HAB_CTL_SERVER_CA_CERTIFICATE, and is refused without a client certificate when one is required', async () => {
    const sup = await startSup({
      host: '127.0.0.1',
      args: ['--ctl-server-certificate', certs.serverCert, '--ctl-server-key', certs.serverKey, '--ctl-client-ca-certificate', certs.caCert],
    });
    expect(sup.lines).toContain('hab-sup(MR): ctl-gateway uses TLS, client certificates required');
    const env = { FS_ROOT: sup.fsRoot, HAB_CTL_SECRET: '', HAB_CTL_SERVER_CA_CERTIFICATE: certs.caCert };
    const withCert = { ...env, HAB_CTL_CLIENT_CERTIFICATE: certs.clientCert, HAB_CTL_CLIENT_KEY: certs.clientKey };
    const ok = await hab(['svc', 'status', '--remote-sup', sup.ctl], { env: withCert });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const https = await hab(['svc', 'status', '--remote-sup', `https://${sup.ctl}`], { env: withCert });
    expect(https.code).toBe(0);
    // No client certificate: the handshake fails.
    const noCert = await hab(['svc', 'status', '--remote-sup', sup.ctl], { env });
    expect(noCert.code).not.toBe(0);
    expect(noCert.stderr).toMatch(/cannot reach the Supervisor/);
    // The right certificate but the wrong secret: the bearer secret still applies over TLS.
    const badSecret = await hab(['svc', 'status', '--remote-sup', sup.ctl], { env: { ...withCert, HAB_CTL_SECRET: 'wrong' } });
    expect(badSecret.code).toBe(5);
    // Plain HTTP to a TLS gateway gets nowhere.
    const plain = await hab(['svc', 'status', '--remote-sup', sup.ctl], { env: { FS_ROOT: sup.fsRoot, HAB_CTL_SECRET: '' } });
    expect(plain.code).not.toBe(0);
  });
});

describe('HTTP gateway over HTTPS', () => {
  test('--key and --certs serve the gateway over TLS', async () => {
    const sup = await startSup({ host: '127.0.0.1', args: ['--key', certs.serverKey, '--certs', certs.serverCert] });
    const status = await new Promise<number>((resolve, reject) => {
      const [host, port] = sup.http.split(':') as [string, string];
      const req = httpsRequest({ host, port: Number(port), path: '/services', ca: certs.read(certs.caCert), agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
  });
});

describe('refused before anything listens', () => {
  test('a CTL_SECRET that others can read: exit non-zero naming the file and chmod 600', async () => {
    const fsRoot = await newFsRoot();
    const file = join(fsRoot, 'hab', 'sup', 'default', 'CTL_SECRET');
    await mkdir(join(fsRoot, 'hab', 'sup', 'default'), { recursive: true });
    await writeFile(file, 'a-secret-that-leaked\n');
    await chmod(file, 0o644);
    const { code, output } = await supRunFails(fsRoot, []);
    expect(code).not.toBe(0);
    expect(output).toContain(file);
    expect(output).toContain(`chmod 600 ${file}`);
    expect(output).not.toContain('a-secret-that-leaked');
    expect(output).not.toMatch(/Starting (gossip-listener|http-gateway|ctl-gateway)/);
  });

  test('a --key that is not a key, or that others can read: exit non-zero naming the flag and the file', async () => {
    const fsRoot = await newFsRoot();
    const junk = join(fsRoot, 'junk.pem');
    await writeFile(junk, 'not a key', { mode: 0o600 });
    const bad = await supRunFails(fsRoot, ['--key', junk, '--certs', certs.serverCert]);
    expect(bad.code).not.toBe(0);
    expect(bad.output).toContain(`--key ${junk}`);
    const open = join(fsRoot, 'open.key');
    await writeFile(open, certs.read(certs.serverKey));
    await chmod(open, 0o644);
    const readable = await supRunFails(fsRoot, ['--ctl-server-key', open, '--ctl-server-certificate', certs.serverCert]);
    expect(readable.code).not.toBe(0);
    expect(readable.output).toContain(`chmod 600 ${open}`);
    expect(readable.output).not.toContain('PRIVATE KEY');
  });
});
