/**
 * The router of both gateways (HTTP on 9631, control on 9632): routes by method and path
 * pattern, middleware, a not-found answer, an error answer, and replies as values. It does no
 * I/O: a transport (`net/http-server.ts`) hands it each request as an `IncomingHttp` and writes
 * out the `HttpReply` that `handle` resolves to.
 *
 * Written here rather than taken from a library, against STYLE.md's rule, for memory: Hono and
 * `@hono/node-server` load undici's WHATWG `Request`/`Response` machinery (and with it web
 * streams, `http2`, `worker_threads`) to serve two gateways of a dozen routes each; without them
 * an idle Supervisor measured 56.5 MiB resident rather than 59.8, for each of the hundred a host
 * may run. So nothing here, nor in the transport, touches the global `Request`, `Response`,
 * `Headers` or `fetch`.
 *
 * What it does, as the gateways' answers have always been (they were Hono apps):
 * - A pattern is literal segments and `{name}` segments, `/services/{svc}/{group}`; a `{name}`
 *   matches one non-empty segment. Matching is exact (case, trailing slash) and routes are tried
 *   in the order they were added, so an earlier route wins.
 * - `HEAD` runs the `GET` route; the transport sends its status and headers without the body.
 * - Middleware (`use`) runs in the order added, before routing, so it sees unknown paths too; it
 *   answers itself or calls `next()`.
 * - A request body over `maxBodyBytes` is refused after the middleware and before any route:
 *   at once when its `Content-Length` says so, else by reading it (`Transfer-Encoding`) until it
 *   is over. Either throws `HttpBodyError` (`too-large`) to `onError`. `GET` and `HEAD` bodies
 *   are not looked at.
 * - The path routes see is percent-decoded except for `%25` and the characters `decodeURI`
 *   leaves encoded (`%2F` stays `%2F`); a `{name}` value is decoded in full. A request target
 *   that is not a path (or an absolute URL), has a backslash in its path, or comes with a Host
 *   that is not a plain `host[:port]`, gets an empty `400` before any middleware.
 */

/** One request as a transport hands it to the router. */
export interface IncomingHttp {
  /** As on the request line: `GET`, `POST`, … */
  readonly method: string;
  /** The request target as received: `/path?query`, or an absolute URL. */
  readonly target: string;
  /** The peer's address; `unknown` when the transport does not know it. */
  readonly remoteAddress: string;
  /** Aborted when the client goes away before the reply has been sent in full. */
  readonly signal: AbortSignal;
  /** A request header by name (any case); several of the same name come joined with `, `. */
  header(name: string): string | undefined;
  /**
   * The whole body. Rejects with `HttpBodyError`: `too-large` as soon as it is over `maxBytes`,
   * `cut-off` when the client goes away before it ends. Called at most once per request.
   */
  readBody(maxBytes: number): Promise<Uint8Array>;
}

/** A request as routes and middleware see it. */
export interface HttpRequest {
  readonly method: string;
  /** Decoded as the module header says; without the query. */
  readonly path: string;
  /** The `{name}` values of the matched pattern; empty in middleware and the not-found answer. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly remoteAddress: string;
  /** Aborted when the client goes away before the reply has been sent in full. */
  readonly signal: AbortSignal;
  header(name: string): string | undefined;
  /** The body as UTF-8 text, read once (within `maxBodyBytes`); `GET` and `HEAD` have none. */
  text(): Promise<string>;
}

export type HttpHeaders = Readonly<Record<string, string>>;

/** What the transport writes out: a whole body, or a stream of text. */
export type HttpReply =
  | { readonly status: number; readonly headers: HttpHeaders; readonly body: string }
  | { readonly status: number; readonly headers: HttpHeaders; readonly stream: (out: ReplyStream) => void };

/**
 * Where a streamed reply goes. Its status and headers are on the wire before `start` is called;
 * each `write` goes out at once. Writes after the client went away are dropped: stop on the
 * request's `signal`.
 */
export interface ReplyStream {
  write(chunk: string): void;
  end(): void;
}

export type RouteHandler = (req: HttpRequest) => HttpReply | Promise<HttpReply>;
export type Middleware = (req: HttpRequest, next: () => Promise<HttpReply>) => HttpReply | Promise<HttpReply>;
export type ErrorHandler = (err: unknown, req: HttpRequest) => HttpReply;
/** What a transport serves: `Router.handle`. */
export type HttpHandler = (incoming: IncomingHttp) => Promise<HttpReply>;

/** A request body the router did not take: over the limit, or cut off by the client going away. */
export class HttpBodyError extends Error {
  constructor(
    readonly reason: 'too-large' | 'cut-off',
    message: string,
  ) {
    super(message);
    this.name = 'HttpBodyError';
  }

  static tooLarge(maxBytes: number): HttpBodyError {
    return new HttpBodyError('too-large', `request body is over ${maxBytes} bytes`);
  }

  static cutOff(): HttpBodyError {
    return new HttpBodyError('cut-off', 'the client went away before the request body ended');
  }
}

export interface RouterOptions {
  /** The largest request body taken, in bytes. @default 1048576 (1 MiB) */
  maxBodyBytes?: number;
  /** Answers a request no route matches. @default an empty 404 */
  notFound?: RouteHandler;
  /** Answers a request whose middleware or route threw. @default a 500 with the text "Internal Server Error" */
  onError?: ErrorHandler;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const JSON_TYPE = 'application/json';
const TEXT_TYPE = 'text/plain; charset=UTF-8';

/** `body` as it is, of type `contentType`. */
export function reply(status: number, body: string, contentType: string, headers: HttpHeaders = {}): HttpReply {
  return { status, headers: { 'Content-Type': contentType, ...headers }, body };
}

/** `value` as JSON (`application/json`). */
export function jsonReply(value: unknown, status = 200, headers: HttpHeaders = {}): HttpReply {
  return reply(status, JSON.stringify(value), JSON_TYPE, headers);
}

/** Plain text (`text/plain; charset=UTF-8`). */
export function textReply(text: string, status = 200, headers: HttpHeaders = {}): HttpReply {
  return reply(status, text, TEXT_TYPE, headers);
}

/** A status with no body and no content type. */
export function emptyReply(status: number, headers: HttpHeaders = {}): HttpReply {
  return { status, headers, body: '' };
}

/** A body written as it is made, by `start`, of type `contentType` (`application/x-ndjson`: one JSON value per line). */
export function streamReply(status: number, contentType: string, start: (out: ReplyStream) => void, headers: HttpHeaders = {}): HttpReply {
  return { status, headers: { 'Content-Type': contentType, ...headers }, stream: start };
}

interface Route {
  method: string;
  /** The pattern split on `/`: a string is literal, `{ param }` takes one segment. */
  segments: (string | { param: string })[];
  handler: RouteHandler;
}

const PARAM = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

export class Router {
  private readonly routes: Route[] = [];
  private readonly middleware: Middleware[] = [];
  private readonly maxBodyBytes: number;
  private readonly notFound: RouteHandler;
  private readonly onError: ErrorHandler;

  constructor(opts: RouterOptions = {}) {
    this.maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.notFound = opts.notFound ?? (() => emptyReply(404));
    this.onError = opts.onError ?? (() => textReply('Internal Server Error', 500));
  }

  use(middleware: Middleware): this {
    this.middleware.push(middleware);
    return this;
  }

  get(pattern: string, handler: RouteHandler): this {
    return this.on('GET', pattern, handler);
  }

  post(pattern: string, handler: RouteHandler): this {
    return this.on('POST', pattern, handler);
  }

  on(method: string, pattern: string, handler: RouteHandler): this {
    if (!pattern.startsWith('/')) throw new Error(`a route pattern starts with "/": ${JSON.stringify(pattern)}`);
    const segments = pattern.split('/').map((s) => {
      const param = PARAM.exec(s)?.[1];
      return param === undefined ? s : { param };
    });
    this.routes.push({ method: method.toUpperCase(), segments, handler });
    return this;
  }

  /** Answers one request: never rejects unless `onError` throws. */
  readonly handle: HttpHandler = async (incoming) => {
    const url = requestUrl(incoming);
    if (!url) return emptyReply(400);
    const req = new RoutedRequest(incoming, url, this.maxBodyBytes);
    try {
      return await this.run(req, 0);
    } catch (err) {
      return this.onError(err, req);
    }
  };

  private async run(req: RoutedRequest, index: number): Promise<HttpReply> {
    const middleware = this.middleware[index];
    if (middleware) return middleware(req, () => this.run(req, index + 1));
    await this.refuseLargeBody(req);
    return this.dispatch(req);
  }

  private dispatch(req: RoutedRequest): HttpReply | Promise<HttpReply> {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const parts = req.path.split('/');
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const params = match(route.segments, parts);
      if (!params) continue;
      req.params = params;
      return route.handler(req);
    }
    return this.notFound(req);
  }

  /** Throws `too-large` for a body declared, or read, over the limit. */
  private async refuseLargeBody(req: RoutedRequest): Promise<void> {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    const length = req.header('content-length');
    if (length !== undefined && req.header('transfer-encoding') === undefined) {
      if (parseInt(length, 10) > this.maxBodyBytes) throw HttpBodyError.tooLarge(this.maxBodyBytes);
      return;
    }
    await req.text();
  }
}

class RoutedRequest implements HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly remoteAddress: string;
  readonly signal: AbortSignal;
  params: Readonly<Record<string, string>> = {};
  private body: Promise<string> | undefined;

  constructor(
    private readonly incoming: IncomingHttp,
    url: URL,
    private readonly maxBodyBytes: number,
  ) {
    this.method = incoming.method;
    this.path = decodePath(url.pathname);
    this.query = url.searchParams;
    this.remoteAddress = incoming.remoteAddress;
    this.signal = incoming.signal;
  }

  header(name: string): string | undefined {
    return this.incoming.header(name);
  }

  text(): Promise<string> {
    this.body ??= this.readText();
    return this.body;
  }

  private async readText(): Promise<string> {
    if (this.method === 'GET' || this.method === 'HEAD') return '';
    // WHATWG UTF-8 decoding, as `Request.text()` did: a leading byte order mark is dropped.
    return new TextDecoder().decode(await this.incoming.readBody(this.maxBodyBytes));
  }
}

/** The `{name}` values when `parts` (a path split on `/`) fits the pattern, else undefined. */
function match(segments: Route['segments'], parts: string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const want = segments[i] as Route['segments'][number];
    const part = parts[i] as string;
    if (typeof want === 'string') {
      if (want !== part) return undefined;
    } else {
      if (part === '') return undefined;
      params[want.param] = part.includes('%') ? tryDecode(part, decodeURIComponent) : part;
    }
  }
  return params;
}

/** A host as a client should send it: a name or IPv4 address, with an optional port. */
const PLAIN_HOST = /^[a-z0-9._-]+(?::\d{1,5})?$/;

/** The request's URL, or undefined when the target or the Host header is malformed. */
function requestUrl(incoming: IncomingHttp): URL | undefined {
  const target = incoming.target;
  const backslash = target.indexOf('\\');
  if (backslash !== -1) {
    const query = target.indexOf('?');
    if (query === -1 || backslash < query) return undefined;
  }
  try {
    if (target.startsWith('http://') || target.startsWith('https://')) return new URL(target);
    const host = incoming.header('host');
    if (host === undefined || !target.startsWith('/')) return undefined;
    const url = new URL(`http://${host}${target}`);
    // `a@b` or `a/b` in a Host parse as another host: refuse rather than guess.
    if (!PLAIN_HOST.test(host) && url.hostname !== host.replace(/:\d+$/, '').toLowerCase()) return undefined;
    return url;
  } catch {
    return undefined;
  }
}

/** `decodeURI`, keeping `%25` as it is so that a decoded path never gains a new `%xx`. */
function decodePath(pathname: string): string {
  if (!pathname.includes('%')) return pathname;
  return tryDecode(pathname, (s) => decodeURI(s.replace(/%25/g, '%2525')));
}

/** `decode(text)`; when that throws, each run of `%xx` that decodes is decoded and the rest kept. */
function tryDecode(text: string, decode: (s: string) => string): string {
  try {
    return decode(text);
  } catch {
    return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decode(run);
      } catch {
        return run;
      }
    });
  }
}
