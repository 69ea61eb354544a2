/**
 * ident: Habitat package identifiers, `origin/name[/version[/release]]`, and their order.
 *
 * A release is the UTC time of the build, `YYYYMMDDhhmmss`, so releases of one version sort as
 * strings. Versions sort as Habitat's `version_sort` (`components/core/src/package/ident.rs`)
 * does: the leading run of digits and dots is split on `.` and compared part by part as numbers
 * (a missing part counts as 0, so `1.2` equals `1.2.0`); when those are equal, a version with an
 * extension after them (`1.2.0-rc1`) is older than the bare one, and two extensions compare as
 * strings. A version that does not start that way (`master`, `v1`) makes Habitat's parse fail,
 * and it falls back to comparing the two versions as strings; so does murmur.
 */
import { MurmurError } from '../core/index.js';

export interface PackageIdent {
  origin: string;
  name: string;
  version?: string;
  release?: string;
}

/** An ident with every part, as an installed package has. */
export type FullyQualifiedIdent = Required<PackageIdent>;

/** Habitat's origin names: lowercase letters, digits, `-` and `_`, starting with a letter or digit. */
export const ORIGIN_NAME = /^[a-z0-9][a-z0-9_-]*$/;
/** Habitat's package names (`valid_name`): letters, digits, `-` and `_`. */
export const PACKAGE_NAME = /^[A-Za-z0-9_-]+$/;
/** Versions murmur accepts: no `/`, no space, nothing a file name could trip on. */
export const PACKAGE_VERSION = /^[A-Za-z0-9_+~][A-Za-z0-9._+~-]*$/;
/** A release: the 14-digit UTC build time. */
export const PACKAGE_RELEASE = /^\d{14}$/;

const FORM = 'expected origin/name[/version[/release]], e.g. "core/redis" or "core/redis/7.0.0/20240101120000"';

/** Parses `origin/name[/version[/release]]`, or throws BAD_INPUT naming the problem. */
export function parseIdent(text: string, source = 'package ident'): PackageIdent {
  const bad = (problem: string): MurmurError => new MurmurError('BAD_INPUT', `${source} "${text}": ${problem}; ${FORM}`);
  const parts = text.split('/');
  if (parts.length < 2) throw bad(parts[0] === '' ? 'is empty' : 'has no name');
  if (parts.length > 4) throw bad(`has ${parts.length} parts, at most 4`);
  const [origin = '', name = '', version, release] = parts;
  if (!ORIGIN_NAME.test(origin)) {
    throw bad(`origin "${origin}" is not valid (lowercase letters, digits, "-" and "_", starting with a letter or digit)`);
  }
  if (!PACKAGE_NAME.test(name)) throw bad(`name "${name}" is not valid (letters, digits, "-" and "_")`);
  if (version === undefined) return { origin, name };
  if (!PACKAGE_VERSION.test(version)) {
    throw bad(`version "${version}" is not valid (letters, digits, ".", "_", "+", "~" and "-", not starting with "." or "-")`);
  }
  if (release === undefined) return { origin, name, version };
  if (!PACKAGE_RELEASE.test(release)) throw bad(`release "${release}" is not a 14-digit UTC timestamp (YYYYMMDDhhmmss)`);
  return { origin, name, version, release };
}

/** `origin/name[/version[/release]]`. */
export function formatIdent(ident: PackageIdent): string {
  let text = `${ident.origin}/${ident.name}`;
  if (ident.version !== undefined) {
    text += `/${ident.version}`;
    if (ident.release !== undefined) text += `/${ident.release}`;
  }
  return text;
}

export function isFullyQualified(ident: PackageIdent): ident is FullyQualifiedIdent {
  return ident.version !== undefined && ident.release !== undefined;
}

/**
 * Whether `candidate` is one of the packages `wanted` names: same origin and name, and the same
 * version and release where `wanted` gives them.
 */
export function identMatches(wanted: PackageIdent, candidate: PackageIdent): boolean {
  return (
    wanted.origin === candidate.origin &&
    wanted.name === candidate.name &&
    (wanted.version === undefined || wanted.version === candidate.version) &&
    (wanted.release === undefined || wanted.release === candidate.release)
  );
}

/** Negative if version `a` is older than `b`, positive if newer, 0 if Habitat counts them equal. */
export function compareVersions(a: string, b: string): number {
  const left = splitVersion(a);
  const right = splitVersion(b);
  if (left === undefined || right === undefined) return compareStrings(a, b);
  for (let i = 0; i < Math.max(left.parts.length, right.parts.length); i++) {
    const diff = (left.parts[i] ?? 0n) - (right.parts[i] ?? 0n);
    if (diff !== 0n) return diff < 0n ? -1 : 1;
  }
  if (left.extension === undefined || right.extension === undefined) {
    // The bare version is the release; one with an extension is a pre-release of it.
    if (left.extension === right.extension) return 0;
    return left.extension === undefined ? 1 : -1;
  }
  return compareStrings(left.extension, right.extension);
}

/** Releases are 14-digit timestamps: newer is greater. */
export function compareReleases(a: string, b: string): number {
  return compareStrings(a, b);
}

/**
 * Orders idents of one package (by version, then release), oldest first; an ident without a
 * version or release sorts before one with it. Origin and name are compared last, as strings,
 * only so that the order is total.
 */
export function compareIdents(a: PackageIdent, b: PackageIdent): number {
  return (
    compareOptional(a.version, b.version, compareVersions) ||
    compareOptional(a.release, b.release, compareReleases) ||
    compareStrings(a.origin, b.origin) ||
    compareStrings(a.name, b.name)
  );
}

/** A sorted copy of `idents`, newest first. */
export function newestFirst<T extends PackageIdent>(idents: readonly T[]): T[] {
  return [...idents].sort((a, b) => compareIdents(b, a));
}

/** Habitat's `split_version`: the numeric parts and the extension, or undefined if not numeric. */
function splitVersion(version: string): { parts: bigint[]; extension: string | undefined } | undefined {
  const match = /^([\d.]+)(.+)?$/.exec(version);
  if (match === null) return undefined;
  const [, numbers = '', rest] = match;
  const parts: bigint[] = [];
  for (const part of numbers.split('.')) {
    if (!/^\d+$/.test(part)) return undefined; // `1..2`, `1.`: Habitat's u64 parse fails.
    parts.push(BigInt(part));
  }
  const extension = rest === undefined ? undefined : rest.startsWith('-') ? rest.slice(1) : rest;
  return { parts, extension };
}

function compareOptional(a: string | undefined, b: string | undefined, compare: (a: string, b: string) => number): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  return compare(a, b);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
