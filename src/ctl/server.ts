/**
 * The control gateway (default `127.0.0.1:9632`, `--listen-ctl`, `HAB_LISTEN_CTL`): how the CLI,
 * or an operator with curl, asks a running Supervisor to do something. Habitat's speaks a framed
 * protobuf protocol with a handshake (reference §4); ours is HTTP/1.1 + JSON (ARCHITECTURE §2):
 * a `Router` (`core/http-router.ts`) whose handler, `handle`, is served by whatever `deps.listen`
 * starts (`net/http-server.ts`'s `startHttpServer` in `hab sup run` and in tests).
 *
 * Authentication: every request carries `Authorization: Bearer <CTL_SECRET>` (the file
 * `$FS_ROOT/hab/sup/default/CTL_SECRET`). The secret is compared in constant time. A request
 * without it, or with another, gets 401 and changes nothing; it is counted
 * (`counters.unauthorized`) and logged at most once per remote address per minute, so that a
 * scanner cannot flood the log. Authentication comes before anything else, the body included.
 *
 * Routes (bodies in `api.ts` and `docs/ctl.md`):
 * - `POST /v1/config/apply` `{service_group, version, config, encrypted?}`: gossip `config` (TOML
 *   text, or a `BOX-1` payload with `encrypted: true`) as version `version` of the group's
 *   config (`hab config apply [--user]`).
 * - `POST /v1/file/upload` `{service_group, version, filename, body_base64, encrypted?}`: gossip
 *   a file (or its `BOX-1` payload) for the group (`hab file upload [--user]`).
 * - `POST /v1/sup/depart` `{member_id}`: depart that member from the ring (`hab sup depart`).
 * - `GET /v1/sup/status`: this member's id and incarnation, the members it knows by health, and
 *   the ids of the ring keys it holds.
 * - `POST /v1/ring/key/install` `{key_text}`, `POST /v1/ring/key/use|remove` `{key, force?}`,
 *   `GET /v1/ring/key/list`: ring key rotation (`hab ring key …`, `sup/ring-keys.ts`).
 * - `POST /v1/config/apply` with `wait: true`: the same, then an NDJSON stream of the group's
 *   progress until every live member has applied the version, or `timeout` seconds pass
 *   (`hab config apply --wait`; see `waitForGroup`).
 * - With a service manager (`deps.services`): `POST /v1/svc/load|unload|start|stop`,
 *   `GET /v1/svc/status[?ident=]`, `GET /v1/config/show?ident=` (`hab svc …`, `hab config show`).
 *   Without one they answer 404, as does `wait`.
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
import type { Clock, ErrorCode, Logger } from '../core/index.js';
import { MurmurError, nullLogger } from '../core/index.js';
import { HttpBodyError, jsonReply, Router, streamReply, type HttpHandler, type HttpHeaders, type HttpReply, type HttpRequest } from '../core/http-router.js';
import type { BindingMode, LoadRequest, LoadResult, Published, ServicesApi, ServiceStatus, SupervisorStatus, Topology, UpdateStrategy } from '../sup/index.js';
import type { RingKeyStatus } from '../sup/index.js';
import { BINDING_MODES, MAX_GOSSIP_PAYLOAD_BYTES, TOPOLOGIES, UPDATE_STRATEGIES } from '../sup/index.js';
import type {
  ConfigApplyEvent,
  ConfigApplyResponse,
  ConfigShowResponse,
  ErrorBody,
  FileUploadResponse,
  RingKeyJson,
  RingKeyResponse,
  PendingMember,
  ServiceStatusJson,
  SupDepartResponse,
  SupStatusResponse,
  SvcLoadResponse,
  SvcStatusResponse,
} from './api.js';
import { DEFAULT_WAIT_TIMEOUT_SEC, MAX_CTL_BODY_BYTES, MAX_WAIT_TIMEOUT_SEC, NDJSON_CONTENT_TYPE, ROUTES } from './api.js';

/** What the gateway needs of a Supervisor (`sup/supervisor.ts` implements it). */
export interface CtlSupervisor {
  readonly id: string;
  /** `encrypted`: `text` is a `BOX-1` payload rather than TOML. */
  applyConfig(group: string, version: number, text: string, encrypted?: boolean): Published;
  /** `encrypted`: `body` is a `BOX-1` payload. */
  uploadFile(group: string, version: number, filename: string, body: Uint8Array, encrypted?: boolean): Published;
  depart(memberId: string): { alreadyDeparted: boolean };
  status(): SupervisorStatus;
}

/** What the ring key routes need (`sup/ring-keys.ts` implements it). */
export interface RingKeysApi {
  keyIds(): string[];
  /** The text of a `SYM-SEC-1` key file. */
  installText(keyText: string): RingKeyStatus;
  use(nameRevision: string, force?: boolean): RingKeyStatus;
  remove(nameRevision: string): RingKeyStatus;
  list(): RingKeyStatus[];
}

function toRingKeyJson(s: RingKeyStatus): RingKeyJson {
  return { name: s.name, revision: s.revision, id: s.id ?? null, state: s.state, holders: s.holders, sealers: s.sealers, live: s.live };
}

export interface CtlGatewayDeps {
  supervisor: CtlSupervisor;
  /** Ring key rotation (`/v1/ring/key/*`). Absent (no ring key): those routes answer 409 CONFLICT. */
  ringKeys?: RingKeysApi | undefined;
  /**
   * The service manager (`hab svc …`, `config show`, `config apply --wait`). Absent: those routes
   * answer 404 NOT_FOUND.
   */
  services?: ServicesApi | undefined;
  /** The `CTL_SECRET` every request must present. */
  secret: string;
  log?: Logger;
  /** For the rate limit of the refusal log and the services' elapsed seconds (ms). @default Date.now */
  clock?: Clock;
  /**
   * How the gateway listens: `net/http-server.ts`'s `startHttpServer`, which the Supervisor gives
   * TLS (`--ctl-server-certificate`, …) besides its timeouts and connection caps (app/sup-run.ts).
   */
  listen: CtlListen;
}

/** Starts a server for `handle` at `at`; rejects with the listen error. */
export type CtlListen = (handle: HttpHandler, at: ListenAddress) => Promise<CtlListening>;

export interface CtlListening {
  readonly address: ListenAddress;
  stop(graceMs?: number): Promise<void>;
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
/**
 * `config apply --wait` re-reads the group's progress this often (ms) besides on every census
 * change, so that a change the census does not announce is still seen.
 */
const WAIT_RECHECK_MS = 500;

export class CtlGateway {
  /** Answers one request: what `start` serves. */
  readonly handle: HttpHandler;
  readonly counters: CtlCounters = { unauthorized: 0 };
  private readonly secret: Buffer;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly refusalLoggedAt = new Map<string, number>();
  private listening: CtlListening | undefined;

  constructor(private readonly deps: CtlGatewayDeps) {
    if (deps.secret === '') throw new Error('the control gateway needs a non-empty secret');
    this.secret = Buffer.from(deps.secret, 'utf8');
    this.log = deps.log ?? nullLogger;
    this.clock = deps.clock ?? { now: () => Date.now() };
    this.handle = this.routes().handle;
  }

  /** Listens on `listen` (port 0: the OS chooses) and resolves to the bound address. */
  async start(listen: ListenAddress): Promise<ListenAddress> {
    if (this.listening) return this.listening.address;
    try {
      this.listening = await this.deps.listen(this.handle, listen);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new MurmurError('IO', `cannot start the control gateway on ${formatAddress(listen)}: ${code} (choose another with --listen-ctl)`, { cause: err });
    }
    return this.listening.address;
  }

  /** Stops listening; requests in flight get `STOP_GRACE_MS` to finish. Idempotent. */
  async stop(): Promise<void> {
    const listening = this.listening;
    this.listening = undefined;
    if (listening) await listening.stop(STOP_GRACE_MS);
  }

  private routes(): Router {
    // Authentication comes before anything else, the body included; then the router refuses a
    // body over the limit, before any route reads it.
    const router = new Router({
      maxBodyBytes: MAX_CTL_BODY_BYTES,
      notFound: (req) => errorReply('NOT_FOUND', `no route ${req.method} ${req.path}; the routes are ${ROUTE_LIST}`),
      onError: (err, req) => this.answerError(err, req),
    });
    const sup = this.deps.supervisor;
    router.use((req, next) => {
      this.authenticate(req.header('authorization'), req.remoteAddress);
      return next();
    });

    router.post(ROUTES.configApply, async (req) => {
      const body = await readObject(req);
      const group = text(body, 'service_group');
      const version = num(body, 'version');
      const config = text(body, 'config');
      const encrypted = optional(body, 'encrypted', 'boolean') ?? false;
      const wait = optional(body, 'wait', 'boolean') ?? false;
      const timeout = optional(body, 'timeout', 'number');
      if (timeout !== undefined && !wait) throw new MurmurError('BAD_INPUT', 'timeout is only meaningful with wait: true');
      if (timeout !== undefined && !(timeout > 0 && timeout <= MAX_WAIT_TIMEOUT_SEC)) {
        throw new MurmurError('BAD_INPUT', `timeout must be above 0 and at most ${MAX_WAIT_TIMEOUT_SEC} seconds, got ${timeout}`);
      }
      // Refuse before publishing: a wait that cannot be served must not leave a half-done apply.
      const services = wait ? this.services() : undefined;
      const done = sup.applyConfig(group, version, config, encrypted);
      const applied: ConfigApplyResponse = { service_group: done.group, version: done.version, bytes: done.bytes, member_id: sup.id };
      if (!services) return answer<ConfigApplyResponse>(applied);
      return waitForGroup(services, applied, timeout ?? DEFAULT_WAIT_TIMEOUT_SEC, req.signal, this.log);
    });

    router.get(ROUTES.configShow, (req) => {
      const ident = query(req, 'ident');
      return answer<ConfigShowResponse>({ ident, toml: this.services().configShow(ident) });
    });

    router.post(ROUTES.svcLoad, async (req) => {
      const services = this.services();
      const result = await services.load(loadRequest(await readObject(req)));
      return answer<SvcLoadResponse>(toLoadJson(result));
    });

    router.post(ROUTES.svcUnload, async (req) => {
      const services = this.services();
      const body = await readObject(req);
      allowOnly(body, ['ident', 'shutdown_timeout']);
      const status = await services.unload(text(body, 'ident'), optional(body, 'shutdown_timeout', 'number'));
      return answer<ServiceStatusJson>(toStatusJson(status, this.clock.now()));
    });

    router.post(ROUTES.svcStart, async (req) => {
      const services = this.services();
      const body = await readObject(req);
      allowOnly(body, ['ident']);
      const status = await services.start(text(body, 'ident'));
      return answer<ServiceStatusJson>(toStatusJson(status, this.clock.now()));
    });

    router.post(ROUTES.svcStop, async (req) => {
      const services = this.services();
      const body = await readObject(req);
      allowOnly(body, ['ident', 'shutdown_timeout']);
      const status = await services.stop(text(body, 'ident'), optional(body, 'shutdown_timeout', 'number'));
      return answer<ServiceStatusJson>(toStatusJson(status, this.clock.now()));
    });

    router.get(ROUTES.svcStatus, (req) => {
      const ident = req.query.get('ident') ?? undefined;
      const now = this.clock.now();
      const list = this.services().services(ident === undefined || ident === '' ? undefined : ident);
      return answer<SvcStatusResponse>({ services: list.map((s) => toStatusJson(s, now)) });
    });

    router.post(ROUTES.fileUpload, async (req) => {
      const body = await readObject(req);
      const group = text(body, 'service_group');
      const version = num(body, 'version');
      const filename = text(body, 'filename');
      const bytes = base64(body, 'body_base64');
      const encrypted = optional(body, 'encrypted', 'boolean') ?? false;
      const done = sup.uploadFile(group, version, filename, bytes, encrypted);
      return answer<FileUploadResponse>({ service_group: done.group, version: done.version, filename, bytes: done.bytes, member_id: sup.id });
    });

    router.post(ROUTES.supDepart, async (req) => {
      const body = await readObject(req);
      const memberId = text(body, 'member_id');
      const { alreadyDeparted } = sup.depart(memberId);
      return answer<SupDepartResponse>({ member_id: memberId, already_departed: alreadyDeparted });
    });

    router.get(ROUTES.supStatus, () => {
      const s = sup.status();
      return answer<SupStatusResponse>({ member_id: s.memberId, incarnation: s.incarnation, members: s.members, ring_keys: this.deps.ringKeys?.keyIds() ?? [] });
    });

    router.post(ROUTES.ringKeyInstall, async (req) => {
      const body = await readObject(req);
      allowOnly(body, ['key_text']);
      const done = this.ringKeys().installText(text(body, 'key_text'));
      return answer<RingKeyResponse>({ member_id: sup.id, keys: [toRingKeyJson(done)] });
    });

    router.post(ROUTES.ringKeyUse, async (req) => {
      const body = await readObject(req);
      allowOnly(body, ['key', 'force']);
      const done = this.ringKeys().use(text(body, 'key'), optional(body, 'force', 'boolean') ?? false);
      return answer<RingKeyResponse>({ member_id: sup.id, keys: [toRingKeyJson(done)] });
    });

    router.post(ROUTES.ringKeyRemove, async (req) => {
      const body = await readObject(req);
      allowOnly(body, ['key']);
      const done = this.ringKeys().remove(text(body, 'key'));
      return answer<RingKeyResponse>({ member_id: sup.id, keys: [toRingKeyJson(done)] });
    });

    router.get(ROUTES.ringKeyList, () => answer<RingKeyResponse>({ member_id: sup.id, keys: this.ringKeys().list().map(toRingKeyJson) }));
    return router;
  }

  /** The answer to a request that threw: a `MurmurError` keeps its code; anything else is a bug. */
  private answerError(thrown: unknown, req: HttpRequest): HttpReply {
    const err = thrown instanceof HttpBodyError && thrown.reason === 'too-large' ? new MurmurError('TOO_LARGE', TOO_LARGE_MESSAGE) : thrown;
    if (err instanceof MurmurError) {
      const headers: Record<string, string> = {};
      if (err.code === 'UNAUTHORIZED') headers['WWW-Authenticate'] = 'Bearer realm="murmur ctl-gateway"';
      // The body of these may be unread: close rather than keep a connection with bytes pending.
      if (err.code === 'UNAUTHORIZED' || err.code === 'TOO_LARGE') headers.Connection = 'close';
      return errorReply(err.code, err.message, headers);
    }
    // A client that closed its connection before its body was read in full: its request did
    // nothing, it hears no answer, and nothing is wrong here.
    if ((err instanceof HttpBodyError && err.reason === 'cut-off') || req.signal.aborted) {
      this.log.info('client went away mid-request', { method: req.method, path: req.path, from: req.remoteAddress });
      return errorReply('BAD_INPUT', 'the request was cut off before its body ended');
    }
    const message = err instanceof Error ? err.message : String(err);
    this.log.error('control request failed', { method: req.method, path: req.path, error: message });
    return errorReply('INTERNAL', `internal error: ${message}`);
  }

  /** Ring key rotation, or CONFLICT when this Supervisor runs without a ring key. */
  private ringKeys(): RingKeysApi {
    const ringKeys = this.deps.ringKeys;
    if (!ringKeys) throw new MurmurError('CONFLICT', 'this Supervisor runs without a ring key, so it has no keys to rotate; start every Supervisor with --ring');
    return ringKeys;
  }

  /** The service manager, or NOT_FOUND when this Supervisor has none. */
  private services(): ServicesApi {
    const services = this.deps.services;
    if (!services) throw new MurmurError('NOT_FOUND', 'this Supervisor has no service manager');
    return services;
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

/** Every route, for the 404 message. */
const ROUTE_LIST = [
  `POST ${ROUTES.configApply}`,
  `GET ${ROUTES.configShow}?ident=`,
  `POST ${ROUTES.fileUpload}`,
  `POST ${ROUTES.supDepart}`,
  `GET ${ROUTES.supStatus}`,
  `POST ${ROUTES.svcLoad}`,
  `POST ${ROUTES.svcUnload}`,
  `POST ${ROUTES.svcStart}`,
  `POST ${ROUTES.svcStop}`,
  `GET ${ROUTES.svcStatus}[?ident=]`,
].join(', ');

/**
 * The `config apply --wait` stream: `applied`, then `progress` whenever the set of live members
 * that have applied `version` changes, then `done` when all have, or `timeout` naming the others.
 * Progress is read from `groupProgress` on every census change and every `WAIT_RECHECK_MS` as a
 * backstop. A group with no live member ends at once: the config is kept for when one loads.
 * The subscription, the timers and the stream end together: when the last line is written, or
 * when the client goes away (`signal`, aborted when its connection closes).
 */
function waitForGroup(services: ServicesApi, applied: ConfigApplyResponse, timeoutSec: number, signal: AbortSignal, log: Logger): HttpReply {
  const group = applied.service_group;
  const version = applied.version;
  return streamReply(
    200,
    NDJSON_CONTENT_TYPE,
    (out) => {
      let finished = false;
      let lastKey: string | undefined;
      /** What `finish` undoes: the subscription, the timers, the abort listener. */
      const cleanups: (() => void)[] = [];
      const send = (event: ConfigApplyEvent): void => out.write(`${JSON.stringify(event)}\n`);
      const progress = () => {
        const live = services.groupProgress(group).filter((m) => m.live);
        const pending: PendingMember[] = live.filter((m) => m.configVersion < version).map((m) => ({ member_id: m.memberId, host: m.host }));
        return { total: live.length, done: live.length - pending.length, pending };
      };
      const finish = (event: ConfigApplyEvent | undefined): void => {
        if (finished) return;
        finished = true;
        for (const undo of cleanups.splice(0)) undo();
        if (event) send(event);
        // End the response, so that the connection is free again (a no-op once the client is gone).
        out.end();
      };
      const check = (atDeadline = false): void => {
        if (finished) return;
        let p: ReturnType<typeof progress>;
        try {
          p = progress();
        } catch (err) {
          const code: ErrorCode = err instanceof MurmurError ? err.code : 'INTERNAL';
          if (code === 'INTERNAL') log.error('config apply --wait failed', { group, error: (err as Error).message });
          finish({ type: 'error', error: { code, message: (err as Error).message } });
          return;
        }
        if (p.total === 0) {
          const note = `no live member runs ${group} yet: the config is kept, and a service of the group uses it when it loads`;
          finish({ type: 'done', service_group: group, version, done: 0, total: 0, note });
        } else if (p.pending.length === 0) {
          finish({ type: 'done', service_group: group, version, done: p.done, total: p.total });
        } else if (atDeadline) {
          finish({ type: 'timeout', service_group: group, version, timeout: timeoutSec, ...p });
        } else {
          const key = `${p.total}:${p.pending.map((m) => m.member_id).join(',')}`;
          if (key !== lastKey) {
            lastKey = key;
            send({ type: 'progress', service_group: group, version, ...p });
          }
        }
      };
      const stop = (): void => finish(undefined);
      if (signal.aborted) {
        stop();
        return;
      }
      send({ type: 'applied', ...applied });
      const recheck = setInterval(() => check(), WAIT_RECHECK_MS);
      cleanups.push(() => clearInterval(recheck));
      const deadline = setTimeout(() => check(true), timeoutSec * 1000);
      cleanups.push(() => clearTimeout(deadline));
      signal.addEventListener('abort', stop);
      cleanups.push(() => signal.removeEventListener('abort', stop));
      const unsubscribe = services.onCensusChange(() => check());
      // A listener called while subscribing may have finished the stream already.
      if (finished) unsubscribe();
      else cleanups.push(unsubscribe);
      check();
    },
    { 'Cache-Control': 'no-store' },
  );
}

function toStatusJson(s: ServiceStatus, now: number): ServiceStatusJson {
  const since = s.stateEnteredMs ?? (s.state !== 'down' ? s.startedAtMs : null);
  return {
    ident: s.ident,
    spec_ident: s.specIdent,
    service_group: s.serviceGroup,
    topology: s.topology,
    binding_mode: s.bindingMode,
    binds: s.binds,
    desired_state: s.desired,
    state: s.state,
    pid: s.pid,
    started_at_ms: s.startedAtMs,
    elapsed_sec: since === null ? null : Math.max(0, Math.floor((now - since) / 1000)),
    config_version: s.configVersion,
    files: s.files.map((f) => ({ filename: f.filename, version: f.version })),
    health: s.health,
    last_error: s.lastError,
    health_check_interval: s.healthCheckIntervalSec,
    svc_path: s.svcPath,
    pkg_path: s.pkgPath,
  };
}

function toLoadJson(r: LoadResult): SvcLoadResponse {
  const spec = r.spec;
  return {
    spec: {
      ident: spec.ident,
      group: spec.group,
      org: spec.org,
      bldr_url: spec.bldrUrl,
      channel: spec.channel,
      topology: spec.topology,
      update_strategy: spec.updateStrategy,
      update_condition: spec.updateCondition,
      binds: spec.binds,
      binding_mode: spec.bindingMode,
      config_from: spec.configFrom,
      desired_state: spec.desiredState,
      shutdown_timeout: spec.shutdownTimeoutSec,
      health_check_interval: spec.healthCheckIntervalSec,
    },
    ident: r.ident,
    service_group: r.serviceGroup,
    reloaded: r.reloaded,
  };
}

const LOAD_FIELDS = ['ident', 'group', 'topology', 'strategy', 'binds', 'binding_mode', 'health_check_interval', 'shutdown_timeout', 'config_from', 'force'];

/** `POST /v1/svc/load`'s body as a `LoadRequest`: types and names checked; values are the manager's to judge. */
function loadRequest(body: JsonObject): LoadRequest {
  allowOnly(body, LOAD_FIELDS);
  const request: LoadRequest = { ident: text(body, 'ident') };
  const group = optional(body, 'group', 'string');
  if (group !== undefined) request.group = group;
  const topology = oneOf<Topology>(body, 'topology', TOPOLOGIES);
  if (topology !== undefined) request.topology = topology;
  const strategy = oneOf<UpdateStrategy>(body, 'strategy', UPDATE_STRATEGIES);
  if (strategy !== undefined) request.strategy = strategy;
  const bindingMode = oneOf<BindingMode>(body, 'binding_mode', BINDING_MODES);
  if (bindingMode !== undefined) request.bindingMode = bindingMode;
  const binds = body.binds;
  if (binds !== undefined) {
    if (!Array.isArray(binds) || binds.some((b) => typeof b !== 'string')) {
      throw new MurmurError('BAD_INPUT', 'binds must be an array of "NAME:SERVICE.GROUP[@ORG]" strings');
    }
    request.binds = binds as string[];
  }
  const interval = optional(body, 'health_check_interval', 'number');
  if (interval !== undefined) request.healthCheckIntervalSec = interval;
  const shutdown = optional(body, 'shutdown_timeout', 'number');
  if (shutdown !== undefined) request.shutdownTimeoutSec = shutdown;
  const configFrom = optional(body, 'config_from', 'string');
  if (configFrom !== undefined) request.configFrom = configFrom;
  const force = optional(body, 'force', 'boolean');
  if (force !== undefined) request.force = force;
  return request;
}

function formatAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

const TOO_LARGE_MESSAGE = `request body is over the control gateway's limit of ${MAX_CTL_BODY_BYTES} bytes (1 MiB); a config or file may be at most ${MAX_GOSSIP_PAYLOAD_BYTES} bytes`;

/** A 200 with `body` as JSON; the type argument names the shape of `api.ts` it must have. */
function answer<T>(body: T): HttpReply {
  return jsonReply(body);
}

function errorReply(code: ErrorCode, message: string, headers: HttpHeaders = {}): HttpReply {
  const status = new MurmurError(code, message).httpStatus;
  return jsonReply({ error: { code, message } } satisfies ErrorBody, status, headers);
}

type JsonObject = Record<string, unknown>;

async function readObject(req: HttpRequest): Promise<JsonObject> {
  const raw = await req.text();
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    // V8's message quotes the text around the fault, which may be a key being installed: only
    // the position is passed on.
    const at = /at position (\d+)/.exec((err as Error).message)?.[1];
    throw new MurmurError('BAD_INPUT', `request body is not valid JSON${at === undefined ? '' : ` (at character ${at})`}: send one JSON object`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MurmurError('BAD_INPUT', `request body must be a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'null' : `a ${typeof value}`}`);
  }
  return value as JsonObject;
}

type FieldType = 'string' | 'number' | 'boolean';
type TypeOf<T extends FieldType> = T extends 'string' ? string : T extends 'number' ? number : boolean;

function field(body: JsonObject, name: string, type: FieldType): unknown {
  const v = body[name];
  if (v === undefined) throw new MurmurError('BAD_INPUT', `${name} is missing: expected a ${type}`);
  const got = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  if (got !== type) throw new MurmurError('BAD_INPUT', `${name} must be a ${type}, got ${got}`);
  return v;
}

/** An optional field: undefined when absent, else it must have `type`. */
function optional<T extends FieldType>(body: JsonObject, name: string, type: T): TypeOf<T> | undefined {
  return body[name] === undefined ? undefined : (field(body, name, type) as TypeOf<T>);
}

/** An optional string field that must be one of `allowed`. */
function oneOf<T extends string>(body: JsonObject, name: string, allowed: readonly T[]): T | undefined {
  const v = optional(body, name, 'string');
  if (v !== undefined && !(allowed as readonly string[]).includes(v)) {
    throw new MurmurError('BAD_INPUT', `${name} must be ${allowed.join(' or ')}, got ${JSON.stringify(v)}`);
  }
  return v as T | undefined;
}

/** Refuses fields the route does not know, so that a misspelt one is not ignored in silence. */
function allowOnly(body: JsonObject, names: readonly string[]): void {
  const unknown = Object.keys(body).filter((k) => !names.includes(k));
  if (unknown.length > 0) throw new MurmurError('BAD_INPUT', `unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}; the fields are ${names.join(', ')}`);
}

/** A required query parameter. */
function query(req: HttpRequest, name: string): string {
  const v = req.query.get(name) ?? undefined;
  if (v === undefined || v === '') throw new MurmurError('BAD_INPUT', `${name} is missing: add ?${name}=ORIGIN/NAME to the path`);
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
