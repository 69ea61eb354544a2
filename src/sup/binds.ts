/**
 * Binds (reference §9): a consumer package names the binds it needs (`pkg_binds`, required) or
 * can use (`pkg_binds_optional`), each with the export keys the bound group must publish; the
 * operator maps each bind to a service group at load (`--bind db:redis.prod`). This module owns
 * the two questions asked about them, both pure:
 *
 * - `checkBinds`, at `hab svc load`: a bind name the package does not declare is refused
 *   (Habitat's `InvalidBinds`), and so is a required bind that is not given
 *   (`MissingRequiredBind`).
 * - `bindStates`, on every update pass: is each bind satisfied by the census right now? As in
 *   Habitat, a bind is satisfied when its group is in the census, has an active member (alive or
 *   suspect), and exports every key the package asks for: the leader's exports when the group
 *   has an active leader, else those of any active member. An unsatisfied bind is left out of the
 *   `bind` template context; in `strict` binding mode a service that never started waits for
 *   all of its binds (`Service`).
 */
import type { Census, CensusGroup, CensusMember } from '../census/index.js';
import { MurmurError } from '../core/index.js';
import type { InstalledPackage } from '../pkg/index.js';
import type { ServiceSpec } from './spec.js';
import { parseBind } from './spec.js';

/** What a package declares about binds (`BINDS`, `BINDS_OPTIONAL`). */
export type PackageBinds = Pick<InstalledPackage, 'identText' | 'binds' | 'bindsOptional'>;

export type BindState =
  | { name: string; serviceGroup: string; satisfied: true; group: CensusGroup }
  | { name: string; serviceGroup: string; satisfied: false; reason: string };

/**
 * Refuses binds the package does not declare, and required binds not given (Habitat's load
 * check), with a message that names the binds the package has and the flag to add.
 */
export function checkBinds(spec: Pick<ServiceSpec, 'binds'>, pkg: PackageBinds): void {
  const given = new Set(spec.binds.map((b) => parseBind(b).name));
  const known = [...Object.keys(pkg.binds), ...Object.keys(pkg.bindsOptional)];
  for (const name of given) {
    if (!known.includes(name)) {
      const list = known.join(', ');
      throw new MurmurError('BAD_INPUT', `${pkg.identText} has no bind named ${name}${list ? `; its binds are: ${list}` : '; it declares no binds'}`);
    }
  }
  const missing = Object.keys(pkg.binds).filter((n) => !given.has(n));
  if (missing.length > 0) {
    throw new MurmurError(
      'BAD_INPUT',
      `${pkg.identText} requires the bind${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; add --bind ${missing[0]}:SERVICE.GROUP`,
    );
  }
}

/** Each of the spec's binds, satisfied or not by `census`, in the spec's order. */
export function bindStates(binds: readonly string[], pkg: PackageBinds, census: Census): BindState[] {
  return binds.map((text) => {
    const { name, serviceGroup } = parseBind(text);
    const wanted = Object.hasOwn(pkg.binds, name) ? pkg.binds[name] : Object.hasOwn(pkg.bindsOptional, name) ? pkg.bindsOptional[name] : [];
    return bindState(name, serviceGroup, wanted ?? [], census);
  });
}

/** One bind of `name` to `serviceGroup`, which must export every key of `wanted`. */
export function bindState(name: string, serviceGroup: string, wanted: readonly string[], census: Census): BindState {
  const unsatisfied = (reason: string): BindState => ({ name, serviceGroup, satisfied: false, reason });
  const group = Object.hasOwn(census.census_groups, serviceGroup) ? census.census_groups[serviceGroup] : undefined;
  if (group === undefined) return unsatisfied(`bind ${name}: the service group ${serviceGroup} is not (yet?) present in the census`);
  const active = Object.values(group.population).filter(isActive);
  if (active.length === 0) return unsatisfied(`bind ${name}: ${serviceGroup} has no active members`);
  const leader = active.find((m) => m.member_id === group.leader_id || m.leader);
  const exporters = leader ? [leader] : active;
  if (!exporters.some((m) => wanted.every((key) => Object.hasOwn(m.cfg, key)))) {
    const sample = exporters[0] as CensusMember;
    const missing = wanted.filter((key) => !Object.hasOwn(sample.cfg, key));
    return unsatisfied(`bind ${name}: ${serviceGroup} does not export ${missing.join(', ')} (the bind needs ${wanted.join(', ')})`);
  }
  return { name, serviceGroup, satisfied: true, group };
}

/** Alive or suspect: the members templates list and binds count. */
function isActive(m: CensusMember): boolean {
  return m.alive || m.suspect;
}
