/**
 * Simulated clusters of real gossip cores, in virtual time. Each test reads as the behaviour it
 * proves; none depends on wall-clock time.
 */
import { describe, expect, test } from 'vitest';
import { localTestPreset } from '../../src/gossip/index.js';
import type { SimMember } from '../../src/testkit/index.js';
import { SimCluster, runSimulation } from '../../src/testkit/index.js';
import type { ServiceConfigRumor } from '../../src/wire/index.js';

const options = localTestPreset;

function configRumor(from: string, version = 1): ServiceConfigRumor {
  return { kind: 'service-config', group: 'redis.prod', version, encrypted: false, config: new TextEncoder().encode(`port = ${2110 + version}\n`), from };
}

function holdsConfig(m: SimMember, version: number): boolean {
  const r = m.core.store.get(`service-config\u0000redis.prod\u0000service_config`)?.rumor;
  return r?.kind === 'service-config' && r.version === version;
}

describe('a simulated ring', () => {
  test('50 members join through one seed and all see each other alive', () => {
    const c = new SimCluster({ seed: 1, options });
    const [seed] = c.bootConverged(1);
    for (let i = 0; i < 49; i++) c.join([seed!.address]);
    expect(c.runUntil(() => c.allAgree(), 30_000)).toBe(true);
    for (const m of c.members) expect(m.core.liveCount).toBe(50);
    // Each joiner asked the seed alone for the full state: one state transfer per joiner.
  });

  test('a partition heals and both sides agree again', () => {
    const c = new SimCluster({ seed: 2, options });
    const all = c.bootConverged(20);
    c.runFor(2000);
    const left = all.slice(0, 10);
    const right = all.slice(10);
    c.partition(left, right);
    c.runFor(30_000);
    expect(c.view(left[0]!, right[0]!)).toBe('confirmed');
    expect(c.view(right[0]!, left[0]!)).toBe('confirmed');
    // A config applied on one side during the partition reaches the other side after it.
    c.publish(left[0]!, configRumor(left[0]!.id, 3));
    c.runFor(2000);
    expect(right.some((m) => holdsConfig(m, 3))).toBe(false);
    c.heal();
    expect(c.runUntil(() => c.allAgree(), 60_000)).toBe(true);
    expect(c.runUntil(() => all.every((m) => holdsConfig(m, 3)), 30_000)).toBe(true);
  });

  test('a member that refutes suspicion stays alive', () => {
    const c = new SimCluster({ seed: 3, options });
    const all = c.bootConverged(10);
    c.runFor(1000);
    const target = all[3]!;
    // Every other member briefly loses contact with it: they suspect it, it hears and refutes.
    c.partition([target], all.filter((m) => m !== target));
    c.runFor(options.probeIntervalMs * 2);
    c.heal();
    c.runFor(20_000);
    const confirmations = c.events.filter((e) => e.event.type === 'member-confirmed' && e.event.member.id === target.id);
    expect(confirmations).toEqual([]);
    expect(target.core.incarnation).toBeGreaterThan(0);
    for (const m of all) if (m !== target) expect(c.view(m, target)).toBe('alive');
  });

  test('a killed member is confirmed by every live member', () => {
    const c = new SimCluster({ seed: 4, options });
    const all = c.bootConverged(30);
    c.runFor(1000);
    const victim = all[7]!;
    c.kill(victim);
    expect(c.runUntil(() => c.live().every((m) => c.view(m, victim) === 'confirmed'), 60_000)).toBe(true);
  });

  test('a departed member does not come back at the same incarnation', () => {
    const c = new SimCluster({ seed: 5, options });
    const all = c.bootConverged(10);
    c.runFor(1000);
    const leaver = all[2]!;
    const inc = leaver.core.incarnation;
    c.leave(leaver);
    expect(c.runUntil(() => c.live().every((m) => c.view(m, leaver) === 'departed'), 10_000)).toBe(true);
    // An old alive record at the departed incarnation is gossiped again: nobody takes it.
    const stale = { kind: 'member' as const, member: { ...leaver.info, incarnation: inc + 1 }, health: 'alive' as const, from: '' };
    c.publish(all[0]!, stale);
    c.runFor(5000);
    for (const m of c.live()) expect(c.view(m, leaver)).toBe('departed');
  });

  test('a rumor reaches everyone under 20 % loss', () => {
    const c = new SimCluster({ seed: 6, options, link: { loss: 0.2 } });
    const all = c.bootConverged(100);
    c.runFor(1000);
    c.publish(all[0]!, configRumor(all[0]!.id));
    expect(c.runUntil(() => all.every((m) => holdsConfig(m, 1)), 30_000)).toBe(true);
  });

  test('a paused member is not confirmed dead while it answers within the suspicion timeout', () => {
    const c = new SimCluster({ seed: 7, options });
    const all = c.bootConverged(20);
    c.runFor(2000);
    const sleeper = all[5]!;
    // Paused for one probe interval short of the shortest suspicion for 20 members.
    const pauseMs = options.suspicionMult * Math.log10(20) * options.probeIntervalMs;
    c.pause(sleeper);
    c.runFor(pauseMs);
    c.resume(sleeper);
    c.runFor(20_000);
    const confirmed = c.events.filter((e) => e.event.type === 'member-confirmed' && e.event.member.id === sleeper.id);
    expect(confirmed).toEqual([]);
    for (const m of all) if (m !== sleeper) expect(c.view(m, sleeper)).toBe('alive');
    // Waking up with stale timers did not make the sleeper confirm anyone either.
    const byTheSleeper = c.events.filter((e) => e.member === sleeper.id && e.event.type === 'member-confirmed');
    expect(byTheSleeper).toEqual([]);
  });

  test('a restarted member keeps its id and comes back alive at a higher incarnation', () => {
    const c = new SimCluster({ seed: 8, options });
    const all = c.bootConverged(10);
    c.runFor(1000);
    const m = all[4]!;
    c.kill(m);
    c.runUntil(() => c.live().every((o) => c.view(o, m) === 'confirmed'), 60_000);
    c.restart(m, [all[0]!.address]);
    expect(c.runUntil(() => c.allAgree(), 30_000)).toBe(true);
    expect(m.core.incarnation).toBeGreaterThan(0);
  });

  test('a permanent member is probed even when confirmed, so it is found again', () => {
    const c = new SimCluster({ seed: 9, options });
    const all = c.bootConverged(5);
    const perm = c.join([all[0]!.address], { persistent: true });
    c.runUntil(() => c.allAgree(), 10_000);
    c.partition([perm], all);
    c.runUntil(() => all.every((m) => c.view(m, perm) === 'confirmed'), 60_000);
    c.heal();
    expect(c.runUntil(() => all.every((m) => c.view(m, perm) === 'alive'), 10_000)).toBe(true);
  });
});

describe('aligned probing', () => {
  test('in every probe round each member is probed exactly once', () => {
    const c = new SimCluster({ seed: 13, options });
    const all = c.bootConverged(12);
    c.runFor(3 * options.probeIntervalMs);
    c.events.length = 0;
    c.runFor(10 * options.probeIntervalMs);
    const byRound = new Map<number, string[]>();
    for (const e of c.events) {
      if (e.event.type !== 'probe-acked') continue;
      const round = Math.floor((e.at - e.event.rttMs) / options.probeIntervalMs);
      byRound.set(round, [...(byRound.get(round) ?? []), e.event.member]);
    }
    const full = [...byRound.values()].filter((targets) => targets.length === all.length);
    expect(full.length).toBeGreaterThanOrEqual(8);
    for (const targets of full) expect(new Set(targets).size).toBe(all.length);
  });
});

describe('the simulator', () => {
  test('the same seed and options give the same report', () => {
    const run = () => {
      const { wallMs, ...rest } = runSimulation({ members: 40, loss: 0.05, seed: 11, preset: 'localTest', scenario: 'kill', durationS: 30 });
      void wallMs;
      return rest;
    };
    expect(run()).toEqual(run());
  });

  test('a kill report holds detection percentiles for every live member', () => {
    const r = runSimulation({ members: 30, loss: 0, seed: 12, preset: 'localTest', scenario: 'kill', durationS: 30 });
    expect(r.detectionMs?.p100).not.toBeNull();
    expect(r.falseConfirmations).toBe(0);
  });
});
