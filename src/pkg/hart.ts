/**
 * hart: the signed package archive, Habitat's `.hart` (`components/core/src/crypto/artifact.rs`).
 *
 *     HART-1
 *     core-20240101120000          the origin signing key's name-revision
 *     BLAKE2b                      the hash type
 *     <base64 signed message>
 *                                  a blank line
 *     <xz-compressed tar>          entries hab/pkgs/<origin>/<name>/<version>/<release>/…
 *
 * The signed message is libsodium's *combined* form (`crypto_sign`: 64-byte signature followed by
 * the message, not a detached signature), and the message is the lowercase hex of the unkeyed
 * BLAKE2b-256 (`crypto_generichash`, 32 bytes) of the compressed tarball. Verifying opens the
 * signed message with the origin's public key and compares the hash it carries with the hash of
 * the tarball as read.
 *
 * `readHart` never throws anything but a BAD_INPUT `MurmurError`, whatever the bytes.
 */
import { MurmurError } from '../core/index.js';
import { formatNamedRevision, loadSodium, parseNamedRevision, type KeyFile, type NamedRevision } from '../crypto/index.js';

export const HART_FORMAT = 'HART-1';
export const HART_HASH_TYPE = 'BLAKE2b';
/** The only target murmur builds for. */
export const HART_TARGET = 'x86_64-linux';

/** `crypto_sign_BYTES`. */
const SIGNATURE_BYTES = 64;
/** The header is five short lines; anything longer is not a `.hart`. */
const MAX_HEADER_BYTES = 4096;

export interface Hart {
  /** The origin signing key that signed it (its public half verifies it). */
  key: NamedRevision;
  hashType: typeof HART_HASH_TYPE;
  /** The combined signed message: signature, then the hex hash of `payload`. */
  signedMessage: Uint8Array;
  /** The xz-compressed tarball. */
  payload: Uint8Array;
}

/** Splits a `.hart` into its header fields and its payload, or throws BAD_INPUT. */
export function readHart(bytes: Uint8Array, source = '.hart file'): Hart {
  const bad = (problem: string): MurmurError =>
    new MurmurError('BAD_INPUT', `${source} is not a valid .hart: ${problem}`);
  const lines: string[] = [];
  let start = 0;
  const limit = Math.min(bytes.length, MAX_HEADER_BYTES);
  for (let i = 0; i < limit && lines.length < 5; i++) {
    if (bytes[i] === 0x0a) {
      lines.push(Buffer.from(bytes.buffer, bytes.byteOffset + start, i - start).toString('latin1'));
      start = i + 1;
    }
  }
  const [format, keyName, hashType, signature, blank] = lines;
  if (format !== undefined && format !== HART_FORMAT) {
    throw bad(`line 1 is "${clip(format)}", expected "${HART_FORMAT}"`);
  }
  if (format === undefined && !startsWith(bytes, HART_FORMAT)) {
    throw bad(`it does not start with "${HART_FORMAT}"`);
  }
  if (blank === undefined || signature === undefined || hashType === undefined || keyName === undefined) {
    throw bad(`the header is truncated (${lines.length} of its 5 lines)`);
  }
  let key: NamedRevision;
  try {
    key = parseNamedRevision(keyName, 'line 2 (the signing key)');
  } catch (err) {
    throw bad(err instanceof Error ? err.message : String(err));
  }
  if (hashType !== HART_HASH_TYPE) throw bad(`unknown hash type "${clip(hashType)}" on line 3; only ${HART_HASH_TYPE} is known`);
  const signedMessage = decodeBase64(signature);
  if (signedMessage === undefined) throw bad('line 4 (the signature) is not valid base64');
  if (signedMessage.length <= SIGNATURE_BYTES) {
    throw bad(`the signed message on line 4 is ${signedMessage.length} bytes, too short to hold a ${SIGNATURE_BYTES}-byte signature and a hash`);
  }
  if (blank !== '') throw bad(`line 5 must be blank, found "${clip(blank)}"`);
  const payload = bytes.subarray(start);
  if (payload.length === 0) throw bad('there is no archive after the header');
  return { key, hashType: HART_HASH_TYPE, signedMessage, payload };
}

/** The `.hart` bytes for a header and payload. */
export function encodeHart(hart: Hart): Uint8Array {
  const header = [
    HART_FORMAT,
    formatNamedRevision(hart.key),
    hart.hashType,
    Buffer.from(hart.signedMessage).toString('base64'),
    '',
    '',
  ].join('\n');
  return Buffer.concat([Buffer.from(header, 'latin1'), hart.payload]);
}

/** Lowercase hex of the unkeyed BLAKE2b-256 of `bytes`; of the payload, it is the message a `.hart` signs. */
export async function blake2b256Hex(bytes: Uint8Array): Promise<string> {
  const sodium = await loadSodium();
  return sodium.to_hex(sodium.crypto_generichash(32, bytes, null));
}

/** Signs `payload` (an xz tarball) with an origin's secret key: the whole `.hart`. */
export async function signHart(payload: Uint8Array, secret: KeyFile<'SIG-SEC-1'>): Promise<Uint8Array> {
  const sodium = await loadSodium();
  const hash = await blake2b256Hex(payload);
  const signedMessage = sodium.crypto_sign(Buffer.from(hash, 'latin1'), secret.key);
  return encodeHart({ key: { name: secret.name, revision: secret.revision }, hashType: HART_HASH_TYPE, signedMessage, payload });
}

/**
 * Checks that `hart` was signed by the secret half of `publicKey` and that its payload is the one
 * signed. Resolves to the payload's hash; rejects with BAD_INPUT otherwise.
 */
export async function verifyHart(hart: Hart, publicKey: Uint8Array): Promise<string> {
  const sodium = await loadSodium();
  const signer = formatNamedRevision(hart.key);
  if (publicKey.length !== sodium.crypto_sign_PUBLICKEYBYTES) {
    throw new MurmurError('BAD_INPUT', `public signing key ${signer} is ${publicKey.length} bytes, not ${sodium.crypto_sign_PUBLICKEYBYTES}`);
  }
  let message: Uint8Array;
  try {
    message = sodium.crypto_sign_open(hart.signedMessage, publicKey);
  } catch (err) {
    throw new MurmurError('BAD_INPUT', `the .hart signature does not verify with the public key ${signer}: the file is damaged or was not signed by that key`, { cause: err });
  }
  const expected = await blake2b256Hex(hart.payload);
  if (Buffer.from(message).toString('latin1') !== expected) {
    throw new MurmurError('BAD_INPUT', `the .hart archive does not match its signature (BLAKE2b ${expected} is not the signed hash): the file is damaged or was altered after signing`);
  }
  return expected;
}

/** Canonical standard base64 with padding, or undefined. */
function decodeBase64(text: string): Uint8Array | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes);
}

function startsWith(bytes: Uint8Array, text: string): boolean {
  return Buffer.from(bytes.subarray(0, text.length)).toString('latin1') === text;
}

function clip(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 40 ? `${printable.slice(0, 40)}…` : printable;
}
