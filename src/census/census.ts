/**
 * The census: every service group this member knows of, with its gossiped config, its files and
 * its population, in the shape of Habitat's `/census` (reference §5, Habitat
 * `components/sup/src/census.rs`). It is a derived view: `buildCensus` rebuilds it from the rumor
 * store on every call and never patches a previous one (STYLE §6), so it cannot drift from the
 * rumors it is made of.
 *
 * Elections are read through `election/view.ts`, the view the election engine itself acts on: a
 * group's `election_status`, `leader_id` and its members' `leader`, `follower` and
 * `election_is_*` come from its election rumors and this member's view of the roster's health
 * (Habitat `census.rs`: the leader only when the election is finished). Update elections
 * (`update_*`) are not run yet and stay `None`/`false`.
 *
 * Where we differ from Habitat on purpose:
 * - A finished election whose roster has lost quorum in this member's view reports
 *   `ElectionNoQuorum` and no leader: the leader of a cut-off minority steps down without a
 *   rumor being sent. While an election runs to replace a live leader (to re-elect it, or one
 *   that a minority started and cannot finish), the finished election is still reported.
 * - `last_election_counter` counts both of a group's election rumors (finished and running).
 * - A member that is not in the group (it only reads it, through a bind) sees the same.
 * - `last_*_counter` are the numbers of rumors of that kind in the store (tombstones not
 *   counted), not Habitat's monotonic update counters: a pure view of the store has no memory of
 *   past updates. They change whenever a rumor of that kind arrives or leaves, not when one is
 *   replaced by a newer version.
 * - `changed` is always `true`: the census is rebuilt from scratch for every reader, so there is
 *   no previous census for it to be compared with.
 * - `persistent` is the member's `--permanent-peer` flag (Habitat sets it to `true` for every
 *   member in its member list, a quirk).
 * - An encrypted config (`BOX-1`) is not decrypted here (the census layer holds no keys): its
 *   `value` is `null` with `encrypted: true`. A config that is not TOML has `value: null` and an
 *   `error`.
 */
import type { MemberId } from '../core/index.js';
import type { ElectionView, GroupService } from '../election/index.js';
import { isLive, viewElections } from '../election/index.js';
import type { ElectionRumor, Health, MemberRumor, ServiceConfigRumor, ServiceFileRumor, ServiceHealth, ServiceRumor, ServiceState, SysInfo } from '../wire/index.js';
import { parse as parseToml } from 'smol-toml';
import type { RumorSource } from './counts.js';
import { countRumors } from './counts.js';
import type { PackageIdentParts } from './service-group.js';
import { splitPackageIdent, splitServiceGroup } from './service-group.js';

/** Habitat's election status names (`ElectionStatus` in census.rs). */
export type CensusElectionStatus = 'None' | 'ElectionInProgress' | 'ElectionNoQuorum' | 'ElectionFinished';

/** A TOML table as JSON-ready data. */
export type TomlValue = Record<string, unknown>;

export interface CensusServiceConfig {
  /** The `hab config apply` version. */
  incarnation: number;
  /** The parsed TOML; `null` when encrypted or unparsable. */
  value: TomlValue | null;
  /** Present (and `true`) when the config is a `BOX-1` payload this view does not decrypt. */
  encrypted?: true;
  /** Present when the config is not valid UTF-8 TOML: why. */
  error?: string;
}

export interface CensusServiceFile {
  filename: string;
  /** The `hab file upload` version. */
  incarnation: number;
  /** The file's bytes as an array of numbers, as Habitat renders them. */
  body: number[];
  /** Present (and `true`) when the body is a `BOX-1` payload. */
  encrypted?: true;
}

/** `sys` of a census member, with Habitat's field names. */
export interface CensusSys {
  ip: string;
  hostname: string;
  gossip_ip: string;
  gossip_port: number;
  http_gateway_ip: string;
  http_gateway_port: number;
  ctl_gateway_ip: string;
  ctl_gateway_port: number;
}

export interface CensusMember {
  member_id: MemberId;
  pkg: PackageIdentParts;
  pkg_incarnation: number;
  /** The full ident, `origin/name/version/release`. */
  package: string;
  service: string;
  group: string;
  org: string | null;
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
  sys: CensusSys;
  /** Health from this member's member list; all four are `false` for a member it does not know. */
  alive: boolean;
  suspect: boolean;
  confirmed: boolean;
  departed: boolean;
  /** The member's exported config (`pkg_exports`), parsed; `{}` when empty or unparsable. */
  cfg: TomlValue;
  /** The service ran its `init` hook and came up at least once (Habitat's field). */
  initialized: boolean;
  /** Ours: the `hab config apply` version the member has applied (0: none). */
  config_version: number;
  /** Ours: the `hab file upload` versions written to its `files/`, by file name. */
  file_versions: Record<string, number>;
  /** Ours: the service's process, `up`, `starting` or `down`. */
  process_state: ServiceState;
  /** Ours: the last health check, `ok`, `warning`, `critical` or `unknown`. */
  health_check: ServiceHealth;
}

export interface CensusGroup {
  service_group: string;
  election_status: CensusElectionStatus;
  update_election_status: CensusElectionStatus;
  pkg_incarnation: number;
  leader_id: MemberId | null;
  update_leader_id: MemberId | null;
  local_member_id: MemberId;
  service_config: CensusServiceConfig | null;
  /** Keyed by file name. */
  service_files: Record<string, CensusServiceFile>;
  changed_service_files: string[];
  /** Keyed by member id: one entry per `service` rumor of the group. */
  population: Record<MemberId, CensusMember>;
}

export interface Census {
  changed: boolean;
  local_member_id: MemberId;
  last_service_counter: number;
  last_election_counter: number;
  last_election_update_counter: number;
  last_membership_counter: number;
  last_service_config_counter: number;
  last_service_file_counter: number;
  /** Keyed by service group string (`redis.prod`, `redis.prod@acme`). */
  census_groups: Record<string, CensusGroup>;
}

interface GroupRumors {
  services: ServiceRumor[];
  /** Members whose service rumor in the group a tombstone removed. */
  removed: Set<MemberId>;
  config: ServiceConfigRumor | undefined;
  files: ServiceFileRumor[];
  /** The finished election and the running one (`gossip/rumor.ts: electionSlot`). */
  finished: ElectionRumor | undefined;
  running: ElectionRumor | undefined;
}

/** Habitat's names for the election states. */
const CENSUS_STATUS: Record<ElectionView['status'], CensusElectionStatus> = {
  none: 'None',
  running: 'ElectionInProgress',
  'no-quorum': 'ElectionNoQuorum',
  finished: 'ElectionFinished',
};

/**
 * The census of the rumors `core` holds, as seen by `localMemberId`. Pure: reads the store, keeps
 * nothing. Groups, members and files are in sorted order, so that the same store always gives
 * the same JSON.
 */
export function buildCensus(core: RumorSource, localMemberId: MemberId): Census {
  const members = new Map<MemberId, MemberRumor>();
  const departures = new Set<MemberId>();
  const removedServices: { group: string; id: MemberId }[] = [];
  const groups = new Map<string, GroupRumors>();
  const groupOf = (name: string): GroupRumors => {
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { services: [], removed: new Set(), config: undefined, files: [], finished: undefined, running: undefined }));
    return g;
  };
  for (const { rumor } of core.store.values()) {
    switch (rumor.kind) {
      case 'member':
        members.set(rumor.member.id, rumor);
        break;
      case 'departure':
        departures.add(rumor.memberId);
        break;
      case 'service':
        groupOf(rumor.group).services.push(rumor);
        break;
      case 'service-config':
        groupOf(rumor.group).config = rumor;
        break;
      case 'service-file':
        groupOf(rumor.group).files.push(rumor);
        break;
      case 'election':
        if (rumor.status === 'finished') groupOf(rumor.group).finished = rumor;
        else groupOf(rumor.group).running = rumor;
        break;
      case 'tombstone':
        // A tombstone stands for a rumor that is gone; a removed service rumor means its member
        // left the group (it no longer counts toward an election's quorum). Only a group that
        // still has rumors is listed.
        if (rumor.target === 'service') removedServices.push(rumor);
        break;
      default:
        // Update elections are not run yet; departures and ring keys are not per group.
        break;
    }
  }
  for (const t of removedServices) groups.get(t.group)?.removed.add(t.id);
  const healthOf = (id: MemberId): Health | undefined => (departures.has(id) ? 'departed' : members.get(id)?.health);
  const censusGroups = [...groups.keys()].sort(byText).map((name): [string, CensusGroup] => {
    const g = groups.get(name) as GroupRumors;
    const population = g.services
      .sort((a, b) => byText(a.memberId, b.memberId))
      .map((s): [MemberId, CensusMember] => [s.memberId, toCensusMember(s, healthOf(s.memberId), members.get(s.memberId))]);
    const files = g.files.sort((a, b) => byText(a.filename, b.filename)).map((f): [string, CensusServiceFile] => [f.filename, toCensusFile(f)]);
    const election = viewElections({ finished: g.finished, running: g.running }, (id) => isLive(healthOf(id), groupService(g, id)));
    const status = CENSUS_STATUS[election.status];
    for (const [, member] of population) {
      member.leader = election.leaderId === member.member_id;
      member.follower = election.leaderId !== null && !member.leader;
      member.election_is_running = status === 'ElectionInProgress';
      member.election_is_no_quorum = status === 'ElectionNoQuorum';
      member.election_is_finished = status === 'ElectionFinished';
    }
    return [
      name,
      {
        service_group: name,
        election_status: status,
        update_election_status: 'None',
        pkg_incarnation: 0,
        leader_id: election.leaderId,
        update_leader_id: null,
        local_member_id: localMemberId,
        service_config: g.config ? toCensusConfig(g.config) : null,
        service_files: Object.fromEntries(files),
        changed_service_files: [],
        population: Object.fromEntries(population),
      },
    ];
  });
  const counts = countRumors(core);
  return {
    changed: true,
    local_member_id: localMemberId,
    last_service_counter: counts.service,
    last_election_counter: counts.election,
    last_election_update_counter: counts['election-update'],
    last_membership_counter: counts.member,
    last_service_config_counter: counts['service-config'],
    last_service_file_counter: counts['service-file'],
    // Object.fromEntries defines own properties, so a group named `__proto__` stays a group.
    census_groups: Object.fromEntries(censusGroups),
  };
}

/** A member's part in a group, as its rumors here show it (`election/view.ts`). */
function groupService(g: GroupRumors, id: MemberId): GroupService {
  const s = g.services.find((r) => r.memberId === id);
  if (s !== undefined) return s.topology === 'leader' ? 'leader' : 'gone';
  return g.removed.has(id) ? 'gone' : 'absent';
}

function toCensusMember(s: ServiceRumor, health: Health | undefined, record: MemberRumor | undefined): CensusMember {
  const { service, group, org } = splitServiceGroup(s.group);
  const cfg = parseTomlBytes(s.cfg);
  return {
    member_id: s.memberId,
    pkg: splitPackageIdent(s.pkg),
    pkg_incarnation: 0,
    package: s.pkg,
    service,
    group,
    org,
    persistent: record?.member.persistent ?? false,
    leader: false,
    follower: false,
    update_leader: false,
    update_follower: false,
    election_is_running: false,
    election_is_no_quorum: false,
    election_is_finished: false,
    update_election_is_running: false,
    update_election_is_no_quorum: false,
    update_election_is_finished: false,
    sys: toCensusSys(s.sys),
    alive: health === 'alive',
    suspect: health === 'suspect',
    confirmed: health === 'confirmed',
    departed: health === 'departed',
    cfg: cfg.ok ? cfg.value : {},
    initialized: s.initialized,
    config_version: s.configVersion,
    file_versions: Object.fromEntries(s.files.map((f) => [f.filename, f.version])),
    process_state: s.state,
    health_check: s.health,
  };
}

/** A service rumor's `sys` with Habitat's field names (`gossip_ip`, `http_gateway_port`, …). */
export function toCensusSys(sys: SysInfo): CensusSys {
  return {
    ip: sys.ip,
    hostname: sys.hostname,
    gossip_ip: sys.gossipIp,
    gossip_port: sys.gossipPort,
    http_gateway_ip: sys.httpGatewayIp,
    http_gateway_port: sys.httpGatewayPort,
    ctl_gateway_ip: sys.ctlGatewayIp,
    ctl_gateway_port: sys.ctlGatewayPort,
  };
}

function toCensusConfig(c: ServiceConfigRumor): CensusServiceConfig {
  if (c.encrypted) return { incarnation: c.version, value: null, encrypted: true };
  const parsed = parseTomlBytes(c.config);
  return parsed.ok ? { incarnation: c.version, value: parsed.value } : { incarnation: c.version, value: null, error: parsed.error };
}

function toCensusFile(f: ServiceFileRumor): CensusServiceFile {
  const file: CensusServiceFile = { filename: f.filename, incarnation: f.version, body: Array.from(f.body) };
  if (f.encrypted) file.encrypted = true;
  return file;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** TOML bytes to a table; never throws. Empty bytes are an empty table. */
export function parseTomlBytes(bytes: Uint8Array): { ok: true; value: TomlValue } | { ok: false; error: string } {
  try {
    const value = parseToml(utf8.decode(bytes));
    // Deeper than this, the JSON views overflow the stack (`a.a.a…= 1`: smol-toml limits brackets only).
    if (nestsDeeperThan(value, MAX_TOML_DEPTH)) return { ok: false, error: `tables and arrays nest deeper than ${MAX_TOML_DEPTH} levels` };
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: err instanceof TypeError ? 'not valid UTF-8' : `not valid TOML: ${firstLine((err as Error).message)}` };
  }
}

/** How deep a config's tables and arrays may nest (the service's config merge allows as much). */
export const MAX_TOML_DEPTH = 1000;

/**
 * Whether the tables and arrays of `value` nest deeper than `limit` levels (`value` itself is
 * level 1). Iterative, so that it can be asked of any value without overflowing the stack.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 1 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { v, depth } = top;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(v) ? (v as unknown[]) : Object.values(v)) stack.push({ v: child, depth: depth + 1 });
  }
  return false;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
