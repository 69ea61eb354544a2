/**
 * `hab sup term`: as Habitat's, it signals the Supervisor that holds this `FS_ROOT`'s `LOCK`
 * with SIGTERM; that Supervisor announces its departure and exits 0.
 */
import { readFile } from 'node:fs/promises';
import { MurmurError } from '../core/index.js';
import { supPaths } from '../sup/index.js';

export async function termSupervisor(env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const { lockFile } = supPaths(env);
  const text = await readFile(lockFile, 'utf8').catch(() => undefined);
  const pid = text === undefined ? NaN : Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new MurmurError('NOT_FOUND', `no Supervisor is running for this FS_ROOT (no PID in ${lockFile}); set FS_ROOT to the one it was started with`);
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    throw new MurmurError('NOT_FOUND', `the Supervisor named in ${lockFile} (PID ${pid}) is not running: it may have crashed; hab sup run will take the stale lock over`, { cause: err });
  }
  return pid;
}
