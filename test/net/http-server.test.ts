/**
 * `startHttpServer`, the listener of both gateways, on real sockets at 127.0.0.1 port 0: TLS with
 * and without client certificates, the slow-loris bound, the per-address connection cap, and the
 * read-only mode of the HTTP gateway.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Router, textReply } from '../../src/core/http-router.js';
import { startHttpServer, type RunningHttpServer } from '../../src/net/index.js';
import { makeTestCerts, type TestCerts } from './certs.js';

let certs: TestCerts;
const running: RunningHttpServer[] = [];
const sockets: Socket[] = [];

beforeAll(() => {
  certs = makeTestCerts();
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(running.splice(0).map((s) => s.stop(0)));
});

/** Answers every request with `hello <path>`. */
const hello = new Router({ notFound: (req) => textReply(`hello ${req.path}`) }).handle;

async function start(options: Omit<Parameters<typeof startHttpServer>[1], 'host' | 'port'> = {}): Promise<RunningHttpServer> {
  const server = await startHttpServer(hello, { host: '127.0.0.1', port: 0, ...options });
  running.push(server);
  return server;
}

/** One HTTPS GET; resolves to the status and body, rejects on a TLS or socket error. */
function httpsGet(port: number, opts: { key?: Buffer; cert?: Buffer } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/census', ca: certs.read(certs.caCert), ...opts, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS', () => {
  test('serves HTTPS with the given key and certificate chain', async () => {
    const server = await start({ tls: { key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert) } });
    expect(server.tls).toBe(true);
    const peer = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: server.address.port, ca: certs.read(certs.caCert) }, () => {
        resolve(s.getPeerCertificate().subject.CN as string);
        s.destroy();
      });
      s.on('error', reject);
    });
    expect(peer).toBe('server');
    expect(await httpsGet(server.address.port)).toEqual({ status: 200, body: 'hello /census' });
  });

  test('with a CA: refuses a client without a certificate or with a stranger one, serves one signed by the CA', async () => {
    const server = await start({ tls: { key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert), ca: certs.read(certs.caCert) } });
    const port = server.address.port;
    await expect(httpsGet(port)).rejects.toThrow();
    await expect(httpsGet(port, { key: certs.read(certs.strangerKey), cert: certs.read(certs.strangerCert) })).rejects.toThrow();
    expect(await httpsGet(port, { key: certs.read(certs.clientKey), cert: certs.read(certs.clientCert) })).toEqual({ status: 200, body: 'hello /census' });
    expect(server.counters.tlsFailures).toBeGreaterThanOrEqual(1);
  });
});

describe('slow clients', () => {
  test('a slow-loris client is cut at the headers timeout while a normal client is served meanwhile', async () => {
    const server = await start({ headersTimeoutMs: 1000, requestTimeoutMs: 2000, checkIntervalMs: 200 });
    const port = server.address.port;
    const loris = tcpConnect(port, '127.0.0.1');
    sockets.push(loris);
    const openedAt = Date.now();
    const closed = new Promise<number>((resolve) => loris.once('close', () => resolve(Date.now() - openedAt)));
    loris.on('error', () => {});
    const request = 'GET /census HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(100);
    let i = 0;
    const drip = setInterval(() => {
      if (loris.destroyed || i >= request.length) return;
      loris.write(request[i++] as string);
    }, 100);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const res = await fetch(`http://127.0.0.1:${port}/meanwhile`);
      expect(await res.text()).toBe('hello /meanwhile');
      const after = await closed;
      expect(after).toBeGreaterThanOrEqual(900);
      expect(after).toBeLessThan(3000);
      expect(i).toBeLessThan(request.length);
    } finally {
      clearInterval(drip);
    }
  });
});

describe('connections', () => {
  test('200 connections from one address are capped; another address is still served', async () => {
    const server = await start({ maxConnectionsPerAddress: 20, maxConnections: 100 });
    const port = server.address.port;
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () =>
        new Promise<'open' | 'closed'>((resolve) => {
          const s = tcpConnect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
          sockets.push(s);
          s.on('error', () => resolve('closed'));
          s.once('close', () => resolve('closed'));
          // Held open for a while: the server did not close it.
          s.once('connect', () => setTimeout(() => resolve(s.destroyed ? 'closed' : 'open'), 500));
        }),
      ),
    );
    expect(outcomes.filter((o) => o === 'open')).toHaveLength(20);
    expect(server.counters.refusedPerAddress).toBe(180);
    const other = await new Promise<string>((resolve, reject) => {
      const s = tcpConnect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => s.write('GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      sockets.push(s);
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString()));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    expect(other).toMatch(/^HTTP\/1\.1 200/);
    expect(other).toContain('hello /other');
  });
});

describe('read-only mode (the HTTP gateway)', () => {
  test('other methods get 405 with Allow; a GET with a body gets 413; GET and HEAD are served', async () => {
    const server = await start({ methods: ['GET', 'HEAD'] });
    const base = `http://127.0.0.1:${server.address.port}`;
    const post = await fetch(`${base}/census`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const withBody = await new Promise<string>((resolve) => {
      const s = tcpConnect(server.address.port, '127.0.0.1', () => s.write('GET /census HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'));
      sockets.push(s);
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString()));
      s.on('close', () => resolve(text));
    });
    expect(withBody).toMatch(/^HTTP\/1\.1 413/);
    expect((await fetch(`${base}/census`)).status).toBe(200);
    expect((await fetch(`${base}/census`, { method: 'HEAD' })).status).toBe(200);
  });
});
