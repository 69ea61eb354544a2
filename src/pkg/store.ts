/**
 * store: the packages installed on this machine, `$FS_ROOT/hab/pkgs/<origin>/<name>/<version>/<release>/`,
 * and the metadata files Habitat's build leaves in each (`IDENT`, `EXPORTS`, `BINDS`, …).
 *
 * A release directory counts as installed when it holds `IDENT`: installs are renamed into place
 * whole (install.ts), so a directory without one is not a package. Directories whose names start
 * with `.` (install temp dirs) are skipped.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { MurmurError } from '../core/index.js';
import type { Env } from '../crypto/index.js';
import { errnoCode, ioError, isDirectory, isFile, readTextOrNull as readText } from './files.js';
import {
  formatIdent,
  identMatches,
  isFullyQualified,
  newestFirst,
  parseIdent,
  type FullyQualifiedIdent,
  type PackageIdent,
} from './ident.js';
import { DEFAULT_SHUTDOWN_SIGNAL, DEFAULT_SHUTDOWN_TIMEOUT_SEC, DEFAULT_SVC_GROUP, DEFAULT_SVC_USER } from './plan.js';

/** An installed package, as the Supervisor needs it to run a service. */
export interface InstalledPackage {
  ident: FullyQualifiedIdent;
  /** `origin/name/version/release`. */
  identText: string;
  /** The install prefix: `<pkgs root>/<origin>/<name>/<version>/<release>`. */
  path: string;
  /** `EXPORTS`: export key → dotted config path. */
  exports: Record<string, string>;
  /** `EXPOSES`: the default ports the service listens on (Habitat resolves them at build time). */
  exposes: string[];
  /** `BINDS`: bind name → export keys the bound service must publish. */
  binds: Record<string, string[]>;
  /** `BINDS_OPTIONAL`. */
  bindsOptional: Record<string, string[]>;
  svcUser: string;
  svcGroup: string;
  /** A signal name without `SIG`, e.g. `TERM`. */
  shutdownSignal: string;
  shutdownTimeoutSec: number;
  /** `DEPS`: one ident per line. */
  deps: string[];
  /** The text of `default.toml`, or null. */
  defaultToml: string | null;
  /** `<path>/config` (templates), when present. */
  configDir: string | null;
  /** `<path>/hooks` (hook templates), when present. */
  hooksDir: string | null;
  /** `<path>/run` (written from `pkg_svc_run`), when present. */
  runFile: string | null;
}

/** `$FS_ROOT/hab/pkgs` (`/hab/pkgs` without FS_ROOT). */
export function pkgsRootPath(env: Env): string {
  const root = env['FS_ROOT'];
  return path.join(root === undefined || root === '' ? '/' : root, 'hab', 'pkgs');
}

export class PackageStore {
  /** @param root the packages directory, e.g. `pkgsRootPath(env)`. */
  constructor(readonly root: string) {}

  /** The install prefix of `ident` (whether or not it is installed). */
  pathOf(ident: FullyQualifiedIdent): string {
    return path.join(this.root, ident.origin, ident.name, ident.version, ident.release);
  }

  /** Every installed package, or those `filter` matches; newest first within a package. */
  async list(filter?: PackageIdent): Promise<FullyQualifiedIdent[]> {
    const found: FullyQualifiedIdent[] = [];
    for (const origin of filter ? [filter.origin] : await this.#children(this.root)) {
      const originDir = path.join(this.root, origin);
      for (const name of filter ? [filter.name] : await this.#children(originDir)) {
        const nameDir = path.join(originDir, name);
        for (const version of filter?.version !== undefined ? [filter.version] : await this.#children(nameDir)) {
          const versionDir = path.join(nameDir, version);
          for (const release of filter?.release !== undefined ? [filter.release] : await this.#children(versionDir)) {
            const ident = toIdent(origin, name, version, release);
            if (ident !== undefined && (await isFile(path.join(versionDir, release, 'IDENT')))) found.push(ident);
          }
        }
      }
    }
    const byPackage = new Map<string, FullyQualifiedIdent[]>();
    for (const ident of found) {
      const key = `${ident.origin}/${ident.name}`;
      byPackage.set(key, [...(byPackage.get(key) ?? []), ident]);
    }
    return [...byPackage.keys()].sort().flatMap((key) => newestFirst(byPackage.get(key) ?? []));
  }

  /** The newest installed package `ident` matches, or NOT_FOUND saying how to install one. */
  async resolve(ident: PackageIdent): Promise<FullyQualifiedIdent> {
    const [newest] = (await this.list(ident)).filter((candidate) => identMatches(ident, candidate));
    if (newest === undefined) {
      throw new MurmurError(
        'NOT_FOUND',
        `package ${formatIdent(ident)} is not installed in ${this.root}: install its .hart with \`hab pkg install <file>.hart\` ` +
          `(build one with \`hab pkg build <plan dir>\`; set FS_ROOT if the packages are elsewhere)`,
      );
    }
    return newest;
  }

  /**
   * Reads an installed package's metadata. A partial ident is resolved to the newest installed
   * match first.
   */
  async load(ident: PackageIdent): Promise<InstalledPackage> {
    const full = isFullyQualified(ident) ? ident : await this.resolve(ident);
    const dir = this.pathOf(full);
    const identText = formatIdent(full);
    const recorded = await readText(path.join(dir, 'IDENT'));
    if (recorded === null) {
      throw new MurmurError('NOT_FOUND', `package ${identText} is not installed in ${this.root}: install its .hart with \`hab pkg install <file>.hart\``);
    }
    if (recorded.trim() !== identText) {
      throw new MurmurError('BAD_INPUT', `${path.join(dir, 'IDENT')} says "${recorded.trim()}", not ${identText}: the package directory is damaged; reinstall it`);
    }
    const meta = async (file: string): Promise<string | null> => readText(path.join(dir, file));
    const timeoutText = (await meta('SHUTDOWN_TIMEOUT'))?.trim();
    let shutdownTimeoutSec = DEFAULT_SHUTDOWN_TIMEOUT_SEC;
    if (timeoutText !== undefined && timeoutText !== '') {
      if (!/^\d{1,9}$/.test(timeoutText)) throw new MurmurError('BAD_INPUT', `${path.join(dir, 'SHUTDOWN_TIMEOUT')} holds "${timeoutText}", not a whole number of seconds`);
      shutdownTimeoutSec = Number(timeoutText);
    }
    return {
      ident: full,
      identText,
      path: dir,
      exports: parseKeyValues(await meta('EXPORTS'), path.join(dir, 'EXPORTS')),
      exposes: words(await meta('EXPOSES')),
      binds: parseBinds(await meta('BINDS'), path.join(dir, 'BINDS')),
      bindsOptional: parseBinds(await meta('BINDS_OPTIONAL'), path.join(dir, 'BINDS_OPTIONAL')),
      svcUser: nonEmpty(await meta('SVC_USER')) ?? DEFAULT_SVC_USER,
      svcGroup: nonEmpty(await meta('SVC_GROUP')) ?? DEFAULT_SVC_GROUP,
      shutdownSignal: nonEmpty(await meta('SHUTDOWN_SIGNAL')) ?? DEFAULT_SHUTDOWN_SIGNAL,
      shutdownTimeoutSec,
      deps: lines(await meta('DEPS')),
      defaultToml: await meta('default.toml'),
      configDir: (await isDirectory(path.join(dir, 'config'))) ? path.join(dir, 'config') : null,
      hooksDir: (await isDirectory(path.join(dir, 'hooks'))) ? path.join(dir, 'hooks') : null,
      runFile: (await isFile(path.join(dir, 'run'))) ? path.join(dir, 'run') : null,
    };
  }

  /** Directory names in `dir`, skipping dot-names; none if it does not exist. */
  async #children(dir: string): Promise<string[]> {
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      return entries.filter((entry) => entry.isDirectory() && !entry.name.startsWith('.')).map((entry) => entry.name);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
      throw ioError(`cannot list ${dir}`, err);
    }
  }
}

function toIdent(origin: string, name: string, version: string, release: string): FullyQualifiedIdent | undefined {
  try {
    return parseIdent(`${origin}/${name}/${version}/${release}`) as FullyQualifiedIdent;
  } catch {
    return undefined; // Not a package directory.
  }
}

/** `key=value` lines (EXPORTS). */
function parseKeyValues(text: string | null, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines(text)) {
    const at = line.indexOf('=');
    if (at <= 0) throw new MurmurError('BAD_INPUT', `${file}: line "${line}" is not key=value`);
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

/** `name=key1 key2` lines (BINDS, BINDS_OPTIONAL). */
function parseBinds(text: string | null, file: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, keys] of Object.entries(parseKeyValues(text, file))) out[name] = words(keys);
  return out;
}

function lines(text: string | null): string[] {
  return (text ?? '').split('\n').map((line) => line.trim()).filter((line) => line !== '');
}

function words(text: string | null): string[] {
  return (text ?? '').split(/\s+/).filter((word) => word !== '');
}

function nonEmpty(text: string | null): string | undefined {
  const trimmed = text?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}
