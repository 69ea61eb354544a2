/**
 * The one way murmur listens for HTTP: the HTTP gateway (9631) and the control gateway (9632) are
 * both served by `startHttpServer`, so that they share the defences of issue 5's "Gateways":
 *
 * - TLS when `tls` is given (Habitat's `--key`/`--certs`/`--ca-certs` and
 *   `--ctl-server-key`/`--ctl-server-certificate`/`--ctl-client-ca-certificate`); with `tls.ca`
 *   the client must present a certificate signed by it (mutual TLS), else the handshake fails.
 * - Timeouts against slow clients: the TLS handshake, the request headers, the whole request
 *   (headers and body) and idle keep-alive connections each have a bound (Node's
 *   `handshakeTimeout`, `headersTimeout`, `requestTimeout`, `keepAliveTimeout`), checked every
 *   `checkIntervalMs` rather than Node's 30 s, so that a slow-loris client is cut near its bound.
 * - Bounded connections: `maxConnections` in all, and at most `maxConnectionsPerAddress` from one
 *   remote address (a connection over it is closed at once), so that a flood from one client
 *   leaves room for the others.
 * - Bounded requests: headers at most `maxHeaderBytes`; with `methods`, any other method is
 *   answered 405 and a request that carries a body 413, before the app sees it (the HTTP gateway
 *   takes no bodies). Bodies the router accepts are the router's to bound (`maxBodyBytes`).
 *
 * The app is a `Router.handle` (`core/http-router.ts`): this file turns each node:http request
 * into the router's `IncomingHttp` and writes out its `HttpReply`. The request's `signal` is
 * aborted when the connection closes before the reply has been sent in full, which is how a
 * streamed reply learns that its client went away. Nothing here touches the global `Request`,
 * `Response` or `Headers`: their undici machinery would cost every Supervisor over 3 MiB.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { emptyReply, HttpBodyError, type HttpHandler, type HttpReply, type IncomingHttp } from '../core/http-router.js';

/** PEM text or bytes. */
export type Pem = string | Uint8Array;

export interface HttpTlsOptions {
  /** The server's private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC). */
  key: Pem;
  /** The server's certificate chain (PEM), leaf first. */
  cert: Pem;
  /** Present: clients must present a certificate signed by one of these CAs (PEM). */
  ca?: Pem | undefined;
}

export interface HttpServerLimits {
  /** TLS handshake, from accept to established (ms). @default 10000 */
  handshakeTimeoutMs?: number;
  /** All request headers received, from the first byte of the request (ms). @default 10000 (Habitat's ctl REQ_TIMEOUT) */
  headersTimeoutMs?: number;
  /** The whole request, headers and body, received (ms). @default 30000 */
  requestTimeoutMs?: number;
  /** A kept-alive connection with no request in flight is closed after this long (ms). @default 5000 (Node's) */
  keepAliveTimeoutMs?: number;
  /** How often the header and request timeouts are checked (ms). @default 1000 */
  checkIntervalMs?: number;
  /** Open connections in all; more are refused by the kernel's accept path. @default 512 */
  maxConnections?: number;
  /** Open connections from one remote address; more are closed at once. @default 32 */
  maxConnectionsPerAddress?: number;
  /** Request line and headers, in bytes (Node's `maxHeaderSize`). @default 16384 */
  maxHeaderBytes?: number;
}

export interface HttpServerOptions extends HttpServerLimits {
  host: string;
  /** 0: the OS chooses; `start` reports the bound port. */
  port: number;
  tls?: HttpTlsOptions | undefined;
  /** Present: only these methods, and no request bodies (405, 413 otherwise). @default undefined (any) */
  methods?: readonly string[] | undefined;
}

export const HTTP_SERVER_DEFAULTS: Required<HttpServerLimits> = {
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 1_000,
  maxConnections: 512,
  maxConnectionsPerAddress: 32,
  maxHeaderBytes: 16_384,
};

export interface HttpServerCounters {
  /** Connections closed at accept for being over `maxConnectionsPerAddress`. */
  refusedPerAddress: number;
  /** TLS handshakes that failed (no client certificate, an untrusted one, a timeout, junk). */
  tlsFailures: number;
}

/** A listening server: where it listens, its counters, and how to stop it. */
export interface RunningHttpServer {
  readonly address: { host: string; port: number };
  readonly tls: boolean;
  readonly counters: HttpServerCounters;
  readonly server: Server;
  /** Stops listening; requests in flight get `graceMs` to finish, then are cut. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Listens with `handle` as the app; rejects with the listen error (`EADDRINUSE`, …). */
export async function startHttpServer(handle: HttpHandler, options: HttpServerOptions): Promise<RunningHttpServer> {
  const limits = { ...HTTP_SERVER_DEFAULTS, ...definedOnly(options) };
  const listener = toListener(handle);
  const handler = options.methods ? readOnly(options.methods, listener) : listener;
  const common = {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
    maxHeaderSize: limits.maxHeaderBytes,
  };
  const tls = options.tls;
  const server: Server = tls
    ? createHttpsServer(
        {
          ...common,
          key: pem(tls.key),
          cert: pem(tls.cert),
          handshakeTimeout: limits.handshakeTimeoutMs,
          ...(tls.ca !== undefined ? { ca: pem(tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
        },
        handler,
      )
    : createHttpServer(common, handler);
  // `headersTimeout` must not exceed `requestTimeout` (Node refuses to start otherwise).
  server.headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  server.maxConnections = limits.maxConnections;
  const counters: HttpServerCounters = { refusedPerAddress: 0, tlsFailures: 0 };
  capPerAddress(server, limits.maxConnectionsPerAddress, counters);
  // A failed handshake is the client's problem: count it, never crash or log its bytes.
  server.on('tlsClientError', (_err: Error, socket: Socket) => {
    counters.tlsFailures++;
    socket.destroy();
  });
  // Malformed requests and timeouts keep Node's own `clientError` answers (400, 408, 431).

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const address = typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : { host: options.host, port: options.port };
  let stopped: Promise<void> | undefined;
  return {
    address,
    tls: tls !== undefined,
    counters,
    server,
    stop(graceMs = 2000) {
      stopped ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      return stopped;
    },
  };
}

/**
 * Closes, at accept, a connection from an address that already holds `cap` open ones. Runs
 * before the HTTP (or TLS) machinery sees the socket, so a refused one costs nothing more.
 */
function capPerAddress(server: Server, cap: number, counters: HttpServerCounters): void {
  const open = new Map<string, number>();
  server.prependListener('connection', (socket: Socket) => {
    const from = socket.remoteAddress ?? 'unknown';
    const count = open.get(from) ?? 0;
    if (count >= cap) {
      counters.refusedPerAddress++;
      socket.destroy();
      return;
    }
    open.set(from, count + 1);
    socket.once('close', () => {
      const left = (open.get(from) ?? 1) - 1;
      if (left <= 0) open.delete(from);
      else open.set(from, left);
    });
  });
}

type Listener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Carries each request to `handle` and its reply back; a reply that cannot be made is an empty 500. */
function toListener(handle: HttpHandler): Listener {
  return (req, res) => {
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const incoming: IncomingHttp = {
      method: req.method ?? 'GET',
      target: req.url ?? '/',
      remoteAddress: req.socket.remoteAddress ?? 'unknown',
      signal: gone.signal,
      header: (name) => req.headersDistinct[name.toLowerCase()]?.join(', '),
      readBody: (maxBytes) => readBody(req, maxBytes),
    };
    // A reply that cannot be made, or written (a stream whose start throws), must not become an
    // unhandled rejection, which would end the process.
    void handle(incoming)
      .then((reply) => send(res, reply))
      .catch(() => {
        if (res.headersSent) res.destroy();
        else send(res, emptyReply(500));
      });
  };
}

/**
 * Writes `reply`. A whole body goes with its `Content-Length` (none for `HEAD`, whose body Node
 * leaves out); a stream goes chunked, its headers flushed before the first chunk is made.
 */
function send(res: ServerResponse, reply: HttpReply): void {
  if (res.destroyed) return;
  if ('stream' in reply) {
    res.writeHead(reply.status, reply.headers);
    res.flushHeaders();
    const open = (): boolean => !res.destroyed && !res.writableEnded;
    reply.stream({
      write: (chunk) => {
        if (open()) res.write(chunk);
      },
      end: () => {
        if (open()) res.end();
      },
    });
    return;
  }
  res.statusCode = reply.status;
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  res.end(reply.body);
}

/**
 * The whole body of `req`, refused as soon as it is over `maxBytes` or when the client goes away
 * before it ends. After a refusal the stream flows on with no listener, so the rest is dropped
 * as it arrives rather than left to fill the socket's buffers.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  if (req.readableEnded) return Promise.resolve(new Uint8Array(0));
  if (req.destroyed) return Promise.reject(HttpBodyError.cutOff());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (err?: HttpBodyError): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) settle(HttpBodyError.tooLarge(maxBytes));
      else chunks.push(chunk);
    };
    const onEnd = (): void => settle();
    const onGone = (): void => settle(HttpBodyError.cutOff());
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onGone);
    req.once('close', onGone);
  });
}

/** 405 for another method, 413 for a request with a body; the connection is closed after either. */
function readOnly(methods: readonly string[], next: Listener): Listener {
  const allowed = new Set(methods.map((m) => m.toUpperCase()));
  const allow = [...allowed].join(', ');
  return (req, res) => {
    const method = (req.method ?? '').toUpperCase();
    const length = req.headers['content-length'];
    const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    if (!allowed.has(method) || hasBody) {
      const status = allowed.has(method) ? 413 : 405;
      const body = JSON.stringify({ error: status === 405 ? `method ${method} not allowed: this gateway answers ${allow}` : 'this gateway takes no request bodies' });
      res.writeHead(status, { 'Content-Type': 'application/json', Connection: 'close', ...(status === 405 ? { Allow: allow } : {}) });
      res.end(body);
      return;
    }
    return next(req, res);
  };
}

function pem(p: Pem): string | Buffer {
  return typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
}

function definedOnly(o: HttpServerLimits): HttpServerLimits {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
