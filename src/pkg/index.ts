/**
 * pkg: Habitat packages on this machine: idents, plans, building and signing `.hart` files,
 * installing them, and the store of installed packages.
 *
 * - `ident.ts`: `origin/name[/version[/release]]`, parsed, printed and ordered (Habitat's rules).
 * - `plan.ts`: a plan's variables, read by sourcing plan.sh with bash, and checked.
 * - `build.ts`: plan → staged install prefix → metadata files → signed `.hart` (`hab pkg build`).
 * - `hart.ts`: the `.hart` header, signing and verification; `tarball.ts`: the xz tar inside,
 *   packed, checked entry by entry against path traversal, unpacked.
 * - `install.ts`: verify and unpack a `.hart` into `$FS_ROOT/hab/pkgs`, all or nothing.
 * - `store.ts`: installed packages: list, resolve the newest match, load the metadata the
 *   Supervisor needs (`InstalledPackage`).
 *
 * `bash.ts` is why this layer may spawn processes: a plan is a bash script.
 */
export {
  ORIGIN_NAME,
  PACKAGE_NAME,
  PACKAGE_RELEASE,
  PACKAGE_VERSION,
  compareIdents,
  compareReleases,
  compareVersions,
  formatIdent,
  identMatches,
  isFullyQualified,
  newestFirst,
  parseIdent,
  type FullyQualifiedIdent,
  type PackageIdent,
} from './ident.js';
export {
  DEFAULT_SHUTDOWN_SIGNAL,
  DEFAULT_SHUTDOWN_TIMEOUT_SEC,
  DEFAULT_SVC_GROUP,
  DEFAULT_SVC_USER,
  findPlan,
  readPlan,
  type Plan,
} from './plan.js';
export { artifactName, buildPackage, runFile, type BuildOptions, type BuildResult } from './build.js';
export {
  HART_FORMAT,
  HART_HASH_TYPE,
  HART_TARGET,
  blake2b256Hex,
  encodeHart,
  readHart,
  signHart,
  verifyHart,
  type Hart,
} from './hart.js';
export { checkSymlinks, decompressTarball, extractTarball, packTarball, packagePathInArchive, scanTarball, type TarballScan } from './tarball.js';
export { installAndLoad, installHart, installHartBytes, type InstallOptions, type InstallResult } from './install.js';
export { PackageStore, pkgsRootPath, type InstalledPackage } from './store.js';
