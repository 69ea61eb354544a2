/**
 * What a chaos run (issue 7) must never break, checked from the outside: the observer reads only
 * each host's HTTP gateway (`/services`, `/census`, `/butterfly`, shapes in docs/http.md) and the
 * files on the host's disk, plus what the suite itself did (killed, paused, partitioned) — never a
 * Supervisor's insides. This module is pure: the lab runner takes snapshots, this judges them.
 *
 * Checks, each returning structured `Violation`s with a human message:
 * - `checkSnapshots` over the whole run, in snapshot order:
 *   - `version-regressed` / `lost-on-restart`: a host never reports a lower config version or
 *     file version for a group than one it reported before; across a restart of its Supervisor
 *     (another pid) the same drop is `lost-on-restart`. A group not (yet) loaded is not a drop.
 *   - `unexpected-exit`: a Supervisor whose process is gone although the suite did not kill it.
 *   - `two-leaders`: two members named leader of one group in one election term by hosts on the
 *     majority side of the partition in force (the whole cluster when there is none), over all
 *     snapshots. The term is the finished election's `term` from `/butterfly`; a view without it
 *     is not counted.
 * - `checkConvergence` on one snapshot after the last heal: every live member of each group runs
 *   the highest published config version and file versions, holds the published file contents,
 *   and each leader group has exactly one leader, a live member, that every live member agrees on.
 *   The runner polls it until it passes or the bound (`CONVERGENCE_BOUND_MS`) runs out.
 */
import { configBody, fileBody, publishedBy, type ChaosGroup, type HostIndex, type Schedule } from './schedule.js';

/**
 * How long after the last heal (the start of the quiet tail) every live member must have
 * converged: a restarted Supervisor rejoins (≈ 2 s), a config or file rumor spreads in
 * O(log n) gossip rounds (< 2 s for 7 members), a leader election finishes (≈ 5 s), and a
 * service restarts on its new config (≈ 2 s); the rest is room for a slow CI machine.
 */
export const CONVERGENCE_BOUND_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Snapshots: the parts of the gateways' JSON we read (docs/http.md)

/** An element of `GET /services`, the fields we read. */
export interface ServicesEntry {
  service_group: string;
  config_version: number;
  files: { filename: string; version: number }[];
}

/** `GET /census`, the fields we read. */
export interface CensusJson {
  census_groups: Record<string, { leader_id: string | null; election_status: string }>;
}

/** `GET /butterfly`, the fields we read: each group's finished election and its term. */
export interface ButterflyJson {
  election?: { list: Record<string, { election?: { member_id: string; term: number; status: string } }> };
}

/** One host at one moment. */
export interface HostObservation {
  host: HostIndex;
  /** What the suite has done to it: `killed` (SIGKILL, not restarted yet), `paused` (SIGSTOP). */
  expected: 'running' | 'killed' | 'paused';
  /** Whether its Supervisor process exists (the lab's pid, `kill -0`). */
  processAlive: boolean;
  /** The Supervisor's pid, so that a restart is seen; absent when unknown. */
  pid?: number;
  /** The Supervisor's member id (`/census` `local_member_id`), to tell which host a leader is. */
  memberId?: string;
  /** The gateway's answers; absent when it did not answer. */
  services?: ServicesEntry[];
  census?: CensusJson;
  butterfly?: ButterflyJson;
  /** Group → file name → contents of the file on the host's disk (the service's files dir). */
  fileContents?: Record<string, Record<string, string>>;
  /** Group → the config body as rendered on disk (`config_body` of the service), when read. */
  configContents?: Record<string, string>;
}

export interface Snapshot {
  /** Milliseconds from the start of the run. */
  atMs: number;
  /** The partition in force when it was taken (absent: none). */
  partition?: { a: HostIndex[]; b: HostIndex[] };
  hosts: HostObservation[];
}

export type ViolationCode =
  | 'version-regressed'
  | 'lost-on-restart'
  | 'unexpected-exit'
  | 'two-leaders'
  | 'missing-service'
  | 'config-not-converged'
  | 'file-not-converged'
  | 'file-contents'
  | 'no-leader'
  | 'leader-disagreement';

export interface Violation {
  code: ViolationCode;
  atMs: number;
  host?: HostIndex;
  group?: string;
  message: string;
}

// ---------------------------------------------------------------------------------------------
// Over the whole run

/** Every violation of the run-long invariants in `snapshots` (in time order). */
export function checkSnapshots(schedule: Schedule, snapshots: readonly Snapshot[]): Violation[] {
  return [...checkMonotonic(snapshots), ...checkExits(snapshots), ...checkLeaders(schedule, snapshots)];
}

/** `version-regressed` and `lost-on-restart`: applied versions never go down on a host. */
export function checkMonotonic(snapshots: readonly Snapshot[]): Violation[] {
  const out: Violation[] = [];
  /** `host group what` → the highest version seen, with when and under which pid. */
  const highest = new Map<string, { version: number; atMs: number; pid: number | undefined }>();
  for (const snap of snapshots) {
    for (const h of snap.hosts) {
      for (const s of h.services ?? []) {
        const seen: [string, number][] = [['config', s.config_version], ...s.files.map((f): [string, number] => [`file ${f.filename}`, f.version])];
        for (const [what, version] of seen) {
          const key = `${h.host} ${s.service_group} ${what}`;
          const before = highest.get(key);
          if (before === undefined || version > before.version) {
            highest.set(key, { version, atMs: snap.atMs, pid: h.pid });
          } else if (version < before.version) {
            const restarted = before.pid !== undefined && h.pid !== undefined && before.pid !== h.pid;
            out.push({
              code: restarted ? 'lost-on-restart' : 'version-regressed',
              atMs: snap.atMs,
              host: h.host,
              group: s.service_group,
              message:
                `host ${h.host} ${s.service_group}: ${what} version ${version} at ${snap.atMs} ms, ` +
                `below ${before.version} applied at ${before.atMs} ms` +
                (restarted ? ` (lost across the restart from pid ${before.pid} to ${h.pid})` : ''),
            });
          }
        }
      }
    }
  }
  return out;
}

/** `unexpected-exit`: a Supervisor gone that the suite did not kill. Reported once per exit. */
export function checkExits(snapshots: readonly Snapshot[]): Violation[] {
  const out: Violation[] = [];
  const reported = new Set<string>();
  for (const snap of snapshots) {
    for (const h of snap.hosts) {
      if (h.expected === 'killed' || h.processAlive) continue;
      const key = `${h.host} ${h.pid ?? '?'}`;
      if (reported.has(key)) continue;
      reported.add(key);
      out.push({
        code: 'unexpected-exit',
        atMs: snap.atMs,
        host: h.host,
        message: `host ${h.host}: the Supervisor${h.pid === undefined ? '' : ` (pid ${h.pid})`} exited at ${snap.atMs} ms; the suite did not kill it (${h.expected})`,
      });
    }
  }
  return out;
}

/** The hosts on the majority side of `snap`'s partition (every host when there is none). */
export function majoritySide(snap: Snapshot): Set<HostIndex> {
  const all = snap.hosts.map((h) => h.host);
  if (snap.partition === undefined) return new Set(all);
  const { a, b } = snap.partition;
  if (a.length === b.length) return new Set();
  return new Set(a.length > b.length ? a : b);
}

/** `two-leaders`: at most one leader per group and term, as the majority side sees it. */
export function checkLeaders(schedule: Schedule, snapshots: readonly Snapshot[]): Violation[] {
  const out: Violation[] = [];
  const leaderGroups = schedule.groups.filter((g) => g.topology === 'leader');
  /** `group term` → leader id → first seen (host, time). */
  const leaders = new Map<string, Map<string, { host: HostIndex; atMs: number }>>();
  for (const snap of snapshots) {
    const majority = majoritySide(snap);
    for (const h of snap.hosts) {
      if (!majority.has(h.host)) continue;
      for (const g of leaderGroups) {
        const view = leaderView(h, g.name);
        if (view === undefined) continue;
        const key = `${g.name} ${view.term}`;
        const seen = leaders.get(key) ?? new Map<string, { host: HostIndex; atMs: number }>();
        leaders.set(key, seen);
        if (seen.has(view.leaderId)) continue;
        const other = [...seen.entries()][0];
        seen.set(view.leaderId, { host: h.host, atMs: snap.atMs });
        if (other !== undefined) {
          out.push({
            code: 'two-leaders',
            atMs: snap.atMs,
            host: h.host,
            group: g.name,
            message:
              `${g.name} term ${view.term}: host ${h.host} names ${view.leaderId} leader at ${snap.atMs} ms, ` +
              `host ${other[1].host} named ${other[0]} at ${other[1].atMs} ms (both on the majority side)`,
          });
        }
      }
    }
  }
  return out;
}

/** The leader `h` sees for `group` with its term, when its election is finished and the term known. */
function leaderView(h: HostObservation, group: string): { leaderId: string; term: number } | undefined {
  const c = h.census?.census_groups[group];
  if (c === undefined || c.election_status !== 'ElectionFinished' || c.leader_id === null) return undefined;
  const term = h.butterfly?.election?.list[group]?.election?.term;
  return term === undefined ? undefined : { leaderId: c.leader_id, term };
}

// ---------------------------------------------------------------------------------------------
// After the last heal

/**
 * Every way `snap` falls short of convergence on what `schedule` published: `[]` once every live
 * member of every group runs the newest config and files, and every leader group has one leader.
 * Live: the suite has not killed or paused it, and its process exists.
 */
export function checkConvergence(schedule: Schedule, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  const published = publishedBy(schedule);
  const byHost = new Map(snap.hosts.map((h) => [h.host, h]));
  const bad = (code: ViolationCode, group: string, host: HostIndex | undefined, message: string): void =>
    void out.push({ code, atMs: snap.atMs, group, ...(host === undefined ? {} : { host }), message });

  for (const g of schedule.groups) {
    const live = g.members.map((m) => byHost.get(m)).filter((h): h is HostObservation => h !== undefined && h.expected === 'running' && h.processAlive);
    const wantConfig = published.config.get(g.name);
    const wantFiles = published.files.get(g.name) ?? new Map<string, number>();
    for (const h of live) {
      const s = h.services?.find((x) => x.service_group === g.name);
      if (s === undefined) {
        bad('missing-service', g.name, h.host, `host ${h.host}: ${g.name} is not in its /services`);
        continue;
      }
      if (wantConfig !== undefined && s.config_version !== wantConfig) {
        bad('config-not-converged', g.name, h.host, `host ${h.host} ${g.name}: config version ${s.config_version}, want ${wantConfig}`);
      }
      const rendered = h.configContents?.[g.name];
      if (wantConfig !== undefined && rendered !== undefined && rendered !== configBody(g.name, wantConfig)) {
        bad('config-not-converged', g.name, h.host, `host ${h.host} ${g.name}: the config on disk is not version ${wantConfig}'s`);
      }
      for (const [filename, version] of wantFiles) {
        const have = s.files.find((f) => f.filename === filename)?.version ?? 0;
        if (have !== version) bad('file-not-converged', g.name, h.host, `host ${h.host} ${g.name}: file ${filename} version ${have}, want ${version}`);
        const contents = h.fileContents?.[g.name]?.[filename];
        if (contents !== undefined && contents !== fileBody(g.name, filename, version)) {
          bad('file-contents', g.name, h.host, `host ${h.host} ${g.name}: ${filename} on disk is not version ${version}'s contents`);
        }
      }
    }
    if (g.topology === 'leader') out.push(...checkOneLeader(g, live, snap.atMs));
  }
  return out;
}

/** `no-leader` / `leader-disagreement`: every live member names the same live leader. */
function checkOneLeader(g: ChaosGroup, live: readonly HostObservation[], atMs: number): Violation[] {
  if (live.length === 0) return [];
  const named = new Map<string, HostIndex[]>();
  const none: HostIndex[] = [];
  for (const h of live) {
    const c = h.census?.census_groups[g.name];
    if (c === undefined || c.election_status !== 'ElectionFinished' || c.leader_id === null) none.push(h.host);
    else named.set(c.leader_id, [...(named.get(c.leader_id) ?? []), h.host]);
  }
  const out: Violation[] = [];
  if (none.length > 0) {
    out.push({ code: 'no-leader', atMs, group: g.name, message: `${g.name}: no finished election at host(s) ${none.join(', ')}` });
  }
  if (named.size > 1) {
    const who = [...named].map(([id, hosts]) => `${id} (hosts ${hosts.join(', ')})`).join(' vs ');
    out.push({ code: 'leader-disagreement', atMs, group: g.name, message: `${g.name}: live members name different leaders: ${who}` });
  }
  const liveIds = new Set(live.map((h) => h.memberId).filter((id) => id !== undefined));
  for (const id of named.keys()) {
    if (liveIds.size === live.length && !liveIds.has(id)) {
      out.push({ code: 'no-leader', atMs, group: g.name, message: `${g.name}: the leader ${id} is not a live member` });
    }
  }
  return out;
}

/** Violations as lines, for a failing run's report. */
export function formatViolations(vs: readonly Violation[]): string {
  return vs.map((v) => `[${v.code}] ${v.atMs} ms: ${v.message}`).join('\n');
}
