/**
 * What a group's election rumors mean to one member: the status, the leader and whether the
 * roster holds quorum in this member's view of the ring. A group holds two (`viewElections`):
 * its finished election, shown while its leader is live here, and the election running to
 * replace it, shown once that leader is gone. Pure; the census (`/census`, templates'
 * `svc.leader` and `svc.election_is_*`) and the election engine read elections only through it,
 * so that both always tell the same story.
 *
 * Quorum is counted over the roster the rumor carries (`engine.ts`): more than half of its
 * members must be live here — alive or suspect, and not gone from the group (service removed,
 * or another topology).
 * A finished election whose roster has lost quorum here is shown as `no-quorum` without a
 * leader: the leader of a minority partition steps down in every view of that partition without
 * a single packet being sent (habitat-sh/habitat#5893).
 */
import type { MemberId } from '../core/index.js';
import type { ElectionRumor, Health } from '../wire/index.js';

/** Habitat's `ElectionStatus`, lower case; `none` when the group has no election rumor. */
export type ElectionState = 'none' | 'running' | 'no-quorum' | 'finished';

export interface ElectionView {
  status: ElectionState;
  /** The leader: set only when the election is finished and its roster holds quorum here. */
  leaderId: MemberId | null;
  /** The candidate of a running election, or the leader a finished one names (quorum or not). */
  candidateId: MemberId | null;
  term: number | null;
  /** Sorted, without repeats. */
  roster: MemberId[];
  rosterVersion: number;
  /** More than half of the roster is live here (false without an election). */
  quorum: boolean;
  /** Sorted, without repeats. */
  votes: MemberId[];
}

/**
 * A member's part in a group as this member's store shows it: `leader` (a service rumor with
 * topology `leader`), `gone` (its service rumor was removed by a tombstone, or runs another
 * topology) or `absent` (no rumor about it here, e.g. not synced yet).
 */
export type GroupService = 'leader' | 'gone' | 'absent';

/** A roster member counts toward quorum when alive or suspect and not gone from the group. */
export function isLive(health: Health | undefined, service: GroupService): boolean {
  return (health === 'alive' || health === 'suspect') && service !== 'gone';
}

/** More than half of the roster's (distinct) members are live. An empty roster has no quorum to lose. */
export function hasQuorum(roster: readonly MemberId[], live: (id: MemberId) => boolean): boolean {
  const members = new Set(roster);
  if (members.size === 0) return true;
  let n = 0;
  for (const id of members) if (live(id)) n++;
  return n * 2 > members.size;
}

/** How many of `ids` are in `roster` is more than half of the roster. */
export function isMajorityOf(ids: readonly MemberId[], roster: readonly MemberId[]): boolean {
  const members = new Set(roster);
  const counted = new Set(ids.filter((id) => members.has(id)));
  return counted.size * 2 > members.size;
}

const NONE: ElectionView = { status: 'none', leaderId: null, candidateId: null, term: null, roster: [], rosterVersion: 0, quorum: false, votes: [] };

/**
 * A group's two election rumors (`gossip/rumor.ts: electionSlot`): the finished election, and
 * the running one, which counts only while its term is above the finished one's.
 */
export interface ElectionSlots {
  finished: ElectionRumor | undefined;
  running: ElectionRumor | undefined;
}

/** The running election when it is newer than the finished one (an election in progress). */
export function activeRunning(slots: ElectionSlots): ElectionRumor | undefined {
  const { finished, running } = slots;
  return running !== undefined && (finished === undefined || running.term > finished.term) ? running : undefined;
}

/**
 * The view of a group's elections for a member that sees `live`: the finished election while
 * its leader is live here, else the election running to replace it (if any), else the finished
 * one still. So an election held to re-elect a live leader, or one that a cut-off minority
 * started and cannot finish, never hides the leader.
 */
export function viewElections(slots: ElectionSlots, live: (id: MemberId) => boolean): ElectionView {
  const running = activeRunning(slots);
  const finished = slots.finished;
  if (running !== undefined && (finished === undefined || !live(finished.memberId))) return viewElection(running, live);
  return viewElection(finished, live);
}

/** The view of one election rumor (absent: none) for a member that sees `live`. */
export function viewElection(rumor: ElectionRumor | undefined, live: (id: MemberId) => boolean): ElectionView {
  if (rumor === undefined) return { ...NONE };
  const roster = [...new Set(rumor.roster)].sort();
  const quorum = hasQuorum(roster, live);
  const finished = rumor.status === 'finished';
  const status: ElectionState = !quorum || rumor.status === 'no-quorum' ? 'no-quorum' : finished ? 'finished' : 'running';
  return {
    status,
    leaderId: status === 'finished' ? rumor.memberId : null,
    candidateId: rumor.memberId,
    term: rumor.term,
    roster,
    rosterVersion: rumor.rosterVersion,
    quorum,
    votes: [...new Set(rumor.votes)].sort(),
  };
}

/**
 * Whether a service of a `leader` topology may run its hooks, with Habitat's log line for it
 * (Habitat `components/sup/src/manager/service.rs`): hooks wait until the election is finished.
 */
export function hookGate(view: Pick<ElectionView, 'status' | 'leaderId'>): { run: boolean; message: string } {
  switch (view.status) {
    case 'none':
      return { run: false, message: "Waiting to execute hooks; election hasn't started" };
    case 'running':
      return { run: false, message: 'Waiting to execute hooks; election in progress.' };
    case 'no-quorum':
      return { run: false, message: 'Waiting to execute hooks; election in progress, and we have no quorum.' };
    case 'finished':
      return { run: true, message: `Executing hooks; ${view.leaderId ?? ''} is the leader` };
  }
}
