/**
 * The typed client of the control gateway (`server.ts`), used by the CLI: one method per route,
 * `fetch` underneath. A failure comes back as a `MurmurError` carrying the server's code and
 * message, so that the CLI exits with the code the catalogue gives it (a stale version: 4,
 * a wrong secret: 5); a Supervisor that cannot be reached is an `IO` error naming the address.
 *
 * Also here, for the CLI: where the secret comes from (`resolveCtlSecret`: `HAB_CTL_SECRET`,
 * else the Supervisor's `CTL_SECRET` file under `FS_ROOT`), and the input rules of `sup/` that
 * the CLI applies before it sends anything.
 *
 * This module imports only the small, pure files of `sup/` (paths, rules, spec), not its index,
 * so that loading the CLI does not load the gossip stack.
 */
import type { ErrorCode } from '../core/index.js';
import { ERRORS, MurmurError } from '../core/index.js';
import { supPaths } from '../sup/paths.js';
import type { LoadRequest } from '../sup/services-api.js';
import { checkSpec, DEFAULT_SPEC } from '../sup/spec.js';
import type {
  ConfigApplyEvent,
  ConfigApplyRequest,
  ConfigApplyResponse,
  ConfigShowResponse,
  ErrorBody,
  FileUploadRequest,
  FileUploadResponse,
  RingKeyInstallRequest,
  RingKeyNameRequest,
  RingKeyResponse,
  ServiceStatusJson,
  SupDepartRequest,
  SupDepartResponse,
  SupStatusResponse,
  SvcLoadRequest,
  SvcLoadResponse,
  SvcStartRequest,
  SvcStatusResponse,
  SvcStopRequest,
} from './api.js';
import { DEFAULT_WAIT_TIMEOUT_SEC, MAX_WAIT_TIMEOUT_SEC, NDJSON_CONTENT_TYPE, ROUTES } from './api.js';

export type {
  ConfigApplyEvent,
  ConfigApplyResponse,
  ConfigShowResponse,
  FileUploadResponse,
  PendingMember,
  ServiceStatusJson,
  SupDepartResponse,
  SupStatusResponse,
  SvcLoadResponse,
  SvcStatusResponse,
} from './api.js';
export { DEFAULT_WAIT_TIMEOUT_SEC, MAX_WAIT_TIMEOUT_SEC } from './api.js';
export type { LoadRequest } from '../sup/services-api.js';
export {
  MAX_GOSSIP_PAYLOAD_BYTES,
  checkFileName,
  checkMemberId,
  checkPayloadSize,
  checkServiceGroup,
  checkVersion,
  parseConfigToml,
} from '../sup/rules.js';
export { BINDING_MODES, TOPOLOGIES, UPDATE_STRATEGIES } from '../sup/spec.js';
export type { BindingMode, Topology, UpdateStrategy } from '../sup/spec.js';

/** `encrypted: true` only when set, so that a plain request reads as it always did. */
function encryptedField(options: PayloadOptions): { encrypted?: true } {
  return options.encrypted === true ? { encrypted: true } : {};
}

/** True for the path of a `.hart` artifact rather than a package ident. */
export function isHartPath(ident: string): boolean {
  return ident.endsWith('.hart');
}

/**
 * Checks a `LoadRequest` with the Supervisor's own spec rules (`sup/spec.ts`), so that the CLI
 * refuses a bad ident, group or bind before it sends anything. A `.hart` path stands in for an
 * ident the Supervisor reads from the artifact, so only the other fields are checked then.
 */
export function checkLoadRequest(request: LoadRequest, source: string): LoadRequest {
  checkSpec(
    {
      ...DEFAULT_SPEC,
      ident: isHartPath(request.ident) ? 'artifact/from-hart' : request.ident,
      group: request.group ?? DEFAULT_SPEC.group,
      topology: request.topology ?? DEFAULT_SPEC.topology,
      updateStrategy: request.strategy ?? DEFAULT_SPEC.updateStrategy,
      binds: request.binds ?? DEFAULT_SPEC.binds,
      bindingMode: request.bindingMode ?? DEFAULT_SPEC.bindingMode,
      shutdownTimeoutSec: request.shutdownTimeoutSec ?? DEFAULT_SPEC.shutdownTimeoutSec,
      healthCheckIntervalSec: request.healthCheckIntervalSec ?? DEFAULT_SPEC.healthCheckIntervalSec,
    },
    source,
  );
  return request;
}

/** Checks a package ident (`hab svc start`, `config show`, …) as a spec's ident is checked. */
export function checkPackageIdent(ident: string, source: string): string {
  checkSpec({ ...DEFAULT_SPEC, ident }, source);
  return ident;
}

/** The control gateway's default port, as Habitat's. */
export const DEFAULT_CTL_PORT = 9632;

/** What the CLI calls; `CtlClient` is the real one, tests pass fakes. */
/** How a config or file travels: `encrypted` when it is a `BOX-1` payload (`--user`). */
export interface PayloadOptions {
  /** @default false */
  encrypted?: boolean;
}

export interface CtlApi {
  applyConfig(serviceGroup: string, version: number, config: string, options?: PayloadOptions): Promise<ConfigApplyResponse>;
  uploadFile(serviceGroup: string, version: number, filename: string, body: Uint8Array, options?: PayloadOptions): Promise<FileUploadResponse>;
  depart(memberId: string): Promise<SupDepartResponse>;
  status(): Promise<SupStatusResponse>;
  // Ring key rotation: optional so that fakes of other commands need not carry them.
  ringKeyInstall?(keyText: string): Promise<RingKeyResponse>;
  ringKeyUse?(key: string, force?: boolean): Promise<RingKeyResponse>;
  ringKeyRemove?(key: string): Promise<RingKeyResponse>;
  ringKeyList?(): Promise<RingKeyResponse>;
  /**
   * `config apply --wait`: applies, then yields the group's progress until every live member has
   * applied the version (`done`) or `timeoutSec` passes (`timeout`). An `error` line, or a stream
   * that ends without `done` or `timeout`, is thrown as a `MurmurError`.
   */
  applyConfigWait(serviceGroup: string, version: number, config: string, timeoutSec?: number, options?: PayloadOptions): AsyncIterable<ConfigApplyEvent>;
  configShow(ident: string): Promise<ConfigShowResponse>;
  loadService(request: LoadRequest): Promise<SvcLoadResponse>;
  unloadService(ident: string, shutdownTimeoutSec?: number): Promise<ServiceStatusJson>;
  startService(ident: string): Promise<ServiceStatusJson>;
  stopService(ident: string, shutdownTimeoutSec?: number): Promise<ServiceStatusJson>;
  serviceStatus(ident?: string): Promise<SvcStatusResponse>;
}

/**
 * How long `loadService` waits for an answer (ms): loading a `.hart` installs it first, and an
 * xz-compressed artifact of hundreds of MB takes a while to unpack. @default 300000
 */
const LOAD_TIMEOUT_MS = 300_000;
/** Added to a wait's own timeout for the client's guard on the whole stream (ms). */
const WAIT_GUARD_SLACK_MS = 30_000;

export interface CtlClientOptions {
  /** `host:port` of the control gateway (`[v6]:port` for IPv6). */
  address: string;
  /** The Supervisor's `CTL_SECRET`. */
  secret: string;
  /** How long to wait for an answer (ms). @default 30000 */
  timeoutMs?: number;
  /**
   * Present: the gateway is served over TLS (`--ctl-server-certificate`): `https://`, trusting
   * `ca` (the CLI's `HAB_CTL_SERVER_CA_CERTIFICATE`) and presenting `cert`/`key` when the gateway
   * wants a client certificate. The `fetch` given must honour these (`net/tls-fetch.ts`).
   * @default undefined (plain HTTP)
   */
  tls?: CtlTlsOptions | undefined;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** PEM bytes the CLI read for a TLS control gateway. */
export interface CtlTlsOptions {
  ca?: Uint8Array | undefined;
  cert?: Uint8Array | undefined;
  key?: Uint8Array | undefined;
}

export class CtlClient implements CtlApi {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: CtlClientOptions) {
    this.base = `${opts.tls ? 'https' : 'http'}://${opts.address}`;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.fetch = opts.fetch ?? globalThis.fetch;
  }

  applyConfig(serviceGroup: string, version: number, config: string, options: PayloadOptions = {}): Promise<ConfigApplyResponse> {
    const request: ConfigApplyRequest = { service_group: serviceGroup, version, config, ...encryptedField(options) };
    return this.call<ConfigApplyResponse>('POST', ROUTES.configApply, request);
  }

  uploadFile(serviceGroup: string, version: number, filename: string, body: Uint8Array, options: PayloadOptions = {}): Promise<FileUploadResponse> {
    const body_base64 = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64');
    const request: FileUploadRequest = { service_group: serviceGroup, version, filename, body_base64, ...encryptedField(options) };
    return this.call<FileUploadResponse>('POST', ROUTES.fileUpload, request);
  }

  depart(memberId: string): Promise<SupDepartResponse> {
    return this.call<SupDepartResponse>('POST', ROUTES.supDepart, { member_id: memberId } satisfies SupDepartRequest);
  }

  status(): Promise<SupStatusResponse> {
    return this.call<SupStatusResponse>('GET', ROUTES.supStatus);
  }
  /** `hab ring key install`: the text of a `SYM-SEC-1` key file. */
  ringKeyInstall(keyText: string): Promise<RingKeyResponse> {
    return this.call<RingKeyResponse>('POST', ROUTES.ringKeyInstall, { key_text: keyText } satisfies RingKeyInstallRequest);
  }

  /** `hab ring key use NAME-REV [--force]`. */
  ringKeyUse(key: string, force = false): Promise<RingKeyResponse> {
    return this.call<RingKeyResponse>('POST', ROUTES.ringKeyUse, { key, ...(force ? { force } : {}) } satisfies RingKeyNameRequest);
  }

  /** `hab ring key remove NAME-REV`. */
  ringKeyRemove(key: string): Promise<RingKeyResponse> {
    return this.call<RingKeyResponse>('POST', ROUTES.ringKeyRemove, { key } satisfies RingKeyNameRequest);
  }

  /** `hab ring key list`. */
  ringKeyList(): Promise<RingKeyResponse> {
    return this.call<RingKeyResponse>('GET', ROUTES.ringKeyList);
  }


  async *applyConfigWait(serviceGroup: string, version: number, config: string, timeoutSec = DEFAULT_WAIT_TIMEOUT_SEC, options: PayloadOptions = {}): AsyncIterable<ConfigApplyEvent> {
    const path = ROUTES.configApply;
    const request: ConfigApplyRequest = { service_group: serviceGroup, version, config, ...encryptedField(options), wait: true, timeout: timeoutSec };
    // One signal for the request and its body (aborting it ends both), under two deadlines: the
    // usual one until the answer starts, then the wait's own timeout and some slack, as a guard
    // against a server that never ends the stream (the server ends it at its timeout).
    const abort = new AbortController();
    let deadlineMs = this.timeoutMs;
    const arm = (ms: number) => {
      deadlineMs = ms;
      return setTimeout(() => abort.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms);
    };
    let timer = arm(this.timeoutMs);
    let started = false;
    try {
      const res = await this.send('POST', path, request, abort.signal);
      clearTimeout(timer);
      timer = arm(Math.min(timeoutSec, MAX_WAIT_TIMEOUT_SEC) * 1000 + WAIT_GUARD_SLACK_MS);
      if (!res.ok || !(res.headers.get('content-type') ?? '').startsWith(NDJSON_CONTENT_TYPE)) {
        // An error answer, or a Supervisor that ignored `wait` and answered one JSON object.
        const answer = await this.read<ConfigApplyResponse>(res, 'POST', path);
        throw new MurmurError('IO', `the Supervisor at ${this.opts.address} applied version ${answer.version} to ${answer.service_group} but does not report the group's progress: is it an older murmur?`);
      }
      if (!res.body) throw new MurmurError('IO', `the Supervisor at ${this.opts.address} sent no progress for ${serviceGroup}`);
      started = true;
      for await (const line of ndjsonLines(res.body)) {
        let event: ConfigApplyEvent;
        try {
          event = JSON.parse(line) as ConfigApplyEvent;
        } catch {
          throw new MurmurError('IO', `the Supervisor at ${this.opts.address} sent a progress line that is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
        }
        if (event.type === 'error') throw errorFromBody(event);
        yield event;
        if (event.type === 'done' || event.type === 'timeout') return;
      }
      throw new MurmurError('IO', `the Supervisor at ${this.opts.address} ended the progress stream before ${serviceGroup} finished; the config was applied`);
    } catch (err) {
      if (err instanceof MurmurError) throw err;
      if (!started || (err as Error).name === 'TimeoutError') throw this.unreachable(err, deadlineMs);
      throw new MurmurError('IO', `lost the Supervisor at ${this.opts.address} while waiting for ${serviceGroup} (${(err as Error).message}); the config was applied`, { cause: err });
    } finally {
      clearTimeout(timer);
      // Stops the download when the caller left the loop early; harmless after the end.
      abort.abort();
    }
  }

  configShow(ident: string): Promise<ConfigShowResponse> {
    return this.call<ConfigShowResponse>('GET', `${ROUTES.configShow}?ident=${encodeURIComponent(ident)}`);
  }

  loadService(request: LoadRequest): Promise<SvcLoadResponse> {
    return this.call<SvcLoadResponse>('POST', ROUTES.svcLoad, toLoadJson(request), LOAD_TIMEOUT_MS);
  }

  unloadService(ident: string, shutdownTimeoutSec?: number): Promise<ServiceStatusJson> {
    return this.call<ServiceStatusJson>('POST', ROUTES.svcUnload, stopJson(ident, shutdownTimeoutSec), this.stopTimeoutMs(shutdownTimeoutSec));
  }

  startService(ident: string): Promise<ServiceStatusJson> {
    return this.call<ServiceStatusJson>('POST', ROUTES.svcStart, { ident } satisfies SvcStartRequest);
  }

  stopService(ident: string, shutdownTimeoutSec?: number): Promise<ServiceStatusJson> {
    return this.call<ServiceStatusJson>('POST', ROUTES.svcStop, stopJson(ident, shutdownTimeoutSec), this.stopTimeoutMs(shutdownTimeoutSec));
  }

  serviceStatus(ident?: string): Promise<SvcStatusResponse> {
    return this.call<SvcStatusResponse>('GET', ident === undefined ? ROUTES.svcStatus : `${ROUTES.svcStatus}?ident=${encodeURIComponent(ident)}`);
  }

  /** Unload and stop answer once the service has stopped: allow for its shutdown timeout. */
  private stopTimeoutMs(shutdownTimeoutSec: number | undefined): number {
    return this.timeoutMs + (shutdownTimeoutSec ?? 0) * 1000;
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: object, timeoutMs = this.timeoutMs): Promise<T> {
    let res: Response;
    try {
      res = await this.send(method, path, body, AbortSignal.timeout(timeoutMs));
    } catch (err) {
      throw this.unreachable(err, timeoutMs);
    }
    return this.read<T>(res, method, path);
  }

  private send(method: 'GET' | 'POST', path: string, body: object | undefined, signal: AbortSignal): Promise<Response> {
    return this.fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.opts.secret}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal,
    });
  }

  /** A JSON answer, or the server's error as a `MurmurError`. */
  private async read<T>(res: Response, method: string, path: string): Promise<T> {
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.ok && json !== undefined) return json as T;
    const error = (json as Partial<ErrorBody> | undefined)?.error;
    if (error && typeof error.message === 'string' && typeof error.code === 'string') throw errorFromBody({ error });
    throw new MurmurError(
      'IO',
      `unexpected answer from ${this.opts.address} to ${method} ${path}: HTTP ${res.status}${text ? ` ${JSON.stringify(text.slice(0, 200))}` : ''}; is that a murmur control gateway (--remote-sup)?`,
    );
  }

  private unreachable(err: unknown, timeoutMs = this.timeoutMs): MurmurError {
    const e = err as Error & { cause?: { code?: unknown; message?: unknown } };
    if (e.name === 'TimeoutError') {
      return new MurmurError('IO', `no answer from the Supervisor at ${this.opts.address} within ${timeoutMs / 1000} s`, { cause: err });
    }
    const code = typeof e.cause?.code === 'string' ? e.cause.code : typeof e.cause?.message === 'string' ? e.cause.message : e.message;
    return new MurmurError('IO', `cannot reach the Supervisor at ${this.opts.address} (${code}): is it running? use --remote-sup to name another`, { cause: err });
  }
}

function errorFromBody(body: ErrorBody): MurmurError {
  const code: ErrorCode = body.error.code in ERRORS ? body.error.code : 'INTERNAL';
  return new MurmurError(code, body.error.message);
}

function toLoadJson(r: LoadRequest): SvcLoadRequest {
  const json: SvcLoadRequest = { ident: r.ident };
  if (r.group !== undefined) json.group = r.group;
  if (r.topology !== undefined) json.topology = r.topology;
  if (r.strategy !== undefined) json.strategy = r.strategy;
  if (r.binds !== undefined) json.binds = r.binds;
  if (r.bindingMode !== undefined) json.binding_mode = r.bindingMode;
  if (r.healthCheckIntervalSec !== undefined) json.health_check_interval = r.healthCheckIntervalSec;
  if (r.shutdownTimeoutSec !== undefined) json.shutdown_timeout = r.shutdownTimeoutSec;
  if (r.configFrom !== undefined) json.config_from = r.configFrom;
  if (r.force !== undefined) json.force = r.force;
  return json;
}

function stopJson(ident: string, shutdownTimeoutSec: number | undefined): SvcStopRequest {
  return shutdownTimeoutSec === undefined ? { ident } : { ident, shutdown_timeout: shutdownTimeoutSec };
}

/**
 * The lines of an NDJSON body, whatever the chunking: a line split across chunks (or a UTF-8
 * character split across them) is joined; blank lines are skipped; a last line without its
 * newline is still yielded.
 */
export async function* ndjsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffered = '';
  let ended = false;
  try {
    while (!ended) {
      const { done, value } = await reader.read();
      ended = done;
      buffered += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line !== '') yield line;
      }
    }
    if (buffered.trim() !== '') yield buffered.trim();
  } finally {
    // The caller stopped early: tell the server, rather than leave the body unread.
    if (!ended) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/**
 * The secret the CLI presents: `HAB_CTL_SECRET`, else the file `$FS_ROOT/hab/sup/default/CTL_SECRET`
 * that the local Supervisor wrote at its first start. `readFile` rejects with a Node error
 * (`code: 'ENOENT'` and so on) as `fs.readFile` does.
 */
export async function resolveCtlSecret(env: Readonly<Record<string, string | undefined>>, readFile: (path: string) => Promise<Uint8Array>): Promise<string> {
  const fromEnv = env.HAB_CTL_SECRET?.trim();
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const file = supPaths(env).ctlSecretFile;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new MurmurError(
        'NOT_FOUND',
        `no control secret: HAB_CTL_SECRET is not set and ${file} does not exist; set HAB_CTL_SECRET to the Supervisor's CTL_SECRET, or set FS_ROOT to the Supervisor's (its CTL_SECRET is written at first start)`,
        { cause: err },
      );
    }
    throw new MurmurError('IO', `cannot read the control secret ${file} (${code ?? (err as Error).message}): run as the Supervisor's user, or set HAB_CTL_SECRET`, { cause: err });
  }
  const secret = Buffer.from(bytes).toString('utf8').trim();
  if (secret === '') throw new MurmurError('NOT_FOUND', `${file} is empty and HAB_CTL_SECRET is not set: restart the Supervisor to write a new secret, or set HAB_CTL_SECRET`);
  return secret;
}
