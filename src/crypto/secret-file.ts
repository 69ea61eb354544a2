/**
 * Secret files must be private to their owner (issue 5): the Supervisor refuses a `CTL_SECRET`, a
 * ring key, a box or signing secret key, or a TLS private key that its group or other users may
 * read or write, and says why and the `chmod 600` that fixes it, rather than use a secret that
 * may already be someone else's. The keys murmur writes are 0600 already (`key-cache.ts`).
 * On Windows, where modes mean nothing, no check is made.
 */
import { stat } from 'node:fs/promises';
import { MurmurError } from '../core/index.js';

/** Permission bits that must be clear on a secret file: group and other, read, write, execute. */
export const SECRET_FILE_FORBIDDEN_BITS = 0o077;

/**
 * A secret file that others may read or write (BAD_INPUT): callers that wait for the operator to
 * fix it (a Supervisor opening an encrypted config retries every second) tell it apart by class.
 */
export class SecretFileModeError extends MurmurError {
  constructor(
    readonly file: string,
    /** The permission bits, e.g. 0o640. */
    readonly mode: number,
    message: string,
  ) {
    super('BAD_INPUT', message);
    this.name = 'SecretFileModeError';
  }
}

/**
 * Throws a `SecretFileModeError` (BAD_INPUT) naming `file`, what it is (`what`: "the control
 * gateway secret", "--key"), its mode and the command that fixes it, when group or others have any
 * access to it. A missing file is the caller's to report (NOT_FOUND here, naming `what`).
 */
export async function checkSecretFileMode(file: string, what: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  if (platform === 'win32') return;
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new MurmurError(code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `${what}: cannot read ${file} (${code})`, { cause: err });
  }
  if ((mode & SECRET_FILE_FORBIDDEN_BITS) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(3, '0');
    throw new SecretFileModeError(
      file,
      mode & 0o777,
      `${what} ${file} is readable or writable by other users (mode ${octal}): a secret must be private to its owner; run: chmod 600 ${file}`,
    );
  }
}
