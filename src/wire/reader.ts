/**
 * Reading untrusted protobuf bytes: `WireReader` adds to @bufbuild's `BinaryReader` what a
 * decoder of peer input needs (exact integers up to 2^53 - 1, range checks, member ids, strict
 * UTF-8, message bounds), and `DecodeError` sorts every failure into a code the caller can count.
 *
 * Inside a decoder, failures are thrown (`DecodeFailure`, or whatever `BinaryReader` throws) so
 * that the field loops stay flat; `toDecodeError` turns any of them into a value at the public
 * boundary, which never throws.
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';
import type { MemberId } from '../core/index.js';
import { MEMBER_ID_BYTES, memberIdFromBytes } from './member-id.js';
import { WIRE_VARINT } from './schema.js';

/**
 * Why bytes were not decoded:
 * - `too-large`: the input is over the byte limit, and was not read at all;
 * - `truncated`: the input ended inside a field;
 * - `malformed`: not valid protobuf (bad tag, wire type or varint, bad UTF-8, a field that
 *   overruns its message);
 * - `invalid`: valid protobuf that breaks murmur's rules (missing body or payload, member id not
 *   16 bytes, unknown enum number, integer out of range).
 */
export type DecodeErrorCode = 'too-large' | 'truncated' | 'malformed' | 'invalid';

export interface DecodeError {
  code: DecodeErrorCode;
  message: string;
}

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: DecodeError };

/** Thrown inside a decoder, caught at the public boundary. Never escapes the wire layer. */
export class DecodeFailure extends Error {
  readonly code: DecodeErrorCode;
  constructor(code: DecodeErrorCode, message: string) {
    super(message);
    this.name = 'DecodeFailure';
    this.code = code;
  }
}

export function fail(code: DecodeErrorCode, message: string): never {
  throw new DecodeFailure(code, message);
}

/**
 * Any error thrown while decoding, as a `DecodeError`. `BinaryReader` signals reading past the
 * end with a `RangeError` (its own "premature EOF", or DataView's); everything else it throws
 * (bad varint, bad tag, unskippable wire type, strict UTF-8 `TypeError`) is malformed input.
 */
export function toDecodeError(err: unknown): DecodeError {
  if (err instanceof DecodeFailure) return { code: err.code, message: err.message };
  if (err instanceof RangeError) return { code: 'truncated', message: `input ends inside a field (${err.message})` };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'malformed', message: `not valid protobuf (${message})` };
}

const UINT32_MAX = 0xffffffff;
const PORT_MAX = 0xffff;
/** A varint is at most 10 bytes (64 bits, 7 per byte). */
const VARINT_MAX_BYTES = 10;

export class WireReader extends BinaryReader {
  /** The same bytes `BinaryReader` holds privately, for the reads it does not offer. */
  private readonly input: Uint8Array;

  constructor(input: Uint8Array) {
    super(input);
    this.input = input;
  }

  /**
   * A varint as an exact number. Values above 2^53 - 1 are invalid rather than rounded: murmur
   * keeps uint64 fields (incarnation, version, term) as JavaScript numbers.
   */
  varint(what: string): number {
    const value = this.rawVarint(what);
    if (value > Number.MAX_SAFE_INTEGER) fail('invalid', `${what} is above 2^53 - 1`);
    return value;
  }

  /** A varint, exact up to 2^53 - 1 and rounded (but still above it) beyond. */
  private rawVarint(what: string): number {
    const bytes = this.input;
    let pos = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_MAX_BYTES; i++) {
      const b = bytes[pos++];
      if (b === undefined) fail('truncated', `input ends inside ${what}`);
      // Exact below 2^53; above, rounding is monotonic, so comparisons with limits still hold.
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        return value;
      }
      scale *= 128;
    }
    return fail('malformed', `${what}: varint longer than ${VARINT_MAX_BYTES} bytes`);
  }

  /** A field tag, `field number << 3 | wire type`. */
  fieldTag(): number {
    const tag = this.rawVarint('a field tag');
    if (tag > UINT32_MAX || tag < 8 || (tag & 7) > 5) fail('malformed', `illegal field tag ${tag}`);
    return tag;
  }

  /**
   * Skips the field whose tag was just read (forward compatibility: unknown fields are ignored).
   * A varint is scanned here because `BinaryReader.skip` accepts one of any length.
   */
  skipField(tag: number): void {
    if ((tag & 7) !== WIRE_VARINT) {
      this.skip(tag & 7, tag >>> 3);
      return;
    }
    const bytes = this.input;
    for (let i = 0; i < VARINT_MAX_BYTES; i++) {
      const b = bytes[this.pos++];
      if (b === undefined) fail('truncated', 'input ends inside a varint');
      if (b < 0x80) return;
    }
    fail('malformed', `varint longer than ${VARINT_MAX_BYTES} bytes`);
  }

  /** A uint32 field; a larger varint is invalid rather than silently cut to 32 bits. */
  uint32Value(what: string): number {
    const value = this.varint(what);
    if (value > UINT32_MAX) fail('invalid', `${what} ${value} is above the uint32 range`);
    return value;
  }

  /** A port number, 0..65535. */
  port(what: string): number {
    const value = this.varint(what);
    if (value > PORT_MAX) fail('invalid', `${what} ${value} is not a port number`);
    return value;
  }

  /** An enum number mapped through `table`; numbers the table lacks are invalid. */
  enumValue<T>(table: readonly (T | undefined)[], what: string): T {
    const n = this.varint(what);
    const value = table[n];
    if (value === undefined) fail('invalid', `${what}: unknown value ${n}`);
    return value;
  }

  /** The start of an embedded message (or packed field): reads its length, returns its end. */
  messageEnd(what: string): number {
    const length = this.rawVarint(what);
    const end = this.pos + length;
    if (end > this.len) fail('truncated', `input ends inside ${what}`);
    return end;
  }

  /** After a message's fields: the last one must end exactly where the message does. */
  close(end: number, what: string): void {
    if (this.pos !== end) fail('malformed', `a field overruns the end of ${what}`);
  }

  /** A member id, 16 bytes, or `''` when the field is empty (absent). */
  optionalId(what: string): MemberId | '' {
    const end = this.messageEnd(what);
    const length = end - this.pos;
    if (length === 0) return '';
    if (length !== MEMBER_ID_BYTES) fail('invalid', `${what} is ${length} bytes, not a 16-byte member id`);
    const id = memberIdFromBytes(this.input, this.pos);
    this.pos = end;
    return id;
  }

  /** A UTF-8 string; invalid UTF-8 is malformed, not replaced. */
  text(): string {
    return this.string(true);
  }

  /**
   * A string that becomes part of a rumor key (group, file name, id): NUL separates the parts of
   * a key, so it may not appear inside one.
   */
  keyText(what: string): string {
    const s = this.string(true);
    if (s.includes('\u0000')) fail('invalid', `${what} contains a NUL character`);
    return s;
  }

  /** A bytes field, copied so that the value does not pin or alias the caller's buffer. */
  blob(): Uint8Array {
    return this.bytes().slice();
  }
}

/** A required member id: present (not `''`). */
export function requireId(id: MemberId | '', what: string): MemberId {
  if (id === '') fail('invalid', `${what} is missing`);
  return id;
}
