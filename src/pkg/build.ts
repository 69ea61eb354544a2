/**
 * build: a plan into a signed `.hart`, as `hab pkg build` does, minus sources and dependencies.
 *
 * 1. Read and check the plan (plan.ts); find the origin's latest secret signing key before any
 *    work, so a missing key fails at once.
 * 2. Stage the package in a temp dir laid out as its install prefix,
 *    `<stage>/hab/pkgs/<origin>/<name>/<version>/<release>` (the release is the UTC time now,
 *    `YYYYMMDDhhmmss`). If the plan defines `do_build` or `do_install`, run them with bash: the
 *    plan sourced, `set -e`, cwd `$CACHE_PATH`, and `pkg_prefix`/`PREFIX` the staging prefix.
 *    Nothing is downloaded and no default `configure && make` runs. As in Habitat, `SRC_PATH` is
 *    the directory given to the build (where an application's own source lives), and
 *    `CACHE_PATH` (`$HAB_CACHE_SRC_PATH/<name>-<version>`) an empty temp build dir.
 * 3. Copy `default.toml`, `config/` and `hooks/` from the plan context (hooks made executable),
 *    write the `run` file when `pkg_svc_run` is set and there is no `hooks/run`, and write the
 *    metadata files the Supervisor reads.
 * 4. Tar the prefix, compress with xz, sign, and write `<output>/<artifact>.hart` and
 *    `<output>/last_build.env`.
 *
 * Nothing in the package may hold a staging path: a package is installed under
 * `$FS_ROOT/hab/pkgs/…`, which differs per machine. The `run` file finds its own directory at run
 * time, and metadata that names the install path (`PATH`, `MANIFEST`) uses Habitat's canonical
 * `/hab/pkgs/…` as Habitat does. A plan's own `do_install` that writes `$pkg_prefix` into files
 * would bake the staging path in; murmur does not rewrite it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { MurmurError } from '../core/index.js';
import { formatNamedRevision, keyCachePath, latestOriginSecretKey, revisionFromDate, type Env } from '../crypto/index.js';
import { planEnv, runBash } from './bash.js';
import { ioError, isDirectory, isFile, readTextOrNull } from './files.js';
import { HART_TARGET, blake2b256Hex, signHart } from './hart.js';
import { formatIdent, type FullyQualifiedIdent } from './ident.js';
import { PLAN_PRELUDE, RUNTIME_PATH_VARIABLES, readPlan, type Plan } from './plan.js';
import { packagePathInArchive, packTarball } from './tarball.js';

export interface BuildOptions {
  /** The caller's environment: `HAB_ORIGIN`, `PATH`, `HOME`, the key cache location. */
  env: Env;
  /** Where the `.hart` and `last_build.env` go (Habitat: `./results`). */
  outputDir: string;
  /** @default keyCachePath(env) */
  keyCacheDir?: string;
  /** The build time, which makes the release. @default new Date() */
  now?: Date;
  /** Takes progress lines and the build callbacks' output, each prefixed `   <name>: `. */
  onOutput?: (line: string) => void;
}

export interface BuildResult {
  ident: FullyQualifiedIdent;
  identText: string;
  /** The `.hart` written. */
  artifact: string;
  /** `last_build.env`, next to the artifact. */
  lastBuildEnv: string;
  /** The signing key's name-revision. */
  signer: string;
  /** BLAKE2b-256 (hex) of the whole `.hart` file, as `hab pkg hash` prints it. */
  blake2bsum: string;
  sha256sum: string;
  plan: Plan;
}

/** The `.hart` file name Habitat gives a build: `<origin>-<name>-<version>-<release>-<target>.hart`. */
export function artifactName(ident: FullyQualifiedIdent): string {
  return `${ident.origin}-${ident.name}-${ident.version}-${ident.release}-${HART_TARGET}.hart`;
}

/** Builds the plan in `planDir` into a signed `.hart` in `options.outputDir`. */
export async function buildPackage(planDir: string, options: BuildOptions): Promise<BuildResult> {
  const plan = await readPlan(planDir, options.env);
  const say = (line: string): void => options.onOutput?.(`   ${plan.name}: ${line}`);
  const now = options.now ?? new Date();
  const ident: FullyQualifiedIdent = { origin: plan.origin, name: plan.name, version: plan.version, release: revisionFromDate(now) };
  const identText = formatIdent(ident);
  const secret = await latestOriginSecretKey(options.keyCacheDir ?? keyCachePath(options.env), plan.origin);
  say(`Building ${identText} from ${plan.file}`);

  const work = await mkdtemp(path.join(os.tmpdir(), 'murmur-build-'));
  try {
    const stageRoot = path.join(work, 'root');
    const prefix = path.join(stageRoot, packagePathInArchive(ident));
    const srcCache = path.join(work, 'src');
    const cachePath = path.join(srcCache, `${plan.name}-${plan.version}`);
    await mkdir(prefix, { recursive: true });
    await mkdir(cachePath, { recursive: true });

    for (const callback of ['do_build', 'do_install'] as const) {
      if (!(callback === 'do_build' ? plan.callbacks.doBuild : plan.callbacks.doInstall)) continue;
      say(`Running ${callback}`);
      await runCallback(plan, callback, {
        env: options.env,
        planDir: path.resolve(planDir),
        prefix,
        release: ident.release,
        srcCache,
        cachePath,
        onLine: (line) => options.onOutput?.(`   ${plan.name}: ${line}`),
      });
    }

    await copyPlanFiles(plan, prefix);
    const hasRunHook = await isFile(path.join(plan.context, 'hooks', 'run'));
    if (plan.svcRun !== null && !hasRunHook) {
      await writeFile(path.join(prefix, 'run'), runFile(plan.svcRun), { mode: 0o755 });
      await chmod(path.join(prefix, 'run'), 0o755);
    }
    await writeMetadata(plan, ident, prefix);

    say(`Signing with ${formatNamedRevision(secret)}`);
    const payload = await packTarball(stageRoot, ident, now);
    const hart = await signHart(payload, secret);

    await mkdir(options.outputDir, { recursive: true }).catch((err: unknown) => {
      throw ioError(`cannot create the output directory ${options.outputDir}`, err);
    });
    const artifact = path.join(path.resolve(options.outputDir), artifactName(ident));
    await writeAtomically(artifact, hart);
    const blake2bsum = await blake2b256Hex(hart);
    const sha256sum = createHash('sha256').update(hart).digest('hex');
    const lastBuildEnv = path.join(path.dirname(artifact), 'last_build.env');
    await writeAtomically(
      lastBuildEnv,
      Buffer.from(
        [
          `pkg_origin=${ident.origin}`,
          `pkg_name=${ident.name}`,
          `pkg_version=${ident.version}`,
          `pkg_release=${ident.release}`,
          `pkg_target=${HART_TARGET}`,
          `pkg_ident=${identText}`,
          `pkg_artifact=${path.basename(artifact)}`,
          `pkg_sha256sum=${sha256sum}`,
          `pkg_blake2bsum=${blake2bsum}`,
          '',
        ].join('\n'),
      ),
    );
    say(`Wrote ${artifact}`);
    return { ident, identText, artifact, lastBuildEnv, signer: formatNamedRevision(secret), blake2bsum, sha256sum, plan };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Build callbacks
// ---------------------------------------------------------------------------------------------

interface CallbackContext {
  env: Env;
  planDir: string;
  prefix: string;
  release: string;
  srcCache: string;
  cachePath: string;
  onLine: (line: string) => void;
}

/** Sources the plan as plan.ts does, then sets the build's real paths and calls `$2`. */
const CALLBACK_SCRIPT = `
umask 0022
${RUNTIME_PATH_VARIABLES.map((name) => `${name}='$${name}'`).join('\n')}
${PLAN_PRELUDE}
set -e
. "$1"
pkg_prefix=$MURMUR_PKG_PREFIX
PREFIX=$MURMUR_PKG_PREFIX
pkg_release=$MURMUR_PKG_RELEASE
unset MURMUR_PKG_PREFIX MURMUR_PKG_RELEASE
cd "$CACHE_PATH"
"$2"
`;

async function runCallback(plan: Plan, callback: 'do_build' | 'do_install', context: CallbackContext): Promise<void> {
  const result = await runBash(CALLBACK_SCRIPT, [plan.file, callback], {
    name: 'plan.sh',
    cwd: plan.context,
    env: planEnv(context.env, {
      PLAN_CONTEXT: plan.context,
      SRC_PATH: context.planDir,
      HAB_CACHE_SRC_PATH: context.srcCache,
      CACHE_PATH: context.cachePath,
      pkg_dirname: `${plan.name}-${plan.version}`,
      MURMUR_PKG_PREFIX: context.prefix,
      MURMUR_PKG_RELEASE: context.release,
    }),
    onLine: context.onLine,
  });
  if (result.code !== 0) {
    const how = result.code === null ? `was killed by ${result.signal ?? 'a signal'}` : `failed with exit code ${result.code}`;
    throw new MurmurError('BAD_INPUT', `${plan.file}: ${callback} ${how}; nothing was built`);
  }
}

// ---------------------------------------------------------------------------------------------
// Package contents
// ---------------------------------------------------------------------------------------------

/** `default.toml`, `config/` and `hooks/` from the plan context; modes kept, hooks executable. */
async function copyPlanFiles(plan: Plan, prefix: string): Promise<void> {
  const from = (name: string): string => path.join(plan.context, name);
  try {
    if (await isFile(from('default.toml'))) await cp(from('default.toml'), path.join(prefix, 'default.toml'), { dereference: true });
    for (const dir of ['config', 'hooks']) {
      if (await isDirectory(from(dir))) await cp(from(dir), path.join(prefix, dir), { recursive: true, dereference: true });
    }
    if (await isDirectory(path.join(prefix, 'hooks'))) await makeExecutable(path.join(prefix, 'hooks'));
  } catch (err) {
    throw ioError(`cannot copy the plan's files from ${plan.context}`, err);
  }
}

async function makeExecutable(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeExecutable(file);
    else if (entry.isFile()) await chmod(file, 0o755);
  }
}

/**
 * The `run` file for `pkg_svc_run`. Habitat's bakes in `cd /hab/svc/<name>` and `2>&1`; this one
 * holds no absolute path and keeps stderr apart, relying on the Supervisor's contract instead.
 */
export function runFile(svcRun: string): string {
  return `#!/bin/sh
# Written by \`hab pkg build\` (murmur) from pkg_svc_run.
#
# The Supervisor runs <pkg_path>/run with the service directory (/hab/svc/<name>, under FS_ROOT)
# as the working directory and PATH prefixed with <pkg_path>/bin, and keeps stdout and stderr
# apart. This file holds no absolute path, so the package works under any FS_ROOT: it finds its
# own directory (pkg_prefix) from $0 and the service's directories from the working directory, so
# that $pkg_prefix, $pkg_svc_config_path and friends in pkg_svc_run expand to the real paths.
pkg_prefix=$(cd "$(dirname "$0")" && pwd)
pkg_svc_path=$(pwd)
pkg_svc_config_path="$pkg_svc_path/config"
pkg_svc_config_install_path="$pkg_svc_path/config_install"
pkg_svc_data_path="$pkg_svc_path/data"
pkg_svc_files_path="$pkg_svc_path/files"
pkg_svc_static_path="$pkg_svc_path/static"
pkg_svc_var_path="$pkg_svc_path/var"
PATH="$pkg_prefix/bin:$PATH"
export PATH
exec ${svcRun}
`;
}

async function writeMetadata(plan: Plan, ident: FullyQualifiedIdent, prefix: string): Promise<void> {
  const identText = formatIdent(ident);
  const canonicalPrefix = `/${packagePathInArchive(ident)}`;
  const files: Record<string, string> = {
    IDENT: `${identText}\n`,
    TARGET: `${HART_TARGET}\n`,
    EXPORTS: keyValueLines(plan.exports),
    BINDS: keyValueLines(mapValues(plan.binds, (keys) => keys.join(' '))),
    BINDS_OPTIONAL: keyValueLines(mapValues(plan.bindsOptional, (keys) => keys.join(' '))),
    SVC_USER: `${plan.svcUser}\n`,
    SVC_GROUP: `${plan.svcGroup}\n`,
    SHUTDOWN_SIGNAL: `${plan.shutdownSignal}\n`,
    SHUTDOWN_TIMEOUT: `${plan.shutdownTimeoutSec}\n`,
    DEPS: plan.deps.map((dep) => `${formatIdent(dep)}\n`).join(''),
    BUILD_DEPS: plan.buildDeps.map((dep) => `${formatIdent(dep)}\n`).join(''),
    MANIFEST: manifest(plan, identText, canonicalPrefix),
  };
  const exposes = await exposedPorts(plan);
  if (exposes.length > 0) files['EXPOSES'] = `${exposes.join(' ')}\n`;
  if (await isDirectory(path.join(prefix, 'bin'))) files['PATH'] = `${canonicalPrefix}/bin\n`;
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(prefix, name), text, { mode: 0o644 });
  } catch (err) {
    throw ioError(`cannot write the package metadata in ${prefix}`, err);
  }
}

/**
 * Habitat's EXPOSES: for each export key in `pkg_exposes`, the port number default.toml holds at
 * that export's path (`_render_metadata_EXPOSES` in hab-plan-build).
 */
async function exposedPorts(plan: Plan): Promise<string[]> {
  if (plan.exposes.length === 0) return [];
  const file = path.join(plan.context, 'default.toml');
  const bad = (message: string): MurmurError => new MurmurError('BAD_INPUT', `${plan.file}: ${message}`);
  const text = await readTextOrNull(file);
  if (text === null) throw bad(`pkg_exposes needs default.toml (the default port of each exposed export), but ${file} does not exist`);
  let config: Record<string, unknown>;
  try {
    config = parseToml(text);
  } catch (err) {
    throw new MurmurError('BAD_INPUT', `${file} is not valid TOML: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return plan.exposes.map((key) => {
    const cfgPath = plan.exports[key] ?? '';
    let value: unknown = config;
    for (const part of cfgPath.split('.')) {
      value = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[part] : undefined;
    }
    const port = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : '';
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      throw bad(`pkg_exposes names "${key}", but ${file} holds no TCP/UDP port at ${cfgPath} (found ${value === undefined ? 'nothing' : JSON.stringify(value)})`);
    }
    return port;
  });
}

function manifest(plan: Plan, identText: string, canonicalPrefix: string): string {
  const list = (items: readonly string[], none: string): string => (items.length === 0 ? none : items.map((item) => `\`${item}\``).join(' '));
  return [
    `# ${plan.origin} / ${plan.name}`,
    plan.description ?? '',
    '',
    `* __Ident__: \`${identText}\``,
    `* __Maintainer__: ${plan.maintainer ?? 'not set'}`,
    `* __Version__: ${plan.version}`,
    `* __Release__: ${identText.split('/')[3] ?? ''}`,
    `* __Target__: ${HART_TARGET}`,
    `* __License__: ${plan.license.length === 0 ? 'not set' : plan.license.join(' ')}`,
    `* __Path__: \`${canonicalPrefix}\``,
    `* __Build Dependencies__: ${list(plan.buildDeps.map(formatIdent), 'none')}`,
    `* __Dependencies__: ${list(plan.deps.map(formatIdent), 'none')}`,
    `* __Exports__: ${list(Object.entries(plan.exports).map(([key, value]) => `${key}=${value}`), 'none')}`,
    `* __Binds__: ${list(Object.entries(plan.binds).map(([key, value]) => `${key}=${value.join(' ')}`), 'none')}`,
    `* __Built by__: murmur \`hab pkg build\``,
    '',
  ].join('\n');
}

function keyValueLines(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([key, value]) => `${key}=${value}\n`)
    .join('');
}

function mapValues<T, U>(values: Record<string, T>, f: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, f(value)]));
}

/** Writes `file` whole or not at all: a temp file beside it, then rename. */
async function writeAtomically(file: string, bytes: Uint8Array): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, bytes, { mode: 0o644 });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw ioError(`cannot write ${file}`, err, 'check that the output directory is writable');
  }
}
