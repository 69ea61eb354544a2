/**
 * Member ids on the wire: 32 lowercase hex characters in memory (`MemberId`), 16 raw bytes in a
 * packet. These run for every id of every packet, so they work on char codes rather than
 * through `core`'s general-purpose `toHex`/`fromHex` (string concatenation, a regular expression
 * and `parseInt` per byte).
 */
import type { MemberId } from '../core/index.js';

/** Bytes of a member id on the wire. */
export const MEMBER_ID_BYTES = 16;

const HEX_DIGITS = '0123456789abcdef';
/** Char code of the high and low hex digit of byte `b`. */
const hi = (b: number): number => HEX_DIGITS.charCodeAt(b >> 4);
const lo = (b: number): number => HEX_DIGITS.charCodeAt(b & 15);

/** The value of one lowercase hex digit's char code, or -1. Uppercase is not a `MemberId`. */
function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  return -1;
}

/** The 16 bytes of a member id, or undefined when `id` is not 32 lowercase hex characters. */
export function memberIdToBytes(id: string): Uint8Array | undefined {
  const out = new Uint8Array(MEMBER_ID_BYTES);
  return putMemberId(out, 0, id) ? out : undefined;
}

/**
 * Writes the 16 bytes of member id `id` at `out[pos]`; false (with `out` partly written) when
 * `id` is not 32 lowercase hex characters.
 */
export function putMemberId(out: Uint8Array, pos: number, id: string): boolean {
  if (id.length !== 2 * MEMBER_ID_BYTES) return false;
  for (let i = 0; i < MEMBER_ID_BYTES; i++) {
    const hi = hexDigit(id.charCodeAt(2 * i));
    const lo = hexDigit(id.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return false;
    out[pos + i] = (hi << 4) | lo;
  }
  return true;
}

/**
 * The member id held in `bytes[start .. start + 16)`; the caller has checked the bounds. One
 * `String.fromCharCode` call makes a flat string about three times faster than concatenating
 * 16 pairs of digits, and ids are hashed as map keys as soon as they are decoded.
 */
export function memberIdFromBytes(bytes: Uint8Array, start: number): MemberId {
  const b0 = bytes[start] as number;
  const b1 = bytes[start + 1] as number;
  const b2 = bytes[start + 2] as number;
  const b3 = bytes[start + 3] as number;
  const b4 = bytes[start + 4] as number;
  const b5 = bytes[start + 5] as number;
  const b6 = bytes[start + 6] as number;
  const b7 = bytes[start + 7] as number;
  const b8 = bytes[start + 8] as number;
  const b9 = bytes[start + 9] as number;
  const b10 = bytes[start + 10] as number;
  const b11 = bytes[start + 11] as number;
  const b12 = bytes[start + 12] as number;
  const b13 = bytes[start + 13] as number;
  const b14 = bytes[start + 14] as number;
  const b15 = bytes[start + 15] as number;
  return String.fromCharCode(
    hi(b0), lo(b0), hi(b1), lo(b1), hi(b2), lo(b2), hi(b3), lo(b3),
    hi(b4), lo(b4), hi(b5), lo(b5), hi(b6), lo(b6), hi(b7), lo(b7),
    hi(b8), lo(b8), hi(b9), lo(b9), hi(b10), lo(b10), hi(b11), lo(b11),
    hi(b12), lo(b12), hi(b13), lo(b13), hi(b14), lo(b14), hi(b15), lo(b15),
  );
}
