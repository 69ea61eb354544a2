/**
 * The election engine driven by hand: a rumor store, a clock and the rumors it publishes, one
 * rule at a time. (Whole rings of engines are in `sim-elections.test.ts`.)
 */
import { describe, expect, test } from 'vitest';
import type { MemberId } from '../../src/core/index.js';
import type { ElectionSlots } from '../../src/election/index.js';
import { Elections, MAX_SUITABILITY, hookGate, viewElections } from '../../src/election/index.js';
import { RumorStore, keyOf } from '../../src/gossip/index.js';
import type { ElectionRumor, Health, Rumor, Tombstone } from '../../src/wire/index.js';
import { service } from '../census/fixtures.js';
import { member } from '../gossip/fixtures.js';

const GROUP = 'redis.prod';
const [A, B, C, D, E] = ['a', 'b', 'c', 'd', 'e'].map((x) => x.repeat(32)) as [MemberId, MemberId, MemberId, MemberId, MemberId];

/** One member's engine over a store it shares with the test, which plays the rest of the ring. */
class Harness {
  readonly store = new RumorStore({ buckets: 16 });
  readonly published: (ElectionRumor | Tombstone)[] = [];
  readonly warnings: string[] = [];
  now = 0;
  hookCalls = 0;
  hook: () => number = () => 5;
  readonly engine: Elections;

  constructor(
    readonly self: MemberId,
    opts: { settleMs?: number } = {},
  ) {
    this.engine = new Elections(
      {
        self,
        store: this.store,
        now: () => this.now,
        publish: (r) => {
          this.published.push(r);
          this.put(r);
        },
        suitability: () => {
          this.hookCalls++;
          return this.hook();
        },
        log: {
          debug: () => {},
          info: () => {},
          warn: (msg) => this.warnings.push(msg),
          error: () => {},
          child() {
            return this;
          },
        },
      },
      opts,
    );
  }

  /** The ring's rumors: members with their health and, for group members, a service rumor (topology leader). */
  ring(members: Record<MemberId, Health>, inGroup: readonly MemberId[] = Object.keys(members)): this {
    for (const [id, health] of Object.entries(members)) this.store.set(member(id, 0, health), 0);
    for (const id of inGroup) this.store.merge(service(id, GROUP, { topology: 'leader' }), 0);
    return this;
  }

  health(id: MemberId, health: Health, opts: { local?: boolean } = {}): void {
    const held = this.store.get(keyOf('member', '', id))?.rumor;
    const incarnation = held?.kind === 'member' ? held.member.incarnation : 0;
    this.store.set(member(id, incarnation, health), this.now);
    const info = member(id, incarnation, health).member;
    if (health === 'confirmed') this.engine.onEvent({ type: 'member-confirmed', member: info, local: opts.local ?? false });
    else if (health === 'alive') this.engine.onEvent({ type: 'member-alive', member: info, was: 'suspect' });
    else if (health === 'suspect') this.engine.onEvent({ type: 'member-suspect', member: info, from: '' });
    else this.engine.onEvent({ type: 'member-departed', member: info });
  }

  /** A rumor from another member arrives. */
  receive(r: Rumor): void {
    this.put(r);
  }

  last(): ElectionRumor | Tombstone | undefined {
    return this.published.at(-1);
  }

  /** The group's finished election as this member holds it. */
  finishedHeld(): ElectionRumor {
    const r = this.store.get(keyOf('election', GROUP, 'election'))?.rumor;
    if (r?.kind !== 'election') throw new Error('no finished election held');
    return r;
  }

  /** Members acknowledge the finished election this member holds. */
  ack(...ids: MemberId[]): void {
    this.receive({ ...this.finishedHeld(), votes: ids });
  }

  private put(r: Rumor): void {
    const res = this.store.merge(r, this.now);
    if (res.changed) this.engine.onEvent({ type: 'rumor-changed', rumor: res.current, previous: res.previous });
  }
}

function finished(leader: MemberId, roster: MemberId[], over: Partial<ElectionRumor> = {}): ElectionRumor {
  return { kind: 'election', group: GROUP, memberId: leader, term: 3, suitability: 1, status: 'finished', votes: roster, roster, rosterVersion: 2, ...over };
}

function running(candidate: MemberId, roster: MemberId[], over: Partial<ElectionRumor> = {}): ElectionRumor {
  return { kind: 'election', group: GROUP, memberId: candidate, term: 4, suitability: 1, status: 'running', votes: [candidate], roster, rosterVersion: 2, ...over };
}

describe('standing and voting', () => {
  test('with no election, a member stands at term 0 with the group members it sees live as roster', () => {
    const h = new Harness(A).ring({ [A]: 'alive', [B]: 'alive', [C]: 'suspect', [D]: 'confirmed', [E]: 'alive' }, [A, B, C, D]);
    h.engine.join(GROUP);
    expect(h.published).toHaveLength(1);
    expect(h.last()).toMatchObject({ memberId: A, term: 0, status: 'running', suitability: 5, votes: [A], roster: [A, B, C], rosterVersion: 0 });
  });

  test('a group whose running election was removed starts above the tombstone', () => {
    const h = new Harness(A).ring({ [A]: 'alive' });
    h.receive({ kind: 'tombstone', target: 'election', group: GROUP, id: 'candidate', version: 7 });
    // A tombstone without a finished election is usually a finish whose news is a moment
    // behind: A waits settleMs for it, then stands above the tombstone alone, finishes at once,
    // and retires its candidacy.
    h.engine.join(GROUP);
    expect(h.published).toEqual([]);
    h.now += 10_000;
    h.engine.tick();
    expect(h.published[0]).toMatchObject({ kind: 'election', term: 8, status: 'running' });
    expect(h.published.slice(1)).toEqual([
      expect.objectContaining({ kind: 'election', term: 8, status: 'finished' }),
      { kind: 'tombstone', target: 'election', group: GROUP, id: 'candidate', version: 8 },
    ]);
  });

  test('the suitability hook runs once per term and is kept below the previous leader’s', () => {
    const h = new Harness(A).ring({ [A]: 'alive', [B]: 'alive' });
    h.hook = () => Number.MAX_SAFE_INTEGER;
    h.engine.join(GROUP);
    expect(h.last()).toMatchObject({ suitability: MAX_SUITABILITY - 1 });
    h.engine.tick();
    h.engine.tick();
    expect(h.hookCalls).toBe(1);
    const broken = new Harness(C).ring({ [C]: 'alive', [B]: 'alive' });
    broken.hook = () => {
      throw new Error('hook failed');
    };
    broken.engine.join(GROUP);
    expect(broken.last()).toMatchObject({ suitability: 0 });
    expect(broken.warnings).toEqual(['the suitability hook failed; standing with 0']);
  });

  test('a member votes once in a running election of its group, and is taken as candidate when it is better', () => {
    const h = new Harness(B).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive' });
    h.receive(running(A, [A, B, C], { term: 0, rosterVersion: 0, suitability: 9 }));
    h.engine.join(GROUP);
    expect(h.published).toHaveLength(1);
    expect(h.last()).toMatchObject({ memberId: B, term: 0, votes: [B] });
    const held = h.store.get(keyOf('election', GROUP, 'candidate'))?.rumor;
    expect(held).toMatchObject({ memberId: A, votes: [A, B] });
    h.engine.tick();
    expect(h.published).toHaveLength(1);
  });

  test('only the candidate finishes, once a majority of the roster and every live member voted', () => {
    const h = new Harness(A).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive', [D]: 'alive' }, [A, B, C, D]);
    h.receive(running(A, [A, B, C], { term: 0, rosterVersion: 0, suitability: 9, votes: [A, B] }));
    h.engine.join(GROUP);
    // A majority of the roster voted, but C (roster) and D (a group member) are live and have not.
    expect(h.published).toEqual([]);
    h.receive(running(C, [A, B, C], { term: 0, rosterVersion: 0, votes: [C] }));
    expect(h.published).toEqual([]);
    h.receive(running(D, [A, B, C], { term: 0, rosterVersion: 0, votes: [D] }));
    expect(h.published[0]).toMatchObject({ memberId: A, status: 'finished', term: 0, votes: [A, B, C, D], roster: [A, B, C], rosterVersion: 0 });
  });

  test('a member that is not the candidate never finishes the election', () => {
    const h = new Harness(B).ring({ [A]: 'alive', [B]: 'alive' });
    h.receive(running(A, [A, B], { term: 0, rosterVersion: 0, suitability: 9, votes: [A] }));
    h.engine.join(GROUP);
    h.engine.tick();
    expect(h.published.filter((r) => r.kind === 'election' && r.status === 'finished')).toEqual([]);
  });
});

describe('losing the leader', () => {
  test('a member whose own suspicion of the leader ran out starts the next term at once', () => {
    const h = new Harness(B).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive' });
    h.receive(finished(A, [A, B, C]));
    h.engine.join(GROUP);
    h.published.length = 0;
    h.now = 1000;
    h.health(A, 'suspect');
    expect(h.published).toEqual([]);
    h.health(A, 'confirmed', { local: true });
    expect(h.published).toEqual([expect.objectContaining({ memberId: B, term: 4, status: 'running', roster: [A, B, C], rosterVersion: 2, votes: [B] })]);
  });

  test('on gossip’s word alone it waits settleMs in a settled view before it starts a term', () => {
    const h = new Harness(B, { settleMs: 5000 }).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive' });
    h.receive(finished(A, [A, B, C]));
    h.engine.join(GROUP);
    h.published.length = 0;
    h.now = 1000;
    h.health(A, 'confirmed');
    h.now = 5999;
    h.engine.tick();
    expect(h.published).toEqual([]);
    h.now = 6000;
    h.engine.tick();
    expect(h.last()).toMatchObject({ memberId: B, term: 4, status: 'running' });
  });

  test('a leader that unloaded its service is replaced at once', () => {
    const h = new Harness(B).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive' });
    h.receive(finished(A, [A, B, C]));
    h.engine.join(GROUP);
    h.published.length = 0;
    h.receive({ kind: 'tombstone', target: 'service', group: GROUP, id: A, version: 1 });
    expect(h.last()).toMatchObject({ memberId: B, term: 4 });
  });

  test('a minority publishes nothing at all, however long the leader is gone', () => {
    const h = new Harness(B, { settleMs: 1000 }).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive', [D]: 'alive', [E]: 'alive' });
    h.receive(finished(A, [A, B, C, D, E]));
    h.engine.join(GROUP);
    h.published.length = 0;
    h.health(C, 'confirmed');
    h.health(D, 'confirmed');
    h.health(A, 'confirmed', { local: true });
    for (let t = 0; t < 20; t++) {
      h.now += 1000;
      h.engine.tick();
    }
    expect(h.published).toEqual([]);
    expect(h.engine.status(GROUP)).toMatchObject({ status: 'no-quorum', leaderId: null, quorum: false });
  });

  test('while a roster member is suspect, a new term waits', () => {
    const h = new Harness(B).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive', [D]: 'alive', [E]: 'alive' });
    h.receive(finished(A, [A, B, C, D, E]));
    h.engine.join(GROUP);
    h.published.length = 0;
    h.health(C, 'suspect');
    h.health(A, 'confirmed', { local: true });
    expect(h.published).toEqual([]);
    h.health(C, 'alive');
    // A's confirmation came while the view was moving: it waits settleMs on it…
    expect(h.published).toEqual([]);
    h.now = 10_000;
    h.engine.tick();
    expect(h.last()).toMatchObject({ memberId: B, term: 4, status: 'running' });
  });

  test('a member votes against a live leader only to re-elect it', () => {
    const h = new Harness(B).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive' });
    h.receive(finished(A, [A, B, C]));
    h.engine.join(GROUP);
    h.published.length = 0;
    h.receive(running(C, [A, B, C], { votes: [C] }));
    expect(h.published).toEqual([]);
    expect(h.engine.status(GROUP)).toMatchObject({ status: 'finished', leaderId: A });
    h.receive(running(A, [A, B, C], { votes: [A], suitability: MAX_SUITABILITY }));
    expect(h.last()).toMatchObject({ memberId: B, term: 4, votes: [B] });
  });

  test('the sitting leader answers an election against it by standing with the largest suitability', () => {
    const h = new Harness(A).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive' });
    h.receive(finished(A, [A, B, C], { votes: [A, B, C] }));
    h.engine.join(GROUP);
    h.published.length = 0;
    h.receive(running(C, [A, B, C], { votes: [B, C], suitability: 7 }));
    h.receive(running(B, [A, B, C], { votes: [B] }));
    // Every live member voted and A is the best candidate: re-elected, one term later; the
    // candidacy it finished from is retired.
    expect(h.published).toEqual([
      expect.objectContaining({ memberId: A, term: 4, status: 'finished', suitability: MAX_SUITABILITY }),
      { kind: 'tombstone', target: 'election', group: GROUP, id: 'candidate', version: 4 },
    ]);
  });

  test('a member that finds itself leader in its stored rumors when it joins stands again in a new term', () => {
    const h = new Harness(A).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive' });
    h.receive(finished(A, [A, B, C]));
    h.engine.join(GROUP);
    expect(h.published).toEqual([expect.objectContaining({ memberId: A, term: 4, status: 'running', suitability: MAX_SUITABILITY, roster: [A, B, C] })]);
  });
});

describe('a candidacy late to a finished term (found by the chaos suite, seed 2)', () => {
  // The scenario: A led term 3; a partition cut A off with a minority, and the majority finished
  // term 4 with B. A was killed and restarted behind the partition: it stands again at its
  // stored term + 1 = 4, with the largest suitability. When the partition healed, A's candidacy
  // met the running rumor the majority had finished from, still holding its votes; the merge gave
  // A, the better candidate, the union of the votes, and A finished term 4 a second time.
  const ALL = [A, B, C, D, E];

  test('a member that holds a finished election retires the candidacy it finished from, so that no late candidacy can take its votes', () => {
    const h = new Harness(C).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive', [D]: 'alive', [E]: 'alive' });
    h.receive(running(B, ALL, { term: 4, votes: [B, C, D] }));
    h.receive(finished(B, ALL, { term: 4, votes: [B, C, D] }));
    h.engine.join(GROUP);
    expect(h.published).toContainEqual({ kind: 'tombstone', target: 'election', group: GROUP, id: 'candidate', version: 4 });
    // A's late candidacy at term 4 is dropped here: it cannot collect C's vote, nor B's or D's.
    h.receive(running(A, ALL, { term: 4, suitability: MAX_SUITABILITY, votes: [A, E] }));
    expect(h.store.get(keyOf('election', GROUP, 'candidate'))?.rumor).toMatchObject({ kind: 'tombstone', version: 4 });
    expect(h.engine.status(GROUP)).toMatchObject({ leaderId: B, term: 4 });
  });

  test('the late candidate never finishes the term, and follows the leader the majority elected', () => {
    const h = new Harness(A).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive', [D]: 'alive', [E]: 'alive' });
    h.receive(finished(A, ALL, { term: 3, votes: ALL }));
    h.engine.join(GROUP);
    expect(h.last()).toMatchObject({ memberId: A, term: 4, status: 'running', suitability: MAX_SUITABILITY });
    // E, cut off with A, votes for it; then the majority's word arrives: term 4 retired and finished with B.
    h.receive(running(A, ALL, { term: 4, suitability: MAX_SUITABILITY, votes: [E] }));
    h.receive({ kind: 'tombstone', target: 'election', group: GROUP, id: 'candidate', version: 4 });
    h.receive(finished(B, ALL, { term: 4, votes: [B, C, D] }));
    expect(h.published.filter((r) => r.kind === 'election' && r.status === 'finished' && r.memberId === A)).toEqual([]);
    expect(h.engine.status(GROUP)).toMatchObject({ status: 'finished', leaderId: B, term: 4 });
  });
});

describe('the roster', () => {
  /** B leads {A, B, C, D, E} at term 3, version 2, with every acknowledgement in. */
  function leading(): Harness {
    const h = new Harness(B).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive', [D]: 'alive', [E]: 'alive' });
    h.receive(finished(B, [A, B, C, D, E], { term: 5 }));
    h.engine.join(GROUP); // stands again (restart rule), and is re-elected once all vote
    for (const id of [A, C, D, E]) h.receive(running(id, [A, B, C, D, E], { term: 6, votes: [id] }));
    expect(h.engine.status(GROUP)).toMatchObject({ status: 'finished', leaderId: B, term: 6 });
    h.published.length = 0;
    return h;
  }

  test('a follower acknowledges each new roster version once', () => {
    const h = new Harness(C).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive' });
    h.receive(finished(A, [A, B, C], { votes: [A] }));
    h.engine.join(GROUP);
    expect(h.published).toEqual([expect.objectContaining({ status: 'finished', rosterVersion: 2, votes: [C] })]);
    h.engine.tick();
    h.receive(finished(A, [A, B, C], { votes: [A, C] }));
    expect(h.published).toHaveLength(1);
    h.receive(finished(A, [A, B, C], { rosterVersion: 3, votes: [A] }));
    expect(h.published).toHaveLength(2);
    expect(h.last()).toMatchObject({ rosterVersion: 3, votes: [C] });
  });

  /** `id` dies as a kill -9 looks from the leader: suspected here, then confirmed. */
  function dies(h: Harness, id: MemberId): void {
    h.health(id, 'suspect');
    h.health(id, 'confirmed');
  }

  test('the leader removes a gone member only after a majority acknowledged it in a round of its own', () => {
    const h = leading();
    dies(h, E);
    // First an acknowledgement round: the same roster at the next version, votes reset.
    expect(h.published).toEqual([expect.objectContaining({ memberId: B, term: 6, rosterVersion: 3, roster: [A, B, C, D, E], votes: [B] })]);
    h.ack(A);
    expect(h.published).toHaveLength(1); // B and A: 2 of 5
    h.ack(C);
    expect(h.last()).toMatchObject({ rosterVersion: 4, roster: [A, B, C, D], votes: [B] });
    // The next change waits for a round of its own.
    dies(h, D);
    expect(h.last()).toMatchObject({ rosterVersion: 5, roster: [A, B, C, D], votes: [B] });
  });

  test('acknowledgements count only for the change their round was opened for', () => {
    const h = leading();
    dies(h, E);
    expect(h.last()).toMatchObject({ rosterVersion: 3 });
    h.health(E, 'alive');
    h.ack(A, C, D);
    expect(h.published).toHaveLength(1); // E is back: nothing to change, the round is closed
    dies(h, D);
    // A new round for D, although a majority acknowledged version 3.
    expect(h.published).toHaveLength(2);
    expect(h.last()).toMatchObject({ rosterVersion: 4, roster: [A, B, C, D, E], votes: [B] });
  });

  test('the leader of a minority changes nothing: its acknowledgement round never completes', () => {
    const h = leading();
    dies(h, E);
    // The partition cuts C and D off just as the round opens.
    h.health(D, 'suspect');
    h.health(C, 'suspect');
    h.ack(A);
    for (let t = 0; t < 5; t++) h.engine.tick();
    expect(h.published.map((r) => (r.kind === 'election' ? r.rosterVersion : -1))).toEqual([3]);
    expect(h.finishedHeld().votes).toEqual([A, B]);
    h.health(C, 'confirmed');
    h.health(D, 'confirmed');
    expect(h.engine.status(GROUP)).toMatchObject({ status: 'no-quorum', leaderId: null });
    h.engine.tick();
    expect(h.published).toHaveLength(1);
  });

  test('gossip’s word that a member held alive here is confirmed takes it out of the roster only after settleMs', () => {
    // A member that has just restarted: alive here (it spoke to us), then confirmed again for a
    // moment by the ring's lingering word, until it refutes.
    const h = leading();
    h.health(E, 'confirmed');
    expect(h.published).toEqual([]);
    h.health(E, 'alive');
    h.now += 20_000;
    h.engine.tick();
    expect(h.published).toEqual([]);
    expect(h.finishedHeld().roster).toEqual([A, B, C, D, E]);
    // Confirmed and never back: out, once the word has stood settleMs.
    h.health(E, 'confirmed');
    h.now += 9999;
    h.engine.tick();
    expect(h.published).toEqual([]);
    h.now += 1;
    h.engine.tick();
    expect(h.last()).toMatchObject({ rosterVersion: 3, roster: [A, B, C, D, E], votes: [B] });
  });

  test('the leader adds a group member that is alive and acknowledged, one at a time', () => {
    const h = new Harness(A).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive', [D]: 'alive' }, [A, B, C]);
    h.receive(finished(A, [A, B, C], { term: 5 }));
    h.engine.join(GROUP);
    for (const id of [B, C]) h.receive(running(id, [A, B, C], { term: 6, votes: [id] }));
    h.published.length = 0;
    // D runs the service, but has not acknowledged: it runs no election yet.
    h.receive(service(D, GROUP, { topology: 'leader' }));
    expect(h.published).toEqual([]);
    h.ack(D);
    expect(h.last()).toMatchObject({ rosterVersion: 3, roster: [A, B, C], votes: [A] });
    h.ack(B, D);
    expect(h.last()).toMatchObject({ rosterVersion: 4, roster: [A, B, C, D], votes: [A] });
  });

  test('a member running another topology never enters the roster', () => {
    const h = new Harness(A).ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive' }, [A, B]);
    h.receive(service(C, GROUP, { topology: 'standalone' }));
    h.engine.join(GROUP);
    expect(h.last()).toMatchObject({ roster: [A, B] });
  });
});

describe('the view', () => {
  const live = (ids: MemberId[]) => (id: MemberId) => ids.includes(id);
  const slots = (f?: ElectionRumor, r?: ElectionRumor): ElectionSlots => ({ finished: f, running: r });

  test('a finished election with quorum names its leader; without quorum it names none', () => {
    expect(viewElections(slots(finished(A, [A, B, C])), live([A, B]))).toMatchObject({ status: 'finished', leaderId: A, quorum: true, term: 3 });
    expect(viewElections(slots(finished(A, [A, B, C])), live([A]))).toMatchObject({ status: 'no-quorum', leaderId: null, candidateId: A, quorum: false });
  });

  test('a running election shows only once the finished one’s leader is gone', () => {
    const f = finished(A, [A, B, C]);
    const r = running(B, [A, B, C]);
    expect(viewElections(slots(f, r), live([A, B, C]))).toMatchObject({ status: 'finished', leaderId: A });
    expect(viewElections(slots(f, r), live([B, C]))).toMatchObject({ status: 'running', leaderId: null, candidateId: B, term: 4 });
    expect(viewElections(slots(f, r), live([B]))).toMatchObject({ status: 'no-quorum', leaderId: null });
    // A running election older than the finished one is over.
    expect(viewElections(slots(f, running(B, [A, B, C], { term: 3 })), live([B, C]))).toMatchObject({ status: 'finished', leaderId: A });
    expect(viewElections(slots(), live([]))).toMatchObject({ status: 'none', leaderId: null, term: null });
  });

  test('hooks run only once the election is finished, with Habitat’s log lines', () => {
    expect(hookGate({ status: 'none', leaderId: null })).toEqual({ run: false, message: "Waiting to execute hooks; election hasn't started" });
    expect(hookGate({ status: 'running', leaderId: null })).toEqual({ run: false, message: 'Waiting to execute hooks; election in progress.' });
    expect(hookGate({ status: 'no-quorum', leaderId: null })).toEqual({ run: false, message: 'Waiting to execute hooks; election in progress, and we have no quorum.' });
    expect(hookGate({ status: 'finished', leaderId: A })).toEqual({ run: true, message: `Executing hooks; ${A} is the leader` });
  });
});
