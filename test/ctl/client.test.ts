/**
 * The ctl client against a real control gateway on a loopback socket (port 0): answers come
 * back typed, refusals come back as `MurmurError` with the server's code and message, and an
 * unreachable Supervisor is an IO error naming the address.
 */
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MurmurError } from '../../src/core/index.js';
import { CtlClient, CtlGateway, resolveCtlSecret, type CtlSupervisor } from '../../src/ctl/index.js';
import { startHttpServer } from '../../src/net/index.js';

const SECRET = 'the-secret';
const ID = 'a'.repeat(32);

const sup: CtlSupervisor = {
  id: ID,
  applyConfig: (group, version, toml) => {
    if (version <= 3) throw new MurmurError('CONFLICT', `${group} already has config version 3; apply a version above 3`);
    return { group, version, bytes: toml.length };
  },
  uploadFile: (group, version, _filename, body) => ({ group, version, bytes: body.length }),
  depart: () => {
    throw new MurmurError('NOT_FOUND', `no member ${'b'.repeat(32)} in this Supervisor's ring`);
  },
  status: () => ({ memberId: ID, incarnation: 2, members: { alive: [ID], suspect: [], confirmed: [], departed: [] } }),
};

const gw = new CtlGateway({ supervisor: sup, secret: SECRET, listen: startHttpServer });
let address = '';

beforeAll(async () => {
  const a = await gw.start({ host: '127.0.0.1', port: 0 });
  address = `${a.host}:${a.port}`;
});
afterAll(() => gw.stop());

async function rejection(p: Promise<unknown>): Promise<MurmurError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof MurmurError) return err;
    throw err;
  }
  throw new Error('expected a MurmurError');
}

describe('CtlClient', () => {
  test('each route answers typed JSON', async () => {
    const c = new CtlClient({ address, secret: SECRET });
    expect(await c.applyConfig('redis.prod', 4, 'a = 1')).toEqual({ service_group: 'redis.prod', version: 4, bytes: 5, member_id: ID });
    expect(await c.uploadFile('redis.prod', 1, 'f.txt', new Uint8Array([0, 255, 7]))).toEqual({ service_group: 'redis.prod', version: 1, filename: 'f.txt', bytes: 3, member_id: ID });
    expect(await c.status()).toEqual({ member_id: ID, incarnation: 2, members: { alive: [ID], suspect: [], confirmed: [], departed: [] }, ring_keys: [] });
  });

  test("a refusal comes back as a MurmurError with the server's code and message", async () => {
    const c = new CtlClient({ address, secret: SECRET });
    const conflict = await rejection(c.applyConfig('redis.prod', 3, 'a = 1'));
    expect(conflict.code).toBe('CONFLICT');
    expect(conflict.message).toBe('redis.prod already has config version 3; apply a version above 3');
    expect(conflict.exitCode).toBe(4);
    expect((await rejection(c.depart('b'.repeat(32)))).code).toBe('NOT_FOUND');
  });

  test('a wrong secret is UNAUTHORIZED', async () => {
    const err = await rejection(new CtlClient({ address, secret: 'wrong' }).status());
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toMatch(/^secret key mismatch/);
  });

  test('a Supervisor that is not there is an IO error naming the address and --remote-sup', async () => {
    // A port that was free a moment ago.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const err = await rejection(new CtlClient({ address: `127.0.0.1:${port}`, secret: SECRET }).status());
    expect(err.code).toBe('IO');
    expect(err.message).toBe(`cannot reach the Supervisor at 127.0.0.1:${port} (ECONNREFUSED): is it running? use --remote-sup to name another`);
  });

  test('something that is not a control gateway is an IO error saying so', async () => {
    const other = createServer((_req, res) => res.writeHead(404).end('nope'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const port = (other.address() as { port: number }).port;
    try {
      const err = await rejection(new CtlClient({ address: `127.0.0.1:${port}`, secret: SECRET }).status());
      expect(err.code).toBe('IO');
      expect(err.message).toMatch(/unexpected answer .* HTTP 404 "nope"; is that a murmur control gateway/);
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });
});

describe('resolveCtlSecret', () => {
  const enoent = (): Promise<Uint8Array> => Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }));

  test('HAB_CTL_SECRET wins over the file', async () => {
    expect(await resolveCtlSecret({ HAB_CTL_SECRET: ' abc \n' }, () => Promise.reject(new Error('not read')))).toBe('abc');
  });

  test('else the file under FS_ROOT, trimmed', async () => {
    const read: string[] = [];
    const secret = await resolveCtlSecret({ FS_ROOT: '/srv/s1' }, (p) => {
      read.push(p);
      return Promise.resolve(new TextEncoder().encode('xyz\n'));
    });
    expect(secret).toBe('xyz');
    expect(read).toEqual(['/srv/s1/hab/sup/default/CTL_SECRET']);
  });

  test('with neither, NOT_FOUND naming both places', async () => {
    const err = await rejection(resolveCtlSecret({}, enoent));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('HAB_CTL_SECRET');
    expect(err.message).toContain('/hab/sup/default/CTL_SECRET');
  });
});

describe('CtlClient.applyConfigWait over NDJSON', () => {
  /** A server that answers POST /v1/config/apply with `chunks`, written one by one with pauses. */
  async function serving(chunks: (string | Buffer)[], contentType = 'application/x-ndjson') {
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': contentType });
      void (async () => {
        for (const chunk of chunks) {
          res.write(chunk);
          await new Promise((r) => setTimeout(r, 5));
        }
        res.end();
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    return { client: new CtlClient({ address: `127.0.0.1:${port}`, secret: SECRET }), close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  async function collect(iterable: AsyncIterable<unknown>): Promise<unknown[]> {
    const out: unknown[] = [];
    for await (const e of iterable) out.push(e);
    return out;
  }

  test('lines split across chunks, several lines in one chunk, and a UTF-8 character split in two all parse', async () => {
    const applied = '{"type":"applied","service_group":"café.prod","version":2,"bytes":5,"member_id":"x"}\n';
    const bytes = Buffer.from(applied, 'utf8');
    const cut = bytes.indexOf(Buffer.from('é', 'utf8')) + 1; // inside the two bytes of é
    const progress = '{"type":"progress","service_group":"café.prod","version":2,"done":0,"total":1,"pending":[]}\n';
    const done = '{"type":"done","service_group":"café.prod","version":2,"done":1,"total":1}';
    const { client, close } = await serving([bytes.subarray(0, cut), bytes.subarray(cut), `\n${progress}${done.slice(0, 10)}`, `${done.slice(10)}\n`]);
    try {
      const events = await collect(client.applyConfigWait('café.prod', 2, 'a = 1'));
      expect(events).toEqual([JSON.parse(applied), JSON.parse(progress), JSON.parse(done)]);
    } finally {
      await close();
    }
  });

  test('a stream that ends before done or timeout is an IO error saying the config was applied', async () => {
    const { client, close } = await serving(['{"type":"applied","service_group":"redis.prod","version":2,"bytes":5,"member_id":"x"}\n']);
    try {
      await expect(collect(client.applyConfigWait('redis.prod', 2, 'a = 1'))).rejects.toThrow(/ended the progress stream before redis\.prod finished; the config was applied/);
    } finally {
      await close();
    }
  });

  test('a Supervisor that answers one JSON object instead of a stream is an IO error', async () => {
    const { client, close } = await serving(['{"service_group":"redis.prod","version":2,"bytes":5,"member_id":"x"}'], 'application/json');
    try {
      const err = await rejection(collect(client.applyConfigWait('redis.prod', 2, 'a = 1')));
      expect(err.code).toBe('IO');
      expect(err.message).toMatch(/applied version 2 to redis\.prod but does not report the group's progress/);
    } finally {
      await close();
    }
  });
});
