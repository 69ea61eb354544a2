/**
 * key-cache: Habitat's key cache directory, the crypto layer's only file I/O.
 *
 * Habitat keeps every key as `<name>-<revision>.<extension>` in one directory
 * (`components/core/src/crypto/keys/cache.rs`): `/hab/cache/keys`, relocated by `FS_ROOT`, or
 * `HAB_CACHE_KEY_PATH`. The latest revision of a name is the greatest revision string
 * (`get_latest_path_for`), and writing a key never replaces an existing file. murmur follows all
 * of that, so a cache shared with real Habitat works both ways, and adds:
 *
 * - atomic writes: a temporary file in the same directory, created with its final mode, written,
 *   fsynced, then published under its final name. Publishing uses `link`, which (unlike `rename`)
 *   fails if the name exists, so two writers racing on one name-revision cannot overwrite each
 *   other; file systems without hard links fall back to check-then-`rename`;
 * - modes 0600 for secret keys and 0644 for public ones (Habitat: 0400 and 0444; 0600 lets the
 *   owner repair a file without chmod), in a directory created 0700;
 * - idempotent import: importing a key that is already there, byte for byte, is not an error.
 *
 * Every failure is a `MurmurError` naming the file or directory and what to do.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { MurmurError } from '../core/index.js';
import {
  KEY_FORMATS,
  RING_KEY_HEADER,
  formatKeyText,
  formatNamedRevision,
  keyFileName,
  parseKeyText,
  revisionFromDate,
  type KeyFile,
  type KeyHeader,
} from './key-file.js';
import { checkSecretFileMode } from './secret-file.js';
import { loadSodium } from './sodium.js';

/** Environment variables as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A key together with the file it lives in. */
export type StoredKey<H extends KeyHeader = KeyHeader> = KeyFile<H> & { path: string };

export type RingKeyFile = StoredKey<typeof RING_KEY_HEADER>;

/** What `importKey` did. */
export interface ImportResult extends StoredKey {
  /** False when the same key was already in the cache. */
  created: boolean;
}

const SECRET_MODE = 0o600;
const PUBLIC_MODE = 0o644;
const DIR_MODE = 0o700;

/** `HAB_CACHE_KEY_PATH` if set, else `$FS_ROOT/hab/cache/keys` (`/hab/cache/keys` without FS_ROOT). */
export function keyCachePath(env: Env): string {
  const override = env['HAB_CACHE_KEY_PATH'];
  if (override !== undefined && override !== '') return override;
  const root = env['FS_ROOT'];
  return path.join(root === undefined || root === '' ? '/' : root, 'hab', 'cache', 'keys');
}

/** Ring key names: letters, digits, `-`, `_` and `.`, as `hab ring key generate` accepts. */
const RING_NAME = /^[A-Za-z0-9_.-]+$/;

/** Throws a BAD_INPUT error unless `name` can name a ring key. */
export function validateRingKeyName(name: string): void {
  if (name === '') throw new MurmurError('BAD_INPUT', 'ring key name is empty: give the ring a name, e.g. `hab ring key generate prod`');
  if (!RING_NAME.test(name)) {
    throw new MurmurError(
      'BAD_INPUT',
      `ring key name "${name}" is not valid: use only letters, digits, "-", "_" and "." (no slashes or spaces)`,
    );
  }
}

/**
 * Makes a new ring key `<name>-<revision of now>` and writes it to `dir` as
 * `<name>-<revision>.sym.key`. Refuses (CONFLICT) if that revision exists: revisions have
 * one-second resolution.
 */
export async function generateRingKey(dir: string, name: string, now: Date): Promise<RingKeyFile> {
  validateRingKeyName(name);
  const sodium = await loadSodium();
  const key: KeyFile<typeof RING_KEY_HEADER> = {
    header: RING_KEY_HEADER,
    name,
    revision: revisionFromDate(now),
    key: sodium.crypto_secretbox_keygen(),
  };
  const file = path.join(dir, keyFileName(key));
  const outcome = await writeNewKeyFile(dir, file, formatKeyText(key), SECRET_MODE);
  if (outcome === 'exists') {
    throw new MurmurError(
      'CONFLICT',
      `ring key ${formatNamedRevision(key)} already exists at ${file}; a revision is one second wide, so wait a second and generate again, or keep using that key`,
    );
  }
  return { ...key, path: file };
}

/** Revisions of ring key `name` in `dir`, newest first. A missing directory holds none. */
export async function ringKeyRevisions(dir: string, name: string): Promise<string[]> {
  validateRingKeyName(name);
  return keyRevisions(dir, name, RING_KEY_HEADER);
}

/**
 * Revisions of key `name` in `dir` stored under `header`'s file extension, newest first. A missing
 * directory holds none. (Both public key types use `.pub`; the header inside tells them apart.)
 */
export async function keyRevisions(dir: string, name: string, header: KeyHeader): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw ioError(`cannot list the key cache ${dir}`, err, `check that it is a directory readable by this user`);
  }
  const prefix = `${name}-`;
  const suffix = `.${KEY_FORMATS[header].extension}`;
  const revisions: string[] = [];
  for (const file of names) {
    if (!file.startsWith(prefix) || !file.endsWith(suffix)) continue;
    const revision = file.slice(prefix.length, file.length - suffix.length);
    if (/^\d{14}$/.test(revision)) revisions.push(revision);
  }
  return revisions.sort().reverse();
}

/**
 * The latest revision of ring key `name` in `dir`, or NOT_FOUND telling the operator how to make
 * or import one.
 */
export async function latestRingKey(dir: string, name: string): Promise<RingKeyFile> {
  const [revision] = await ringKeyRevisions(dir, name);
  if (revision === undefined) {
    throw new MurmurError(
      'NOT_FOUND',
      `no ring key named "${name}" in the key cache ${dir}: run \`hab ring key generate ${name}\` to make one, ` +
        `or \`hab ring key import\` to add the ring's existing key (set HAB_CACHE_KEY_PATH or FS_ROOT if the key cache is elsewhere)`,
    );
  }
  const file = path.join(dir, keyFileName({ header: RING_KEY_HEADER, name, revision }));
  const key = await readSecretKeyFile(file, RING_KEY_HEADER);
  if (key.name !== name || key.revision !== revision) {
    throw new MurmurError(
      'BAD_INPUT',
      `key file ${file} holds ${formatNamedRevision(key)}, not ${name}-${revision} as its name says: rename or remove the file`,
    );
  }
  return key;
}

/** The text of the latest revision of ring key `name`, as `hab ring key export` prints it. */
export async function exportRingKey(dir: string, name: string): Promise<string> {
  return formatKeyText(await latestRingKey(dir, name));
}

/**
 * Adds the key in `text` to the cache under its Habitat file name. Importing a key that is
 * already there is a no-op (`created: false`); a different key under the same name-revision is a
 * CONFLICT.
 *
 * @param source names the text in error messages (`standard input`, `HAB_RING_KEY`).
 * @param expect refuse any other key type, e.g. `RING_KEY_HEADER` for `hab ring key import`.
 *   @default any key type
 */
export async function importKey(dir: string, text: string, source = 'key text', expect?: KeyHeader): Promise<ImportResult> {
  const key = parseKeyText(text, expect === undefined ? { source } : { source, expect });
  const file = path.join(dir, keyFileName(key));
  const mode = KEY_FORMATS[key.header].secret ? SECRET_MODE : PUBLIC_MODE;
  const outcome = await writeNewKeyFile(dir, file, formatKeyText(key), mode);
  if (outcome === 'created') return { ...key, path: file, created: true };

  const existing = await readKeyFile(file);
  if (existing.header === key.header && sameBytes(existing.key, key.key)) {
    return { ...existing, created: false };
  }
  throw new MurmurError(
    'CONFLICT',
    `a different key ${formatNamedRevision(existing)} (${existing.header}) is already at ${file}; ` +
      `a name-revision names exactly one key: remove that file if it is stale, or generate a new revision instead`,
  );
}

/** Reads and parses one key file; BAD_INPUT (naming the file) if it is not a valid key. */
export async function readKeyFile<H extends KeyHeader>(file: string, expect: H): Promise<StoredKey<H>>;
export async function readKeyFile(file: string, expect?: KeyHeader): Promise<StoredKey>;
export async function readKeyFile(file: string, expect?: KeyHeader): Promise<StoredKey> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new MurmurError('NOT_FOUND', `key file ${file} does not exist`, { cause: err });
    }
    throw ioError(`cannot read key file ${file}`, err, 'check that it is readable by this user');
  }
  const options = expect === undefined ? { source: `key file ${file}` } : { source: `key file ${file}`, expect };
  return { ...parseKeyText(text, options), path: file };
}

/**
 * Reads a secret key file in order to use it (seal, open, sign, export): as `readKeyFile`, but
 * first refused with a `SecretFileModeError` (BAD_INPUT, naming the file, its mode and
 * `chmod 600 FILE`) when its group or other users may read or write it, as the Supervisor refuses
 * such a `CTL_SECRET` or ring key (issue 5). A missing file is `readKeyFile`'s NOT_FOUND.
 */
export async function readSecretKeyFile<H extends KeyHeader>(file: string, expect: H): Promise<StoredKey<H>> {
  try {
    await checkSecretFileMode(file, `the ${KEY_FORMATS[expect].what}`);
  } catch (err) {
    if (!(err instanceof MurmurError && err.code === 'NOT_FOUND')) throw err;
  }
  return readKeyFile(file, expect);
}

// ---------------------------------------------------------------------------------------------
// Atomic, no-clobber writes
// ---------------------------------------------------------------------------------------------

/**
 * Writes `key` to `dir` under its Habitat file name, with its type's mode, unless that file
 * exists: 'created', or 'exists' (and nothing written). For other key types' generate functions.
 */
export async function writeNewKey(dir: string, key: KeyFile): Promise<{ outcome: 'created' | 'exists'; path: string }> {
  const file = path.join(dir, keyFileName(key));
  const mode = KEY_FORMATS[key.header].secret ? SECRET_MODE : PUBLIC_MODE;
  return { outcome: await writeNewKeyFile(dir, file, formatKeyText(key), mode), path: file };
}

/**
 * Writes `text` to `file` unless `file` exists: 'created', or 'exists' (and nothing written).
 * Creates `dir` (0700) first if needed.
 */
async function writeNewKeyFile(dir: string, file: string, text: string, mode: number): Promise<'created' | 'exists'> {
  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
  } catch (err) {
    throw ioError(`cannot create the key cache ${dir}`, err, 'create it, or point HAB_CACHE_KEY_PATH at a writable directory');
  }
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.chmod(mode); // `open`'s mode is filtered by the umask; the key's mode is not negotiable.
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    const outcome = await publish(temp, file);
    if (outcome === 'created') await syncDirectory(dir);
    return outcome;
  } catch (err) {
    throw ioError(`cannot write key file ${file}`, err, `check that ${dir} is writable by this user and its disk is not full`);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Gives `temp`'s contents the name `file`, unless `file` already exists. */
async function publish(temp: string, file: string): Promise<'created' | 'exists'> {
  try {
    await link(temp, file);
    return 'created';
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') return 'exists';
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
  }
  // No hard links here (some FUSE and SMB mounts): check, then rename. Not race-free, but the
  // best this file system allows.
  if (await exists(file)) return 'exists';
  await rename(temp, file);
  return 'created';
}

/** Makes the new directory entry durable. Some platforms cannot fsync a directory; that is fine. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort: the file itself is already fsynced.
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** IO error whose message carries the system's reason; a MurmurError passes through unchanged. */
function ioError(what: string, err: unknown, advice: string): MurmurError {
  if (err instanceof MurmurError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new MurmurError('IO', `${what}: ${reason}; ${advice}`, { cause: err });
}
