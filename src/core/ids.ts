import type { Random } from './random.js';

/** A member id: 32 lowercase hex characters (a UUID v4 in "simple" form, as Habitat writes it). */
export type MemberId = string;

const MEMBER_ID = /^[0-9a-f]{32}$/;

export function isMemberId(value: string): value is MemberId {
  return MEMBER_ID.test(value);
}

/** A new random member id (UUID v4 bits, simple form). */
export function newMemberId(random: Random): MemberId {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = random.int(256);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  return toHex(bytes);
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += (b < 16 ? '0' : '') + b.toString(16);
  return out;
}

/** Hex to bytes; returns undefined for odd length or a non-hex character. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
