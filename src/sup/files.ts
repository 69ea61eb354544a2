/**
 * Small file helpers for the Supervisor's state: atomic writes (temp file, fsync, rename, so a
 * kill -9 leaves the old file or the new one, never half of one) and reads of optional files.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { MurmurError } from '../core/index.js';

export async function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** The file's bytes, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Creates `dir` (and parents). Without write access it says which directory and that `FS_ROOT`
 * relocates `/hab`.
 */
export async function ensureDir(dir: string, mode = 0o755): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR') {
      throw new MurmurError(
        'IO',
        `cannot create ${dir} (${code}): the Supervisor needs write access to its state directory; run as root, or set FS_ROOT to a writable directory (FS_ROOT=/tmp/sup1 keeps state in /tmp/sup1/hab)`,
        { cause: err },
      );
    }
    throw new MurmurError('IO', `cannot create ${dir}: ${(err as Error).message}`, { cause: err });
  }
}
