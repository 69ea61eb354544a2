/**
 * The control gateway over a loopback socket (`test/http/serve.ts`), against a fake Supervisor
 * that records its calls: authentication comes first and refuses without touching anything,
 * bodies are checked, each route answers, and `MurmurError` codes become HTTP statuses.
 */
import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { MurmurError, type LogFields, type Logger } from '../../src/core/index.js';
import { CtlGateway, MAX_CTL_BODY_BYTES, type CtlSupervisor } from '../../src/ctl/index.js';
import type { Published, SupervisorStatus } from '../../src/sup/index.js';
import { startHttpServer } from '../../src/net/index.js';
import { request } from '../http/serve.js';

const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=';
const ID = 'a'.repeat(32);

type Call = [string, ...unknown[]];

function fakeSupervisor(overrides: Partial<CtlSupervisor> = {}): CtlSupervisor & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    id: ID,
    calls,
    applyConfig: (group: string, version: number, toml: string, encrypted?: boolean): Published => {
      calls.push(['applyConfig', group, version, toml, ...(encrypted ? ['encrypted'] : [])]);
      return { group, version, bytes: Buffer.byteLength(toml) };
    },
    uploadFile: (group: string, version: number, filename: string, body: Uint8Array, encrypted?: boolean): Published => {
      calls.push(['uploadFile', group, version, filename, Buffer.from(body).toString('utf8'), ...(encrypted ? ['encrypted'] : [])]);
      return { group, version, bytes: body.length };
    },
    depart: (memberId: string) => {
      calls.push(['depart', memberId]);
      return { alreadyDeparted: false };
    },
    status: (): SupervisorStatus => {
      calls.push(['status']);
      return { memberId: ID, incarnation: 3, members: { alive: [ID], suspect: [], confirmed: ['b'.repeat(32)], departed: [] } };
    },
    ...overrides,
  };
}

function recordingLog(): Logger & { lines: [string, LogFields | undefined][] } {
  const lines: [string, LogFields | undefined][] = [];
  const log: Logger & { lines: typeof lines } = {
    lines,
    debug: () => {},
    info: () => {},
    warn: (msg, fields) => void lines.push([msg, fields]),
    error: (msg, fields) => void lines.push([msg, fields]),
    child: () => log,
  };
  return log;
}

function gateway(sup = fakeSupervisor(), now = { t: 0 }) {
  const log = recordingLog();
  const gw = new CtlGateway({ supervisor: sup, secret: SECRET, log, clock: { now: () => now.t }, listen: startHttpServer });
  return { gw, sup, log, now };
}

const auth = { authorization: `Bearer ${SECRET}` };

function post(gw: CtlGateway, path: string, body: unknown, headers: Record<string, string> = auth): Promise<Response> {
  return request(gw.handle, path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

describe('authentication', () => {
  test('a request without a secret gets 401, calls nothing, and is counted', async () => {
    const { gw, sup } = gateway();
    const res = await post(gw, '/v1/config/apply', { service_group: 'redis.prod', version: 1, config: 'a = 1' }, {});
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await errorOf(res)).toEqual({ code: 'UNAUTHORIZED', message: expect.stringContaining('no Authorization header') });
    expect(sup.calls).toEqual([]);
    expect(gw.counters.unauthorized).toBe(1);
  });

  test('a wrong secret, a longer one, a prefix of it, or another scheme gets 401 and calls nothing', async () => {
    const { gw, sup } = gateway();
    for (const header of [`Bearer wrong`, `Bearer ${SECRET}x`, `Bearer ${SECRET.slice(0, -1)}`, `Basic ${SECRET}`, 'Bearer']) {
      const res = await post(gw, '/v1/sup/depart', { member_id: 'b'.repeat(32) }, { authorization: header });
      expect(res.status, header).toBe(401);
    }
    const status = await request(gw.handle, '/v1/sup/status', { headers: { authorization: 'Bearer nope' } });
    expect(status.status).toBe(401);
    expect(sup.calls).toEqual([]);
    expect(gw.counters.unauthorized).toBe(6);
  });

  test('the secret is checked before the body: an unauthenticated oversize or malformed body is still 401', async () => {
    const { gw } = gateway();
    expect((await post(gw, '/v1/config/apply', 'x'.repeat(MAX_CTL_BODY_BYTES + 1), {})).status).toBe(401);
    expect((await post(gw, '/v1/config/apply', '{not json', { authorization: 'Bearer wrong' })).status).toBe(401);
  });

  test('an unknown route without the secret is 401, not 404', async () => {
    const { gw } = gateway();
    expect((await request(gw.handle, '/v1/nothing')).status).toBe(401);
  });

  test('refusals are logged at most once per remote address per minute, and all are counted', async () => {
    const { gw, log, now } = gateway();
    for (let i = 0; i < 5; i++) await post(gw, '/v1/sup/depart', {}, { authorization: 'Bearer wrong' });
    expect(log.lines.filter(([m]) => /refused a control request/.test(m))).toHaveLength(1);
    now.t = 61_000;
    await post(gw, '/v1/sup/depart', {}, { authorization: 'Bearer wrong' });
    expect(log.lines.filter(([m]) => /refused a control request/.test(m))).toHaveLength(2);
    expect(gw.counters.unauthorized).toBe(6);
  });
});

describe('request bodies', () => {
  test('malformed JSON is 400 and calls nothing', async () => {
    const { gw, sup } = gateway();
    const res = await post(gw, '/v1/config/apply', '{"service_group": ');
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toEqual({ code: 'BAD_INPUT', message: expect.stringContaining('not valid JSON') });
    expect(sup.calls).toEqual([]);
  });

  test('a body that is not an object is 400', async () => {
    const { gw } = gateway();
    const res = await post(gw, '/v1/sup/depart', '[1, 2]');
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/JSON object, got an array/);
  });

  test('a missing or mistyped field is 400 naming the field', async () => {
    const { gw, sup } = gateway();
    const missing = await post(gw, '/v1/config/apply', { service_group: 'redis.prod', config: 'a = 1' });
    expect(missing.status).toBe(400);
    expect((await errorOf(missing)).message).toBe('version is missing: expected a number');
    const typed = await post(gw, '/v1/config/apply', { service_group: 'redis.prod', version: '2', config: 'a = 1' });
    expect((await errorOf(typed)).message).toBe('version must be a number, got string');
    const file = await post(gw, '/v1/file/upload', { service_group: 'redis.prod', version: 1, filename: 'a.conf', body_base64: 'not base64!' });
    expect(file.status).toBe(400);
    expect((await errorOf(file)).message).toMatch(/^body_base64 is not valid base64/);
    expect(sup.calls).toEqual([]);
  });

  test('a body over 1 MiB is 413 with the limit in the message', async () => {
    const { gw, sup } = gateway();
    const res = await post(gw, '/v1/config/apply', { service_group: 'redis.prod', version: 1, config: 'x'.repeat(MAX_CTL_BODY_BYTES) });
    expect(res.status).toBe(413);
    expect(await errorOf(res)).toEqual({ code: 'TOO_LARGE', message: expect.stringContaining(`${MAX_CTL_BODY_BYTES} bytes`) });
    expect(sup.calls).toEqual([]);
  });

  test('a body over 1 MiB without a Content-Length (streamed) is 413 too', async () => {
    const { gw } = gateway();
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX_CTL_BODY_BYTES) controller.close();
        else {
          sent += chunk.length;
          controller.enqueue(chunk);
        }
      },
    });
    const res = await request(gw.handle, '/v1/config/apply', { method: 'POST', headers: auth, body, duplex: 'half' });
    expect(res.status).toBe(413);
  });
});

describe('routes', () => {
  test('POST /v1/config/apply passes group, version and TOML text, and answers what was published', async () => {
    const { gw, sup } = gateway();
    const res = await post(gw, '/v1/config/apply', { service_group: 'redis.prod', version: 4, config: 'port = 6380\n' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ service_group: 'redis.prod', version: 4, bytes: 12, member_id: ID });
    expect(sup.calls).toEqual([['applyConfig', 'redis.prod', 4, 'port = 6380\n']]);
  });

  test('POST /v1/file/upload decodes the base64 body', async () => {
    const { gw, sup } = gateway();
    const res = await post(gw, '/v1/file/upload', { service_group: 'redis.prod@acme', version: 2, filename: 'tls.pem', body_base64: Buffer.from('hello').toString('base64') });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ service_group: 'redis.prod@acme', version: 2, filename: 'tls.pem', bytes: 5, member_id: ID });
    expect(sup.calls).toEqual([['uploadFile', 'redis.prod@acme', 2, 'tls.pem', 'hello']]);
  });

  test('encrypted: true passes a BOX-1 payload on as encrypted; a non-boolean is refused naming the field', async () => {
    const { gw, sup } = gateway();
    const box = 'BOX-1\nalice-20240101120000\nredis.prod@acme-20240101120000\nnonce\ncipher';
    expect((await post(gw, '/v1/config/apply', { service_group: 'redis.prod@acme', version: 5, config: box, encrypted: true })).status).toBe(200);
    const file = { service_group: 'redis.prod@acme', version: 1, filename: 'tls.key', body_base64: Buffer.from(box).toString('base64'), encrypted: true };
    expect((await post(gw, '/v1/file/upload', file)).status).toBe(200);
    expect(sup.calls).toEqual([
      ['applyConfig', 'redis.prod@acme', 5, box, 'encrypted'],
      ['uploadFile', 'redis.prod@acme', 1, 'tls.key', box, 'encrypted'],
    ]);
    const bad = await post(gw, '/v1/config/apply', { service_group: 'redis.prod@acme', version: 6, config: box, encrypted: 'yes' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: 'BAD_INPUT', message: 'encrypted must be a boolean, got string' } });
  });

  test('POST /v1/sup/depart names the member', async () => {
    const { gw, sup } = gateway();
    const res = await post(gw, '/v1/sup/depart', { member_id: 'b'.repeat(32) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ member_id: 'b'.repeat(32), already_departed: false });
    expect(sup.calls).toEqual([['depart', 'b'.repeat(32)]]);
  });

  test('GET /v1/sup/status gives the member id, incarnation and members by health', async () => {
    const { gw } = gateway();
    const res = await request(gw.handle, '/v1/sup/status', { headers: auth });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ member_id: ID, incarnation: 3, members: { alive: [ID], suspect: [], confirmed: ['b'.repeat(32)], departed: [] }, ring_keys: [] });
  });

  test('HEAD of a GET route answers its status without a body; a route asked with another method is a JSON 404', async () => {
    const { gw } = gateway();
    const head = await request(gw.handle, '/v1/sup/status', { method: 'HEAD', headers: auth });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/json');
    expect(await head.text()).toBe('');
    for (const [method, path] of [
      ['GET', '/v1/config/apply'],
      ['PUT', '/v1/config/apply'],
      ['POST', '/v1/sup/status'],
    ]) {
      const res = await request(gw.handle, path as string, { method, headers: auth });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect((await errorOf(res)).message).toMatch(new RegExp(`^no route ${method} ${path}; the routes are POST /v1/config/apply`));
    }
  });

  test('an unknown route with the secret is a JSON 404 listing the routes', async () => {
    const { gw } = gateway();
    const res = await request(gw.handle, '/v1/nothing', { headers: auth });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).message).toMatch(/POST \/v1\/config\/apply/);
  });
});

describe('errors from the Supervisor', () => {
  const cases: [MurmurError, number][] = [
    [new MurmurError('BAD_INPUT', 'service group must be SERVICE.GROUP'), 400],
    [new MurmurError('NOT_FOUND', "no member b in this Supervisor's ring"), 404],
    [new MurmurError('CONFLICT', 'redis.prod already has config version 3; apply a version above 3'), 409],
    [new MurmurError('TOO_LARGE', 'config is 600000 bytes; the limit is 524288 bytes'), 413],
    [new MurmurError('IO', 'this Supervisor is shutting down'), 500],
  ];
  test.each(cases)('%s is HTTP %i with its code and message', async (err, status) => {
    const { gw } = gateway(
      fakeSupervisor({
        applyConfig: () => {
          throw err;
        },
      }),
    );
    const res = await post(gw, '/v1/config/apply', { service_group: 'redis.prod', version: 3, config: '' });
    expect(res.status).toBe(status);
    expect(await errorOf(res)).toEqual({ code: err.code, message: err.message });
  });

  test('anything else is a 500 INTERNAL, and it is logged', async () => {
    const { gw, log } = gateway(
      fakeSupervisor({
        depart: () => {
          throw new TypeError('boom');
        },
      }),
    );
    const res = await post(gw, '/v1/sup/depart', { member_id: 'b'.repeat(32) });
    expect(res.status).toBe(500);
    expect(await errorOf(res)).toEqual({ code: 'INTERNAL', message: 'internal error: boom' });
    expect(log.lines.some(([m]) => m === 'control request failed')).toBe(true);
  });
});

describe('lifecycle', () => {
  test('start on port 0 reports the real port, answers over a socket, and stop is idempotent', async () => {
    const { gw } = gateway();
    const addr = await gw.start({ host: '127.0.0.1', port: 0 });
    expect(addr.host).toBe('127.0.0.1');
    expect(addr.port).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${addr.port}/v1/sup/status`, { headers: auth });
    expect(res.status).toBe(200);
    // With a Content-Length, an oversize body is refused from the header.
    const big = await fetch(`http://127.0.0.1:${addr.port}/v1/config/apply`, { method: 'POST', headers: auth, body: 'x'.repeat(MAX_CTL_BODY_BYTES + 1) });
    expect(big.status).toBe(413);
    await gw.stop();
    await gw.stop();
    await expect(fetch(`http://127.0.0.1:${addr.port}/v1/sup/status`, { headers: auth })).rejects.toThrow();
  });

  test('a port in use is an IO error naming the address and --listen-ctl', async () => {
    const first = gateway().gw;
    const addr = await first.start({ host: '127.0.0.1', port: 0 });
    try {
      await expect(gateway().gw.start(addr)).rejects.toThrow(/control gateway on 127\.0\.0\.1:\d+: EADDRINUSE.*--listen-ctl/);
    } finally {
      await first.stop();
    }
  });
});

describe('a client that goes away mid-body', () => {
  /** Every line logged, with its level. */
  function levelLog(): Logger & { lines: [string, string, LogFields | undefined][] } {
    const lines: [string, string, LogFields | undefined][] = [];
    const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push([level, msg, fields]);
    const log: Logger & { lines: typeof lines } = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
    return log;
  }

  /** Sends the headers of a POST announcing 1000 bytes, 20 of them, then resets the connection. */
  function abandonRequest(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(
          `POST /v1/config/apply HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${SECRET}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"service_group": "a`,
          () => {
            socket.resetAndDestroy();
            resolve();
          },
        );
      });
      socket.once('error', reject);
    });
  }

  test('is an info line ("client went away mid-request"), not an error, and publishes nothing', async () => {
    const sup = fakeSupervisor();
    const log = levelLog();
    // The server hab sup run serves the gateway with.
    const gw = new CtlGateway({ supervisor: sup, secret: SECRET, log, listen: startHttpServer });
    const addr = await gw.start({ host: '127.0.0.1', port: 0 });
    try {
      await abandonRequest(addr.port);
      // Wait, bounded, for the gateway to notice; no timing decides the outcome.
      for (let i = 0; i < 200 && !log.lines.some(([, m]) => m === 'client went away mid-request'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(log.lines.filter(([, m]) => m === 'client went away mid-request').map(([level, , f]) => [level, f?.path])).toEqual([['info', '/v1/config/apply']]);
      expect(log.lines.filter(([level]) => level === 'error')).toEqual([]);
      expect(sup.calls).toEqual([]);
      // The gateway still serves.
      const res = await fetch(`http://127.0.0.1:${addr.port}/v1/sup/status`, { headers: auth });
      expect(res.status).toBe(200);
    } finally {
      await gw.stop();
    }
  });
});
