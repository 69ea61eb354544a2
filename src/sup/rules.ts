/**
 * The rules an operator's input must follow before this Supervisor gossips it: service group
 * names, versions, config text, file names, member ids and payload sizes (`hab config apply`,
 * `hab file upload`, `hab sup depart`). Each check throws a `MurmurError` whose message names
 * the field, the value and what is accepted. Pure functions, no I/O: the Supervisor applies them
 * in `applyConfig`/`uploadFile`/`depart`, and the CLI applies the same ones before it sends
 * anything (through the ctl client), so that a typo costs no round trip and reads the same.
 */
import { parse, TomlError } from 'smol-toml';
import type { MemberId } from '../core/index.js';
import { MAX_TOML_DEPTH, nestsDeeperThan } from '../census/index.js';
import { isMemberId, MurmurError } from '../core/index.js';

/**
 * The largest config (TOML text) or file body one rumor may carry, in bytes. Habitat refuses
 * more than 64 KiB (`SvcValidateCfg`, `SvcFilePut`); ours is larger because a big rumor travels
 * over a TCP stream rather than a datagram, but it is still bounded: every member keeps every
 * rumor in memory and on disk, and a joining member receives all of them at once.
 * @default 524288 (512 KiB)
 */
export const MAX_GOSSIP_PAYLOAD_BYTES = 512 * 1024;

/** The longest file name accepted by `hab file upload`, in UTF-8 bytes (a common filesystem limit). */
export const MAX_FILE_NAME_BYTES = 255;

const PART = '[A-Za-z0-9_-]+';
const SERVICE_GROUP = new RegExp(`^${PART}\\.${PART}(?:@${PART})?$`);

/** `SERVICE.GROUP` or `SERVICE.GROUP@ORG`, each part letters, digits, `_` and `-`. */
export function checkServiceGroup(group: string): string {
  if (!SERVICE_GROUP.test(group)) {
    throw new MurmurError(
      'BAD_INPUT',
      `service group must be SERVICE.GROUP or SERVICE.GROUP@ORG (each part letters, digits, _ or -), e.g. redis.prod; got ${JSON.stringify(group)}`,
    );
  }
  return group;
}

/** A config or file version: an integer from 1 to 2^53 − 1 (it becomes the rumor's version). */
export function checkVersion(version: number): number {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new MurmurError('BAD_INPUT', `version must be a positive integer (1 to ${Number.MAX_SAFE_INTEGER}), got ${String(version)}`);
  }
  return version;
}

/** Refuses a payload over `MAX_GOSSIP_PAYLOAD_BYTES`, saying the size and the limit. */
export function checkPayloadSize(what: string, bytes: number): void {
  if (bytes > MAX_GOSSIP_PAYLOAD_BYTES) {
    throw new MurmurError(
      'TOO_LARGE',
      `${what} is ${bytes} bytes; the limit is ${MAX_GOSSIP_PAYLOAD_BYTES} bytes (${MAX_GOSSIP_PAYLOAD_BYTES / 1024} KiB) per config or file`,
    );
  }
}

/**
 * Parses config text as TOML; a syntax error names the line and the column (1-based) and what
 * smol-toml found there. Returns the parsed table, for callers that want it.
 */
export function parseConfigToml(text: string, source = 'config'): Record<string, unknown> {
  let table: Record<string, unknown>;
  try {
    table = parse(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document:\s*/, '');
      throw new MurmurError('BAD_INPUT', `${source} is not valid TOML: line ${err.line}, column ${err.column}: ${reason}`, { cause: err });
    }
    throw new MurmurError('BAD_INPUT', `${source} is not valid TOML: ${(err as Error).message}`, { cause: err });
  }
  if (nestsDeeperThan(table, MAX_TOML_DEPTH)) {
    throw new MurmurError('BAD_INPUT', `${source} nests tables or arrays deeper than ${MAX_TOML_DEPTH} levels (each part of a dotted key such as a.b.c counts as one)`);
  }
  return table;
}

/**
 * A file name as members will write it under `/hab/svc/<name>/files/`: one path component, not
 * `.` or `..`, no `/` or NUL, at most `MAX_FILE_NAME_BYTES` bytes.
 */
export function checkFileName(filename: string): string {
  const problem =
    filename === ''
      ? 'is empty'
      : filename === '.' || filename === '..'
        ? `may not be ${JSON.stringify(filename)}`
        : filename.includes('/')
          ? 'may not contain "/" (give the base name only)'
          : filename.includes('\0')
            ? 'may not contain a NUL character'
            : Buffer.byteLength(filename, 'utf8') > MAX_FILE_NAME_BYTES
              ? `is ${Buffer.byteLength(filename, 'utf8')} bytes long; the limit is ${MAX_FILE_NAME_BYTES}`
              : undefined;
  if (problem !== undefined) throw new MurmurError('BAD_INPUT', `filename ${problem}; got ${JSON.stringify(filename)}`);
  return filename;
}

/** A member id: 32 lowercase hex characters, as in `MEMBER_ID` and `/butterfly`. */
export function checkMemberId(id: string): MemberId {
  if (!isMemberId(id)) {
    throw new MurmurError('BAD_INPUT', `member id must be 32 lowercase hex characters (as in MEMBER_ID or /butterfly), got ${JSON.stringify(id)}`);
  }
  return id;
}
