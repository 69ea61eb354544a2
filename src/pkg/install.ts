/**
 * install: a `.hart` file into the package store, all or nothing.
 *
 * 1. Parse the header and find the public key it names, by exact name-revision, in the key cache.
 * 2. Verify the signature and the BLAKE2b hash of the payload, then that the signing key belongs
 *    to the package's origin (Habitat does not check this; a key of one origin should not vouch
 *    for another's packages).
 * 3. Decompress and check every tar entry (tarball.ts) before writing a byte.
 * 4. Unpack into `<pkgs root>/.tmp-…`, check the symlinks on disk, and rename the release
 *    directory into place: other readers see the package whole or not at all.
 *
 * An unknown key is NOT_FOUND; a bad signature, a damaged archive or a refused entry is
 * BAD_INPUT; in every failure case nothing is left behind. Installing a release that is already
 * installed is a no-op (`alreadyInstalled: true`).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { MurmurError } from '../core/index.js';
import { formatNamedRevision, originPublicKey } from '../crypto/index.js';
import { errnoCode, ioError, isDirectory, isFile } from './files.js';
import { readHart, verifyHart } from './hart.js';
import { formatIdent, type FullyQualifiedIdent } from './ident.js';
import { PackageStore, type InstalledPackage } from './store.js';
import { checkSymlinks, decompressTarball, extractTarball, packagePathInArchive, scanTarball } from './tarball.js';

export interface InstallOptions {
  /** The packages directory: `pkgsRootPath(env)`. */
  pkgsRoot: string;
  /** The key cache holding the origin's public key: `keyCachePath(env)`. */
  keyCacheDir: string;
}

export interface InstallResult {
  ident: FullyQualifiedIdent;
  identText: string;
  /** The install prefix. */
  path: string;
  /** True when this release was already installed and nothing was written. */
  alreadyInstalled: boolean;
  /** The name-revision of the key that signed it. */
  signer: string;
}

/** Installs the `.hart` at `file`. */
export async function installHart(file: string, options: InstallOptions): Promise<InstallResult> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new MurmurError('NOT_FOUND', `${file} does not exist`, { cause: err });
    throw ioError(`cannot read ${file}`, err);
  }
  return installHartBytes(bytes, options, file);
}

/** Installs a `.hart` held in memory; `source` names it in messages. */
export async function installHartBytes(bytes: Uint8Array, options: InstallOptions, source = '.hart'): Promise<InstallResult> {
  const hart = readHart(bytes, source);
  const signer = formatNamedRevision(hart.key);
  const publicKey = await originPublicKey(options.keyCacheDir, hart.key);
  await verifyHart(hart, publicKey.key);

  const tar = await decompressTarball(hart.payload, source);
  const { ident } = await scanTarball(tar, source);
  const identText = formatIdent(ident);
  if (ident.origin !== hart.key.name) {
    throw new MurmurError('BAD_INPUT', `${source}: package ${identText} is signed with ${signer}, a key of another origin; only keys of origin "${ident.origin}" may sign its packages`);
  }

  const store = new PackageStore(options.pkgsRoot);
  const target = store.pathOf(ident);
  const result = { ident, identText, path: target, signer };
  if (await isFile(path.join(target, 'IDENT'))) return { ...result, alreadyInstalled: true };
  if (await isDirectory(target)) {
    throw new MurmurError('CONFLICT', `${target} exists but holds no IDENT: it is not a complete install of ${identText}; remove it and install again`);
  }

  const temp = path.join(options.pkgsRoot, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    try {
      await mkdir(temp, { recursive: true });
    } catch (err) {
      throw ioError(`cannot create ${temp}`, err, `check that ${options.pkgsRoot} is writable by this user (set FS_ROOT to install elsewhere)`);
    }
    await extractTarball(tar, temp, source);
    const unpacked = path.join(temp, packagePathInArchive(ident));
    await checkSymlinks(unpacked, source);
    await mkdir(path.dirname(target), { recursive: true });
    try {
      await rename(unpacked, target);
    } catch (err) {
      const code = errnoCode(err);
      // Another install of the same release won the race: the package is there, whole.
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await isFile(path.join(target, 'IDENT')))) {
        return { ...result, alreadyInstalled: true };
      }
      throw ioError(`cannot move ${identText} into ${target}`, err);
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return { ...result, alreadyInstalled: false };
}

/** Installs the `.hart` at `file` (or finds it installed) and loads the package's metadata. */
export async function installAndLoad(file: string, options: InstallOptions): Promise<InstalledPackage> {
  const { ident } = await installHart(file, options);
  return new PackageStore(options.pkgsRoot).load(ident);
}
