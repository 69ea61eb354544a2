/**
 * box: Habitat's `BOX-1` payload, a config or file encrypted by a user for a service group
 * (`hab config apply --user`, `hab file upload --user`).
 *
 * The payload is five lines of text with no trailing newline (`SignedBox`'s `Display` in
 * `components/core/src/crypto/keys/encryption/message.rs`):
 *
 *     BOX-1
 *     alice-20240101120000                 the encryptor: the user key that sealed it
 *     demo.prod@acme-20240101120000        the decryptor: the service key it is sealed for
 *     <base64 of the 24-byte nonce>
 *     <base64 of the ciphertext>           libsodium crypto_box_easy: 16-byte MAC, then the message
 *
 * Sealing takes the user's secret key and the service group's public key; opening takes the
 * user's public key and the service group's secret key, of **exactly** the revisions named, from
 * the key cache. So a member opens a payload only when it holds the group's secret key (it is a
 * member the operator trusts) and the user's public key (it trusts that user to configure it).
 *
 * `parseBox1` is pure and throws only BAD_INPUT `MurmurError`s. `openBox1` throws a
 * `BoxOpenError` that says which key file is missing or unusable (a service secret key that
 * others may read is not used: `chmod 600`), or that the payload does not authenticate. Neither
 * ever puts plaintext or key text in a message.
 */
import path from 'node:path';
import { MurmurError } from '../core/index.js';
import { BOX_PUBLIC_HEADER, BOX_SECRET_HEADER, boxKey, isServiceKeyName } from './box-key.js';
import { formatNamedRevision, keyFileName, parseNamedRevision, type KeyFile, type KeyHeader, type NamedRevision } from './key-file.js';
import { SecretFileModeError } from './secret-file.js';
import { loadSodium, type Sodium } from './sodium.js';

/** The first line of a payload (Habitat's `BOX_FORMAT_VERSION`). */
export const BOX1_HEADER = 'BOX-1';
/** libsodium's `crypto_box_NONCEBYTES`. */
export const BOX_NONCE_BYTES = 24;
/** libsodium's `crypto_box_MACBYTES`: an empty message seals to this many bytes. */
export const BOX_MAC_BYTES = 16;

/** A parsed `BOX-1` payload. */
export interface Box1 {
  /** The user key that sealed it (`alice-20240101120000`). */
  encryptor: NamedRevision;
  /** The service key it is sealed for (`demo.prod@acme-20240101120000`). */
  decryptor: NamedRevision;
  nonce: Uint8Array;
  /** MAC then encrypted message, as `crypto_box_easy` returns it. */
  ciphertext: Uint8Array;
}

/** The keys that seal a payload: the user's secret key and the service group's public key. */
export interface SealingKeys {
  userSecret: KeyFile<typeof BOX_SECRET_HEADER>;
  servicePublic: KeyFile<typeof BOX_PUBLIC_HEADER>;
}

const FORMAT_HINT = 'a BOX-1 payload is five lines: "BOX-1", the user key, the service key, the base64 nonce, the base64 ciphertext';

/** Canonical standard base64 with padding. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Whether `text` starts like a `BOX-1` payload (it may still be malformed). */
export function looksLikeBox1(text: string | Uint8Array): boolean {
  const head = typeof text === 'string' ? text.slice(0, 6) : Buffer.from(text.subarray(0, 6)).toString('latin1');
  return head === `${BOX1_HEADER}\n` || head === `${BOX1_HEADER}\r`;
}

/**
 * Parses a `BOX-1` payload, or throws a BAD_INPUT `MurmurError` saying what is wrong. Stricter
 * than Habitat's parser where a laxer reading could hide damage: exactly five lines (a single
 * trailing newline and CRLF line ends are accepted, as Rust's `str::lines` does), canonical
 * base64, a 24-byte nonce, a ciphertext at least as long as the MAC.
 */
export function parseBox1(payload: string | Uint8Array, source = 'BOX-1 payload'): Box1 {
  const bad = (message: string): MurmurError => new MurmurError('BAD_INPUT', `${source}: ${message}`);
  let text: string;
  if (typeof payload === 'string') text = payload;
  else {
    try {
      text = utf8.decode(payload);
    } catch {
      throw bad(`is not UTF-8 text; ${FORMAT_HINT}`);
    }
  }
  const lines = (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const [header, encryptor, decryptor, nonceLine, cipherLine] = lines;
  if (header !== BOX1_HEADER) {
    throw bad(header === undefined || header === '' ? `is empty; ${FORMAT_HINT}` : `line 1 must be "${BOX1_HEADER}", found "${clip(header)}"; ${FORMAT_HINT}`);
  }
  if (lines.length !== 5) throw bad(`has ${lines.length} lines, not 5; ${FORMAT_HINT}`);
  const user = parseNamedRevision(encryptor ?? '', `${source}: line 2 (the user key)`);
  const service = parseNamedRevision(decryptor ?? '', `${source}: line 3 (the service key)`);
  if (isServiceKeyName(user.name)) throw bad(`line 2 must name a user key, but ${formatNamedRevision(user)} is a service key`);
  if (!isServiceKeyName(service.name)) {
    throw bad(`line 3 must name a service key (SERVICE.GROUP@ORG-<revision>), found "${clip(formatNamedRevision(service))}"`);
  }
  const nonce = decodeBase64(nonceLine ?? '');
  if (nonce === undefined) throw bad('line 4 (the nonce) is not valid base64');
  if (nonce.length !== BOX_NONCE_BYTES) throw bad(`the nonce is ${nonce.length} bytes, not ${BOX_NONCE_BYTES}`);
  const ciphertext = decodeBase64(cipherLine ?? '');
  if (ciphertext === undefined) throw bad('line 5 (the ciphertext) is not valid base64');
  if (ciphertext.length < BOX_MAC_BYTES) throw bad(`the ciphertext is ${ciphertext.length} bytes, shorter than its ${BOX_MAC_BYTES}-byte MAC`);
  return { encryptor: user, decryptor: service, nonce, ciphertext };
}

/** A payload as Habitat writes it: five lines, no trailing newline. */
export function formatBox1(box: Box1): string {
  return [BOX1_HEADER, formatNamedRevision(box.encryptor), formatNamedRevision(box.decryptor), toBase64(box.nonce), toBase64(box.ciphertext)].join('\n');
}

/**
 * Seals `plaintext` from the user to the service group: `crypto_box_easy` with a random nonce,
 * the user's secret key and the service's public key. Returns the `BOX-1` text.
 */
export async function encryptBox1(keys: SealingKeys, plaintext: Uint8Array): Promise<string> {
  const sodium = await loadSodium();
  return sealBox1WithNonce(sodium, keys, plaintext, sodium.randombytes_buf(BOX_NONCE_BYTES));
}

/** `encryptBox1` with a given nonce: for tests and known-answer vectors only. Never reuse a nonce. */
export function sealBox1WithNonce(sodium: Sodium, keys: SealingKeys, plaintext: Uint8Array, nonce: Uint8Array): string {
  if (nonce.length !== BOX_NONCE_BYTES) throw new MurmurError('BAD_INPUT', `a BOX-1 nonce is ${BOX_NONCE_BYTES} bytes, got ${nonce.length}`);
  if (isServiceKeyName(keys.userSecret.name)) throw new MurmurError('BAD_INPUT', `${formatNamedRevision(keys.userSecret)} is a service key: seal with a user's secret key`);
  if (!isServiceKeyName(keys.servicePublic.name)) {
    throw new MurmurError('BAD_INPUT', `${formatNamedRevision(keys.servicePublic)} is not a service key (SERVICE.GROUP@ORG): seal for a service group's public key`);
  }
  let ciphertext: Uint8Array;
  try {
    ciphertext = sodium.crypto_box_easy(plaintext, nonce, keys.servicePublic.key, keys.userSecret.key);
  } catch (err) {
    // libsodium refuses a public key of low order (the shared secret would be all zeros).
    throw new MurmurError('BAD_INPUT', `cannot seal for ${formatNamedRevision(keys.servicePublic)}: libsodium refused the key pair`, { cause: err });
  }
  return formatBox1({ encryptor: keys.userSecret, decryptor: keys.servicePublic, nonce, ciphertext });
}

export type BoxOpenReason = 'missing-key' | 'unsafe-key' | 'bad-key' | 'not-authentic';

/**
 * Why a payload did not open: a key file that is missing (`missing-key`, NOT_FOUND), a secret key
 * file that its group or other users may read or write and so is not used (`unsafe-key`,
 * BAD_INPUT: the message names the file, its mode and `chmod 600 FILE`), a key file that is
 * unusable (`bad-key`, BAD_INPUT), or a payload that does not authenticate with the keys it
 * names (`not-authentic`, BAD_INPUT: altered, or sealed with other keys of the same names). The
 * first two wait for the operator (`hab svc key import`, `chmod`): a Supervisor retries them.
 */
export class BoxOpenError extends MurmurError {
  readonly reason: BoxOpenReason;
  /** The key that is missing or bad: its name-revision, header and expected path. */
  readonly key: { nameRevision: string; header: KeyHeader; path: string } | undefined;

  constructor(reason: BoxOpenReason, message: string, key?: { nameRevision: string; header: KeyHeader; path: string }, cause?: unknown) {
    super(reason === 'missing-key' ? 'NOT_FOUND' : 'BAD_INPUT', message, cause === undefined ? undefined : { cause });
    this.name = 'BoxOpenError';
    this.reason = reason;
    this.key = key;
  }
}

/**
 * Opens a `BOX-1` payload with the user public key and the service secret key of exactly the
 * revisions it names, read from `keyCacheDir`. Throws BAD_INPUT for a malformed payload (from
 * `parseBox1`) and a `BoxOpenError` for a missing or bad key or a payload that does not
 * authenticate.
 */
export async function openBox1(payload: string | Uint8Array, keyCacheDir: string): Promise<Uint8Array> {
  const box = parseBox1(payload);
  const servicePath = path.join(keyCacheDir, keyFileName({ header: BOX_SECRET_HEADER, ...box.decryptor }));
  const userPath = path.join(keyCacheDir, keyFileName({ header: BOX_PUBLIC_HEADER, ...box.encryptor }));
  const serviceSecret = await readNamed(keyCacheDir, box.decryptor, BOX_SECRET_HEADER, servicePath, () => {
    const at = box.decryptor.name.indexOf('@');
    return (
      `the secret key of service group ${box.decryptor.name} revision ${box.decryptor.revision} is not in the key cache (expected ${servicePath}): ` +
      `only members holding it can read this payload; copy it here with \`hab svc key export ${box.decryptor.name.slice(0, at)} ${box.decryptor.name.slice(at + 1)} --type secret\` ` +
      `where it was made and \`hab svc key import\` on this host`
    );
  });
  const userPublic = await readNamed(keyCacheDir, box.encryptor, BOX_PUBLIC_HEADER, userPath, () =>
    `the public key of user ${box.encryptor.name} revision ${box.encryptor.revision}, who encrypted this payload, is not in the key cache (expected ${userPath}): ` +
    `add it with \`hab user key export ${box.encryptor.name}\` where it was made and \`hab user key import\` on this host, if that user may configure this group`,
  );
  const sodium = await loadSodium();
  return openBox1With(sodium, box, userPublic.key, serviceSecret.key);
}

/** Opens a parsed payload with the raw keys; `BoxOpenError('not-authentic')` if it does not authenticate. */
export function openBox1With(sodium: Sodium, box: Box1, userPublic: Uint8Array, serviceSecret: Uint8Array): Uint8Array {
  try {
    return sodium.crypto_box_open_easy(box.ciphertext, box.nonce, userPublic, serviceSecret);
  } catch (err) {
    throw new BoxOpenError(
      'not-authentic',
      `the payload from ${formatNamedRevision(box.encryptor)} to ${formatNamedRevision(box.decryptor)} does not authenticate with those keys: ` +
        `it was altered, or sealed with other keys of the same name-revisions`,
      undefined,
      err,
    );
  }
}

async function readNamed<H extends typeof BOX_SECRET_HEADER | typeof BOX_PUBLIC_HEADER>(
  dir: string,
  key: NamedRevision,
  header: H,
  file: string,
  missing: () => string,
): Promise<KeyFile<H>> {
  const where = { nameRevision: formatNamedRevision(key), header, path: file };
  try {
    return await boxKey(dir, key, header);
  } catch (err) {
    if (err instanceof MurmurError && err.code === 'NOT_FOUND') throw new BoxOpenError('missing-key', missing(), where, err);
    if (err instanceof SecretFileModeError) throw new BoxOpenError('unsafe-key', `cannot use key ${formatNamedRevision(key)}: ${err.message}`, where, err);
    const reason = err instanceof Error ? err.message : String(err);
    throw new BoxOpenError('bad-key', `cannot use key ${formatNamedRevision(key)}: ${reason}`, where, err);
  }
}

function decodeBase64(text: string): Uint8Array | undefined {
  if (text === '' || !BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes);
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
