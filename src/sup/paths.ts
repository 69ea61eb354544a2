/**
 * Where a Supervisor keeps its files, as Habitat lays them out: everything under `/hab`, or
 * under `$FS_ROOT/hab` so that several Supervisors can share one machine.
 */
import { join } from 'node:path';

export interface SupPaths {
  /** `$FS_ROOT/hab` */
  habRoot: string;
  /** `$FS_ROOT/hab/sup/default` */
  supDir: string;
  memberIdFile: string;
  ctlSecretFile: string;
  lockFile: string;
  /** `$FS_ROOT/hab/sup/default/data` */
  dataDir: string;
  incarnationFile: string;
  /** The persisted rumor store. */
  rumorFile: string;
  specsDir: string;
  /** `$FS_ROOT/hab/cache/keys`, or `HAB_CACHE_KEY_PATH`. */
  keyCacheDir: string;
}

export function supPaths(env: Readonly<Record<string, string | undefined>>): SupPaths {
  const fsRoot = env.FS_ROOT ?? '';
  const habRoot = join(fsRoot === '' ? '/' : fsRoot, 'hab');
  const supDir = join(habRoot, 'sup', 'default');
  const dataDir = join(supDir, 'data');
  return {
    habRoot,
    supDir,
    memberIdFile: join(supDir, 'MEMBER_ID'),
    ctlSecretFile: join(supDir, 'CTL_SECRET'),
    lockFile: join(supDir, 'LOCK'),
    dataDir,
    incarnationFile: join(dataDir, 'INCARNATION'),
    rumorFile: join(dataDir, 'rumors.dat'),
    specsDir: join(supDir, 'specs'),
    keyCacheDir: env.HAB_CACHE_KEY_PATH ?? join(habRoot, 'cache', 'keys'),
  };
}
