/**
 * origin-key: origin signing keys, the Ed25519 key pairs that sign `.hart` packages.
 *
 * Habitat's `hab origin key generate ORIGIN` makes one libsodium `crypto_sign_keypair` and writes
 * both halves with the same revision (`components/core/src/crypto/keys/signing.rs`):
 *
 *     core-20240101120000.sig.key   SIG-SEC-1, the 64-byte secret key (seed and public key)
 *     core-20240101120000.pub       SIG-PUB-1, the 32-byte public key
 *
 * A build signs with the latest secret revision of its origin; an install verifies with exactly
 * the public revision that the `.hart` header names. The files are byte-compatible with
 * Habitat's, so keys move between the two with `hab origin key export`/`import` or a copy. A
 * secret key that its group or other users may read or write is refused where it would be used
 * (`hab pkg build`, `export --type secret`), naming the file, its mode and `chmod 600 FILE`.
 */
import path from 'node:path';
import { MurmurError } from '../core/index.js';
import { readKeyFile, readSecretKeyFile, keyRevisions, writeNewKey, type StoredKey } from './key-cache.js';
import { formatKeyText, formatNamedRevision, keyFileName, revisionFromDate, type KeyFile, type NamedRevision } from './key-file.js';
import { loadSodium } from './sodium.js';

export const ORIGIN_SECRET_HEADER = 'SIG-SEC-1';
export const ORIGIN_PUBLIC_HEADER = 'SIG-PUB-1';

export type OriginSecretKey = StoredKey<typeof ORIGIN_SECRET_HEADER>;
export type OriginPublicKey = StoredKey<typeof ORIGIN_PUBLIC_HEADER>;

export interface OriginKeyPair {
  secret: OriginSecretKey;
  public: OriginPublicKey;
}

/** Habitat's origin names (the same rule as pkg's idents): lowercase letters, digits, `-`, `_`. */
const ORIGIN_NAME = /^[a-z0-9][a-z0-9_-]*$/;

/** Throws BAD_INPUT unless `origin` is a valid origin name. */
export function validateOriginName(origin: string): void {
  if (!ORIGIN_NAME.test(origin)) {
    throw new MurmurError(
      'BAD_INPUT',
      `origin name "${origin}" is not valid: use lowercase letters, digits, "-" and "_", starting with a letter or digit (e.g. "core", "my-org")`,
    );
  }
}

/**
 * Makes a signing key pair for `origin` with the revision of `now` and writes both files to
 * `dir`. Refuses (CONFLICT) if that revision exists: revisions have one-second resolution.
 */
export async function generateOriginKeyPair(dir: string, origin: string, now: Date): Promise<OriginKeyPair> {
  validateOriginName(origin);
  const sodium = await loadSodium();
  const pair = sodium.crypto_sign_keypair();
  const revision = revisionFromDate(now);
  const secret: KeyFile<typeof ORIGIN_SECRET_HEADER> = { header: ORIGIN_SECRET_HEADER, name: origin, revision, key: pair.privateKey };
  const pub: KeyFile<typeof ORIGIN_PUBLIC_HEADER> = { header: ORIGIN_PUBLIC_HEADER, name: origin, revision, key: pair.publicKey };
  const conflict = (file: string): MurmurError =>
    new MurmurError(
      'CONFLICT',
      `origin key ${formatNamedRevision(secret)} already exists at ${file}; a revision is one second wide, so wait a second and generate again, or keep using that key`,
    );
  const written = await writeNewKey(dir, secret);
  if (written.outcome === 'exists') throw conflict(written.path);
  const writtenPublic = await writeNewKey(dir, pub);
  if (writtenPublic.outcome === 'exists') throw conflict(writtenPublic.path);
  return { secret: { ...secret, path: written.path }, public: { ...pub, path: writtenPublic.path } };
}

/**
 * The latest secret signing key of `origin` in `dir`, or NOT_FOUND saying how to make or import
 * one.
 */
export async function latestOriginSecretKey(dir: string, origin: string): Promise<OriginSecretKey> {
  validateOriginName(origin);
  const [revision] = await keyRevisions(dir, origin, ORIGIN_SECRET_HEADER);
  if (revision === undefined) {
    throw new MurmurError(
      'NOT_FOUND',
      `no secret signing key for origin "${origin}" in the key cache ${dir}: run \`hab origin key generate ${origin}\` to make one, ` +
        `or \`hab origin key import\` to add the origin's existing secret key (set HAB_CACHE_KEY_PATH or FS_ROOT if the key cache is elsewhere)`,
    );
  }
  return readNamedKey(dir, { name: origin, revision }, ORIGIN_SECRET_HEADER);
}

/** The latest public signing key of `origin` in `dir`, or NOT_FOUND. */
export async function latestOriginPublicKey(dir: string, origin: string): Promise<OriginPublicKey> {
  validateOriginName(origin);
  const [revision] = await keyRevisions(dir, origin, ORIGIN_PUBLIC_HEADER);
  if (revision === undefined) throw missingPublicKey(dir, origin);
  return readNamedKey(dir, { name: origin, revision }, ORIGIN_PUBLIC_HEADER);
}

/**
 * The public signing key with exactly this name and revision (as a `.hart` header names it), or
 * NOT_FOUND naming the key and how to get it.
 */
export async function originPublicKey(dir: string, key: NamedRevision): Promise<OriginPublicKey> {
  validateOriginName(key.name);
  try {
    return await readNamedKey(dir, key, ORIGIN_PUBLIC_HEADER);
  } catch (err) {
    if (err instanceof MurmurError && err.code === 'NOT_FOUND') throw missingPublicKey(dir, formatNamedRevision(key), err);
    throw err;
  }
}

/** The text of the latest public or secret key of `origin`, as `hab origin key export` prints it. */
export async function exportOriginKey(dir: string, origin: string, type: 'public' | 'secret'): Promise<string> {
  const key = type === 'secret' ? await latestOriginSecretKey(dir, origin) : await latestOriginPublicKey(dir, origin);
  return formatKeyText(key);
}

async function readNamedKey<H extends typeof ORIGIN_SECRET_HEADER | typeof ORIGIN_PUBLIC_HEADER>(
  dir: string,
  key: NamedRevision,
  header: H,
): Promise<StoredKey<H>> {
  const file = path.join(dir, keyFileName({ header, ...key }));
  // A secret key that others may read is refused (`chmod 600`), as the Supervisor refuses one.
  const stored = header === ORIGIN_SECRET_HEADER ? await readSecretKeyFile(file, header) : await readKeyFile(file, header);
  if (stored.name !== key.name || stored.revision !== key.revision) {
    throw new MurmurError(
      'BAD_INPUT',
      `key file ${file} holds ${formatNamedRevision(stored)}, not ${formatNamedRevision(key)} as its name says: rename or remove the file`,
    );
  }
  return stored;
}

function missingPublicKey(dir: string, what: string, cause?: unknown): MurmurError {
  return new MurmurError(
    'NOT_FOUND',
    `no public signing key ${what} in the key cache ${dir}: get it from the origin's owner ` +
      `(\`hab origin key export ORIGIN\` there) and add it with \`hab origin key import\` (set HAB_CACHE_KEY_PATH or FS_ROOT if the key cache is elsewhere)`,
    cause === undefined ? undefined : { cause },
  );
}
