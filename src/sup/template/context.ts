/**
 * The data templates see (Habitat's `RenderContext`, `components/common/src/templating/context.rs`;
 * reference §7 "Templating", §5 census member fields, §9 binds): `sys`, `pkg`, `cfg`, `svc` and
 * `bind`. `buildRenderContext` is pure: plain data in, a fresh plain object out.
 *
 * The input interfaces are this module's own, shaped so that the census' `CensusGroup` and
 * `CensusMember` values fit them as they are (a group's `population` keyed by member id, the
 * member fields with Habitat's names); the Supervisor adds what the census does not hold.
 */
import { join } from 'node:path';
import { splitPackageIdent, splitServiceGroup } from '../../census/index.js';

// ---------------------------------------------------------------------------------------------
// Input

/** `sys`: this Supervisor. */
export interface SysInput {
  version: string;
  member_id: string;
  ip: string;
  hostname: string;
  gossip_ip: string;
  gossip_port: number;
  http_gateway_ip: string;
  http_gateway_port: number;
  ctl_gateway_ip: string;
  ctl_gateway_port: number;
  permanent: boolean;
}

/** One runtime dependency of the package (`DEPS`), and where it is installed. */
export interface PkgDepInput {
  origin: string;
  name: string;
  version: string;
  release: string;
  /** `/hab/pkgs/<origin>/<name>/<version>/<release>` */
  path: string;
}

export interface PkgInput {
  /** Fully qualified: `origin/name/version/release`, as text or split. */
  ident: string | { origin: string; name: string; version: string; release: string };
  deps: readonly PkgDepInput[];
  /** The runtime environment (`RUNTIME_ENVIRONMENT`). */
  env: Readonly<Record<string, string>>;
  /** Exposed ports (`EXPOSES`). */
  exposes: readonly string[];
  /** `key → dotted.cfg.path` (`EXPORTS`). */
  exports: Readonly<Record<string, string>>;
  /** The package's install path. */
  path: string;
  /** The service root, `$FS_ROOT/hab/svc/<name>`; the `svc_*` paths are derived from it. */
  svcRoot: string;
  svc_user: string;
  svc_group: string;
}

export interface MemberSysInput {
  ip: string;
  hostname: string;
  gossip_ip: string;
  gossip_port: number;
  http_gateway_ip: string;
  http_gateway_port: number;
  ctl_gateway_ip: string;
  ctl_gateway_port: number;
}

/** A census member (reference §5 population entry). */
export interface CensusMemberInput {
  member_id: string;
  /** The full ident, `origin/name/version/release`. */
  package: string;
  /** Split `package`; derived from it when absent. */
  pkg?: { origin: string; name: string; version: string | null; release: string | null };
  service: string;
  group: string;
  org: string | null;
  /** The member's exported config. */
  cfg: Readonly<Record<string, unknown>>;
  sys: MemberSysInput;
  persistent: boolean;
  leader: boolean;
  follower: boolean;
  update_leader: boolean;
  update_follower: boolean;
  election_is_running: boolean;
  election_is_no_quorum: boolean;
  election_is_finished: boolean;
  update_election_is_running: boolean;
  update_election_is_no_quorum: boolean;
  update_election_is_finished: boolean;
  /** Whether the member's service has started. @default false */
  initialized?: boolean;
  /** Ours: the member's last health check (the census' `health_check`). @default 'unknown' */
  health_check?: 'ok' | 'warning' | 'critical' | 'unknown';
  alive: boolean;
  suspect: boolean;
  confirmed: boolean;
  departed: boolean;
}

/** Habitat's election status names, as the census shows them. */
export type ElectionStatusInput = 'None' | 'ElectionInProgress' | 'ElectionNoQuorum' | 'ElectionFinished';

/** A service group's census: the service's own group, or a bound one. */
export interface ServiceGroupInput {
  /** `service.group[@org]` */
  service_group: string;
  /** All members the census knows, keyed by member id (as `CensusGroup.population`) or listed. */
  population: Readonly<Record<string, CensusMemberInput>> | readonly CensusMemberInput[];
  /** The elected leader; when absent or null, the member with `leader: true`, if any. */
  leader_id?: string | null;
  update_leader_id?: string | null;
  /** @default 'None' */
  election_status?: ElectionStatusInput;
  /** @default 'None' */
  update_election_status?: ElectionStatusInput;
  /** This Supervisor's member id in the group (for `svc.me`). @default sys.member_id */
  local_member_id?: string;
}

export interface RenderContextInput {
  sys: SysInput;
  pkg: PkgInput;
  /** The merged config (`mergeLayers`). */
  cfg: Readonly<Record<string, unknown>>;
  /** The service's own group. */
  svc: ServiceGroupInput;
  /**
   * Satisfied binds only, by bind name: the bound group's members (the leader is the one with
   * `leader: true`), or its census group.
   */
  binds?: Readonly<Record<string, BindInput>>;
}

export type BindInput = readonly CensusMemberInput[] | Omit<ServiceGroupInput, 'local_member_id'>;

// ---------------------------------------------------------------------------------------------
// Output

export interface TemplateMember {
  member_id: string;
  pkg: { origin: string; name: string; version: string | null; release: string | null };
  package: string;
  service: string;
  group: string;
  org: string | null;
  cfg: Readonly<Record<string, unknown>>;
  sys: MemberSysInput;
  persistent: boolean;
  leader: boolean;
  follower: boolean;
  update_leader: boolean;
  update_follower: boolean;
  election_is_running: boolean;
  election_is_no_quorum: boolean;
  election_is_finished: boolean;
  update_election_is_running: boolean;
  update_election_is_no_quorum: boolean;
  update_election_is_finished: boolean;
  initialized: boolean;
  /** Ours: `ok`, `warning`, `critical` or `unknown` (`eachHealthy` keeps `ok` and `warning`). */
  health_check: 'ok' | 'warning' | 'critical' | 'unknown';
  alive: boolean;
  suspect: boolean;
  confirmed: boolean;
  departed: boolean;
}

export interface TemplatePkg {
  ident: string;
  origin: string;
  name: string;
  version: string | null;
  release: string | null;
  deps: PkgDepInput[];
  env: Record<string, string>;
  exposes: string[];
  exports: Record<string, string>;
  path: string;
  svc_path: string;
  svc_config_path: string;
  svc_config_install_path: string;
  svc_data_path: string;
  svc_files_path: string;
  svc_static_path: string;
  svc_var_path: string;
  svc_pid_file: string;
  svc_run: string;
  svc_user: string;
  svc_group: string;
}

export interface TemplateSvc {
  service: string;
  group: string;
  org: string | null;
  election_is_running: boolean;
  election_is_no_quorum: boolean;
  election_is_finished: boolean;
  update_election_is_running: boolean;
  update_election_is_no_quorum: boolean;
  update_election_is_finished: boolean;
  me: TemplateMember | null;
  /** Alive and suspect members, by member id. */
  members: TemplateMember[];
  leader: TemplateMember | null;
  update_leader: TemplateMember | null;
  /** Deprecated in Habitat: the leader, else the first of all members. */
  first: TemplateMember | null;
}

export interface TemplateBind {
  first: TemplateMember | null;
  leader: TemplateMember | null;
  /** Alive and suspect members, by member id. */
  members: TemplateMember[];
}

export interface RenderContext {
  sys: SysInput;
  pkg: TemplatePkg;
  cfg: Readonly<Record<string, unknown>>;
  svc: TemplateSvc;
  bind: Record<string, TemplateBind>;
}

// ---------------------------------------------------------------------------------------------

export function buildRenderContext(input: RenderContextInput): RenderContext {
  const svcGroup = buildGroup(input.svc);
  const { service, group, org } = splitServiceGroup(input.svc.service_group);
  const election = electionFlags(input.svc.election_status ?? 'None');
  const update = electionFlags(input.svc.update_election_status ?? 'None');
  const meId = input.svc.local_member_id ?? input.sys.member_id;
  const bind: Record<string, TemplateBind> = {};
  for (const [name, bound] of Object.entries(input.binds ?? {})) {
    const g = buildGroup(isMemberList(bound) ? { service_group: '', population: bound } : bound);
    Object.defineProperty(bind, name, {
      value: { first: g.first, leader: g.leader, members: g.active },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return {
    sys: { ...input.sys },
    pkg: buildPkg(input.pkg),
    cfg: input.cfg,
    svc: {
      service,
      group,
      org,
      election_is_running: election.running,
      election_is_no_quorum: election.noQuorum,
      election_is_finished: election.finished,
      update_election_is_running: update.running,
      update_election_is_no_quorum: update.noQuorum,
      update_election_is_finished: update.finished,
      me: svcGroup.all.find((m) => m.member_id === meId) ?? null,
      members: svcGroup.active,
      leader: svcGroup.leader,
      update_leader: svcGroup.updateLeader,
      first: svcGroup.first,
    },
    bind,
  };
}

function isMemberList(bound: BindInput): bound is readonly CensusMemberInput[] {
  return Array.isArray(bound);
}

function buildPkg(pkg: PkgInput): TemplatePkg {
  const ident = typeof pkg.ident === 'string' ? pkg.ident : [pkg.ident.origin, pkg.ident.name, pkg.ident.version, pkg.ident.release].join('/');
  const parts = splitPackageIdent(ident);
  const root = pkg.svcRoot;
  return {
    ident,
    origin: parts.origin,
    name: parts.name,
    version: parts.version,
    release: parts.release,
    deps: pkg.deps.map((d) => ({ origin: d.origin, name: d.name, version: d.version, release: d.release, path: d.path })),
    env: { ...pkg.env },
    exposes: [...pkg.exposes],
    exports: { ...pkg.exports },
    path: pkg.path,
    svc_path: root,
    svc_config_path: join(root, 'config'),
    svc_config_install_path: join(root, 'config_install'),
    svc_data_path: join(root, 'data'),
    svc_files_path: join(root, 'files'),
    svc_static_path: join(root, 'static'),
    svc_var_path: join(root, 'var'),
    svc_pid_file: join(root, 'PID'),
    svc_run: join(root, 'run'),
    svc_user: pkg.svc_user,
    svc_group: pkg.svc_group,
  };
}

interface BuiltGroup {
  /** Every member, by member id. */
  all: TemplateMember[];
  /** Alive or suspect members, by member id. */
  active: TemplateMember[];
  leader: TemplateMember | null;
  updateLeader: TemplateMember | null;
  first: TemplateMember | null;
}

function buildGroup(input: Omit<ServiceGroupInput, 'local_member_id'>): BuiltGroup {
  const listed: readonly CensusMemberInput[] = Array.isArray(input.population)
    ? (input.population as readonly CensusMemberInput[])
    : Object.values(input.population as Readonly<Record<string, CensusMemberInput>>);
  const all = listed.map(toTemplateMember).sort((a, b) => (a.member_id < b.member_id ? -1 : a.member_id > b.member_id ? 1 : 0));
  const pick = (id: string | null | undefined, flag: 'leader' | 'update_leader'): TemplateMember | null =>
    (id !== undefined && id !== null ? all.find((m) => m.member_id === id) : all.find((m) => m[flag])) ?? null;
  const leader = pick(input.leader_id, 'leader');
  return {
    all,
    active: all.filter((m) => m.alive || m.suspect),
    leader,
    updateLeader: pick(input.update_leader_id, 'update_leader'),
    first: leader ?? all[0] ?? null,
  };
}

function toTemplateMember(m: CensusMemberInput): TemplateMember {
  const split = splitPackageIdent(m.package);
  return {
    member_id: m.member_id,
    pkg: m.pkg ? { ...m.pkg } : split,
    package: m.package,
    service: m.service,
    group: m.group,
    org: m.org,
    cfg: m.cfg,
    sys: { ...m.sys },
    persistent: m.persistent,
    leader: m.leader,
    follower: m.follower,
    update_leader: m.update_leader,
    update_follower: m.update_follower,
    election_is_running: m.election_is_running,
    election_is_no_quorum: m.election_is_no_quorum,
    election_is_finished: m.election_is_finished,
    update_election_is_running: m.update_election_is_running,
    update_election_is_no_quorum: m.update_election_is_no_quorum,
    update_election_is_finished: m.update_election_is_finished,
    initialized: m.initialized ?? false,
    health_check: m.health_check ?? 'unknown',
    alive: m.alive,
    suspect: m.suspect,
    confirmed: m.confirmed,
    departed: m.departed,
  };
}

function electionFlags(status: ElectionStatusInput): { running: boolean; noQuorum: boolean; finished: boolean } {
  return {
    running: status === 'ElectionInProgress',
    noQuorum: status === 'ElectionNoQuorum',
    finished: status === 'ElectionFinished',
  };
}
