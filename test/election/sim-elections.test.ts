/**
 * Leader elections on simulated rings of real gossip cores and election engines, in virtual
 * time (`SimElections`): every scenario of the issue — kill the leader, partitions 2/3, 3/4 and
 * 1/2, heal, a flapping member, members joining during an election, restarts, unloads. Nothing
 * here depends on wall-clock time.
 */
import { describe, expect, test } from 'vitest';
import { buildCensus } from '../../src/census/index.js';
import type { MemberId } from '../../src/core/index.js';
import { lanPreset, localTestPreset } from '../../src/gossip/index.js';
import type { SimMember } from '../../src/testkit/index.js';
import { SimCluster, SimElections, measureFailover } from '../../src/testkit/index.js';

const options = localTestPreset;
const GROUP = 'redis.default';

/** A ring of `n` members, each running the group's service, with suitability = its index. */
function elected(n: number, seed: number): { c: SimCluster; all: SimMember[]; e: SimElections; leader: SimMember } {
  const c = new SimCluster({ seed, options });
  const all = c.bootConverged(n);
  const e = new SimElections(c, { group: GROUP, suitability: (m) => all.indexOf(m) });
  for (const m of all) e.load(m);
  const ok = c.runUntil(() => e.agreedLeader() !== undefined && all.every((m) => e.view(m).roster.length === n), 10_000);
  expect(ok).toBe(true);
  return { c, all, e, leader: c.member(e.agreedLeader()!) };
}

const short = (id: MemberId | null | undefined): string => (id ?? '-').slice(0, 8);

/** Every one of `members` sees the same leader, term and roster version, with all of them in the roster. */
function converged(e: SimElections, members: readonly SimMember[]): boolean {
  const views = members.map((m) => e.view(m));
  const ids = members.map((m) => m.id).sort();
  return (
    e.agreedLeader(members) !== undefined &&
    new Set(views.map((v) => `${v.term}/${v.rosterVersion}`)).size === 1 &&
    views.every((v) => v.roster.length === ids.length && v.roster.every((id, i) => id === ids[i]))
  );
}

/** Runs `ms` in steps of 50 ms, calling `check` after each. */
function during(c: SimCluster, ms: number, check: () => void): void {
  const end = c.now + ms;
  while (c.now < end) {
    c.runFor(50);
    check();
  }
}

describe('electing', () => {
  test.each([3, 5])('%i members that already see each other elect the most suitable one, and all see it', (n) => {
    const c = new SimCluster({ seed: 10 + n, options });
    const all = c.bootConverged(n);
    const e = new SimElections(c, { group: GROUP, suitability: (m) => (m === all[1] ? 100 : all.indexOf(m)) });
    // The service rumors spread first, so that every member stands knowing the others.
    for (const m of all) e.publishService(m);
    c.runFor(500);
    for (const m of all) e.load(m);
    expect(c.runUntil(() => e.agreedLeader() !== undefined, 5000)).toBe(true);
    expect(e.agreedLeader()).toBe(all[1]!.id);
    for (const m of all) expect(e.view(m)).toMatchObject({ status: 'finished', term: 0, quorum: true, roster: all.map((x) => x.id).sort(), rosterVersion: 0 });
    // The census and so the templates say the same: one leader, the others followers.
    for (const m of all) {
      const group = buildCensus(m.core, m.id).census_groups[GROUP]!;
      expect(group).toMatchObject({ election_status: 'ElectionFinished', leader_id: all[1]!.id });
      for (const member of Object.values(group.population)) {
        expect(member).toMatchObject({ leader: member.member_id === all[1]!.id, follower: member.member_id !== all[1]!.id, election_is_finished: true, election_is_running: false });
      }
    }
  });

  test('members that load at once, before seeing each other, still settle on one leader with everyone in the roster', () => {
    const { all, e, leader } = elected(5, 21);
    expect(leader).toBe(all[4]);
    for (const m of all) expect(e.view(m)).toMatchObject({ status: 'finished', leaderId: leader.id, term: 0, roster: all.map((x) => x.id).sort() });
  });
});

describe('losing the leader', () => {
  test.each([3, 5])('kill -9 of the leader of %i: one new leader everywhere, the most suitable survivor, one term later', (n) => {
    const { c, all, e, leader } = elected(n, 30 + n);
    const killedAt = c.now;
    c.kill(leader);
    const survivors = all.filter((m) => m !== leader);
    expect(c.runUntil(() => e.agreedLeader() !== undefined && e.agreedLeader() !== leader.id, 30_000, 5)).toBe(true);
    console.log(`failover of ${n} members (localTest): ${c.now - killedAt} ms of virtual time`);
    const next = survivors.reduce((best, m) => (all.indexOf(m) > all.indexOf(best) ? m : best));
    expect(e.agreedLeader()).toBe(next.id);
    for (const m of survivors) expect(e.view(m).term).toBe(1);
    // The new leader then takes the dead one out of the roster.
    expect(c.runUntil(() => survivors.every((m) => !e.view(m).roster.includes(leader.id)), 10_000)).toBe(true);
    for (const m of survivors) expect(e.view(m)).toMatchObject({ leaderId: next.id, roster: survivors.map((x) => x.id).sort(), term: 1 });
  });

  test('kill 2 of 5 at once, the leader one of them: a new leader, and the roster shrinks to the 3 that live', () => {
    const { c, all, e, leader } = elected(5, 41);
    const other = all.find((m) => m !== leader)!;
    c.kill(leader);
    c.kill(other);
    const survivors = all.filter((m) => m !== leader && m !== other);
    expect(c.runUntil(() => e.agreedLeader(survivors) !== undefined && survivors.every((m) => e.view(m).roster.length === 3), 30_000)).toBe(true);
    expect(survivors.map((m) => m.id)).toContain(e.agreedLeader(survivors));
    for (const m of survivors) expect(e.view(m)).toMatchObject({ roster: survivors.map((x) => x.id).sort(), quorum: true, term: 1 });
    // 3 of the roster of 3 hold quorum: losing one more still leaves a leader (2 of 3).
    const third = survivors.find((m) => m.id !== e.agreedLeader(survivors))!;
    c.kill(third);
    const last = survivors.filter((m) => m !== third);
    expect(c.runUntil(() => e.agreedLeader(last) !== undefined && last.every((m) => e.view(m).roster.length === 2), 30_000)).toBe(true);
  });

  test('a group of 3 in a ring of 10: the leader killed, confirmed dead by members outside the group, is replaced as fast', () => {
    // Members outside the group probe the leader too, and most often their suspicion runs out
    // first: the group's members then hear of the confirmation by gossip, while their own
    // suspicion of it still runs. That is fresh word, not a healed partition's stale one.
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const c = new SimCluster({ seed, options });
      const all = c.bootConverged(10);
      const group = all.slice(0, 3);
      const e = new SimElections(c, { group: GROUP, suitability: (m) => all.indexOf(m) });
      for (const m of group) e.load(m);
      expect(c.runUntil(() => e.agreedLeader() !== undefined && group.every((m) => e.view(m).roster.length === 3), 10_000)).toBe(true);
      const leader = c.member(e.agreedLeader()!);
      const survivors = group.filter((m) => m !== leader);
      let confirmedAt: number | undefined;
      c.onEvent((ev) => {
        if (confirmedAt === undefined && ev.event.type === 'member-confirmed' && ev.event.member.id === leader.id) confirmedAt = ev.at;
      });
      c.kill(leader);
      expect(c.runUntil(() => confirmedAt !== undefined, 30_000)).toBe(true);
      // Once the first member confirmed it, the election takes messages, not settleMs (10 s).
      expect(c.runUntil(() => e.agreedLeader(survivors) !== undefined && e.agreedLeader(survivors) !== leader.id, 2 * options.probeIntervalMs), `seed ${seed}`).toBe(true);
    }
  });

  test('failover time is failure detection plus a few milliseconds of election', () => {
    for (const [n, preset, name] of [
      [3, localTestPreset, 'localTest'],
      [5, localTestPreset, 'localTest'],
      [20, localTestPreset, 'localTest'],
      [3, lanPreset, 'lan'],
      [5, lanPreset, 'lan'],
      [20, lanPreset, 'lan'],
    ] as const) {
      const r = measureFailover({ members: n, options: preset, seed: 7 });
      console.log(`failover ${name} ${n} members: ${r.failoverMs.toFixed(0)} ms (detection ${r.detectionMs.toFixed(0)} ms, election ${r.electionMs.toFixed(0)} ms)`);
      expect(r.terms).toEqual([0, 1]);
      // Nothing waits after the leader is confirmed dead but messages: well under one probe interval.
      expect(r.electionMs).toBeLessThan(preset.probeIntervalMs / 2);
    }
  });
});

describe('partitions', () => {
  /**
   * Splits the ring into `minority` (holding the leader when `leaderInMinority`) and the rest;
   * checks while it lasts that the minority never elects, and that it ends with no leader while
   * the majority has exactly one; then heals and checks there is one leader everywhere again.
   */
  function partitionScenario(n: number, minoritySize: number, leaderInMinority: boolean, seed: number): void {
    const { c, all, e, leader } = elected(n, seed);
    const others = all.filter((m) => m !== leader);
    const minority = leaderInMinority ? [leader, ...others.slice(0, minoritySize - 1)] : others.slice(0, minoritySize);
    const majority = all.filter((m) => !minority.includes(m));
    const term = e.view(leader).term!;
    c.partition(minority, majority);
    during(c, 20_000, () => {
      // The minority never elects a leader of its own: at most it still sees the old one, until it notices.
      for (const m of minority) {
        const v = e.view(m);
        if (v.leaderId !== null) expect({ leader: short(v.leaderId), term: v.term }).toEqual({ leader: short(leader.id), term });
      }
    });
    expect(e.withLeader(minority).map((m) => short(m.id))).toEqual([]);
    for (const m of minority) expect(e.view(m)).toMatchObject({ status: 'no-quorum', leaderId: null, quorum: false });
    const majorityLeader = e.agreedLeader(majority);
    expect(majorityLeader).toBeDefined();
    expect(majority.map((m) => m.id)).toContain(majorityLeader);
    if (!leaderInMinority) expect(majorityLeader).toBe(leader.id);
    // The majority's roster shrank to the majority: it keeps quorum through any single loss.
    for (const m of majority) expect(e.view(m).roster).toEqual(majority.map((x) => x.id).sort());
    c.heal();
    expect(c.runUntil(() => converged(e, all), 60_000)).toBe(true);
    expect(e.agreedLeader(all)).toBe(majorityLeader);
  }

  test('2 of 5 cut off with the leader: the leader steps down, the 3 elect one, after heal there is one', () => {
    partitionScenario(5, 2, true, 51);
  });

  test('2 of 5 cut off without the leader: the 2 see no leader, the 3 keep theirs, after heal there is one', () => {
    partitionScenario(5, 2, false, 52);
  });

  test('3 of 7 cut off with the leader: the 3 have none, the 4 elect one, after heal there is one', () => {
    partitionScenario(7, 3, true, 53);
  });

  test('3 of 7 cut off without the leader: the 4 keep it, after heal there is one', () => {
    partitionScenario(7, 3, false, 54);
  });

  test('1 of 3 cut off, the leader: it steps down, the other 2 elect one', () => {
    partitionScenario(3, 1, true, 55);
  });

  test('1 of 3 cut off, a follower: it sees no leader, the other 2 keep theirs', () => {
    partitionScenario(3, 1, false, 56);
  });

  test('a group split in halves has no leader on either side, and the old one again after heal', () => {
    const { c, all, e, leader } = elected(4, 57);
    const half = [leader, all.find((m) => m !== leader)!];
    const rest = all.filter((m) => !half.includes(m));
    c.partition(half, rest);
    c.runFor(20_000);
    expect(e.withLeader(all)).toEqual([]);
    // Neither side published a new term: a side without quorum stays silent.
    for (const m of all) expect(e.view(m).term).toBe(0);
    c.heal();
    expect(c.runUntil(() => e.agreedLeader(all) === leader.id, 60_000)).toBe(true);
  });
});

describe('churn', () => {
  test('a flapping follower, suspected and back again, never causes a new term', () => {
    const { c, all, e, leader } = elected(5, 61);
    const flapper = all.find((m) => m !== leader)!;
    const suspected: string[] = [];
    c.onEvent((ev) => {
      if (ev.event.type === 'member-suspect' && ev.event.member.id === flapper.id) suspected.push(ev.member);
    });
    for (let i = 0; i < 10; i++) {
      c.pause(flapper);
      c.runFor(options.probeIntervalMs * 2);
      c.resume(flapper);
      c.runFor(options.probeIntervalMs * 3);
    }
    c.runFor(5000);
    expect(suspected.length).toBeGreaterThan(0);
    expect(e.agreedLeader()).toBe(leader.id);
    for (const m of all) expect(e.view(m)).toMatchObject({ term: 0, roster: all.map((x) => x.id).sort() });
  });

  test('a flapping leader, paused past its confirmation again and again, costs at most one term per pause', () => {
    const { c, all, e } = elected(5, 62);
    const flaps = 4;
    for (let i = 0; i < flaps; i++) {
      const leader = c.member(e.agreedLeader()!);
      c.pause(leader);
      c.runFor(5000);
      c.resume(leader);
      expect(c.runUntil(() => e.agreedLeader() !== undefined && all.every((m) => e.view(m).roster.length === 5), 30_000)).toBe(true);
    }
    c.runFor(10_000);
    const terms = all.map((m) => e.view(m).term!);
    expect(new Set(terms).size).toBe(1);
    expect(terms[0]).toBeGreaterThanOrEqual(1);
    expect(terms[0]).toBeLessThanOrEqual(flaps);
  });

  test('a follower paused past its confirmation leaves the roster and comes back, without a new term', () => {
    const { c, all, e, leader } = elected(5, 63);
    const sleeper = all.find((m) => m !== leader)!;
    c.pause(sleeper);
    expect(c.runUntil(() => all.every((m) => m === sleeper || !e.view(m).roster.includes(sleeper.id)), 30_000)).toBe(true);
    c.resume(sleeper);
    expect(c.runUntil(() => all.every((m) => e.view(m).roster.includes(sleeper.id) && e.view(m).leaderId === leader.id), 30_000)).toBe(true);
    for (const m of all) expect(e.view(m).term).toBe(0);
  });

  test('members that join during an election vote in it, all agree on its leader, and the joiners enter the roster', () => {
    const c = new SimCluster({ seed: 71, options });
    const first = c.bootConverged(3);
    const e = new SimElections(c, { group: GROUP, suitability: (m) => c.members.indexOf(m) });
    // first[2] runs the service but its Supervisor has not joined the election yet: the election
    // cannot finish without its vote, so it is still running when the joiners arrive.
    e.publishService(first[2]!);
    c.runFor(500);
    e.load(first[0]!);
    e.load(first[1]!);
    c.runFor(2000);
    for (const m of first.slice(0, 2)) expect(e.view(m).status).toBe('running');
    const joiners = [c.join([first[0]!.address]), c.join([first[1]!.address])];
    for (const j of joiners) e.load(j);
    c.runFor(2000);
    for (const m of [...first.slice(0, 2), ...joiners]) expect(e.view(m)).toMatchObject({ status: 'running', term: 0 });
    e.load(first[2]!);
    const all = [...first, ...joiners];
    expect(c.runUntil(() => e.agreedLeader(all) !== undefined && all.every((m) => e.view(m).roster.length === 5), 10_000)).toBe(true);
    // The most suitable of all five won: a joiner, since each votes with its own candidacy.
    expect(e.agreedLeader(all)).toBe(joiners[1]!.id);
    for (const m of all) expect(e.view(m)).toMatchObject({ term: 0, roster: all.map((x) => x.id).sort() });
  });

  test('members that join an elected group enter the roster one at a time and follow', () => {
    const { c, all, e, leader } = elected(3, 72);
    const version = e.view(leader).rosterVersion;
    const joiners = [c.join([all[0]!.address]), c.join([all[1]!.address]), c.join([all[2]!.address])];
    for (const j of joiners) e.load(j);
    const everyone = [...all, ...joiners];
    expect(c.runUntil(() => converged(e, everyone), 10_000)).toBe(true);
    // Each joiner took two versions: an acknowledgement round, then the change itself.
    for (const m of everyone) expect(e.view(m)).toMatchObject({ leaderId: leader.id, term: 0, rosterVersion: version + 6 });
  });

  test('a killed follower that restarts comes back as a follower and into the roster', () => {
    const { c, all, e, leader } = elected(5, 81);
    const victim = all.find((m) => m !== leader)!;
    c.kill(victim);
    expect(c.runUntil(() => e.view(leader).roster.length === 4, 30_000)).toBe(true);
    c.restart(victim, [leader.address]);
    expect(c.runUntil(() => all.every((m) => e.view(m).leaderId === leader.id && e.view(m).roster.length === 5), 30_000)).toBe(true);
    for (const m of all) expect(e.view(m).term).toBe(0);
  });

  test('a killed leader that restarts after a new one was elected comes back as a follower', () => {
    const { c, all, e, leader } = elected(5, 82);
    c.kill(leader);
    const survivors = all.filter((m) => m !== leader);
    expect(c.runUntil(() => e.agreedLeader(survivors) !== undefined && e.view(survivors[0]!).roster.length === 4, 30_000)).toBe(true);
    const next = e.agreedLeader(survivors)!;
    c.restart(leader, [survivors[0]!.address]);
    expect(c.runUntil(() => all.every((m) => e.view(m).leaderId === next && e.view(m).roster.length === 5), 30_000)).toBe(true);
    for (const m of all) expect(e.view(m).term).toBe(1);
  });

  test('a leader killed and restarted before anyone noticed stands again and is re-elected', () => {
    const { c, all, e, leader } = elected(5, 83);
    c.kill(leader);
    c.runFor(options.probeIntervalMs / 2);
    c.restart(leader, [all.find((m) => m !== leader)!.address]);
    expect(c.runUntil(() => e.agreedLeader() === leader.id && all.every((m) => e.view(m).term === 1), 30_000)).toBe(true);
    expect(e.view(leader).roster).toHaveLength(5);
  });

  test('an unloaded follower leaves the roster and the census; the leader stays', () => {
    const { c, all, e, leader } = elected(5, 91);
    const gone = all.find((m) => m !== leader)!;
    e.unload(gone);
    const rest = all.filter((m) => m !== gone);
    expect(c.runUntil(() => rest.every((m) => e.view(m).roster.length === 4), 10_000)).toBe(true);
    for (const m of rest) {
      expect(e.view(m)).toMatchObject({ leaderId: leader.id, term: 0, roster: rest.map((x) => x.id).sort() });
      expect(Object.keys(buildCensus(m.core, m.id).census_groups[GROUP]!.population)).not.toContain(gone.id);
    }
  });

  test('an unloaded leader is replaced and leaves the roster', () => {
    const { c, all, e, leader } = elected(5, 92);
    e.unload(leader);
    const rest = all.filter((m) => m !== leader);
    expect(c.runUntil(() => e.agreedLeader(rest) !== undefined && rest.every((m) => e.view(m).roster.length === 4), 10_000)).toBe(true);
    expect(e.agreedLeader(rest)).not.toBe(leader.id);
    for (const m of rest) expect(e.view(m)).toMatchObject({ term: 1, roster: rest.map((x) => x.id).sort() });
  });
});
