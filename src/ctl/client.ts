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
 * This module imports only the small, pure files of `sup/` (paths, rules), not its index, so
 * that loading the CLI does not load the gossip stack.
 */
import type { ErrorCode } from '../core/index.js';
import { ERRORS, MurmurError } from '../core/index.js';
import { supPaths } from '../sup/paths.js';
import type {
  ConfigApplyRequest,
  ConfigApplyResponse,
  ErrorBody,
  FileUploadRequest,
  FileUploadResponse,
  SupDepartRequest,
  SupDepartResponse,
  SupStatusResponse,
} from './api.js';
import { ROUTES } from './api.js';

export type { ConfigApplyResponse, FileUploadResponse, SupDepartResponse, SupStatusResponse } from './api.js';
export {
  MAX_GOSSIP_PAYLOAD_BYTES,
  checkFileName,
  checkMemberId,
  checkPayloadSize,
  checkServiceGroup,
  checkVersion,
  parseConfigToml,
} from '../sup/rules.js';

/** The control gateway's default port, as Habitat's. */
export const DEFAULT_CTL_PORT = 9632;

/** What the CLI calls; `CtlClient` is the real one, tests pass fakes. */
export interface CtlApi {
  applyConfig(serviceGroup: string, version: number, config: string): Promise<ConfigApplyResponse>;
  uploadFile(serviceGroup: string, version: number, filename: string, body: Uint8Array): Promise<FileUploadResponse>;
  depart(memberId: string): Promise<SupDepartResponse>;
  status(): Promise<SupStatusResponse>;
}

export interface CtlClientOptions {
  /** `host:port` of the control gateway (`[v6]:port` for IPv6). */
  address: string;
  /** The Supervisor's `CTL_SECRET`. */
  secret: string;
  /** How long to wait for an answer (ms). @default 30000 */
  timeoutMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

export class CtlClient implements CtlApi {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: CtlClientOptions) {
    this.base = `http://${opts.address}`;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.fetch = opts.fetch ?? globalThis.fetch;
  }

  applyConfig(serviceGroup: string, version: number, config: string): Promise<ConfigApplyResponse> {
    return this.call<ConfigApplyResponse>('POST', ROUTES.configApply, { service_group: serviceGroup, version, config } satisfies ConfigApplyRequest);
  }

  uploadFile(serviceGroup: string, version: number, filename: string, body: Uint8Array): Promise<FileUploadResponse> {
    const body_base64 = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64');
    return this.call<FileUploadResponse>('POST', ROUTES.fileUpload, { service_group: serviceGroup, version, filename, body_base64 } satisfies FileUploadRequest);
  }

  depart(memberId: string): Promise<SupDepartResponse> {
    return this.call<SupDepartResponse>('POST', ROUTES.supDepart, { member_id: memberId } satisfies SupDepartRequest);
  }

  status(): Promise<SupStatusResponse> {
    return this.call<SupStatusResponse>('GET', ROUTES.supStatus);
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: object): Promise<T> {
    let res: Response;
    try {
      res = await this.fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.opts.secret}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw this.unreachable(err);
    }
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.ok && json !== undefined) return json as T;
    const error = (json as Partial<ErrorBody> | undefined)?.error;
    if (error && typeof error.message === 'string' && typeof error.code === 'string') {
      const code: ErrorCode = error.code in ERRORS ? error.code : 'INTERNAL';
      throw new MurmurError(code, error.message);
    }
    throw new MurmurError(
      'IO',
      `unexpected answer from ${this.opts.address} to ${method} ${path}: HTTP ${res.status}${text ? ` ${JSON.stringify(text.slice(0, 200))}` : ''}; is that a murmur control gateway (--remote-sup)?`,
    );
  }

  private unreachable(err: unknown): MurmurError {
    const e = err as Error & { cause?: { code?: unknown; message?: unknown } };
    if (e.name === 'TimeoutError') {
      return new MurmurError('IO', `no answer from the Supervisor at ${this.opts.address} within ${this.timeoutMs / 1000} s`, { cause: err });
    }
    const code = typeof e.cause?.code === 'string' ? e.cause.code : typeof e.cause?.message === 'string' ? e.cause.message : e.message;
    return new MurmurError('IO', `cannot reach the Supervisor at ${this.opts.address} (${code}): is it running? use --remote-sup to name another`, { cause: err });
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
