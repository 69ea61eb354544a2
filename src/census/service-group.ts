/**
 * Habitat's names, split into their parts: a service group `service.group[@org]` (reference §7,
 * Habitat's `ServiceGroup`) and a package ident `origin/name[/version[/release]]`. The census
 * shows both split, as Habitat's `/census` does (`service`, `group`, `org`; `pkg.origin`, …).
 */

export interface ServiceGroupParts {
  service: string;
  group: string;
  /** The organization after `@`, or `null` when the group has none. */
  org: string | null;
}

/**
 * Splits `redis.prod@acme` into `{service: 'redis', group: 'prod', org: 'acme'}`. Never throws: a
 * string that is not a well-formed group (no `.`) keeps the whole text as `service` and an empty
 * `group`, so that a malformed rumor still shows up in the census rather than vanishing. Habitat's
 * legacy `app.env#` prefix is dropped.
 */
export function splitServiceGroup(text: string): ServiceGroupParts {
  const hash = text.indexOf('#');
  const body = hash >= 0 ? text.slice(hash + 1) : text;
  const at = body.indexOf('@');
  const name = at >= 0 ? body.slice(0, at) : body;
  const org = at >= 0 && at < body.length - 1 ? body.slice(at + 1) : null;
  const dot = name.indexOf('.');
  if (dot < 0) return { service: name, group: '', org };
  return { service: name.slice(0, dot), group: name.slice(dot + 1), org };
}

/** Habitat's `pkg` object of a census member; missing parts are `null`. */
export interface PackageIdentParts {
  origin: string;
  name: string;
  version: string | null;
  release: string | null;
}

/** Splits `core/redis/4.0.14/20190319155852`; an ident with fewer parts gets `null`s. */
export function splitPackageIdent(ident: string): PackageIdentParts {
  const [origin = '', name = '', version, release] = ident.split('/');
  return { origin, name, version: version ?? null, release: release ?? null };
}
