/** files: small file-system helpers shared by the package layer. */
import { readFile, stat } from 'node:fs/promises';
import { MurmurError } from '../core/index.js';

export async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

export async function isDirectory(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isDirectory();
  } catch {
    return false;
  }
}

/** A file's text, or null when it does not exist. */
export async function readTextOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return null;
    throw ioError(`cannot read ${file}`, err);
  }
}

export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** IO error carrying the system's reason; a MurmurError passes through unchanged. */
export function ioError(what: string, err: unknown, advice?: string): MurmurError {
  if (err instanceof MurmurError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new MurmurError('IO', `${what}: ${reason}${advice === undefined ? '' : `; ${advice}`}`, { cause: err });
}
