/**
 * Targets (d) and (e): a live Supervisor's control gateway (`src/ctl/server.ts`) and HTTP
 * gateway (`src/http/gateway.ts`).
 *
 * Control gateway requests: every route with its own method and a JSON body whose fields have the
 * right or the wrong types (null, arrays, floats, 1e308, negative, huge strings), unknown fields,
 * random JSON, broken JSON, JSON nested 100 000 deep, bodies over the 1 MiB limit, TOML configs
 * that are nested thousands deep, huge or broken, file names that climb out of `files/`
 * (`../../etc/passwd`, `a/b`, `..`, NUL), and random methods and paths; most with the right
 * bearer secret, the rest with none, a wrong one or a malformed header. HTTP gateway requests:
 * random methods, paths (the routes, random segments, percent-encoding, very long) and query
 * strings. Both also get raw junk over TCP (bad request lines, huge headers, a request that stops
 * half-way).
 *
 * Oracle: no answer is a 5xx with the code INTERNAL (an exception the gateway did not expect), a
 * file name that is not one path component is refused with 400, and every request is answered
 * within `REQUEST_LIMIT_MS`. A `Monitor` watches the Supervisor meanwhile.
 */
import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import { seededRandom, type Random } from '../../src/core/index.js';
import { ROUTES } from '../../src/ctl/api.js';
import { FILE_NAMES, GROUP_NAMES, sample } from './inputs.js';
import { sleep, type LiveSup } from './live.js';
import { Monitor, type MonitorOptions } from './monitor.js';
import { addFinding, emptyReport, type TargetName, type TargetReport } from './report.js';
import { randomBytes } from './source.js';

export interface HttpFuzzOptions {
  inputs: number;
  seed: number;
  target: LiveSup;
  /** Ids the fuzzer must not depart (the target and its peer). */
  protectedIds: readonly string[];
  monitor?: MonitorOptions;
  onProgress?: (done: number) => void;
}

/** A request not answered within this is a hang. */
const REQUEST_LIMIT_MS = 15_000;
const CONCURRENCY = 4;

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** What the answer must be, when the fuzzer knows (`400`: a bad file name). */
  expect?: number;
  label: string;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'FOO', 'post', 'M-SEARCH'];

/** File names `checkFileName` must refuse. */
function badFileName(name: string): boolean {
  return name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || Buffer.byteLength(name) > 255;
}

class Gen {
  private jsonBatch: unknown[] = [];
  private batchSeed: number;
  private readonly versions = new Map<string, number>();

  constructor(
    readonly r: Random,
    seed: number,
  ) {
    this.batchSeed = seed;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.r.int(items.length)] as T;
  }

  chance(p: number): boolean {
    return this.r.next() < p;
  }

  json(): unknown {
    if (this.jsonBatch.length === 0) this.jsonBatch = sample(fc.jsonValue({ maxDepth: 4 }), 256, this.batchSeed++);
    return this.jsonBatch.pop();
  }

  /** A value for a field that wants `type`: usually right, often wrong. */
  value(type: 'string' | 'number' | 'boolean', right: () => unknown): unknown {
    if (this.chance(0.75)) return right();
    return this.pick<() => unknown>([
      () => null,
      () => [],
      () => ({}),
      () => 'x',
      () => '',
      () => -1,
      () => 0,
      () => 1.5,
      () => 1e308,
      () => 2 ** 53,
      () => Number.MAX_SAFE_INTEGER,
      () => true,
      () => 'A'.repeat(100_000),
      () => this.json(),
      () => (type === 'number' ? '12' : 12),
    ])();
  }

  group(): string {
    return this.chance(0.5) ? `fuzz.ctl${this.r.int(4)}` : this.pick(GROUP_NAMES);
  }

  /** The next version for a group (so that many applies are accepted), or a random one. */
  version(group: string): number {
    if (this.chance(0.2)) return this.pick([0, 1, 2 ** 31, Number.MAX_SAFE_INTEGER, this.r.int(1000)]);
    const next = (this.versions.get(group) ?? 0) + 1;
    this.versions.set(group, next);
    return next;
  }

  toml(): string {
    switch (this.r.int(10)) {
      case 0: {
        const n = 1000 + this.r.int(100_000);
        return `a = ${'['.repeat(n)}${']'.repeat(n)}`;
      }
      case 1: {
        const n = 1000 + this.r.int(50_000);
        return `a = ${'{ b = '.repeat(n)}1${' }'.repeat(n)}`;
      }
      case 2: {
        const n = 100 + this.r.int(5000);
        return Array.from({ length: n }, (_, i) => `[${'t.'.repeat(this.r.int(50))}k${i}]\nv = ${i}`).join('\n');
      }
      case 3:
        return `s = "${'x'.repeat(400_000 + this.r.int(300_000))}"`;
      case 4:
        return Array.from({ length: 20_000 }, (_, i) => `k${i} = ${i}`).join('\n');
      case 5:
        return Buffer.from(randomBytes(this.r, this.r.int(2000))).toString('latin1');
      case 6:
        return 'a = 1\na = 2'; // a key twice
      case 7:
        return this.chance(0.5) ? `[[x]]\n`.repeat(10_000) : `${'a.'.repeat(900 + this.r.int(50_000))}b = 1`; // dotted keys nest too
      default:
        return `port = ${this.r.int(65536)}\nname = "fuzz"\n[nested]\nlist = [1, 2, 3]`;
    }
  }

  auth(secret: string): Record<string, string> {
    const roll = this.r.next();
    if (roll < 0.8) return { authorization: `Bearer ${secret}` };
    return this.pick<() => Record<string, string>>([
      () => ({}),
      () => ({ authorization: `Bearer ${'x'.repeat(secret.length)}` }),
      () => ({ authorization: `Bearer ${secret.slice(0, -1)}` }),
      () => ({ authorization: `Basic ${Buffer.from(`user:${secret}`).toString('base64')}` }),
      () => ({ authorization: 'Bearer' }),
      () => ({ authorization: `bearer   ${secret}   ` }),
      () => ({ authorization: `Bearer ${secret} extra` }),
      () => ({ authorization: `Bearer ${'z'.repeat(10_000)}` }),
    ])();
  }
}

function ctlRequest(g: Gen, target: LiveSup, protectedIds: readonly string[]): FuzzRequest {
  const headers: Record<string, string> = { ...g.auth(target.secret), 'content-type': g.chance(0.9) ? 'application/json' : g.pick(['text/plain', 'application/x-www-form-urlencoded', '']) };
  const authed = headers.authorization === `Bearer ${target.secret}`;
  const roll = g.r.next();
  const post = (path: string, body: unknown, label: string, expect?: number): FuzzRequest => {
    const method = g.chance(0.95) ? 'POST' : g.pick(METHODS);
    return { method, path, headers, body: JSON.stringify(body), label, ...(expect !== undefined && authed && method === 'POST' ? { expect } : {}) };
  };
  if (roll < 0.25) {
    // Large configs go to one group, so that the store keeps one of them, not one per group.
    const config = g.toml();
    const group = config.length > 4096 ? 'fuzz.big' : g.group();
    const body: Record<string, unknown> = {
      service_group: g.value('string', () => group),
      version: g.value('number', () => g.version(group)),
      config: g.value('string', () => config),
    };
    if (g.chance(0.1)) body.encrypted = g.value('boolean', () => g.chance(0.5));
    if (g.chance(0.1)) body.wait = g.value('boolean', () => true);
    if (g.chance(0.05)) body.timeout = g.value('number', () => 1 + g.r.int(5));
    if (g.chance(0.05)) body[`unknown${g.r.int(3)}`] = g.json();
    return post(ROUTES.configApply, body, 'config apply');
  }
  if (roll < 0.45) {
    const group = g.group();
    const filename = g.pick(FILE_NAMES);
    const body: Record<string, unknown> = {
      service_group: group,
      version: g.version(group),
      filename,
      body_base64: g.value('string', () => Buffer.from(randomBytes(g.r, g.r.int(3000))).toString('base64')),
    };
    if (g.chance(0.1)) body.encrypted = g.value('boolean', () => g.chance(0.5));
    return post(ROUTES.fileUpload, body, 'file upload', badFileName(filename) ? 400 : undefined);
  }
  if (roll < 0.5) {
    const candidates = ['0'.repeat(32), 'f'.repeat(32), 'not-an-id', '', 'A'.repeat(32), Buffer.from(randomBytes(g.r, 16)).toString('hex')].filter((id) => !protectedIds.includes(id));
    return post(ROUTES.supDepart, { member_id: g.value('string', () => g.pick(candidates)) }, 'sup depart');
  }
  if (roll < 0.6) {
    const body: Record<string, unknown> = { ident: g.value('string', () => g.pick(['core/redis', 'core/redis/1.0.0', '../../etc', '/nonexistent/x.hart', 'relative.hart', 'a/b/c/d/e', ''])) };
    for (const [name, type] of [['group', 'string'], ['topology', 'string'], ['strategy', 'string'], ['binds', 'string'], ['binding_mode', 'string'], ['health_check_interval', 'number'], ['shutdown_timeout', 'number'], ['config_from', 'string'], ['force', 'boolean']] as const) {
      if (g.chance(0.2)) body[name] = g.value(type, () => (type === 'number' ? g.r.int(100) : type === 'boolean' ? true : 'x'));
    }
    const route = g.pick([ROUTES.svcLoad, ROUTES.svcUnload, ROUTES.svcStart, ROUTES.svcStop]);
    return post(route, body, route);
  }
  if (roll < 0.7) {
    const route = g.pick([ROUTES.supStatus, ROUTES.svcStatus, ROUTES.configShow, `${ROUTES.configShow}?ident=${encodeURIComponent(g.pick(['core/redis', '', '../..', '%00']))}`, `${ROUTES.svcStatus}?ident=x`]);
    return { method: g.chance(0.9) ? 'GET' : g.pick(METHODS), path: route, headers, label: 'get' };
  }
  if (roll < 0.78) return post(g.pick(Object.values(ROUTES)), g.json(), 'random json');
  if (roll < 0.86) {
    const route = g.pick(Object.values(ROUTES));
    const body = g.pick([() => '{', () => '{"a":', () => 'null', () => '[]', () => '"text"', () => '{"service_group":"a.b",,}', () => '\u0000', () => Buffer.from(randomBytes(g.r, 200)).toString('latin1')])();
    return { method: 'POST', path: route, headers, body, label: 'broken json' };
  }
  if (roll < 0.88) {
    const n = 1000 + g.r.int(200_000);
    const body = g.chance(0.5) ? `${'['.repeat(n)}${']'.repeat(n)}` : `${'{"a":'.repeat(Math.floor(n / 5))}1${'}'.repeat(Math.floor(n / 5))}`;
    return { method: 'POST', path: g.pick(Object.values(ROUTES)), headers, body, label: 'deep json' };
  }
  if (roll < 0.885) {
    return { method: 'POST', path: ROUTES.configApply, headers, body: JSON.stringify({ service_group: 'fuzz.big', version: 1, config: 'x'.repeat(1024 * 1024 + g.r.int(100_000)) }), label: 'over 1 MiB', ...(authed ? { expect: 413 } : {}) };
  }
  return { method: g.pick(METHODS), path: randomPath(g), headers, ...(g.chance(0.5) ? { body: JSON.stringify(g.json()) } : {}), label: 'random route' };
}

const HTTP_ROUTES = ['/', '/census', '/butterfly', '/metrics', '/services', '/services/redis/prod', '/services/redis/prod/acme', '/services/redis/prod/config', '/services/redis/prod/health', '/services/redis/prod/acme/config', '/services/redis/prod/acme/health'];

function randomPath(g: Gen): string {
  const segment = (): string =>
    g.pick<() => string>([
      () => 'redis',
      () => 'prod',
      () => '..',
      () => '.',
      () => '%2e%2e',
      () => '%00',
      () => '%zz',
      () => '%',
      () => encodeURIComponent(String.fromCharCode(...randomBytes(g.r, 1 + g.r.int(8)))),
      () => 'x'.repeat(g.r.int(2000)),
      () => '',
      () => 'config',
      () => 'health',
      () => 'services',
      () => '💥',
    ])();
  const segments = Array.from({ length: g.r.int(8) }, segment);
  let path = `/${segments.map((s) => (/^[\x21-\x7e]*$/.test(s) ? s : encodeURIComponent(s))).join('/')}`;
  if (g.chance(0.3)) path = `${g.pick(HTTP_ROUTES)}${g.chance(0.5) ? '/' : ''}${g.chance(0.3) ? segment() : ''}`;
  if (g.chance(0.4)) {
    const pairs = Array.from({ length: g.r.int(6) }, () => `${encodeURIComponent(segment())}=${encodeURIComponent(segment())}`);
    path += `?${pairs.join(g.pick(['&', ';', '&&']))}`;
  }
  return path.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

function httpRequest(g: Gen): FuzzRequest {
  const headers: Record<string, string> = {};
  if (g.chance(0.1)) headers.authorization = g.pick(['Bearer x', 'Basic eA==', '']);
  if (g.chance(0.1)) headers.accept = g.pick(['application/json', '*/*', 'text/html', 'x'.repeat(5000)]);
  const path = g.chance(0.4) ? g.pick(HTTP_ROUTES) : randomPath(g);
  return { method: g.chance(0.8) ? 'GET' : g.pick(METHODS), path, headers, ...(g.chance(0.1) ? { body: JSON.stringify(g.json()) } : {}), label: 'http' };
}

/** Bytes that are not a well-formed HTTP request, sent on a raw connection. */
function rawJunk(g: Gen, secret: string): Buffer {
  return Buffer.from(
    g.pick<() => string>([
      () => 'GARBAGE\r\n\r\n',
      () => `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      () => `GET / HTTP/1.1\r\n${'X-A: b\r\n'.repeat(5000)}\r\n`,
      () => `POST /v1/config/apply HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\nContent-Length: 100000\r\n\r\n{"service_group"`,
      () => `POST /v1/config/apply HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\nTransfer-Encoding: chunked\r\n\r\nzzzz\r\n`,
      () => `GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      () => 'GET / HTTP/9.9\r\n\r\n',
      () => `GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\n`,
      () => '\u0000\u0001\u0002\r\n\r\n',
      () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      () => `GET /butterfly HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(50),
    ])(),
    'latin1',
  );
}

function sendRaw(address: string, bytes: Buffer): Promise<void> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    const done = (): void => {
      socket.destroy();
      resolve();
    };
    socket.on('error', done);
    socket.on('close', done);
    socket.on('data', () => {});
    socket.setTimeout(300, done);
    socket.once('connect', () => socket.write(bytes));
  });
}

function send(agent: http.Agent, address: string, req: FuzzRequest): Promise<{ status: number; body: string } | { error: string }> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve) => {
    let settled = false;
    const finish = (v: { status: number; body: string } | { error: string }): void => {
      if (!settled) {
        settled = true;
        resolve(v);
      }
    };
    let r: http.ClientRequest;
    try {
      r = http.request({ agent, host: address.slice(0, i), port: Number(address.slice(i + 1)), method: req.method, path: req.path, headers: req.headers, timeout: REQUEST_LIMIT_MS }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size < 64 * 1024) chunks.push(c);
        });
        res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => finish({ error: err.message }));
      });
    } catch (err) {
      finish({ error: `client refused: ${(err as Error).message}` });
      return;
    }
    r.on('timeout', () => {
      r.destroy(new Error('timeout'));
      finish({ error: 'timeout' });
    });
    r.on('error', (err) => finish({ error: err.message }));
    r.end(req.body);
  });
}

async function fuzzHttpLike(name: TargetName, address: string, make: (g: Gen) => FuzzRequest, opts: HttpFuzzOptions): Promise<TargetReport> {
  const report = emptyReport(name);
  const g = new Gen(seededRandom(opts.seed + (name === 'ctl' ? 21 : 22)), opts.seed);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const statuses: Record<string, number> = {};
  const errorSamples: string[] = [];
  const monitor = new Monitor(opts.target, report, opts.monitor);
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < opts.inputs && monitor.alive) {
      const n = next++;
      if (g.chance(0.03)) {
        await sendRaw(address, rawJunk(g, opts.target.secret));
        statuses.raw = (statuses.raw ?? 0) + 1;
      } else {
        const req = make(g);
        const answer = await send(agent, address, req);
        if ('error' in answer) {
          statuses.error = (statuses.error ?? 0) + 1;
          const sample = `${answer.error} (${req.label})`;
          if (errorSamples.length < 5 && !errorSamples.includes(sample)) errorSamples.push(sample);
          if (answer.error === 'timeout') addFinding(report, { target: name, kind: 'hang', detail: `${req.method} ${req.path} (${req.label}) not answered within ${REQUEST_LIMIT_MS} ms`, input: describe(req) });
        } else {
          statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
          const internal = answer.status >= 500 && !/"code":"IO"/.test(answer.body);
          if (internal) addFinding(report, { target: name, kind: 'server-error', detail: `${req.method} ${req.path} (${req.label}) answered ${answer.status}: ${answer.body.slice(0, 500)}`, input: describe(req) });
          if (req.expect !== undefined && answer.status !== req.expect) {
            addFinding(report, { target: name, kind: 'property', detail: `${req.label} answered ${answer.status}, expected ${req.expect}: ${answer.body.slice(0, 300)}`, input: describe(req) });
          }
        }
      }
      report.inputs++;
      if (n % 5000 === 4999) opts.onProgress?.(n + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  report.seconds = (performance.now() - started) / 1000;
  agent.destroy();
  await sleep(100);
  await monitor.finish();
  for (const line of opts.target.errors) addFinding(report, { target: name, kind: 'property', detail: `the target logged: ${line}` });
  opts.target.errors.length = 0;
  report.notes = { ...report.notes, ...Object.fromEntries(Object.entries(statuses).map(([k, v]) => [`status.${k}`, v])) };
  if (errorSamples.length > 0) report.notes.clientErrors = errorSamples.join('; ');
  return report;
}

function describe(req: FuzzRequest): string {
  const body = req.body === undefined ? '' : ` body(${req.body.length}): ${req.body.toString().slice(0, 300)}`;
  return `${req.method} ${req.path.slice(0, 300)} ${JSON.stringify(req.headers).slice(0, 200)}${body}`;
}

export function fuzzCtl(opts: HttpFuzzOptions): Promise<TargetReport> {
  return fuzzHttpLike('ctl', opts.target.ctl, (g) => ctlRequest(g, opts.target, opts.protectedIds), opts);
}

export function fuzzHttp(opts: HttpFuzzOptions): Promise<TargetReport> {
  return fuzzHttpLike('http', opts.target.http, httpRequest, opts);
}
