/**
 * The control gateway's JSON, shared by the server and the client: route paths, request and
 * response bodies (snake_case, as Habitat's JSON), and the error body. `docs/ctl.md` documents
 * the same shapes for operators who drive the gateway with curl.
 */
import type { ErrorCode } from '../core/index.js';
import type { BindingMode, DesiredState, Topology, UpdateStrategy } from '../sup/spec.js';
import type { ServiceStatus } from '../sup/services-api.js';

export const ROUTES = {
  configApply: '/v1/config/apply',
  configShow: '/v1/config/show',
  fileUpload: '/v1/file/upload',
  supDepart: '/v1/sup/depart',
  supStatus: '/v1/sup/status',
  svcLoad: '/v1/svc/load',
  svcUnload: '/v1/svc/unload',
  svcStart: '/v1/svc/start',
  svcStop: '/v1/svc/stop',
  svcStatus: '/v1/svc/status',
  ringKeyInstall: '/v1/ring/key/install',
  ringKeyUse: '/v1/ring/key/use',
  ringKeyRemove: '/v1/ring/key/remove',
  ringKeyList: '/v1/ring/key/list',
} as const;

/** `POST /v1/config/apply` with `wait`: the media type of the answer, one JSON event per line. */
export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';

/**
 * How long `config apply --wait` waits for the group by default, and at most (seconds).
 * @default 60
 */
export const DEFAULT_WAIT_TIMEOUT_SEC = 60;
export const MAX_WAIT_TIMEOUT_SEC = 3600;

/** The largest request body the gateway reads, in bytes (a 512 KiB file is ~683 KiB in base64). */
export const MAX_CTL_BODY_BYTES = 1024 * 1024;

/** `POST /v1/config/apply` */
export interface ConfigApplyRequest {
  service_group: string;
  version: number;
  /** TOML text, or with `encrypted` a `BOX-1` payload (`hab config apply --user`). */
  config: string;
  /**
   * `config` is a `BOX-1` payload sealed for the group's service key: the Supervisor checks its
   * form (not the TOML inside, which it may not be able to read) and gossips it encrypted.
   * @default false
   */
  encrypted?: boolean;
  /**
   * Answer a stream of `ConfigApplyEvent`s (NDJSON) that ends when every live member of the
   * group has applied `version`, or at `timeout`. @default false
   */
  wait?: boolean;
  /** With `wait`: seconds to wait, above 0 and at most 3600. @default 60 */
  timeout?: number;
}

export interface ConfigApplyResponse {
  service_group: string;
  version: number;
  /** The payload's size: the TOML text, or the `BOX-1` text when encrypted. */
  bytes: number;
  /** The Supervisor that published the rumor. */
  member_id: string;
}

/** A member that has not applied the version yet. */
export interface PendingMember {
  member_id: string;
  /** Its `sys.ip`. */
  host: string;
}

/**
 * One line of the `config apply` stream (`wait: true`): `applied` first, then `progress` each
 * time the set of members that applied changes, then `done`, `timeout` or `error` last.
 * `done` and `total` count live (alive or suspect) members of the group only.
 */
export type ConfigApplyEvent =
  | ({ type: 'applied' } & ConfigApplyResponse)
  | { type: 'progress'; service_group: string; version: number; done: number; total: number; pending: PendingMember[] }
  | {
      type: 'done';
      service_group: string;
      version: number;
      done: number;
      total: number;
      /** Present when no live member runs the group yet (total 0). */
      note?: string;
    }
  | { type: 'timeout'; service_group: string; version: number; timeout: number; done: number; total: number; pending: PendingMember[] }
  | ({ type: 'error' } & ErrorBody);

/** `GET /v1/config/show?ident=ORIGIN/NAME` */
export interface ConfigShowResponse {
  ident: string;
  /** The service's merged config (every layer), as TOML text. */
  toml: string;
}

/** `POST /v1/file/upload` */
export interface FileUploadRequest {
  service_group: string;
  version: number;
  filename: string;
  /** The file, or with `encrypted` its `BOX-1` payload (`hab file upload --user`). */
  body_base64: string;
  /** The body is a `BOX-1` payload sealed for the group's service key. @default false */
  encrypted?: boolean;
}

export interface FileUploadResponse {
  service_group: string;
  version: number;
  filename: string;
  bytes: number;
  member_id: string;
}

/** `POST /v1/sup/depart` */
export interface SupDepartRequest {
  member_id: string;
}

export interface SupDepartResponse {
  member_id: string;
  /** True when the member was departed before this request (nothing new was published). */
  already_departed: boolean;
}

/** `GET /v1/sup/status` */
export interface SupStatusResponse {
  member_id: string;
  incarnation: number;
  /** Member ids by health, this Supervisor included. */
  members: { alive: string[]; suspect: string[]; confirmed: string[]; departed: string[] };
  /** The ids (8 hex characters) of the ring keys this member opens with, the sealing one first; empty without a ring key. */
  ring_keys: string[];
}

/** `POST /v1/ring/key/install` (`hab ring key install`): a `SYM-SEC-1` key file's text. */
export interface RingKeyInstallRequest {
  key_text: string;
}

/** `POST /v1/ring/key/use` and `/remove`: `name-revision`; `force` (use only) skips the every-member check. */
export interface RingKeyNameRequest {
  key: string;
  force?: boolean;
}

/** One ring key as a member sees it; `holders` of `live` members report holding it. */
export interface RingKeyJson {
  name: string;
  revision: string;
  /** 8 hex characters, when this member holds the key. */
  id: string | null;
  state: 'primary' | 'installed' | 'removed' | 'absent';
  holders: number;
  /** Live members, this one included, that report sealing with it (`remove` waits for 0). */
  sealers: number;
  live: number;
}

/** The answer of every `/v1/ring/key/*` route: the key concerned (`key`) or all (`keys`). */
export interface RingKeyResponse {
  member_id: string;
  keys: RingKeyJson[];
}

/** `POST /v1/svc/load` (`hab svc load`); unset fields take the spec defaults. */
export interface SvcLoadRequest {
  /** `ORIGIN/NAME[/VERSION[/RELEASE]]`, or the absolute path of a `.hart` on the Supervisor's host. */
  ident: string;
  group?: string;
  topology?: Topology;
  strategy?: UpdateStrategy;
  /** `NAME:SERVICE.GROUP[@ORG]` */
  binds?: string[];
  binding_mode?: BindingMode;
  /** Seconds. */
  health_check_interval?: number;
  /** Seconds. */
  shutdown_timeout?: number;
  config_from?: string;
  force?: boolean;
}

/** A service spec (Habitat's spec file keys). */
export interface ServiceSpecJson {
  ident: string;
  group: string;
  org: string | null;
  bldr_url: string;
  channel: string;
  topology: Topology;
  update_strategy: UpdateStrategy;
  update_condition: string;
  binds: string[];
  binding_mode: BindingMode;
  config_from: string | null;
  desired_state: DesiredState;
  /** Seconds; null: the package's `SHUTDOWN_TIMEOUT`. */
  shutdown_timeout: number | null;
  /** Seconds. */
  health_check_interval: number;
}

export interface SvcLoadResponse {
  spec: ServiceSpecJson;
  /** The fully qualified ident that will run. */
  ident: string;
  service_group: string;
  /** True when the service was loaded already and `force` replaced its spec. */
  reloaded: boolean;
}

/** `POST /v1/svc/unload` and `POST /v1/svc/stop` */
export interface SvcStopRequest {
  ident: string;
  /** Seconds; absent: the spec's, else the package's. */
  shutdown_timeout?: number;
}

/** `POST /v1/svc/start` */
export interface SvcStartRequest {
  ident: string;
}

/** One loaded service: the answer of unload, start and stop, and an element of `svc/status`. */
export interface ServiceStatusJson {
  /** The fully qualified ident running (or to run), else the spec's ident. */
  ident: string;
  spec_ident: string;
  service_group: string;
  topology: Topology;
  binding_mode: BindingMode;
  binds: string[];
  desired_state: DesiredState;
  state: ServiceStatus['state'];
  pid: number | null;
  /** ms since the epoch, or null. */
  started_at_ms: number | null;
  /** Whole seconds in the current state, by the Supervisor's clock, or null when unknown. */
  elapsed_sec: number | null;
  config_version: number;
  files: { filename: string; version: number }[];
  health: ServiceStatus['health'];
  last_error: string | null;
  /** Seconds. */
  health_check_interval: number;
  svc_path: string;
  pkg_path: string | null;
}

/** `GET /v1/svc/status[?ident=ORIGIN/NAME]` */
export interface SvcStatusResponse {
  services: ServiceStatusJson[];
}

/** Every non-2xx answer. `code` is a `MurmurError` code (core/errors.ts). */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}
