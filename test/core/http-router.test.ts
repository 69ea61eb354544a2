/**
 * The gateways' router (`core/http-router.ts`) as clients meet it: every test serves a `Router`
 * with `startHttpServer` on a loopback socket (`test/http/serve.ts`) and asks with `fetch`, or
 * with raw bytes where a client library would not send them. Routing, `HEAD`, middleware, the
 * not-found and error answers, the reply kinds, request bodies and their limit, the abort signal,
 * and the requests refused before any route.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, test } from 'vitest';
import {
  emptyReply,
  HttpBodyError,
  jsonReply,
  reply,
  Router,
  streamReply,
  textReply,
  type HttpRequest,
  type ReplyStream,
} from '../../src/core/http-router.js';
import { request, serve } from '../http/serve.js';
import { waitUntil } from '../net/wait.js';

/** A route's view of the request, as JSON: what the router handed it. */
const echo = (req: HttpRequest) => jsonReply({ method: req.method, path: req.path, params: req.params, q: req.query.get('q') });

/** Sends `text` on a raw connection and resolves to everything the server answered before closing. */
async function raw(router: Router, text: string): Promise<string> {
  const port = (await serve(router.handle)).address.port;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('routing', () => {
  const router = new Router()
    .get('/census', () => textReply('census'))
    .get('/services/{svc}/{group}/config', () => textReply('config'))
    .get('/services/{svc}/{group}/{org}', echo)
    .get('/services/{svc}/{group}', echo)
    .post('/census', () => textReply('posted'));

  test('by method and pattern; a {name} takes one segment and the earlier route wins', async () => {
    expect(await (await request(router.handle, '/census')).text()).toBe('census');
    expect(await (await request(router.handle, '/census', { method: 'POST' })).text()).toBe('posted');
    // Both `…/config` and `…/{org}` fit; `…/config` was added first.
    expect(await (await request(router.handle, '/services/redis/prod/config')).text()).toBe('config');
    expect(await (await request(router.handle, '/services/redis/prod/acme?q=1')).json()).toEqual({
      method: 'GET',
      path: '/services/redis/prod/acme',
      params: { svc: 'redis', group: 'prod', org: 'acme' },
      q: '1',
    });
  });

  test('exactly: case, a trailing slash, an empty segment or another method is not found', async () => {
    for (const [method, path] of [
      ['GET', '/Census'],
      ['GET', '/census/'],
      ['GET', '//census'],
      ['GET', '/services//prod'],
      ['GET', '/services/redis/prod/acme/x'],
      ['DELETE', '/census'],
    ]) {
      const res = await request(router.handle, path as string, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.text()).toBe('');
    }
  });

  test('the path is decoded but for %25 and reserved characters; a {name} is decoded in full', async () => {
    const body = async (path: string) => (await request(router.handle, path)).json();
    expect(await body('/services/re%20dis/a%2Fb')).toMatchObject({ path: '/services/re dis/a%2Fb', params: { svc: 're dis', group: 'a/b' } });
    expect(await body('/services/%25/r%C3%A9dis')).toMatchObject({ path: '/services/%25/rédis', params: { svc: '%', group: 'rédis' } });
    // Not UTF-8: kept as sent rather than refused.
    expect(await body('/services/%E9/x')).toMatchObject({ path: '/services/%E9/x', params: { svc: '%E9', group: 'x' } });
    // Dot segments are resolved before routing.
    expect(await (await request(router.handle, '/a/../census')).text()).toBe('census');
  });

  test('a pattern must start with /', () => {
    expect(() => new Router().get('census', echo)).toThrow(/starts with "\/"/);
  });
});

describe('HEAD', () => {
  test('runs the GET route and sends its status and headers without the body', async () => {
    let runs = 0;
    const router = new Router().get('/census', () => {
      runs++;
      return jsonReply({ a: 1 }, 203, { 'Cache-Control': 'no-store' });
    });
    const res = await request(router.handle, '/census', { method: 'HEAD' });
    expect(res.status).toBe(203);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toBe('');
    expect(runs).toBe(1);
  });
});

describe('middleware', () => {
  test('runs in the order added, before routing (unknown paths too), and may answer or wrap the answer', async () => {
    const seen: string[] = [];
    const router = new Router({ notFound: (req) => jsonReply({ missing: req.path }, 404) })
      .use(async (req, next) => {
        seen.push(`outer ${req.path}`);
        const answer = await next();
        return { ...answer, headers: { ...answer.headers, 'X-Wrapped': 'yes' } };
      })
      .use((req, next) => {
        seen.push(`auth ${req.path}`);
        return req.header('authorization') === 'Bearer ok' ? next() : emptyReply(401);
      })
      .get('/census', () => textReply('census'));
    const refused = await request(router.handle, '/census');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-wrapped')).toBe('yes');
    expect(await refused.text()).toBe('');
    const missing = await request(router.handle, '/nope', { headers: { Authorization: 'Bearer ok' } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ missing: '/nope' });
    expect((await request(router.handle, '/census', { headers: { Authorization: 'Bearer ok' } })).status).toBe(200);
    expect(seen).toEqual(['outer /census', 'auth /census', 'outer /nope', 'auth /nope', 'outer /census', 'auth /census']);
  });

  test('a header sent twice reaches the request joined, so that a second Authorization cannot slip past', async () => {
    const router = new Router().use((req, next) => (req.header('Authorization') === 'Bearer ok' ? next() : jsonReply({ got: req.header('authorization') }, 401))).get('/', echo);
    const answer = await raw(router, 'GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ok\r\nAuthorization: Bearer other\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 401/);
    expect(answer).toContain('{"got":"Bearer ok, Bearer other"}');
  });
});

describe('errors', () => {
  test('what a route or middleware throws goes to onError, with the request', async () => {
    const router = new Router({ onError: (err, req) => jsonReply({ error: (err as Error).message, path: req.path }, 418) })
      .get('/sync', () => {
        throw new Error('sync boom');
      })
      .get('/async', () => Promise.reject(new Error('async boom')));
    const sync = await request(router.handle, '/sync');
    expect(sync.status).toBe(418);
    expect(await sync.json()).toEqual({ error: 'sync boom', path: '/sync' });
    expect(await (await request(router.handle, '/async')).json()).toEqual({ error: 'async boom', path: '/async' });
  });

  test('without onError the answer is a plain-text 500; when onError throws, an empty 500', async () => {
    const boom = () => {
      throw new Error('boom');
    };
    const plain = await request(new Router().get('/', boom).handle, '/');
    expect(plain.status).toBe(500);
    expect(plain.headers.get('content-type')).toBe('text/plain; charset=UTF-8');
    expect(await plain.text()).toBe('Internal Server Error');
    const worse = await request(new Router({ onError: boom }).get('/', boom).handle, '/');
    expect(worse.status).toBe(500);
    expect(await worse.text()).toBe('');
  });
});

describe('replies', () => {
  test('JSON, text, a body of a given type, and empty, each with its content type and length', async () => {
    const router = new Router()
      .get('/json', () => jsonReply({ é: 1 }, 201))
      .get('/text', () => textReply('héllo'))
      .get('/typed', () => reply(200, '# HELP x\n', 'text/plain; version=0.0.4'))
      .get('/empty', () => emptyReply(204));
    const json = await request(router.handle, '/json');
    expect([json.status, json.headers.get('content-type'), json.headers.get('content-length'), await json.text()]).toEqual([201, 'application/json', '8', '{"é":1}']);
    const text = await request(router.handle, '/text');
    expect([text.headers.get('content-type'), text.headers.get('content-length'), await text.text()]).toEqual(['text/plain; charset=UTF-8', '6', 'héllo']);
    expect((await request(router.handle, '/typed')).headers.get('content-type')).toBe('text/plain; version=0.0.4');
    const empty = await request(router.handle, '/empty');
    expect([empty.status, empty.headers.get('content-type'), await empty.text()]).toEqual([204, null, '']);
  });

  test('a stream sends its headers and each line as they are made (NDJSON), and ends', async () => {
    let out: ReplyStream | undefined;
    const router = new Router().post('/watch', () =>
      streamReply(
        200,
        'application/x-ndjson',
        (stream) => {
          out = stream;
          stream.write('{"n":1}\n');
        },
        { 'Cache-Control': 'no-store' },
      ),
    );
    const res = await request(router.handle, '/watch', { method: 'POST' });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    // The first line is here while the stream is still open.
    expect((await reader.read()).value).toBe('{"n":1}\n');
    out!.write('{"n":2}\n');
    expect((await reader.read()).value).toBe('{"n":2}\n');
    out!.end();
    expect((await reader.read()).done).toBe(true);
  });

  test('a stream with nothing to say yet has its status and headers on the wire already', async () => {
    let out: ReplyStream | undefined;
    const router = new Router().get('/quiet', () => streamReply(200, 'application/x-ndjson', (stream) => (out = stream)));
    const res = await request(router.handle, '/quiet', { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    out!.end();
    expect(await res.text()).toBe('');
  });

  test('a stream whose start throws cuts its connection, and the server goes on', async () => {
    const router = new Router()
      .get('/broken', () =>
        streamReply(200, 'application/x-ndjson', () => {
          throw new Error('broken stream');
        }),
      )
      .get('/fine', () => textReply('fine'));
    const res = await request(router.handle, '/broken');
    await expect(res.text()).rejects.toThrow();
    expect(await (await request(router.handle, '/fine')).text()).toBe('fine');
  });

  test('the request signal aborts when the client goes away mid-stream, and later writes are dropped', async () => {
    let signal: AbortSignal | undefined;
    let out: ReplyStream | undefined;
    const router = new Router().get('/watch', (req) => {
      signal = req.signal;
      return streamReply(200, 'application/x-ndjson', (stream) => {
        out = stream;
        stream.write('{"n":1}\n');
      });
    });
    const port = (await serve(router.handle)).address.port;
    const client = httpRequest({ host: '127.0.0.1', port, path: '/watch' });
    client.on('error', () => {});
    await new Promise<void>((resolve) => client.on('response', (res) => res.once('data', () => resolve())).end());
    expect(signal!.aborted).toBe(false);
    client.destroy();
    await waitUntil(() => signal!.aborted);
    expect(signal!.aborted).toBe(true);
    out!.write('{"n":2}\n');
    out!.end();
  });

  test('the signal of a request answered in full never aborts', async () => {
    let signal: AbortSignal | undefined;
    const router = new Router().get('/', (req) => {
      signal = req.signal;
      return textReply('done');
    });
    expect(await (await request(router.handle, '/', { headers: { Connection: 'close' } })).text()).toBe('done');
    await new Promise((r) => setTimeout(r, 50));
    expect(signal!.aborted).toBe(false);
  });
});

describe('request bodies', () => {
  const LIMIT = 1000;
  /** Echoes the body's length and text; its errors answer with their reason. */
  function bodyRouter(seen: string[] = []) {
    return new Router({
      maxBodyBytes: LIMIT,
      onError: (err) => (err instanceof HttpBodyError ? jsonReply({ refused: err.reason }, err.reason === 'too-large' ? 413 : 400) : textReply('?', 500)),
    })
      .use((req, next) => {
        seen.push(req.path);
        return next();
      })
      .post('/body', async (req) => {
        const text = await req.text();
        return jsonReply({ length: text.length, text: text.slice(0, 20), again: (await req.text()) === text });
      })
      .get('/body', async (req) => jsonReply({ text: await req.text() }));
  }

  /** A body streamed in `chunks` pieces of `size` bytes, so that it goes without a Content-Length. */
  function streamed(chunks: number, size: number): ReadableStream<Uint8Array> {
    let sent = 0;
    return new ReadableStream({
      pull(controller) {
        if (sent++ < chunks) controller.enqueue(new Uint8Array(size).fill(0x61));
        else controller.close();
      },
    });
  }

  test('text() is the UTF-8 body, read once, a leading byte order mark dropped', async () => {
    const router = bodyRouter();
    const res = await request(router.handle, '/body', { method: 'POST', body: '\uFEFF{"é": true}' });
    expect(await res.json()).toEqual({ length: 11, text: '{"é": true}', again: true });
  });

  test('within the limit, with or without a Content-Length, the route gets the whole body', async () => {
    const router = bodyRouter();
    expect(await (await request(router.handle, '/body', { method: 'POST', body: 'a'.repeat(LIMIT) })).json()).toMatchObject({ length: LIMIT });
    const chunked = await request(router.handle, '/body', { method: 'POST', body: streamed(4, 250), duplex: 'half' });
    expect(await chunked.json()).toMatchObject({ length: LIMIT });
  });

  test('a Content-Length over the limit is refused after the middleware, before any route, unknown routes too', async () => {
    const seen: string[] = [];
    const router = bodyRouter(seen);
    for (const path of ['/body', '/nope']) {
      const res = await request(router.handle, path, { method: 'POST', body: 'a'.repeat(LIMIT + 1) });
      expect(res.status, path).toBe(413);
      expect(await res.json()).toEqual({ refused: 'too-large' });
    }
    expect(seen).toEqual(['/body', '/nope']);
  });

  test('a streamed body is refused once it is over the limit', async () => {
    const res = await request(bodyRouter().handle, '/body', { method: 'POST', body: streamed(8, 250), duplex: 'half' });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ refused: 'too-large' });
  });

  test('the body of a GET is not read', async () => {
    const answer = await raw(bodyRouter(), 'GET /body HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n' + 'a'.repeat(5000));
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('{"text":""}');
  });

  test('a client that goes away mid-body is cut-off, and the signal aborts', async () => {
    let signal: AbortSignal | undefined;
    const errors: unknown[] = [];
    const router = new Router({
      onError: (err, req) => {
        errors.push(err);
        signal = req.signal;
        return emptyReply(400);
      },
    }).post('/body', async (req) => jsonReply({ text: await req.text() }));
    const port = (await serve(router.handle)).address.port;
    const socket = connect(port, '127.0.0.1', () => socket.write('POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"half":', () => socket.resetAndDestroy()));
    socket.on('error', () => {});
    await waitUntil(() => errors.length > 0);
    expect(errors).toEqual([expect.objectContaining({ name: 'HttpBodyError', reason: 'cut-off' })]);
    expect(signal!.aborted).toBe(true);
  });
});

describe('requests refused before any route', () => {
  const router = new Router().use(() => textReply('reached')).get('/', echo);

  test.each([
    ['no Host (HTTP/1.0)', 'GET / HTTP/1.0\r\n\r\n'],
    ['a Host that is not host[:port]', 'GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n'],
    ['a Host naming a user', 'GET / HTTP/1.1\r\nHost: user@other\r\nConnection: close\r\n\r\n'],
    ['a backslash in the path', 'GET /a\\b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['a target that is not a path', 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
  ])('%s is an empty 400', async (_what, text) => {
    const answer = await raw(router, text);
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).not.toContain('reached');
  });

  test('an absolute URL, a Host with a port, upper case or IPv6 are served', async () => {
    for (const text of [
      'GET http://x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: Example.ORG:80\r\nConnection: close\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: [::1]:9631\r\nConnection: close\r\n\r\n',
      'GET /?a=\\ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]) {
      expect(await raw(router, text), text).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*reached$/);
    }
  });
});
