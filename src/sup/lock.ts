/**
 * The `LOCK` file: one Supervisor per `FS_ROOT`. It holds the PID of the Supervisor that owns
 * the state directory. A lock left by a process that no longer runs is taken over.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { MurmurError } from '../core/index.js';

export interface Lock {
  release(): Promise<void>;
}

export async function acquireLock(path: string, pid = process.pid): Promise<Lock> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(`${pid}\n`);
      await handle.close();
      return {
        release: async () => {
          const held = await readFile(path, 'utf8').catch(() => '');
          if (held.trim() === String(pid)) await unlink(path).catch(() => {});
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const text = await readFile(path, 'utf8').catch(() => '');
      const holder = Number.parseInt(text.trim(), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== pid && isRunning(holder)) {
        throw new MurmurError(
          'CONFLICT',
          `another Supervisor (PID ${holder}) holds ${path}: stop it first (hab sup term), or give this one its own FS_ROOT`,
        );
      }
      await unlink(path).catch(() => {});
    }
  }
  throw new MurmurError('IO', `could not take the lock ${path}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
