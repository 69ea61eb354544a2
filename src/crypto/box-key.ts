/**
 * box-key: user and service encryption keys, the Curve25519 key pairs of Habitat's group
 * encryption (`hab user key generate`, `hab svc key generate`).
 *
 * Habitat makes one libsodium `crypto_box_keypair` and writes both halves with the same revision
 * (`components/core/src/crypto/keys/encryption/{user_key,service_key}.rs`):
 *
 *     alice-20240101120000.box.key                   BOX-SEC-1, the user's 32-byte secret key
 *     alice-20240101120000.pub                       BOX-PUB-1, the user's 32-byte public key
 *     demo.prod@acme-20240101120000.box.key          BOX-SEC-1, the service group's secret key
 *     demo.prod@acme-20240101120000.pub              BOX-PUB-1, the service group's public key
 *
 * A service key is named `<service>.<group>@<org>`: `hab svc key generate demo.prod acme`. The
 * operator who applies a config holds the user secret key and the service public key; every
 * member that must read it holds the service secret key and the user public key (`box.ts`).
 *
 * Modes are the key cache's (0600 secret, 0644 public; Habitat writes 0400 and 0444), and a secret
 * key that its group or other users may read or write is refused where it would be used
 * (`readSecretKeyFile`: sealing, opening, export), naming the file and `chmod 600`. Both public
 * key types share the `.pub` extension with origin signing keys, as in Habitat: lookups here read
 * the header and pass over a `.pub` that is not a `BOX-PUB-1`.
 */
import path from 'node:path';
import { MurmurError } from '../core/index.js';
import { keyRevisions, readKeyFile, readSecretKeyFile, writeNewKey, type StoredKey } from './key-cache.js';
import { formatKeyText, formatNamedRevision, keyFileName, revisionFromDate, type KeyFile, type NamedRevision } from './key-file.js';
import { loadSodium } from './sodium.js';

export const BOX_SECRET_HEADER = 'BOX-SEC-1';
export const BOX_PUBLIC_HEADER = 'BOX-PUB-1';

export type BoxSecretKey = StoredKey<typeof BOX_SECRET_HEADER>;
export type BoxPublicKey = StoredKey<typeof BOX_PUBLIC_HEADER>;

export interface BoxKeyPair {
  secret: BoxSecretKey;
  public: BoxPublicKey;
}

/** Whose key a name is: a user's (`alice`) or a service group's (`demo.prod@acme`). */
export type BoxKeyOwner = 'user' | 'service';

/** User names: letters, digits, `_`, `.` and `-`, starting with a letter or digit (no `@`: that marks a service key). */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** One part of a service group or an org, as `sup/rules.ts` accepts it. */
const PART = '[A-Za-z0-9_-]+';
const SERVICE_GROUP = new RegExp(`^${PART}\\.${PART}$`);
const ORG = new RegExp(`^${PART}$`);
const SERVICE_KEY_NAME = new RegExp(`^${PART}\\.${PART}@${PART}$`);

/** Throws BAD_INPUT unless `user` can name a user key. */
export function validateUserName(user: string): void {
  if (!USER_NAME.test(user)) {
    throw new MurmurError(
      'BAD_INPUT',
      `user name ${JSON.stringify(user)} is not valid: use letters, digits, "_", "." and "-", starting with a letter or digit (e.g. "alice")`,
    );
  }
}

/**
 * The service key name for `serviceGroup` in `org`: `demo.prod` and `acme` → `demo.prod@acme`.
 * `serviceGroup` may already carry `@org` when `org` is undefined or the same.
 */
export function serviceKeyName(serviceGroup: string, org?: string): string {
  const at = serviceGroup.indexOf('@');
  const group = at < 0 ? serviceGroup : serviceGroup.slice(0, at);
  const ownOrg = at < 0 ? undefined : serviceGroup.slice(at + 1);
  if (ownOrg !== undefined && org !== undefined && ownOrg !== org) {
    throw new MurmurError('BAD_INPUT', `service group ${serviceGroup} names the org "${ownOrg}" but the org given is "${org}": give one of them`);
  }
  const theOrg = org ?? ownOrg;
  if (!SERVICE_GROUP.test(group)) {
    throw new MurmurError(
      'BAD_INPUT',
      `service group must be SERVICE.GROUP (each part letters, digits, _ or -), e.g. redis.prod; got ${JSON.stringify(group)}`,
    );
  }
  if (theOrg === undefined || theOrg === '') {
    throw new MurmurError('BAD_INPUT', `service keys belong to a service group in an org: give the org, e.g. \`hab svc key generate ${group} acme\` (or HABITAT_ORG)`);
  }
  if (!ORG.test(theOrg)) throw new MurmurError('BAD_INPUT', `org must be letters, digits, _ or -; got ${JSON.stringify(theOrg)}`);
  return `${group}@${theOrg}`;
}

/** Throws BAD_INPUT unless `name` is a key name of `owner`'s kind. */
function validateOwnerName(owner: BoxKeyOwner, name: string): void {
  if (owner === 'user') validateUserName(name);
  else if (!SERVICE_KEY_NAME.test(name)) {
    throw new MurmurError('BAD_INPUT', `service key name must be SERVICE.GROUP@ORG (e.g. redis.prod@acme); got ${JSON.stringify(name)}`);
  }
}

/** `user alice` / `service group demo.prod@acme`, for messages. */
function describeOwner(owner: BoxKeyOwner, name: string): string {
  return owner === 'user' ? `user "${name}"` : `service group ${name}`;
}

/** The command that makes a key pair for `name`. */
export function generateCommand(owner: BoxKeyOwner, name: string): string {
  if (owner === 'user') return `hab user key generate ${name}`;
  const at = name.indexOf('@');
  return `hab svc key generate ${name.slice(0, at)} ${name.slice(at + 1)}`;
}

/** Makes a Curve25519 key pair for a user, with the revision of `now`, and writes both files to `dir`. */
export async function generateUserKeyPair(dir: string, user: string, now: Date): Promise<BoxKeyPair> {
  validateUserName(user);
  return generateBoxKeyPair(dir, 'user', user, now);
}

/**
 * Makes a Curve25519 key pair for `serviceGroup` (`demo.prod`) in `org`, named
 * `demo.prod@acme`, with the revision of `now`, and writes both files to `dir`.
 */
export async function generateServiceKeyPair(dir: string, serviceGroup: string, org: string | undefined, now: Date): Promise<BoxKeyPair> {
  return generateBoxKeyPair(dir, 'service', serviceKeyName(serviceGroup, org), now);
}

async function generateBoxKeyPair(dir: string, owner: BoxKeyOwner, name: string, now: Date): Promise<BoxKeyPair> {
  const sodium = await loadSodium();
  const pair = sodium.crypto_box_keypair();
  const revision = revisionFromDate(now);
  const secret: KeyFile<typeof BOX_SECRET_HEADER> = { header: BOX_SECRET_HEADER, name, revision, key: pair.privateKey };
  const pub: KeyFile<typeof BOX_PUBLIC_HEADER> = { header: BOX_PUBLIC_HEADER, name, revision, key: pair.publicKey };
  const conflict = (file: string): MurmurError =>
    new MurmurError(
      'CONFLICT',
      `${owner} key ${formatNamedRevision(secret)} already exists at ${file}; a revision is one second wide, so wait a second and generate again, or keep using that key`,
    );
  const written = await writeNewKey(dir, secret);
  if (written.outcome === 'exists') throw conflict(written.path);
  const writtenPublic = await writeNewKey(dir, pub);
  if (writtenPublic.outcome === 'exists') throw conflict(writtenPublic.path);
  return { secret: { ...secret, path: written.path }, public: { ...pub, path: writtenPublic.path } };
}

/**
 * The latest secret encryption key of a user or service group in `dir`, or NOT_FOUND naming the
 * key and the command that makes it.
 */
export async function latestBoxSecretKey(dir: string, owner: BoxKeyOwner, name: string): Promise<BoxSecretKey> {
  validateOwnerName(owner, name);
  const [revision] = await keyRevisions(dir, name, BOX_SECRET_HEADER);
  if (revision === undefined) {
    const importHint = owner === 'user' ? `\`hab user key import\` to add the user's existing secret key` : `\`hab svc key import\` to add the group's secret key`;
    throw new MurmurError(
      'NOT_FOUND',
      `no secret encryption key for ${describeOwner(owner, name)} in the key cache ${dir}: run \`${generateCommand(owner, name)}\` to make one, ` +
        `or ${importHint} (set HAB_CACHE_KEY_PATH or FS_ROOT if the key cache is elsewhere)`,
    );
  }
  return boxKey(dir, { name, revision }, BOX_SECRET_HEADER);
}

/**
 * The latest public encryption key of a user or service group in `dir` (passing over `.pub`
 * files that hold another key type), or NOT_FOUND naming the key and how to get it.
 */
export async function latestBoxPublicKey(dir: string, owner: BoxKeyOwner, name: string): Promise<BoxPublicKey> {
  validateOwnerName(owner, name);
  for (const revision of await keyRevisions(dir, name, BOX_PUBLIC_HEADER)) {
    const file = path.join(dir, keyFileName({ header: BOX_PUBLIC_HEADER, name, revision }));
    const stored = await readKeyFile(file).catch(() => undefined);
    if (stored?.header === BOX_PUBLIC_HEADER) return boxKey(dir, { name, revision }, BOX_PUBLIC_HEADER);
  }
  const importHint = owner === 'user' ? `\`hab user key import\` (export it with \`hab user key export ${name}\` where it was made)` : `\`hab svc key import\``;
  throw new MurmurError(
    'NOT_FOUND',
    `no public encryption key for ${describeOwner(owner, name)} in the key cache ${dir}: run \`${generateCommand(owner, name)}\` to make one, ` +
      `or add the existing one with ${importHint} (set HAB_CACHE_KEY_PATH or FS_ROOT if the key cache is elsewhere)`,
  );
}

/**
 * The encryption key with exactly this name and revision (as a `BOX-1` payload names it). Throws
 * NOT_FOUND when its file does not exist, BAD_INPUT when the file is not that key, and a
 * `SecretFileModeError` (BAD_INPUT) for a secret key that others may read (`chmod 600`).
 */
export async function boxKey<H extends typeof BOX_SECRET_HEADER | typeof BOX_PUBLIC_HEADER>(dir: string, key: NamedRevision, header: H): Promise<StoredKey<H>> {
  const file = path.join(dir, keyFileName({ header, ...key }));
  const stored = header === BOX_SECRET_HEADER ? await readSecretKeyFile(file, header) : await readKeyFile(file, header);
  if (stored.name !== key.name || stored.revision !== key.revision) {
    throw new MurmurError(
      'BAD_INPUT',
      `key file ${file} holds ${formatNamedRevision(stored)}, not ${formatNamedRevision(key)} as its name says: rename or remove the file`,
    );
  }
  return stored;
}

/** The text of the latest public or secret key of a user or service group, as `hab user|svc key export` prints it. */
export async function exportBoxKey(dir: string, owner: BoxKeyOwner, name: string, type: 'public' | 'secret'): Promise<string> {
  const key = type === 'secret' ? await latestBoxSecretKey(dir, owner, name) : await latestBoxPublicKey(dir, owner, name);
  return formatKeyText(key);
}

/** Whether a key name is a service key's (`svc.group@org`) rather than a user's. */
export function isServiceKeyName(name: string): boolean {
  return SERVICE_KEY_NAME.test(name);
}
