/**
 * The control gateway's JSON, shared by the server and the client: route paths, request and
 * response bodies (snake_case, as Habitat's JSON), and the error body. `docs/ctl.md` documents
 * the same shapes for operators who drive the gateway with curl.
 */
import type { ErrorCode } from '../core/index.js';

export const ROUTES = {
  configApply: '/v1/config/apply',
  fileUpload: '/v1/file/upload',
  supDepart: '/v1/sup/depart',
  supStatus: '/v1/sup/status',
} as const;

/** The largest request body the gateway reads, in bytes (a 512 KiB file is ~683 KiB in base64). */
export const MAX_CTL_BODY_BYTES = 1024 * 1024;

/** `POST /v1/config/apply` */
export interface ConfigApplyRequest {
  service_group: string;
  version: number;
  /** TOML text. */
  config: string;
}

export interface ConfigApplyResponse {
  service_group: string;
  version: number;
  bytes: number;
  /** The Supervisor that published the rumor. */
  member_id: string;
}

/** `POST /v1/file/upload` */
export interface FileUploadRequest {
  service_group: string;
  version: number;
  filename: string;
  body_base64: string;
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
}

/** Every non-2xx answer. `code` is a `MurmurError` code (core/errors.ts). */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}
