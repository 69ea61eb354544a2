/**
 * Leader elections of service groups (`--topology leader`): Habitat's model — election rumors
 * with a term, the `suitability` hook, votes, quorum, only the candidate finishes — with a
 * **roster**, so that dead members never block an election (habitat-sh/habitat#1994, #5188)
 * while a minority partition still never elects (docs/protocol.md §16 is the specification;
 * this header is the argument).
 *
 * The tension. Habitat counts confirmed members in the population, so a group that loses
 * members can never reach quorum again. Counting only live members instead lets a minority
 * partition elect as soon as it has confirmed the others dead. The way out is to agree on who
 * counts: the election rumor carries the group's **roster**, and quorum is more than half of
 * the roster live (`view.ts`). Dead members leave the roster, so they stop counting; but only
 * through a change that a majority of the roster acknowledged, so a minority cannot shrink the
 * roster to itself.
 *
 * The rules, as this engine carries them out for each group it has joined:
 *
 * - **Bootstrap.** With no election rumor, a member stands at term 0 (above a tombstone's
 *   version) with the group members it sees live as roster.
 * - **Voting.** A member votes in a running election of its group by publishing its own
 *   candidacy at that term (votes: itself); the merge keeps the best candidate — higher
 *   suitability, then higher member id — and the union of the votes, as in Habitat.
 * - **Finishing.** Only the candidate finishes, when more than half of the roster and every
 *   live member of the roster and of the group have voted. The live-members rule makes the
 *   candidate the best of them: a vote reaches it only merged with candidacies no better than
 *   its own. The roster does not change when an election finishes.
 * - **New terms.** A member starts term + 1, standing itself, when the leader (or the candidate
 *   of a running election) is gone — confirmed, departed, unknown, or its service unloaded — and
 *   its view is settled: more than half of the roster alive (not merely suspect), none of it
 *   suspect. A minority partition sees the far side turn suspect one member after another, and
 *   waits. Gossip's word that the leader is confirmed is acted on at once only when this
 *   member held the leader suspect itself — its own suspicion ran out, or the word came while
 *   it ran (a member outside the group often confirms first) — after it learned of that leader
 *   and after its view was last unsettled; otherwise after it has stood `settleMs`: when a
 *   partition heals, each side hears the other's stale confirmations of members that are alive,
 *   and must not depose a live leader on them. A member that led the finished election stands
 *   with suitability 2^53 − 1, so a surviving leader is re-elected; so does a Supervisor that
 *   finds itself leader in its stored rumors when it joins a group (a restart), since its
 *   leadership may have passed on.
 * - **Two rumors.** A group's finished election and the election running to replace it are
 *   kept apart (`gossip/rumor.ts: electionSlot`), and a member votes in a running election only
 *   when it sees the leader gone, or to re-elect the sitting leader (Raft's pre-vote): a
 *   candidacy against a live leader never displaces it, and cannot finish. Its candidate
 *   withdraws it (a tombstone) once it has lacked quorum for `settleMs`, so that nothing is
 *   left to finish when a partition heals.
 * - **Stepping down** needs no rumor: every view of a roster without quorum is `no-quorum`
 *   without a leader (`view.ts`), the leader's own included. No rumor is ever sent for lack of
 *   quorum (habitat-sh/habitat#5893), and none that would not change the store.
 * - **Roster changes.** Only the leader, holding quorum, changes the roster, one member at a time:
 *   it removes a member that is gone (on the evidence a new term needs: gossip's word that a member
 *   it held alive is confirmed waits `settleMs`), else adds a group member that is alive and has
 *   acknowledged the current version (it runs elections). For each change it first opens an
 *   acknowledgement round — the finished election again at `rosterVersion` + 1, same roster, votes
 *   reset to itself — and makes the change (`rosterVersion` + 1 again) only once more than half of
 *   the roster has acknowledged that round; every member of the group acknowledges each finished
 *   version once, by adding its vote. So each change is made right after a fresh majority of the
 *   current roster stood by the leader, and any majority of a roster meets any majority of the next
 *   (Raft's single-server changes, Ongaro's thesis §4.1): no two disjoint sets of members can both
 *   hold quorum. A leader about to find itself in a minority, still counting the far side as
 *   suspect, hence live, cannot shrink the roster to its side. A group of 5 that loses 2 keeps
 *   quorum (3 of 5) and shrinks to 3 in two changes; 2 of 5 cut off by a partition can neither
 *   elect (2 of 5 votes) nor shrink (2 of 5 acknowledgements).
 * - **Stale candidates.** The merge keeps the roster of highest version among unfinished
 *   candidacies, and a member votes with the freshest roster it knows, so an election started
 *   from an old roster is decided over the newest one its voters hold (Raft's up-to-date check).
 *
 * The engine is pure and deterministic: it reads the rumor store, publishes rumors through a
 * callback and has no timers. Its owner calls `onEvent` with every gossip event and `tick`
 * every second or so (the Supervisor; `SimElections` in the simulator).
 */
import type { Logger, MemberId } from '../core/index.js';
import { MurmurError, nullLogger } from '../core/index.js';
import type { GossipEvent } from '../gossip/index.js';
import { canonicalElection, compareRosters, electionSlot, keyOf, mergeRumor, sortedIds } from '../gossip/index.js';
import type { ElectionRumor, Health, Rumor, Tombstone } from '../wire/index.js';
import type { ElectionSlots, ElectionView, GroupService } from './view.js';
import { activeRunning, hasQuorum, isLive, isMajorityOf, viewElections } from './view.js';

/** The suitability a member that led the previous term stands with (Habitat's u64::MAX). */
export const MAX_SUITABILITY = Number.MAX_SAFE_INTEGER;

/** What the engine reads of the rumor store (`GossipCore.store` fits). */
export interface StoreReader {
  get(key: string): { readonly rumor: Rumor } | undefined;
  values(): Iterable<{ readonly rumor: Rumor }>;
}

export interface ElectionsDeps {
  /** This member's id. */
  self: MemberId;
  /** The rumor store of this member's gossip core. */
  store: StoreReader;
  /** Gossips a rumor that starts here (`GossipNode.publish`, `Supervisor.publish`). */
  publish(rumor: ElectionRumor | Tombstone): void;
  /** The clock (ms), the gossip core's. */
  now(): number;
  /**
   * The `suitability` hook's value for `group`: called when this member stands in a new term
   * (once per term), and must answer at once (the Supervisor keeps the hook's last output).
   * Clamped to an integer in 0 … 2^53 − 2; 2^53 − 1 is the previous leader's. @default 0
   */
  suitability?: (group: string) => number;
  log?: Logger;
}

export interface ElectionsOptions {
  /** `election` (topology leader) or `election-update` (rolling updates). @default 'election' */
  kind?: ElectionRumor['kind'];
  /**
   * How long a leader that gossip says is confirmed must stay so before this member starts a
   * new term on that word alone, when it did not hold the leader suspect itself (ms). Only
   * then: after a kill -9 the members suspect the leader, and the first confirmation starts the
   * term at once. About the time a member falsely confirmed takes to hear of it and refute:
   * `reconnectIntervalMs`. @default 10000
   */
  settleMs?: number;
  /** Safety net: evaluations in one burst (a publish re-enters through its event). @default 1000 */
  maxEvaluationsPerBurst?: number;
}

interface Basis {
  roster: MemberId[];
  rosterVersion: number;
}

/** When the engine first saw a leader (or candidate) at a term: the clock, and its own count. */
interface Seen {
  id: MemberId;
  term: number;
  at: number;
  seq: number;
}

interface GroupState {
  readonly group: string;
  /** The last evaluation at which this member's view of the roster was not settled (see `settled`). */
  unsettled: { at: number; seq: number } | undefined;
  /** Since when this member's own candidacy has lacked quorum (see `withdraws`). */
  noQuorumSince: { term: number; at: number } | undefined;
  /** The acknowledgement round this member opened as leader: the version it published, and the change it is for. */
  round: { term: number; rosterVersion: number; member: MemberId } | undefined;
  /** True until this engine has checked a stored leadership of its own (see `evaluate`). */
  fresh: boolean;
  /** When this engine first saw the current leader, and the current candidate. */
  leaderSeen: Seen | undefined;
  candidateSeen: Seen | undefined;
  /** The hook's value for the term this member last stood in. */
  suitability: { term: number; value: number } | undefined;
  /** What was last logged about the group's view, so that each change is logged once. */
  logged: string;
  /** A candidate-slot tombstone seen with no finished election: its version, and since when. */
  retiredSeen: { version: number; at: number } | undefined;
}

export class Elections {
  private readonly self: MemberId;
  private readonly store: StoreReader;
  private readonly kind: ElectionRumor['kind'];
  private readonly log: Logger;
  private readonly maxBurst: number;
  private readonly groups = new Map<string, GroupState>();
  private readonly dirty = new Set<string>();
  private draining = false;
  private readonly settleMs: number;
  /** Counts events and evaluations, to order what this engine saw without relying on the clock. */
  private seq = 0;
  /**
   * When (`seq`) this member saw a member confirmed while it held it suspect itself: its own
   * suspicion ran out (event `member-confirmed`, local), or word of the confirmation came while
   * its suspicion still ran (another member's ran out first, e.g. one outside the group).
   */
  private readonly confirmedHere = new Map<MemberId, number>();
  /** Members this member holds suspect (event `member-suspect`, until alive, confirmed or removed). */
  private readonly suspectHere = new Set<MemberId>();
  /** Since when a member has been gone, continuously, as far as this engine has looked. */
  private readonly goneSince = new Map<MemberId, number>();

  constructor(
    private readonly deps: ElectionsDeps,
    opts: ElectionsOptions = {},
  ) {
    this.self = deps.self;
    this.store = deps.store;
    this.kind = opts.kind ?? 'election';
    this.maxBurst = opts.maxEvaluationsPerBurst ?? 1000;
    this.settleMs = opts.settleMs ?? 10_000;
    this.log = (deps.log ?? nullLogger).child({ component: this.kind });
  }

  /** Takes part in the elections of `group` (the service is loaded with `--topology leader`). */
  join(group: string): void {
    if (group.includes('\u0000')) throw new MurmurError('BAD_INPUT', 'a service group may not contain a NUL character');
    if (this.groups.has(group)) return;
    this.groups.set(group, { group, unsettled: undefined, noQuorumSince: undefined, round: undefined, fresh: true, leaderSeen: undefined, candidateSeen: undefined, suitability: undefined, logged: '', retiredSeen: undefined });
    this.touch(group);
  }

  /**
   * Stops taking part (the service was unloaded). Nothing is published: the tombstone of the
   * service rumor tells the others, who start a new term if this member led.
   */
  leave(group: string): void {
    this.groups.delete(group);
    this.dirty.delete(group);
  }

  joined(): string[] {
    return [...this.groups.keys()].sort();
  }

  /** For `GossipNode.onEvent`: member health and the group's rumors decide at once. */
  readonly onEvent = (event: GossipEvent): void => {
    this.seq++;
    switch (event.type) {
      case 'rumor-changed': {
        const r = event.rumor;
        if (r.kind === 'departure') this.touchAll();
        else if (r.kind === this.kind || r.kind === 'service') this.touchIfJoined(r.group);
        else if (r.kind === 'tombstone' && (r.target === this.kind || r.target === 'service')) this.touchIfJoined(r.group);
        break;
      }
      case 'member-confirmed':
        // Word of a confirmation while this member's own suspicion runs is as fresh as its own
        // running out: in a ring larger than the group, members outside the group often confirm
        // a dead leader first. A stale confirmation from the far side of a healed partition
        // arrives about a member held alive here, and waits for `settleMs` (`mayTakeAsGone`).
        if (event.local || this.suspectHere.has(event.member.id)) this.confirmedHere.set(event.member.id, this.seq);
        this.suspectHere.delete(event.member.id);
        this.touchAll();
        break;
      case 'member-suspect':
        this.suspectHere.add(event.member.id);
        this.touchAll();
        break;
      case 'member-alive':
        this.confirmedHere.delete(event.member.id);
        this.suspectHere.delete(event.member.id);
        this.goneSince.delete(event.member.id);
        this.touchAll();
        break;
      case 'member-removed':
        this.confirmedHere.delete(event.id);
        this.suspectHere.delete(event.id);
        this.goneSince.delete(event.id);
        this.touchAll();
        break;
      case 'member-departed':
        this.suspectHere.delete(event.member.id);
        this.touchAll();
        break;
      case 'member-joined':
        this.touchAll();
        break;
      default:
        break;
    }
  };

  /** The periodic check (about once a second): catches anything no event announced. */
  tick(): void {
    this.touchAll();
  }

  /** The election of `group` as this member sees it (joined or not). */
  status(group: string): ElectionView {
    const look = new GroupLook(this.store, group, this.self, this.groups.has(group));
    return viewElections(this.slots(group), (id) => look.live(id));
  }

  // ---------------------------------------------------------------- evaluation

  private touchIfJoined(group: string): void {
    if (this.groups.has(group)) this.touch(group);
  }

  private touchAll(): void {
    for (const group of this.groups.keys()) this.touch(group);
  }

  /** Marks a group for evaluation and evaluates until nothing is left (publishing re-enters here). */
  private touch(group: string): void {
    this.dirty.add(group);
    if (this.draining) return;
    this.draining = true;
    try {
      let burst = 0;
      for (let next = first(this.dirty); next !== undefined; next = first(this.dirty)) {
        this.dirty.delete(next);
        if (++burst > this.maxBurst) {
          this.log.warn('election evaluations do not settle; stopping this burst', { group: next });
          this.dirty.clear();
          break;
        }
        const state = this.groups.get(next);
        if (state) this.evaluate(state);
      }
    } finally {
      this.draining = false;
    }
  }

  private evaluate(g: GroupState): void {
    const now = this.deps.now();
    const seq = ++this.seq;
    const look = new GroupLook(this.store, g.group, this.self, true);
    const slots = this.slots(g.group);
    const { finished: f, nextTerm } = slots;
    const running = activeRunning(slots);
    this.report(g, slots, look);
    g.leaderSeen = seen(g.leaderSeen, f, now, seq);
    g.candidateSeen = seen(g.candidateSeen, running, now, seq);
    const roster = f?.roster ?? running?.roster;
    if (roster !== undefined && !this.settled(roster, look)) g.unsettled = { at: now, seq };
    // A tombstone in the candidate slot above the finished election is usually the retirement
    // (`retireCandidacies`) of an election finished elsewhere, arriving a moment before the
    // finished election itself: no new candidacy until that has had time to arrive.
    const retired = this.store.get(keyOf(this.kind, g.group, 'candidate'))?.rumor;
    if (retired?.kind === 'tombstone' && running === undefined && retired.version > (f?.term ?? -1) && f?.memberId !== this.self) {
      if (g.retiredSeen?.version !== retired.version) g.retiredSeen = { version: retired.version, at: now };
      if (now - g.retiredSeen.at < this.settleMs) {
        if (f !== undefined && f.memberId !== this.self && look.live(f.memberId)) this.acknowledge(g, f);
        return;
      }
    }
    if (f === undefined && running === undefined) {
      this.stand(g, nextTerm, { roster: this.bootstrapRoster(look), rosterVersion: 0 }, undefined);
      return;
    }
    const leaderLive = f !== undefined && look.live(f.memberId);
    if (f !== undefined) this.retireCandidacies(g, f);
    if (g.fresh) {
      // A leadership of ours found in the store when we join may be stale (we were killed and
      // restarted, or unloaded and loaded again): stand again in a new term, once we can.
      if (f === undefined || f.memberId !== this.self || running !== undefined) g.fresh = false;
      else if (this.aliveQuorum(f.roster, look)) {
        g.fresh = false;
        this.log.info('standing again as leader after joining', { group: g.group, term: nextTerm });
        this.stand(g, nextTerm, this.basisFor(f, undefined), f);
        return;
      } else return;
    }
    if (running !== undefined) {
      // Take part only when the leader is gone, or to re-elect the sitting leader (pre-vote).
      const supports = f === undefined || !leaderLive || f.memberId === this.self || running.memberId === f.memberId;
      if (supports) {
        if (running.memberId === this.self) {
          if (this.canFinish(running, look)) {
            g.round = undefined;
            g.noQuorumSince = undefined;
            this.log.info('election finished', { group: g.group, term: running.term, votes: running.votes.length });
            this.publish(g, { ...running, status: 'finished' });
            this.retireCandidacies(g, { ...running, status: 'finished' });
            return;
          }
          if (this.withdraws(g, f, running, look, now)) return;
        } else g.noQuorumSince = undefined;
        const basis = this.basisFor(f, running);
        if (!running.votes.includes(this.self) || compareRosters(basis, running) > 0) {
          this.stand(g, running.term, basis, f);
          return;
        }
        if (!leaderLive && !look.live(running.memberId) && this.mayTakeAsGone(g, running.memberId, g.candidateSeen, look, now)) {
          this.newTerm(g, f?.roster ?? running.roster, nextTerm, this.basisFor(f, running), f, 'the candidate is gone', look);
          return;
        }
      }
      if (!leaderLive) return;
    }
    if (f === undefined) return;
    if (f.memberId === this.self) this.lead(g, f, look, now);
    else if (!leaderLive) {
      if (this.mayTakeAsGone(g, f.memberId, g.leaderSeen, look, now)) this.newTerm(g, f.roster, nextTerm, this.basisFor(f, undefined), f, 'the leader is gone', look);
    } else this.acknowledge(g, f);
  }

  /** Acknowledges the finished election `f` (adds this member's vote), once. */
  private acknowledge(g: GroupState, f: ElectionRumor): void {
    if (!f.votes.includes(this.self)) this.publish(g, { ...f, votes: [this.self] });
  }

  /**
   * A finished election retires the candidacies of its term and below (a tombstone at its term
   * in the candidate slot). Left in place, the running rumor it finished from keeps its votes, and
   * a candidacy that comes late to that term — a restarted ex-leader that stands again at its
   * stored term + 1, with the largest suitability, from behind a partition — merges with it,
   * takes those votes (the merge keeps the better candidate and the union of the votes), and
   * finishes the term a second time with another leader (found by the chaos suite, seed 2). The
   * candidate publishes the tombstone with its finished election, and every member that holds
   * the finished election and an older candidacy does too, so that no such rumor outlives the
   * news of the finish anywhere.
   */
  private retireCandidacies(g: GroupState, f: ElectionRumor): void {
    const held = this.store.get(keyOf(this.kind, g.group, 'candidate'))?.rumor;
    if (held?.kind !== this.kind || held.term > f.term) return;
    this.deps.publish({ kind: 'tombstone', target: this.kind, group: g.group, id: 'candidate', version: f.term });
  }

  /**
   * A candidate whose election has lacked quorum for `settleMs` withdraws it (a tombstone in its
   * place), so that no election is left behind a healed partition to be finished by members
   * that, for a moment, hear the other side's stale word that their leader is confirmed. Only
   * an election that would replace a finished one: a group's first stays until it finishes.
   */
  private withdraws(g: GroupState, f: ElectionRumor | undefined, running: ElectionRumor, look: GroupLook, now: number): boolean {
    if (f === undefined || hasQuorum(running.roster, (id) => look.live(id))) {
      g.noQuorumSince = undefined;
      return false;
    }
    const since = g.noQuorumSince?.term === running.term ? g.noQuorumSince.at : now;
    g.noQuorumSince = { term: running.term, at: since };
    if (now - since < this.settleMs) return false;
    g.noQuorumSince = undefined;
    this.log.info('withdrawing the election: no quorum', { group: g.group, term: running.term });
    this.deps.publish({ kind: 'tombstone', target: this.kind, group: g.group, id: 'candidate', version: running.term });
    return true;
  }

  /**
   * Whether a member that is not live here may be acted upon as gone — a leader (or candidate)
   * replaced by a new term started here, a roster member taken out of the roster: at once when it
   * departed, is unknown or unloaded its service; when it is confirmed, only on evidence newer
   * than both this member's knowledge of it (`since`: when it first saw that leader or
   * candidate) and the last time its view was unsettled (`settled`) — a confirmation while it
   * held the member suspect itself (`confirmedHere`), or the confirmation standing `settleMs` in
   * a settled view. Evidence from before a partition healed, or gossip's lingering word about a
   * member that has just restarted, is so never acted upon.
   */
  private mayTakeAsGone(g: GroupState, id: MemberId, since: Seen | undefined, look: GroupLook, now: number): boolean {
    if (look.live(id)) {
      this.goneSince.delete(id);
      return false;
    }
    const health = look.health(id);
    if (health === undefined || health === 'departed' || look.service(id) === 'gone') return true;
    const here = this.confirmedHere.get(id);
    if (here !== undefined && here > (since?.seq ?? 0) && here > (g.unsettled?.seq ?? 0)) return true;
    let gone = this.goneSince.get(id);
    if (gone === undefined) this.goneSince.set(id, (gone = now));
    return now - Math.max(gone, since?.at ?? Number.NEGATIVE_INFINITY, g.unsettled?.at ?? Number.NEGATIVE_INFINITY) >= this.settleMs;
  }

  /**
   * Starts a new term when more than half of `roster` is alive here — not merely live — and none
   * of it is suspect: members of a minority partition see the far side turn suspect one member
   * after another, and a term they cannot finish would only be noise, and a danger when the
   * partition heals. A minority stays silent (habitat-sh/habitat#5893).
   */
  private newTerm(g: GroupState, roster: readonly MemberId[], term: number, basis: Basis, f: ElectionRumor | undefined, why: string, look: GroupLook): void {
    if (!this.settled(roster, look)) return;
    this.log.info('starting a new election', { group: g.group, term, reason: why });
    this.stand(g, term, basis, f);
  }

  private aliveQuorum(roster: readonly MemberId[], look: GroupLook): boolean {
    return hasQuorum(roster, (id) => look.live(id) && (id === this.self || look.health(id) === 'alive'));
  }

  /**
   * More than half of the roster is alive here and none of it is suspect: a view a new term may
   * be started from. A partition shows the far side turning suspect one member after another;
   * while it does, this member waits.
   */
  private settled(roster: readonly MemberId[], look: GroupLook): boolean {
    return this.aliveQuorum(roster, look) && !roster.some((id) => id !== this.self && look.health(id) === 'suspect');
  }

  /**
   * Publishes this member's candidacy (and so its vote) at `term`. The leader of the finished
   * election `f` stands with the largest suitability, so that a leader still alive is elected again.
   */
  private stand(g: GroupState, term: number, basis: Basis, f: ElectionRumor | undefined): void {
    if (term > Number.MAX_SAFE_INTEGER) return;
    const suitability = f !== undefined && f.memberId === this.self ? MAX_SUITABILITY : this.hookSuitability(g, term);
    this.publish(g, {
      kind: this.kind,
      group: g.group,
      memberId: this.self,
      term,
      suitability,
      status: 'running',
      votes: [this.self],
      roster: sortedIds(basis.roster),
      rosterVersion: basis.rosterVersion,
    });
  }

  /** The candidate finishes when a majority of the roster and every live member voted. */
  private canFinish(e: ElectionRumor, look: GroupLook): boolean {
    const live = (id: MemberId): boolean => look.live(id);
    if (e.roster.length === 0 || !hasQuorum(e.roster, live) || !isMajorityOf(e.votes, e.roster)) return false;
    const votes = new Set(e.votes);
    for (const id of e.roster) if (!votes.has(id) && live(id)) return false;
    for (const id of look.members()) if (!votes.has(id) && live(id)) return false;
    return true;
  }

  /**
   * The leader's duties: keep the roster to the group's live members, one member per change,
   * each change made only right after more than half of the roster acknowledged the leader in
   * an acknowledgement round (the same roster at the next version, votes reset).
   */
  private lead(g: GroupState, f: ElectionRumor, look: GroupLook, now: number): void {
    const live = (id: MemberId): boolean => look.live(id);
    if (!hasQuorum(f.roster, live)) return; // stepped down in every view; nothing to say
    const roster = new Set(f.roster);
    // A member leaves on the same evidence that deposes a leader: a member that has just
    // restarted is often confirmed again for a moment by gossip's lingering word, and a roster
    // shrunk on it loses quorum if another member is lost before it grows back.
    const wanted = (id: MemberId): boolean =>
      roster.has(id) ? id !== this.self && !live(id) && this.mayTakeAsGone(g, id, undefined, look, now) : look.service(id) === 'leader' && look.health(id) === 'alive';
    const open = g.round !== undefined && g.round.term === f.term && g.round.rosterVersion === f.rosterVersion && wanted(g.round.member) ? g.round : undefined;
    // Remove a gone member first; add a joiner only once it acknowledged a version (it runs
    // elections): so only voters need looking at, never the whole store.
    const member = open?.member ?? f.roster.find((id) => wanted(id)) ?? sortedIds(f.votes).find((id) => !roster.has(id) && wanted(id));
    if (member === undefined || f.rosterVersion >= Number.MAX_SAFE_INTEGER - 1) {
      g.round = undefined;
      return;
    }
    if (open === undefined) {
      g.round = { term: f.term, rosterVersion: f.rosterVersion + 1, member };
      this.publish(g, { ...f, rosterVersion: f.rosterVersion + 1, votes: [this.self] });
      return;
    }
    if (!isMajorityOf(f.votes, f.roster)) return; // waiting for acknowledgements
    g.round = undefined;
    const removed = roster.has(member);
    const next = sortedIds(removed ? f.roster.filter((id) => id !== member) : [...f.roster, member]);
    this.log.info('roster changed', { group: g.group, term: f.term, rosterVersion: f.rosterVersion + 1, size: next.length, [removed ? 'removed' : 'added']: member.slice(0, 8) });
    this.publish(g, { ...f, roster: next, rosterVersion: f.rosterVersion + 1, votes: [this.self] });
  }

  // ---------------------------------------------------------------- helpers

  /** Publishes `rumor` when it would change the store; the same news is never sent twice. */
  private publish(g: GroupState, rumor: ElectionRumor): void {
    const held = this.store.get(keyOf(this.kind, g.group, electionSlot(rumor.status)))?.rumor;
    if (!mergeRumor(held, rumor).changed) return;
    this.deps.publish(canonicalElection(rumor));
  }

  /** The group's two election rumors, and the term a new candidacy takes (above both, and above tombstones). */
  private slots(group: string): ElectionSlots & { nextTerm: number } {
    const read = (slot: 'election' | 'candidate'): { rumor: ElectionRumor | undefined; floor: number } => {
      const r = this.store.get(keyOf(this.kind, group, slot))?.rumor;
      if (r?.kind === this.kind) return { rumor: r, floor: r.term + 1 };
      if (r?.kind === 'tombstone') return { rumor: undefined, floor: r.version + 1 };
      return { rumor: undefined, floor: 0 };
    };
    const finished = read('election');
    const running = read('candidate');
    return {
      finished: finished.rumor?.status === 'finished' ? finished.rumor : undefined,
      running: running.rumor !== undefined && running.rumor.status !== 'finished' ? running.rumor : undefined,
      nextTerm: Math.max(finished.floor, running.floor),
    };
  }

  /**
   * The roster to stand with: of the finished election's and the running one's, the one of
   * higher version (the finished one on a tie), so that an election started from an old roster
   * is decided over the newest one its voters hold.
   */
  private basisFor(f: ElectionRumor | undefined, running: ElectionRumor | undefined): Basis {
    const pick = f === undefined ? running : running === undefined || running.rosterVersion <= f.rosterVersion ? f : running;
    return { roster: sortedIds(pick?.roster ?? []), rosterVersion: pick?.rosterVersion ?? 0 };
  }

  /** The group members this member sees live, itself included. */
  private bootstrapRoster(look: GroupLook): MemberId[] {
    return sortedIds([this.self, ...look.members().filter((id) => look.live(id))]);
  }

  private hookSuitability(g: GroupState, term: number): number {
    if (g.suitability?.term === term) return g.suitability.value;
    let value = 0;
    try {
      const raw = this.deps.suitability?.(g.group) ?? 0;
      value = Number.isFinite(raw) ? Math.min(Math.max(0, Math.floor(raw)), MAX_SUITABILITY - 1) : 0;
    } catch (err) {
      this.log.warn('the suitability hook failed; standing with 0', { group: g.group, error: (err as Error).message });
    }
    g.suitability = { term, value };
    return value;
  }

  /** Logs the group's view when it changes (status, leader, term). */
  private report(g: GroupState, slots: ElectionSlots, look: GroupLook): void {
    const v = viewElections(slots, (id) => look.live(id));
    const text = `${v.status}/${v.leaderId ?? ''}/${v.term ?? ''}`;
    if (text === g.logged) return;
    g.logged = text;
    const fields = { group: g.group, term: v.term, roster: v.roster.length };
    if (v.status === 'finished') this.log.info(v.leaderId === this.self ? 'elected leader' : 'following the leader', { ...fields, leader: (v.leaderId ?? '').slice(0, 8) });
    else if (v.status === 'no-quorum') this.log.info('no quorum', { ...fields, live: v.roster.filter((id) => look.live(id)).length });
    else if (v.status === 'running') this.log.info('election in progress', { ...fields, candidate: (v.candidateId ?? '').slice(0, 8) });
  }
}

/** One group in one member's store: member health, who runs the group, who counts as live. */
class GroupLook {
  private membersCache: MemberId[] | undefined;

  constructor(
    private readonly store: StoreReader,
    private readonly group: string,
    private readonly self: MemberId,
    private readonly joined: boolean,
  ) {}

  health(id: MemberId): Health | undefined {
    if (this.store.get(keyOf('departure', '', id)) !== undefined) return 'departed';
    const r = this.store.get(keyOf('member', '', id))?.rumor;
    return r?.kind === 'member' ? r.health : undefined;
  }

  service(id: MemberId): GroupService {
    const r = this.store.get(keyOf('service', this.group, id))?.rumor;
    if (r === undefined) return 'absent';
    return r.kind === 'service' && r.topology === 'leader' ? 'leader' : 'gone';
  }

  /** This member counts as live in a group it has joined, whatever its rumors say yet. */
  live(id: MemberId): boolean {
    if (id === this.self && this.joined) return true;
    return isLive(this.health(id), this.service(id));
  }

  /** The group's members (service rumors with topology `leader`), sorted; this member when joined. */
  members(): MemberId[] {
    if (this.membersCache) return this.membersCache;
    const ids = new Set<MemberId>(this.joined ? [this.self] : []);
    for (const { rumor } of this.store.values()) {
      if (rumor.kind === 'service' && rumor.group === this.group && rumor.topology === 'leader') ids.add(rumor.memberId);
    }
    this.membersCache = [...ids].sort();
    return this.membersCache;
  }
}

/** When the engine first saw `e`'s candidate at `e`'s term (kept while they stay the same). */
function seen(prev: Seen | undefined, e: ElectionRumor | undefined, at: number, seq: number): Seen | undefined {
  if (e === undefined) return undefined;
  return prev !== undefined && prev.id === e.memberId && prev.term === e.term ? prev : { id: e.memberId, term: e.term, at, seq };
}

function first<T>(set: Set<T>): T | undefined {
  for (const v of set) return v;
  return undefined;
}
