/**
 * ring: the ring keyring and the sealed envelope that every gossip datagram and stream frame
 * travels in.
 *
 * Habitat wraps each message in `Wire { encrypted, nonce, payload }` and, when the Supervisor has
 * a ring key, seals the payload with libsodium's `crypto_secretbox` (XSalsa20-Poly1305) under a
 * fresh random 24-byte nonce (`components/butterfly/src/message.rs`, `RingKey::encrypt`). murmur
 * keeps the primitive and the key files, so a Habitat ring key works here, but its envelope is
 * its own (ARCHITECTURE.md §2) and names the key that sealed it, so that keys can rotate without
 * downtime (habitat-sh/habitat#8056): a ring holds several keys, seals with its primary, and
 * opens with whichever key the envelope names. `install`, `use` and `remove` change the keys in
 * place (Serf's keyring: `serf keys -install/-use/-remove`); `sup/ring-keys.ts` drives them from
 * gossip.
 *
 *     sealed:   0x4d 'M' | 0x01 | key id (4) | nonce (24) | secretbox ciphertext (MAC 16 + n)
 *     unsealed: 0x4d 'M' | 0x00 | plaintext (n)
 *
 * The key id is the first 4 bytes of BLAKE2b-256 of the key bytes: it tells a receiver which key
 * to try, and reveals nothing useful about the key. A keyed ring refuses unsealed packets and an
 * unkeyed ring refuses sealed ones, where Habitat would try to decode either and fail later with
 * a vaguer error.
 *
 * `Keyring.open` never throws: junk gives an `OpenError` with a code the caller can count.
 *
 * Nonces come from the operating system's CSPRNG (WebCrypto's `getRandomValues`), never from
 * core's seeded `Random`: this module is not part of the deterministic core, and a replayable
 * nonce would be a security bug.
 *
 * The primitives come from the audited pure-JavaScript @noble/ciphers (`xsalsa20poly1305`, which
 * is libsodium's `crypto_secretbox`) and @noble/hashes (`blake2b`, libsodium's
 * `crypto_generichash`), not from libsodium's WebAssembly build: every Supervisor seals every
 * packet, and the WebAssembly module costs a process about 11 MB of memory where these cost
 * under 1 MB. Seal plus open of a 200-byte datagram takes about 30 µs (libsodium: 5 µs), which
 * at a few hundred packets a second is noise. The tests check both directions against
 * libsodium itself and against Habitat's own ciphertext.
 */
import { getRandomValues } from 'node:crypto';
import { MurmurError } from '../core/index.js';
import { formatNamedRevision } from './key-file.js';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { blake2b } from '@noble/hashes/blake2.js';

/** A ring key as the keyring holds it: a `SYM-SEC-1` key file's name, revision and 32 bytes. */
export interface RingKey {
  name: string;
  revision: string;
  key: Uint8Array;
}

/** First byte of every envelope: ASCII `M`. */
export const ENVELOPE_MAGIC = 0x4d;
/** Second byte of an envelope sealed with a ring key. */
export const SEALED_VERSION = 0x01;
/** Second byte of an envelope sent by a ring with no key. */
export const UNSEALED_VERSION = 0x00;
export const KEY_ID_BYTES = 4;
/** `crypto_secretbox_NONCEBYTES`. */
export const NONCE_BYTES = 24;
/** `crypto_secretbox_MACBYTES`. */
export const MAC_BYTES = 16;
/** `crypto_secretbox_KEYBYTES`. */
export const RING_KEY_BYTES = 32;

const HEADER_BYTES = 2;
const KEY_ID_AT = HEADER_BYTES;
const NONCE_AT = KEY_ID_AT + KEY_ID_BYTES;
const CIPHERTEXT_AT = NONCE_AT + NONCE_BYTES;

/** Bytes a sealed envelope adds to its plaintext: 2 + 4 + 24 + 16 = 46. */
export const SEAL_OVERHEAD = CIPHERTEXT_AT + MAC_BYTES;
/** Bytes an unsealed envelope adds to its plaintext. */
export const UNSEALED_OVERHEAD = HEADER_BYTES;

/**
 * Why bytes were not opened:
 * - `truncated`: shorter than the envelope's own fields;
 * - `bad-magic`: the first byte is not `M`: not a murmur envelope at all;
 * - `bad-version`: an envelope version this build does not know;
 * - `not-sealed`: a keyed ring received an unsealed envelope (a peer without the ring key);
 * - `sealed-without-key`: an unkeyed ring received a sealed envelope (this member lacks the key);
 * - `unknown-key`: sealed with a key this ring does not hold (another ring, or a rotation this
 *   member has not caught up with);
 * - `bad-mac`: the key id matched but authentication failed: damaged or forged bytes.
 */
export type OpenErrorCode =
  | 'truncated'
  | 'bad-magic'
  | 'bad-version'
  | 'not-sealed'
  | 'sealed-without-key'
  | 'unknown-key'
  | 'bad-mac';

export interface OpenError {
  code: OpenErrorCode;
  message: string;
}

export type OpenResult = { ok: true; value: Uint8Array } | { ok: false; error: OpenError };

/** The 4-byte id of a ring key: the first 4 bytes of BLAKE2b-256 of its bytes. */
export function ringKeyId(key: Uint8Array): Uint8Array {
  return blake2b(key, { dkLen: 32 }).slice(0, KEY_ID_BYTES);
}

/** A ring key as the keyring describes it, without its bytes: safe to log. */
export interface RingKeyInfo {
  name: string;
  revision: string;
  /** The key id in lowercase hex (8 characters). */
  id: string;
}

interface Entry {
  info: RingKeyInfo;
  id: Uint8Array;
  key: Uint8Array;
}

/**
 * The keys of one ring. With no keys the ring is unkeyed and sends plaintext envelopes, as a
 * Habitat Supervisor started without `--ring` does; with keys it seals every envelope with the
 * primary key and opens envelopes sealed with any key it holds.
 */
export class Keyring {
  /** By key id read as a big-endian uint32. */
  readonly #byId = new Map<number, Entry>();
  #primary: Entry | undefined;

  /**
   * @param keys the ring keys this member accepts. The same key listed twice is kept once; two
   *   different keys with the same id (a 1 in 2^32 chance) are refused, as the envelope could not
   *   tell them apart.
   * @param primary the key that seals: `name-revision`, or a `name` (its latest revision among
   *   `keys`). @default the first of `keys`
   */
  constructor(keys: readonly RingKey[], primary?: string) {
    const entries: Entry[] = [];
    for (const ringKey of keys) {
      const entry = this.#add(ringKey);
      if (entry !== undefined) entries.push(entry);
    }
    this.#primary = choosePrimary(entries, primary);
  }

  /**
   * Adds a key that opens (rotation, step 1: `hab ring key install`); the primary stays. Returns
   * false when the ring already holds these bytes. Refused: a key of the wrong length, another key
   * under the same name and revision or the same key id, and any key on an unkeyed ring (it would
   * start sealing where its peers do not: start every Supervisor with `--ring` instead).
   */
  install(ringKey: RingKey): boolean {
    const label = formatNamedRevision(ringKey);
    if (this.#primary === undefined) {
      throw new MurmurError('CONFLICT', `cannot install ring key ${label}: this ring has no ring key; rotation needs a keyed ring (start every Supervisor with --ring)`);
    }
    const named = this.#find(label);
    if (named !== undefined && !equalBytes(named.key, ringKey.key)) {
      throw new MurmurError('CONFLICT', `ring key ${label} is already installed with other bytes (id ${named.info.id})`);
    }
    return this.#add(ringKey) !== undefined;
  }

  /**
   * Makes an installed key the one that seals (rotation, step 2: `hab ring key use`). Returns false
   * when it already is. NOT_FOUND when it is not installed.
   */
  use(nameRevision: string): boolean {
    const entry = this.#find(nameRevision);
    if (entry === undefined) {
      throw new MurmurError('NOT_FOUND', `cannot use ring key ${nameRevision}: it is not installed (installed: ${this.#labels()}); install it first`);
    }
    if (entry === this.#primary) return false;
    this.#primary = entry;
    return true;
  }

  /**
   * Drops a key (rotation, step 3: `hab ring key remove`): envelopes sealed with it no longer open.
   * Returns false when it is not held. The primary cannot be removed (CONFLICT): use another first.
   */
  remove(nameRevision: string): boolean {
    const entry = this.#find(nameRevision);
    if (entry === undefined) return false;
    if (entry === this.#primary) {
      throw new MurmurError('CONFLICT', `cannot remove ring key ${nameRevision}: it is the primary, which seals every packet; use another key first`);
    }
    this.#byId.delete(readUint32(entry.id, 0));
    return true;
  }

  /**
   * The key `name-revision` with its bytes, or undefined: for the rotation code, which gossips a key
   * that becomes primary so that a member that missed its installation still gets it.
   */
  get(nameRevision: string): RingKey | undefined {
    const entry = this.#find(nameRevision);
    return entry === undefined ? undefined : { name: entry.info.name, revision: entry.info.revision, key: entry.key.slice() };
  }

  /** Whether the ring holds the key `name-revision`. */
  has(nameRevision: string): boolean {
    return this.#find(nameRevision) !== undefined;
  }

  /** The entry for `ringKey`, added; undefined when these bytes are already held. */
  #add(ringKey: RingKey): Entry | undefined {
    const label = formatNamedRevision(ringKey);
    if (ringKey.key.length !== RING_KEY_BYTES) {
      throw new MurmurError(
        'BAD_INPUT',
        `ring key ${label} is ${ringKey.key.length} bytes; a ring key (SYM-SEC-1) is ${RING_KEY_BYTES} bytes`,
      );
    }
    const id = ringKeyId(ringKey.key);
    const slot = readUint32(id, 0);
    const existing = this.#byId.get(slot);
    if (existing !== undefined) {
      if (equalBytes(existing.key, ringKey.key)) return undefined;
      throw new MurmurError(
        'CONFLICT',
        `ring keys ${formatNamedRevision(existing.info)} and ${label} differ but share the key id ${existing.info.id}; generate a new revision of one of them`,
      );
    }
    const entry: Entry = {
      info: { name: ringKey.name, revision: ringKey.revision, id: toHexBytes(id) },
      id,
      key: ringKey.key.slice(),
    };
    this.#byId.set(slot, entry);
    return entry;
  }

  #find(nameRevision: string): Entry | undefined {
    for (const entry of this.#byId.values()) if (formatNamedRevision(entry.info) === nameRevision) return entry;
    return undefined;
  }

  #labels(): string {
    const labels = [...this.#byId.values()].map((entry) => formatNamedRevision(entry.info));
    return labels.length === 0 ? 'none' : labels.join(', ');
  }

  /** Whether this ring seals its envelopes (it holds at least one key). */
  get keyed(): boolean {
    return this.#primary !== undefined;
  }

  /** The key that seals, or undefined for an unkeyed ring. */
  get primary(): RingKeyInfo | undefined {
    return this.#primary?.info;
  }

  /** Every key this ring opens with, in the order given. */
  get keys(): readonly RingKeyInfo[] {
    return [...this.#byId.values()].map((entry) => entry.info);
  }

  /** `plain` in an envelope: sealed with the primary key under a fresh random nonce, or unsealed. */
  seal(plain: Uint8Array): Uint8Array {
    const primary = this.#primary;
    if (primary === undefined) {
      const out = new Uint8Array(UNSEALED_OVERHEAD + plain.length);
      out[0] = ENVELOPE_MAGIC;
      out[1] = UNSEALED_VERSION;
      out.set(plain, UNSEALED_OVERHEAD);
      return out;
    }
    return sealEnvelope(primary.id, primary.key, getRandomValues(new Uint8Array(NONCE_BYTES)), plain);
  }

  /**
   * The plaintext inside an envelope, or why there is none. Never throws. An unsealed envelope's
   * plaintext is a view into `bytes`, not a copy.
   */
  open(bytes: Uint8Array): OpenResult {
    if (bytes.length < HEADER_BYTES) {
      return fail('truncated', `envelope is ${bytes.length} bytes, shorter than its ${HEADER_BYTES}-byte header`);
    }
    if (bytes[0] !== ENVELOPE_MAGIC) {
      return fail('bad-magic', `not a murmur envelope: first byte is 0x${hexByte(bytes[0])}, expected 0x4d ('M')`);
    }
    const version = bytes[1];
    if (version === UNSEALED_VERSION) {
      if (this.#primary !== undefined) {
        return fail('not-sealed', 'unsealed envelope refused: this ring has a ring key, and the sender has none');
      }
      return { ok: true, value: bytes.subarray(UNSEALED_OVERHEAD) };
    }
    if (version !== SEALED_VERSION) {
      return fail('bad-version', `unknown envelope version 0x${hexByte(version)}; this build reads 0x00 and 0x01`);
    }
    if (this.#primary === undefined) {
      return fail('sealed-without-key', 'sealed envelope refused: the sender uses a ring key, and this ring has none');
    }
    if (bytes.length < SEAL_OVERHEAD) {
      return fail('truncated', `sealed envelope is ${bytes.length} bytes, shorter than its ${SEAL_OVERHEAD} bytes of overhead`);
    }
    const entry = this.#byId.get(readUint32(bytes, KEY_ID_AT));
    if (entry === undefined) {
      const id = toHexBytes(bytes.subarray(KEY_ID_AT, NONCE_AT));
      return fail('unknown-key', `sealed with ring key id ${id}, which this ring does not hold (it holds ${this.keys.map((k) => k.id).join(', ')})`);
    }
    try {
      const value = xsalsa20poly1305(entry.key, bytes.subarray(NONCE_AT, CIPHERTEXT_AT)).decrypt(bytes.subarray(CIPHERTEXT_AT));
      return { ok: true, value };
    } catch {
      return fail('bad-mac', `envelope failed authentication under ring key ${formatNamedRevision(entry.info)} (id ${entry.info.id}): damaged or forged`);
    }
  }
}

/** A keyring (async for callers written when it waited for libsodium's WebAssembly). */
export function createKeyring(keys: readonly RingKey[], primary?: string): Promise<Keyring> {
  return Promise.resolve(new Keyring(keys, primary));
}

/**
 * A sealed envelope with a given nonce. `Keyring.seal` calls this with a fresh random nonce;
 * tests call it to check fixed vectors. A nonce must never be used twice with the same key.
 */
export function sealWithNonce(ringKey: RingKey, nonce: Uint8Array, plain: Uint8Array): Uint8Array {
  if (ringKey.key.length !== RING_KEY_BYTES || nonce.length !== NONCE_BYTES) {
    throw new MurmurError('BAD_INPUT', `sealWithNonce: needs a ${RING_KEY_BYTES}-byte key and a ${NONCE_BYTES}-byte nonce`);
  }
  return sealEnvelope(ringKeyId(ringKey.key), ringKey.key, nonce, plain);
}

function sealEnvelope(id: Uint8Array, key: Uint8Array, nonce: Uint8Array, plain: Uint8Array): Uint8Array {
  const boxed = xsalsa20poly1305(key, nonce).encrypt(plain);
  const out = new Uint8Array(CIPHERTEXT_AT + boxed.length);
  out[0] = ENVELOPE_MAGIC;
  out[1] = SEALED_VERSION;
  out.set(id, KEY_ID_AT);
  out.set(nonce, NONCE_AT);
  out.set(boxed, CIPHERTEXT_AT);
  return out;
}

function choosePrimary(entries: readonly Entry[], primary: string | undefined): Entry | undefined {
  if (primary === undefined) return entries[0];
  const exact = entries.find((entry) => formatNamedRevision(entry.info) === primary);
  if (exact !== undefined) return exact;
  let latest: Entry | undefined;
  for (const entry of entries) {
    if (entry.info.name === primary && (latest === undefined || entry.info.revision > latest.info.revision)) {
      latest = entry;
    }
  }
  if (latest !== undefined) return latest;
  const held = entries.map((entry) => formatNamedRevision(entry.info)).join(', ');
  throw new MurmurError(
    'BAD_INPUT',
    `primary ring key "${primary}" is not among the ring keys given (${held === '' ? 'none' : held}); name one of them, as name or name-revision`,
  );
}

function readUint32(bytes: Uint8Array, at: number): number {
  return (((bytes[at] ?? 0) << 24) | ((bytes[at + 1] ?? 0) << 16) | ((bytes[at + 2] ?? 0) << 8) | (bytes[at + 3] ?? 0)) >>> 0;
}

function hexByte(byte: number | undefined): string {
  return (byte ?? 0).toString(16).padStart(2, '0');
}

function fail(code: OpenErrorCode, message: string): OpenResult {
  return { ok: false, error: { code, message } };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function toHexBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
