/**
 * The error catalogue: every operator-facing failure has a stable code, one exit code and one
 * HTTP status. Layers throw `MurmurError`; the CLI and gateways map codes through this table.
 */
export const ERRORS = {
  BAD_INPUT: { exit: 2, http: 400 },
  NOT_FOUND: { exit: 3, http: 404 },
  CONFLICT: { exit: 4, http: 409 },
  UNAUTHORIZED: { exit: 5, http: 401 },
  TOO_LARGE: { exit: 6, http: 413 },
  IO: { exit: 7, http: 500 },
  INTERNAL: { exit: 1, http: 500 },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class MurmurError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MurmurError';
    this.code = code;
  }
  get exitCode(): number {
    return ERRORS[this.code].exit;
  }
  get httpStatus(): number {
    return ERRORS[this.code].http;
  }
}
