/**
 * The gossip core driven by hand: packets and timer firings go in, and the test reads the
 * effects that come out (foca's style). No network, no clock, a seeded random.
 */
import { describe, expect, test } from 'vitest';
import { seededRandom } from '../../src/core/index.js';
import type { Effect, GossipEvent, Timer } from '../../src/gossip/index.js';
import { GossipCore, GossipNode, RumorStore, lanPreset } from '../../src/gossip/index.js';
import type { MemberRumor, Packet, Rumor } from '../../src/wire/index.js';
import { decodePacket } from '../../src/wire/index.js';
import { A, B, C, info, member } from './fixtures.js';

const D = 'd'.repeat(32);
const E = 'e'.repeat(32);
const SELF = 'f'.repeat(32);
const addr = (id: string): string => `10.0.0.${id.charCodeAt(0)}:9638`;

/** A core for SELF that knows `others` (with the given records) from the start. */
function coreWith(others: MemberRumor[], seed = 1, options = lanPreset): GossipCore {
  const store = new RumorStore({ buckets: lanPreset.digestBuckets });
  for (const r of others) store.set({ ...r, member: { ...r.member, address: addr(r.member.id).split(':')[0]! } }, 0);
  return new GossipCore(
    { random: seededRandom(seed) },
    { self: info(SELF, 0, '10.0.0.102'), options, base: store.freeze(), announce: false },
  );
}

const sends = (effects: Effect[]) =>
  effects.flatMap((e) => {
    if (e.type !== 'send') return [];
    const d = decodePacket(e.bytes);
    if (!d.ok) throw new Error(d.error.message);
    return [{ to: e.to, channel: e.channel, packet: d.value }];
  });
const events = (effects: Effect[]): GossipEvent[] => effects.flatMap((e) => (e.type === 'emit' ? [e.event] : []));
const timers = (effects: Effect[]): { at: number; timer: Timer }[] => effects.flatMap((e) => (e.type === 'schedule' ? [{ at: e.at, timer: e.timer }] : []));
const pushedRumors = (effects: Effect[]): Rumor[] =>
  sends(effects).flatMap((s) => (s.packet.type === 'push' ? s.packet.rumors : s.packet.type === 'ping' || s.packet.type === 'ack' ? s.packet.piggyback : []));

const push = (rumors: Rumor[], from = A): Packet => ({ type: 'push', from, rumors });
const service = (memberId: string): Rumor => ({
  kind: 'service', group: 'redis.prod', memberId, incarnation: 1, pkg: 'core/redis/4.0.14/20190319155852', cfg: new Uint8Array(0),
  sys: { ip: '10.0.0.1', hostname: 'h', gossipIp: '10.0.0.1', gossipPort: 9638, httpGatewayIp: '10.0.0.1', httpGatewayPort: 9631, ctlGatewayIp: '127.0.0.1', ctlGatewayPort: 9632 },
  initialized: false, configVersion: 0, files: [], state: 'up', health: 'unknown', topology: 'standalone',
});

describe('refutation', () => {
  test('a member told it is suspect refutes by raising its incarnation above the rumor', () => {
    const core = coreWith([member(A, 0, 'alive')]);
    const out = core.handlePacket(addr(A), push([member(SELF, 3, 'suspect', A)]), 100);
    expect(core.incarnation).toBe(4);
    expect(events(out)).toContainEqual({ type: 'refuted', incarnation: 4 });
    const alive = pushedRumors(out).find((r) => r.kind === 'member' && r.member.id === SELF);
    expect(alive).toMatchObject({ health: 'alive', member: { incarnation: 4 } });
    expect(core.awarenessScore).toBe(1);
  });

  test('an accusation at an older incarnation is ignored', () => {
    const core = coreWith([member(A, 0, 'alive')]);
    core.handlePacket(addr(A), push([member(SELF, 5, 'suspect', A)]), 100);
    const out = core.handlePacket(addr(A), push([member(SELF, 2, 'confirmed', A)]), 200);
    expect(core.incarnation).toBe(6);
    expect(events(out)).toEqual([]);
  });
});

describe('acceptance rules', () => {
  test('direct contact marks a suspected member alive', () => {
    const core = coreWith([member(A, 2, 'suspect', B), member(B, 0, 'alive')]);
    const out = core.handlePacket(addr(A), { type: 'ping', seq: 9, from: A, target: SELF, piggyback: [] }, 10);
    expect(core.member(A)?.health).toBe('alive');
    expect(events(out)).toContainEqual(expect.objectContaining({ type: 'member-alive', was: 'suspect' }));
    const ack = sends(out).find((s) => s.packet.type === 'ack');
    expect(ack).toMatchObject({ to: addr(A), channel: 'datagram', packet: { seq: 9, from: SELF } });
  });

  test('a ping meant for another member id gets no ack', () => {
    const core = coreWith([member(A, 0, 'alive')]);
    const out = core.handlePacket(addr(A), { type: 'ping', seq: 1, from: A, target: B, piggyback: [] }, 10);
    expect(sends(out)).toEqual([]);
  });

  test('departed is terminal at its incarnation, and a departure rumor makes it final', () => {
    const core = coreWith([member(A, 2, 'departed'), member(B, 0, 'alive')]);
    core.handlePacket(addr(B), push([member(A, 2, 'alive')], B), 10);
    expect(core.member(A)?.health).toBe('departed');
    core.handlePacket(addr(A), { type: 'ping', seq: 1, from: A, target: SELF, piggyback: [] }, 20);
    expect(core.member(A)?.health).toBe('departed');
    core.handlePacket(addr(B), push([member(A, 3, 'alive')], B), 30);
    expect(core.member(A)?.health).toBe('alive');
    core.handlePacket(addr(B), push([{ kind: 'departure', memberId: A }], B), 40);
    expect(core.member(A)?.health).toBe('departed');
    core.handlePacket(addr(B), push([member(A, 9, 'alive')], B), 50);
    expect(core.member(A)?.health).toBe('departed');
  });

  test("a forgotten member's service rumor and ring key reports are collected; ring key commands stay", () => {
    const core = coreWith([member(A, 0, 'departed'), member(B, 0, 'alive')]);
    const report = { kind: 'ring-key', memberId: A, name: 'prod', revision: '20250101000000', version: 1, state: 'installed', key: new Uint8Array(0) } as const;
    const command = { ...report, memberId: '', key: new Uint8Array(32).fill(7) } as const;
    const ofB = { ...report, memberId: B } as const;
    core.handlePacket(addr(B), push([report, command, ofB, service(A)], B), 10);
    const held = () => [...core.store.values()].filter((e) => e.rumor.kind !== 'member').map((e) => e.rumor.kind === 'ring-key' ? `ring-key/${e.rumor.memberId.slice(0, 1)}` : e.rumor.kind).sort();
    expect(held()).toEqual(['ring-key/', 'ring-key/a', 'ring-key/b', 'service']);
    const retention = lanPreset.departedRetentionMs;
    core.handleTimer({ kind: 'gc-tick' }, retention / 2);
    expect(held()).toHaveLength(4); // A is still remembered as departed
    core.handleTimer({ kind: 'gc-tick' }, retention + 20);
    expect(core.member(A)).toBeUndefined();
    core.handleTimer({ kind: 'gc-tick' }, 2 * retention + 20);
    expect(held()).toEqual(['ring-key/', 'ring-key/b']);
  });

  test('a departure rumor naming this member tells the Supervisor to stop', () => {
    const core = coreWith([member(A, 0, 'alive')]);
    const out = core.handlePacket(addr(A), push([{ kind: 'departure', memberId: SELF }]), 10);
    expect(events(out)).toContainEqual({ type: 'self-departed' });
  });
});

describe('probing', () => {
  /** Runs probe ticks until one targets `id`; returns the effects of that tick. */
  function probeUntil(core: GossipCore, id: string): { out: Effect[]; now: number } {
    let now = 0;
    for (let i = 0; i < 50; i++) {
      now += 1000;
      const out = core.handleTimer({ kind: 'probe-tick' }, now);
      if (sends(out).some((s) => s.packet.type === 'ping' && s.to === addr(id))) return { out, now };
    }
    throw new Error(`never probed ${id}`);
  }

  test('permanent members are probed whatever their health; others only while alive or suspect', () => {
    const perm = { ...member(A, 0, 'confirmed'), member: { ...info(A), persistent: true } };
    const core = coreWith([perm, member(B, 0, 'confirmed'), member(C, 0, 'departed')]);
    const targets = new Set<string>();
    for (let i = 1; i <= 20; i++) for (const s of sends(core.handleTimer({ kind: 'probe-tick' }, i * 1000))) targets.add(s.to);
    expect([...targets]).toEqual([addr(A)]);
  });

  test('a probe without an ack asks k helpers, then suspects the target and tells it at once', () => {
    const core = coreWith([A, B, C, D, E].map((id) => member(id, 0, 'alive')));
    const { out, now } = probeUntil(core, A);
    const ping = sends(out).find((s) => s.packet.type === 'ping')!.packet as Extract<Packet, { type: 'ping' }>;
    const [timeout, deadline] = timers(out).filter((t) => t.timer.kind !== 'probe-tick');
    expect(timeout).toEqual({ at: now + lanPreset.probeTimeoutMs, timer: { kind: 'probe-timeout', seq: ping.seq } });
    expect(deadline).toEqual({ at: now + lanPreset.probeIntervalMs, timer: { kind: 'probe-deadline', seq: ping.seq } });

    const afterTimeout = sends(core.handleTimer(timeout!.timer, timeout!.at));
    // A fallback ping over a stream, and k helpers asked.
    expect(afterTimeout.filter((s) => s.channel === 'stream')).toMatchObject([{ to: addr(A), packet: { type: 'ping', seq: ping.seq, target: A } }]);
    const asked = afterTimeout.filter((s) => s.channel === 'datagram');
    expect(asked).toHaveLength(Math.min(lanPreset.indirectChecks, 4));
    for (const s of asked) expect(s.packet).toMatchObject({ type: 'ping-req', seq: ping.seq, target: A, targetAddress: addr(A) });
    expect(asked.map((s) => s.to)).not.toContain(addr(A));

    // One helper answers with a nack: the other nacks are missing, so local health worsens by as many.
    core.handlePacket(asked[0]!.to, { type: 'nack', seq: ping.seq, from: B }, timeout!.at + 50);
    const end = core.handleTimer(deadline!.timer, deadline!.at);
    expect(core.member(A)?.health).toBe('suspect');
    expect(core.awarenessScore).toBe(asked.length - 1);
    expect(events(end)).toContainEqual(expect.objectContaining({ type: 'member-suspect', from: SELF }));
    const told = sends(end).filter((s) => s.to === addr(A) && s.packet.type === 'push');
    expect(told).toHaveLength(1);
  });

  test('an ack relayed by a helper counts as success and lowers the awareness score', () => {
    const core = coreWith([A, B, C, D].map((id) => member(id, 0, 'alive')));
    core.handlePacket(addr(B), push([member(SELF, 0, 'suspect', B)], B), 1); // score 1 after refuting
    const { out } = probeUntil(core, A);
    const ping = sends(out).find((s) => s.packet.type === 'ping')!.packet as Extract<Packet, { type: 'ping' }>;
    const deadline = timers(out).find((t) => t.timer.kind === 'probe-deadline')!;
    core.handlePacket(addr(B), { type: 'ack', seq: ping.seq, from: A, piggyback: [] }, deadline.at - 10);
    const end = core.handleTimer(deadline.timer, deadline.at);
    expect(events(end)).toEqual([]);
    expect(core.awarenessScore).toBe(0);
  });

  test('a ping over a stream is answered over a stream, at the sender’s gossip address', () => {
    const core = coreWith([member(A, 0, 'alive')]);
    const out = sends(core.handlePacket('10.0.0.65:51234', { type: 'ping', seq: 5, from: A, target: SELF, piggyback: [] }, 0, 'stream'));
    expect(out).toMatchObject([{ to: addr(A), channel: 'stream', packet: { type: 'ack', seq: 5 } }]);
  });

  test('a helper relays the target’s ack to the requester, or a nack if the target is silent', () => {
    const core = coreWith([A, B].map((id) => member(id, 0, 'alive')));
    const out = core.handlePacket(addr(B), { type: 'ping-req', seq: 77, from: B, target: A, targetAddress: addr(A), piggyback: [] }, 0);
    const ping = sends(out)[0]!;
    expect(ping).toMatchObject({ to: addr(A), packet: { type: 'ping', target: A } });
    const relayed = sends(core.handlePacket(addr(A), { type: 'ack', seq: (ping.packet as { seq: number }).seq, from: A, piggyback: [] }, 5));
    expect(relayed).toMatchObject([{ to: addr(B), packet: { type: 'ack', seq: 77, from: A } }]);

    const silent = core.handlePacket(addr(B), { type: 'ping-req', seq: 78, from: B, target: A, targetAddress: addr(A), piggyback: [] }, 10);
    const relayTimer = timers(silent).find((t) => t.timer.kind === 'relay-timeout')!;
    expect(sends(core.handleTimer(relayTimer.timer, relayTimer.at))).toMatchObject([{ to: addr(B), packet: { type: 'nack', seq: 78 } }]);
  });
});

describe('suspicion', () => {
  test('independent confirmations bring the confirmation forward; a stale timer is ignored', () => {
    const core = coreWith([A, B, C, D].map((id) => member(id, 0, 'alive')));
    const first = core.handlePacket(addr(B), push([member(A, 0, 'suspect', B)], B), 0);
    const long = timers(first).find((t) => t.timer.kind === 'suspicion')!;
    // 5 live members: min = max(1, log10 5) × 1 s = 1 s, max = 6 s.
    expect(long.at).toBe(6000);
    const second = core.handlePacket(addr(C), push([member(A, 0, 'suspect', C)], C), 100);
    const shorter = timers(second).find((t) => t.timer.kind === 'suspicion')!;
    expect(shorter.at).toBeLessThan(long.at);
    expect(events(core.handleTimer(shorter.timer, shorter.at - 1))).toEqual([]);
    const done = core.handleTimer(shorter.timer, shorter.at);
    expect(core.member(A)?.health).toBe('confirmed');
    expect(events(done)).toContainEqual(expect.objectContaining({ type: 'member-confirmed', local: true, suspectedAt: 0 }));
    // The original, longer timer fires later and changes nothing.
    expect(events(core.handleTimer(long.timer, long.at))).toEqual([]);
  });

  test('a refutation cancels the suspicion', () => {
    const core = coreWith([A, B].map((id) => member(id, 0, 'alive')));
    const out = core.handlePacket(addr(B), push([member(A, 0, 'suspect', B)], B), 0);
    core.handlePacket(addr(A), push([member(A, 1, 'alive', A)], A), 500);
    const t = timers(out).find((x) => x.timer.kind === 'suspicion')!;
    expect(events(core.handleTimer(t.timer, t.at))).toEqual([]);
    expect(core.member(A)?.health).toBe('alive');
  });
});

describe('dissemination', () => {
  test('a published rumor is pushed at once to pushFanout members', () => {
    const ids = [A, B, C, D, E];
    const core = coreWith(ids.map((id) => member(id, 0, 'alive')));
    const cfg: Rumor = { kind: 'service-config', group: 'redis.prod', version: 1, encrypted: false, config: new Uint8Array([1]), from: SELF };
    const out = core.publish(cfg, 0);
    const pushes = sends(out).filter((s) => s.packet.type === 'push');
    expect(new Set(pushes.map((p) => p.to)).size).toBe(lanPreset.pushFanout);
    expect(timers(out)).toContainEqual({ at: lanPreset.gossipFirstRoundMs, timer: { kind: 'gossip-tick' } });
  });

  test('a rumor too big for a datagram goes on a stream', () => {
    const core = coreWith([A, B].map((id) => member(id, 0, 'alive')));
    const big: Rumor = { kind: 'service-file', group: 'redis.prod', filename: 'big.bin', version: 1, encrypted: false, body: new Uint8Array(60_000), from: SELF };
    const out = sends(core.publish(big, 0));
    expect(out.length).toBeGreaterThan(0);
    for (const s of out) expect(s.channel).toBe('stream');
  });

  test('a joiner gets the whole state from the seed it asked', () => {
    const core = coreWith([A, B, C].map((id) => member(id, 0, 'alive')));
    const out = sends(core.handlePacket('10.9.9.9:40000', { type: 'join', member: { ...info(D), address: '0.0.0.0' } }, 0));
    const state = out.find((s) => s.packet.type === 'state')!;
    expect(state.to).toBe('10.9.9.9:9638');
    expect(state.channel).toBe('stream');
    expect((state.packet as Extract<Packet, { type: 'state' }>).rumors).toHaveLength(5);
    expect(core.member(D)?.member.address).toBe('10.9.9.9');
  });

  test('anti-entropy sends only the buckets that differ', () => {
    const a = coreWith([A, B, C].map((id) => member(id, 0, 'alive')), 1);
    const b = coreWith([A, B, C].map((id) => member(id, 0, 'alive')), 2);
    const cfg: Rumor = { kind: 'service-config', group: 'redis.prod', version: 1, encrypted: false, config: new Uint8Array([1]), from: SELF };
    a.publish(cfg, 0);
    const digest = a.store.root();
    const step2 = sends(b.handlePacket(addr(A), { type: 'sync-digest', from: SELF, rootHi: digest.hi, rootLo: digest.lo, count: a.store.size }, 1));
    expect(step2).toHaveLength(1);
    const step3 = sends(a.handlePacket(addr(B), step2[0]!.packet, 2));
    const pull = step3[0]!.packet as Extract<Packet, { type: 'sync-pull' }>;
    expect(pull.type).toBe('sync-pull');
    expect(pull.rumors).toEqual([cfg]);
    b.handlePacket(addr(A), pull, 3);
    expect(b.store.root()).toEqual(a.store.root());
  });
});

describe('bad input', () => {
  test('a rumor the wire cannot carry is refused before it is stored, and probing goes on', () => {
    const core = coreWith([A, B].map((id) => member(id, 0, 'alive')));
    const bad: Rumor = { kind: 'service-config', group: 'redis.prod', version: 1.5, encrypted: false, config: new Uint8Array([1]), from: SELF };
    expect(() => core.publish(bad, 0)).toThrow(/version|integer/i);
    expect(core.store.size).toBe(3);
    expect(timers(core.handleTimer({ kind: 'probe-tick' }, 1000))).toContainEqual({ at: 2000, timer: { kind: 'probe-tick' } });
  });

  test('a ping-req for a member this one does not know sends nothing', () => {
    const core = coreWith([member(B, 0, 'alive')]);
    const out = core.handlePacket(addr(B), { type: 'ping-req', seq: 1, from: B, target: C, targetAddress: '192.0.2.1:9638', piggyback: [] }, 0);
    expect(sends(out)).toEqual([]);
  });

  test('a ping-req goes to the address this member knows, not the one in the request', () => {
    const core = coreWith([member(A, 0, 'alive'), member(B, 0, 'alive')]);
    const out = core.handlePacket(addr(B), { type: 'ping-req', seq: 1, from: B, target: A, targetAddress: '192.0.2.1:9638', piggyback: [] }, 0);
    expect(sends(out).map((s) => s.to)).toEqual([addr(A)]);
  });
});

describe('seeds', () => {
  test('seeds are tried until some member answers, even when the restored store lists peers', () => {
    const core = new GossipCore(
      { random: seededRandom(3) },
      { self: info(SELF, 0, '10.0.0.102'), options: lanPreset, seeds: ['10.9.0.1:9638'], restored: [member(A, 0, 'alive'), member(B, 0, 'alive')] },
    );
    const joins = (effects: Effect[]) => sends(effects).filter((s) => s.packet.type === 'join');
    expect(joins(core.start(0))).toHaveLength(1);
    expect(joins(core.handleTimer({ kind: 'join-tick' }, lanPreset.joinRetryIntervalMs))).toHaveLength(1);
    core.handlePacket(addr(A), { type: 'ack', seq: 999, from: A, piggyback: [] }, 2500);
    expect(joins(core.handleTimer({ kind: 'join-tick' }, 2 * lanPreset.joinRetryIntervalMs))).toHaveLength(0);
  });
});

describe('synced: the store holds what the ring knows (elections wait for it)', () => {
  const restart = (seeds: string[]): GossipCore =>
    new GossipCore({ random: seededRandom(3) }, { self: info(SELF, 0, '10.0.0.102'), options: lanPreset, seeds, restored: [member(A, 0, 'alive'), member(B, 0, 'alive')] });

  test('a member that starts alone, with no seeds and nobody in its store, is synced at once, and stays so as others join it', () => {
    const core = new GossipCore({ random: seededRandom(3) }, { self: info(SELF, 0, '10.0.0.102'), options: lanPreset });
    expect(core.synced).toBe(true);
    core.handlePacket(addr(A), { type: 'join', member: info(A, 0, '10.0.0.65') }, 10);
    expect(core.liveCount).toBe(2);
    expect(core.synced).toBe(true);
  });

  test('a restarted member, with or without seeds, is not synced by a ping or an ack, only by a peer\'s state', () => {
    for (const seeds of [[], ['10.9.0.1:9638']]) {
      const core = restart(seeds);
      core.start(0);
      expect(core.synced).toBe(false);
      core.handlePacket(addr(A), { type: 'ping', seq: 1, from: A, target: SELF, piggyback: [] }, 10);
      core.handlePacket(addr(A), { type: 'ack', seq: 999, from: A, piggyback: [] }, 20);
      expect(core.synced).toBe(false);
      core.handlePacket(addr(A), { type: 'state', from: A, rumors: [member(A, 0, 'alive')] }, 30);
      expect(core.synced).toBe(true);
    }
  });

  test('an anti-entropy exchange syncs a restarted member, whichever side began it', () => {
    const asked = restart([]);
    asked.handlePacket(addr(A), { type: 'sync-pull', from: A, buckets: [0], rumors: [] }, 10);
    expect(asked.synced).toBe(true);
    const asking = restart([]);
    asking.handlePacket(addr(A), { type: 'sync-rumors', from: A, rumors: [] }, 10);
    expect(asking.synced).toBe(true);
    const same = restart([]);
    const root = same.store.root();
    same.handlePacket(addr(A), { type: 'sync-digest', from: A, rootHi: root.hi, rootLo: root.lo, count: same.store.size }, 10);
    expect(same.synced).toBe(true);
  });
});

describe('the shell', () => {
  test('junk bytes are counted and dropped without a throw', () => {
    const core = coreWith([member(A, 0, 'alive')]);
    const node = new GossipNode({ clock: { now: () => 0 }, transport: { send: () => {} }, timers: { at: () => {} } }, core);
    const random = seededRandom(5);
    for (let i = 0; i < 200; i++) {
      const junk = Uint8Array.from({ length: 1 + random.int(64) }, () => random.int(256));
      node.receive(addr(A), 'datagram', junk);
    }
    expect(node.counters.packetsIn).toBe(200);
    expect(node.counters.decodeErrors).toBeGreaterThan(150);
  });
});

describe('the broadcast tree', () => {
  /** 100 members besides SELF, ids spread over the hex space so that the ring mixes them. */
  const many = Array.from({ length: 100 }, (_, i) => member((i * 2654435761 >>> 0).toString(16).padStart(8, '0').repeat(4), 0, 'alive'));
  const config = (version: number): Rumor => ({ kind: 'service-config', group: 'redis.prod', version, encrypted: false, config: new TextEncoder().encode('port = 1\n'), from: '' });
  const treePushes = (effects: Effect[]) => sends(effects).filter((s) => s.packet.type === 'push');

  const spansOf = (pushes: ReturnType<typeof treePushes>): number[] => pushes.map((p) => (p.packet.type === 'push' ? (p.packet.span ?? 0) : 0));
  const bigFile = (version: number): Rumor => ({ kind: 'service-file', group: 'redis.prod', filename: 'big', version, encrypted: false, body: new Uint8Array(5000), from: '' });

  test('up to directPushMax members, a rumor published here goes straight to each of them (one hop)', () => {
    const pushes = treePushes(coreWith(many).publish(config(1), 10));
    expect(pushes).toHaveLength(100);
    expect(spansOf(pushes).every((s) => s === 1)).toBe(true);
  });

  test('beyond directPushMax, about √N runs cover everyone else once; a stream-sized rumor uses pushFanout runs', () => {
    const narrow = { ...lanPreset, directPushMax: 10 };
    const spans = spansOf(treePushes(coreWith(many, 1, narrow).publish(config(1), 10)));
    expect(spans).toEqual(Array(10).fill(10));
    const streamed = treePushes(coreWith(many, 1, narrow).publish(bigFile(1), 10));
    expect(streamed.every((p) => p.channel === 'stream')).toBe(true);
    expect(spansOf(streamed)).toEqual([20, 20, 20, 20, 20]);
  });

  test('a tree push covering 20 members is pushed on to the 19 after its receiver; a leaf (span 1) pushes nothing on', () => {
    const inner = treePushes(coreWith(many).handlePacket(addr(A), { type: 'push', from: A, rumors: [config(2)], span: 20 }, 10));
    expect(spansOf(inner)).toEqual(Array(19).fill(1));
    const leaf = coreWith(many);
    expect(treePushes(leaf.handlePacket(addr(A), { type: 'push', from: A, rumors: [config(2)], span: 1 }, 10))).toHaveLength(0);
  });

  test("news from a gossip round's push (no span) is pushed on at random, as an epidemic", () => {
    const core = coreWith(many);
    const out = treePushes(core.handlePacket(addr(A), { type: 'push', from: A, rumors: [config(3)] }, 10));
    expect(out).toHaveLength(lanPreset.pushFanout);
    expect(out.every((p) => p.packet.type === 'push' && p.packet.span === undefined)).toBe(true);
  });
});

describe('joins are bounded (a 50-byte join costs an encoding of the whole store)', () => {
  /** A join from member `n` (its own id and address), as it arrives over a stream. */
  const joinId = (n: number): string => n.toString(16).padStart(32, '0');
  const joinFrom = (n: number): [string, Packet] => [`10.1.${n >> 8}.${n & 255}:40000`, { type: 'join', member: { ...info(joinId(n)), address: `10.1.${n >> 8}.${n & 255}` } }];
  const stateSends = (effects: Effect[]) => sends(effects).filter((s) => s.packet.type === 'state');
  const refusals = (effects: Effect[]) => events(effects).flatMap((e) => (e.type === 'packet-ignored' && e.code !== undefined ? [e.code] : []));
  const small = { ...lanPreset, joinAnswerBurst: 3, joinAnswerRate: 2, joinAnswerRepeatMs: 5000 };

  test('the defaults answer 100 members joining one seed at once, each with the whole state', () => {
    const core = coreWith([member(A, 0, 'alive')]);
    let answered = 0;
    for (let n = 1; n <= 100; n++) {
      const out = core.handlePacket(...joinFrom(n), n * 10, 'stream');
      expect(refusals(out)).toEqual([]);
      answered += stateSends(out).length;
    }
    expect(answered).toBe(100);
    expect(core.liveCount).toBe(102);
  });

  test('joins over the burst are refused whole (nothing stored, nothing sent) and counted; answered again once the bucket refills', () => {
    const core = coreWith([member(A, 0, 'alive')], 1, small);
    for (let n = 1; n <= 3; n++) expect(stateSends(core.handlePacket(...joinFrom(n), 0, 'stream'))).toHaveLength(1);
    const over = core.handlePacket(...joinFrom(4), 0, 'stream');
    expect(sends(over)).toEqual([]);
    expect(refusals(over)).toEqual(['join-rate-limit']);
    expect(core.member(joinId(4))).toBeUndefined();
    // 2 a second: half a second later one answer is due; the joiner's retry gets it.
    expect(refusals(core.handlePacket(...joinFrom(4), 499, 'stream'))).toEqual(['join-rate-limit']);
    const retried = core.handlePacket(...joinFrom(4), 500, 'stream');
    expect(stateSends(retried)).toHaveLength(1);
    expect(core.member(joinId(4))?.health).toBe('alive');
  });

  test('a joiner that asks again within joinAnswerRepeatMs costs one state, whether by its id or by the address it names', () => {
    const core = coreWith([member(A, 0, 'alive')], 1, small);
    expect(stateSends(core.handlePacket(...joinFrom(1), 0, 'stream'))).toHaveLength(1);
    expect(refusals(core.handlePacket(...joinFrom(1), 2000, 'stream'))).toEqual(['join-answered-recently']);
    // Another id naming the same address: the address is not sent another state either.
    const [from, join] = joinFrom(1);
    const sameAddress: Packet = { type: 'join', member: { ...(join.type === 'join' ? join.member : info(D)), id: D } };
    expect(refusals(core.handlePacket(from, sameAddress, 3000, 'stream'))).toEqual(['join-answered-recently']);
    expect(core.member(D)).toBeUndefined();
    // After the window, the same joiner is answered again (a restarted member, a state lost on the way).
    expect(stateSends(core.handlePacket(...joinFrom(1), 5000, 'stream'))).toHaveLength(1);
  });

  test('a flood of joins with new ids answers at most burst + rate × time, and the store grows by those alone', () => {
    const core = coreWith([member(A, 0, 'alive')]);
    const before = core.store.size;
    let answered = 0;
    let refused = 0;
    // 10 000 joins over 10 s, each from a new id at a new address.
    for (let n = 1; n <= 10_000; n++) {
      const out = core.handlePacket(...joinFrom(n), n, 'stream');
      answered += stateSends(out).length;
      refused += refusals(out).length;
    }
    expect(answered).toBeLessThanOrEqual(lanPreset.joinAnswerBurst + lanPreset.joinAnswerRate * 10);
    expect(answered + refused).toBe(10_000);
    expect(core.store.size - before).toBe(answered);
  });

  test('the shell counts refused joins apart (joinsRefused) and among ignored packets', () => {
    const core = coreWith([member(A, 0, 'alive')], 1, small);
    const node = new GossipNode({ clock: { now: () => 0 }, transport: { send: () => {} }, timers: { at: () => {} } }, core);
    for (let n = 1; n <= 5; n++) node.receivePacket(...joinFrom(n), 'stream');
    node.receivePacket(...joinFrom(1), 'stream');
    expect(node.counters).toMatchObject({ joinsRefused: 3, ignored: 3, addressesRefused: 0 });
  });
});

describe('member addresses are IP literals (host names are never resolved for a gossiped record)', () => {
  const at = (id: string, address: string, health: MemberRumor['health'] = 'alive'): MemberRumor => ({ kind: 'member', member: { ...info(id), address }, health, from: '' });
  const codes = (effects: Effect[]) => events(effects).flatMap((e) => (e.type === 'packet-ignored' ? [e.code] : []));

  test('a record naming a host name is refused and counted; the other rumors of the packet are taken', () => {
    const core = coreWith([member(A, 0, 'alive')]);
    const node = new GossipNode({ clock: { now: () => 0 }, transport: { send: () => {} }, timers: { at: () => {} } }, core);
    for (const address of ['evil.example', 'localhost', '', 'fe80::1%eth0', '[::1]', '10.0.0.1:9638', '010.0.0.1']) {
      node.receivePacket(addr(A), push([at(D, address), at(E, '10.0.0.9')]));
      expect(core.member(D), address).toBeUndefined();
    }
    expect(core.member(E)?.member.address).toBe('10.0.0.9');
    expect(node.counters.addressesRefused).toBe(7);
  });

  test('IPv4 and IPv6 literals are taken, and sent to as they are', () => {
    for (const address of ['10.0.0.9', '2001:db8::9', '::ffff:10.0.0.9']) {
      const core = coreWith([member(A, 0, 'alive')]);
      expect(codes(core.handlePacket(addr(A), push([at(D, address)]), 0))).toEqual([]);
      expect(core.member(D)?.member.address).toBe(address);
    }
    const core = coreWith([]);
    core.handlePacket(addr(A), push([at(D, '2001:db8::9')]), 0);
    const probe = sends(core.handleTimer({ kind: 'probe-tick' }, 1000)).find((s) => s.packet.type === 'ping');
    expect(probe?.to).toBe('[2001:db8::9]:9638');
  });

  test('an accusation about a member at a host name changes nothing, even about this member', () => {
    const core = coreWith([member(A, 0, 'alive')]);
    const out = core.handlePacket(addr(A), push([at(A, 'evil.example', 'confirmed'), at(SELF, 'evil.example', 'suspect')]), 0);
    expect(core.member(A)?.health).toBe('alive');
    expect(core.incarnation).toBe(0);
    expect(codes(out)).toEqual(['address-not-ip', 'address-not-ip']);
  });

  test('a join naming a host name gets nothing; one naming no address (or 0.0.0.0) takes the sender\'s', () => {
    const core = coreWith([member(A, 0, 'alive')]);
    const out = core.handlePacket('10.9.9.9:40000', { type: 'join', member: { ...info(D), address: 'joiner.example' } }, 0, 'stream');
    expect(sends(out)).toEqual([]);
    expect(codes(out)).toEqual(['address-not-ip']);
    expect(core.member(D)).toBeUndefined();
    const state = sends(core.handlePacket('10.9.9.9:40000', { type: 'join', member: { ...info(E), address: '' } }, 0, 'stream')).find((s) => s.packet.type === 'state');
    expect(state?.to).toBe('10.9.9.9:9638');
  });

  test('records restored from disk with host names are dropped', () => {
    const core = new GossipCore({ random: seededRandom(3) }, { self: info(SELF, 0, '10.0.0.102'), options: lanPreset, restored: [at(A, 'old-host.example'), at(B, '10.0.0.2')] });
    expect(core.member(A)).toBeUndefined();
    expect(core.member(B)?.member.address).toBe('10.0.0.2');
  });
});
