/**
 * The control gateway (default `127.0.0.1:9632`, `--listen-ctl`, `HAB_LISTEN_CTL`): how the CLI,
 * or an operator with curl, asks a running Supervisor to do something. Habitat's speaks a framed
 * protobuf protocol with a handshake (reference §4); ours is HTTP/1.1 + JSON (ARCHITECTURE §2),
 * a Hono app, so that tests call `app.request()` without a socket.
 *
 * Authentication: every request carries `Authorization: Bearer <CTL_SECRET>` (the file
 * `$FS_ROOT/hab/sup/default/CTL_SECRET`). The secret is compared in constant time. A request
 * without it, or with another, gets 401 and changes nothing; it is counted
 * (`counters.unauthorized`) and logged at most once per remote address per minute, so that a
 * scanner cannot flood the log. Authentication comes before anything else, the body included.
 *
 * Routes (bodies in `api.ts` and `docs/ctl.md`):
 * - `POST /v1/config/apply` `{service_group, version, config}`: gossip `config` (TOML text) as
 *   version `version` of the group's config (`hab config apply`).
 * - `POST /v1/file/upload` `{service_group, version, filename, body_base64}`: gossip a file for
 *   the group (`hab file upload`).
 * - `POST /v1/sup/depart` `{member_id}`: depart that member from the ring (`hab sup depart`).
 * - `GET /v1/sup/status`: this member's id and incarnation, and the members it knows by health.
 *
 * Answers: 200 with a JSON body; errors `{"error": {"code", "message"}}` with the status of the
 * `MurmurError` code (core/errors.ts): malformed JSON or a bad field 400 (naming the field), a
 * wrong secret 401, an unknown member 404, a version not newer than the one held 409 (naming
 * it), a body over 1 MiB or a payload over `MAX_GOSSIP_PAYLOAD_BYTES` 413.
 *
 * The rules themselves (names, versions, sizes, TOML) live in `sup/`: this layer only turns
 * HTTP into calls on a narrow `CtlSupervisor` and errors back into HTTP.
 */
import { timingSafeEqual } from 'node:crypto';
import { serve, type HttpBindings, type ServerType } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Clock, ErrorCode, Logger } from '../core/index.js';
import { MurmurError, nullLogger } from '../core/index.js';
import type { Published, SupervisorStatus } from '../sup/index.js';
import { MAX_GOSSIP_PAYLOAD_BYTES } from '../sup/index.js';
import type { ConfigApplyResponse, ErrorBody, FileUploadResponse, SupDepartResponse, SupStatusResponse } from './api.js';
import { MAX_CTL_BODY_BYTES, ROUTES } from './api.js';

/** What the gateway needs of a Supervisor (`sup/supervisor.ts` implements it). */
export interface CtlSupervisor {
  readonly id: string;
  applyConfig(group: string, version: number, tomlText: string): Published;
  uploadFile(group: string, version: number, filename: string, body: Uint8Array): Published;
  depart(memberId: string): { alreadyDeparted: boolean };
  status(): SupervisorStatus;
}

export interface CtlGatewayDeps {
  supervisor: CtlSupervisor;
  /** The `CTL_SECRET` every request must present. */
  secret: string;
  log?: Logger;
  /** For the rate limit of the refusal log (ms). @default Date.now */
  clock?: Clock;
}

export interface CtlCounters {
  /** Requests refused for a missing or wrong secret. */
  unauthorized: number;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** A refused request is logged at most once per remote address per this long (ms). */
const REFUSAL_LOG_INTERVAL_MS = 60_000;
/** Remote addresses remembered for that rate limit before old ones are forgotten. */
const REFUSAL_LOG_MAX_ADDRESSES = 1024;
/** How long `stop` waits for requests in flight before closing their connections (ms). */
const STOP_GRACE_MS = 2000;

type Env = { Bindings: HttpBindings };

export class CtlGateway {
  readonly app: Hono<Env>;
  readonly counters: CtlCounters = { unauthorized: 0 };
  private readonly secret: Buffer;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly refusalLoggedAt = new Map<string, number>();
  private server: ServerType | undefined;

  constructor(private readonly deps: CtlGatewayDeps) {
    if (deps.secret === '') throw new Error('the control gateway needs a non-empty secret');
    this.secret = Buffer.from(deps.secret, 'utf8');
    this.log = deps.log ?? nullLogger;
    this.clock = deps.clock ?? { now: () => Date.now() };
    this.app = this.routes();
  }

  /** Listens on `listen` (port 0: the OS chooses) and resolves to the bound address. */
  async start(listen: ListenAddress): Promise<ListenAddress> {
    if (this.server) return this.bound(listen);
    const server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: this.app.fetch, hostname: listen.host, port: listen.port }, () => resolve(s));
      s.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new MurmurError('IO', `cannot start the control gateway on ${formatAddress(listen)}: ${err.code ?? err.message} (choose another with --listen-ctl)`, { cause: err }),
        ),
      );
    });
    this.server = server;
    return this.bound(listen);
  }

  /** Stops listening; requests in flight get `STOP_GRACE_MS` to finish. Idempotent. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        if ('closeAllConnections' in server) server.closeAllConnections();
      }, STOP_GRACE_MS);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      if ('closeIdleConnections' in server) server.closeIdleConnections();
    });
  }

  private bound(fallback: ListenAddress): ListenAddress {
    const addr = this.server?.address();
    return typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : fallback;
  }

  private routes(): Hono<Env> {
    const app = new Hono<Env>();
    const sup = this.deps.supervisor;
    app.use('*', async (c, next) => {
      this.authenticate(c.req.header('authorization'), remoteAddress(c.env));
      await next();
    });
    app.use(
      '*',
      bodyLimit({
        maxSize: MAX_CTL_BODY_BYTES,
        onError: () => {
          throw new MurmurError(
            'TOO_LARGE',
            `request body is over the control gateway's limit of ${MAX_CTL_BODY_BYTES} bytes (1 MiB); a config or file may be at most ${MAX_GOSSIP_PAYLOAD_BYTES} bytes`,
          );
        },
      }),
    );

    app.post(ROUTES.configApply, async (c) => {
      const body = await readObject(c);
      const done = sup.applyConfig(text(body, 'service_group'), num(body, 'version'), text(body, 'config'));
      return c.json<ConfigApplyResponse>({ service_group: done.group, version: done.version, bytes: done.bytes, member_id: sup.id });
    });

    app.post(ROUTES.fileUpload, async (c) => {
      const body = await readObject(c);
      const group = text(body, 'service_group');
      const version = num(body, 'version');
      const filename = text(body, 'filename');
      const bytes = base64(body, 'body_base64');
      const done = sup.uploadFile(group, version, filename, bytes);
      return c.json<FileUploadResponse>({ service_group: done.group, version: done.version, filename, bytes: done.bytes, member_id: sup.id });
    });

    app.post(ROUTES.supDepart, async (c) => {
      const body = await readObject(c);
      const memberId = text(body, 'member_id');
      const { alreadyDeparted } = sup.depart(memberId);
      return c.json<SupDepartResponse>({ member_id: memberId, already_departed: alreadyDeparted });
    });

    app.get(ROUTES.supStatus, (c) => {
      const s = sup.status();
      return c.json<SupStatusResponse>({ member_id: s.memberId, incarnation: s.incarnation, members: s.members });
    });

    app.notFound((c) =>
      errorResponse(
        c,
        'NOT_FOUND',
        `no route ${c.req.method} ${c.req.path}; the routes are POST ${ROUTES.configApply}, POST ${ROUTES.fileUpload}, POST ${ROUTES.supDepart}, GET ${ROUTES.supStatus}`,
      ),
    );

    app.onError((err, c) => {
      if (err instanceof MurmurError) {
        if (err.code === 'UNAUTHORIZED') c.header('WWW-Authenticate', 'Bearer realm="murmur ctl-gateway"');
        // The body of these may be unread: close rather than keep a connection with bytes pending.
        if (err.code === 'UNAUTHORIZED' || err.code === 'TOO_LARGE') c.header('Connection', 'close');
        return errorResponse(c, err.code, err.message);
      }
      if (err instanceof HTTPException) return errorResponse(c, err.status === 413 ? 'TOO_LARGE' : 'BAD_INPUT', err.message);
      this.log.error('control request failed', { method: c.req.method, path: c.req.path, error: err.message });
      return errorResponse(c, 'INTERNAL', `internal error: ${err.message}`);
    });
    return app;
  }

  /** Throws UNAUTHORIZED unless the request carries this gateway's secret; counts and logs refusals. */
  private authenticate(header: string | undefined, from: string): void {
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    const presented = match?.[1];
    if (presented !== undefined && this.matches(presented)) return;
    this.counters.unauthorized++;
    const reason = header === undefined ? 'no Authorization header' : presented === undefined ? 'not a Bearer token' : 'secret key mismatch';
    this.logRefusal(from, reason);
    throw new MurmurError(
      'UNAUTHORIZED',
      `${reason}: send this Supervisor's CTL_SECRET (the file hab/sup/default/CTL_SECRET under its FS_ROOT) as "Authorization: Bearer <secret>"; the CLI reads HAB_CTL_SECRET, else that file`,
    );
  }

  /** Constant time for secrets of the right length; a different length is a mismatch. */
  private matches(presented: string): boolean {
    const given = Buffer.from(presented, 'utf8');
    return given.length === this.secret.length && timingSafeEqual(given, this.secret);
  }

  private logRefusal(from: string, reason: string): void {
    const now = this.clock.now();
    const last = this.refusalLoggedAt.get(from);
    if (last !== undefined && now - last < REFUSAL_LOG_INTERVAL_MS) return;
    if (this.refusalLoggedAt.size >= REFUSAL_LOG_MAX_ADDRESSES) {
      for (const [addr, at] of this.refusalLoggedAt) if (now - at >= REFUSAL_LOG_INTERVAL_MS) this.refusalLoggedAt.delete(addr);
      if (this.refusalLoggedAt.size >= REFUSAL_LOG_MAX_ADDRESSES) return;
    }
    this.refusalLoggedAt.set(from, now);
    this.log.warn('refused a control request without the right secret', { from, reason, refused: this.counters.unauthorized });
  }
}

function formatAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The peer's address on a real socket; `unknown` under `app.request()`, which has no socket. */
function remoteAddress(env: Partial<HttpBindings> | undefined): string {
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}

function errorResponse(c: Context<Env>, code: ErrorCode, message: string): Response {
  const status = new MurmurError(code, message).httpStatus as ContentfulStatusCode;
  return c.json<ErrorBody>({ error: { code, message } }, status);
}

type JsonObject = Record<string, unknown>;

async function readObject(c: Context<Env>): Promise<JsonObject> {
  const raw = await c.req.text();
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new MurmurError('BAD_INPUT', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MurmurError('BAD_INPUT', `request body must be a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'null' : `a ${typeof value}`}`);
  }
  return value as JsonObject;
}

function field(body: JsonObject, name: string, type: 'string' | 'number'): unknown {
  const v = body[name];
  if (v === undefined) throw new MurmurError('BAD_INPUT', `${name} is missing: expected a ${type}`);
  const got = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  if (got !== type) throw new MurmurError('BAD_INPUT', `${name} must be a ${type}, got ${got}`);
  return v;
}

function text(body: JsonObject, name: string): string {
  return field(body, name, 'string') as string;
}

function num(body: JsonObject, name: string): number {
  return field(body, name, 'number') as number;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function base64(body: JsonObject, name: string): Uint8Array {
  const v = text(body, name);
  if (!BASE64.test(v)) throw new MurmurError('BAD_INPUT', `${name} is not valid base64 (standard alphabet, padded)`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}
