/**
 * Named bad inputs to the gossip side, as plain regression tests (issue 5, "Fuzzing and bad
 * input"): oversize and truncated datagrams, streams that stop mid-frame, replayed sealed
 * packets, absurd versions and incarnations, malformed member ids and group names, and rumors
 * about the receiver itself. The fuzz harness (`run.ts`) found the incarnation overflow kept here.
 * Related cases already tested elsewhere: an oversized length prefix and frames cut at every byte
 * (test/net/transport.test.ts, test/net/frame.test.ts), a datagram over `maxDatagramBytes`
 * dropped by the transport (test/net/transport.test.ts), envelopes that do not open
 * (test/crypto/ring.test.ts).
 */
import net from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { nullLogger, seededRandom } from '../../src/core/index.js';
import { Keyring } from '../../src/crypto/index.js';
import { GossipCore, GossipNode, keyOf, presets, type Effect, type GossipEvent } from '../../src/gossip/index.js';
import { buildCensus } from '../../src/census/index.js';
import { UdpTcpTransport, encodeFrame, encodeFrameHeader } from '../../src/net/index.js';
import { decodePacket, decodeRumor, encodePacket, encodeRumor, type MemberRumor, type Packet, type Rumor } from '../../src/wire/index.js';
import { varint } from './inputs.js';
import { concat } from './mutate.js';
import { ringKey } from './wire-target.js';

const ME = 'a'.repeat(32);
const PEER = 'b'.repeat(32);
const MAX = Number.MAX_SAFE_INTEGER;

function member(id: string, incarnation: number, health: MemberRumor['health'], from = ''): MemberRumor {
  return { kind: 'member', member: { id, incarnation, address: '10.0.0.2', swimPort: 9638, gossipPort: 9638, persistent: false }, health, from };
}

function newCore(): GossipCore {
  const core = new GossipCore({ random: seededRandom(1) }, { self: { id: ME, incarnation: 0, address: '10.0.0.1', swimPort: 9638, gossipPort: 9638, persistent: false }, options: presets.lan });
  core.start(0);
  core.handlePacket('10.0.0.2:9638', { type: 'push', from: PEER, rumors: [member(PEER, 0, 'alive')] }, 1);
  return core;
}

function push(...rumors: Rumor[]): Packet {
  return { type: 'push', from: PEER, rumors };
}

/** A node around a core, with its sends and events recorded. */
function node(opts: { sealer?: Keyring; maxDatagramIn?: number } = {}): { node: GossipNode; sent: Uint8Array[]; events: GossipEvent[] } {
  const sent: Uint8Array[] = [];
  const events: GossipEvent[] = [];
  const n = new GossipNode(
    { clock: { now: () => 10 }, transport: { send: (_to, _ch, bytes) => void sent.push(bytes) }, timers: { at: () => {} }, ...(opts.sealer ? { sealer: opts.sealer } : {}), log: nullLogger },
    newCore(),
    opts.maxDatagramIn === undefined ? {} : { maxDatagramIn: opts.maxDatagramIn },
  );
  n.onEvent((e) => events.push(e));
  return { node: n, sent, events };
}

function sends(effects: Effect[]): Packet[] {
  return effects.flatMap((e) => {
    if (e.type !== 'send') return [];
    const d = decodePacket(e.bytes);
    return d.ok ? [d.value] : [];
  });
}

describe('datagrams', () => {
  test('a datagram over the largest accepted is counted and dropped unread', () => {
    const { node: n, sent } = node({ maxDatagramIn: 1200 });
    const big = encodePacket({ type: 'push', from: PEER, rumors: [{ kind: 'service-config', group: 'a.b', version: 1, encrypted: false, config: new Uint8Array(1300), from: '' }] });
    n.receive('10.0.0.2:9638', 'datagram', big);
    expect(n.counters.decodeErrors).toBe(1);
    expect(sent).toEqual([]);
    expect(n.core.store.get(keyOf('service-config', 'a.b', 'service_config'))).toBeUndefined();
  });

  test('every truncation of a ping carrying rumors is refused or read, never thrown, and the member answers after', () => {
    const { node: n, sent } = node();
    const ping = encodePacket({ type: 'ping', seq: 7, from: PEER, target: ME, piggyback: [member(PEER, 3, 'alive'), { kind: 'service-config', group: 'a.b', version: 2, encrypted: false, config: new Uint8Array([1, 2, 3]), from: PEER }] });
    for (let cut = 0; cut < ping.length; cut++) n.receive('10.0.0.2:9638', 'datagram', ping.subarray(0, cut));
    expect(n.counters.decodeErrors).toBeGreaterThan(ping.length / 2);
    sent.length = 0;
    n.receive('10.0.0.2:9638', 'datagram', ping);
    expect(sent.map((b) => decodePacket(b)).some((d) => d.ok && d.value.type === 'ack' && d.value.seq === 7)).toBe(true);
  });
});

describe('streams that stop mid-frame', () => {
  const running: UdpTcpTransport[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((t) => t.stop()));
  });

  async function openSocket(port: number): Promise<net.Socket> {
    const s = net.connect({ host: '127.0.0.1', port });
    await new Promise((resolve, reject) => s.once('connect', resolve).once('error', reject));
    return s;
  }

  test('a frame cut in its header or its body, closed, reset or left open, delivers nothing; the next whole frame is delivered', async () => {
    const transport = new UdpTcpTransport({ log: nullLogger }, { host: '127.0.0.1', port: 0, maxFrameBytes: 1024 });
    running.push(transport);
    const received: Uint8Array[] = [];
    const { port } = await transport.start((_from, _channel, bytes) => void received.push(bytes));
    const frame = encodeFrame(new Uint8Array(100).fill(9));
    const ended = await openSocket(port);
    ended.end(frame.subarray(0, 2)); // inside the header
    const reset = await openSocket(port);
    reset.write(frame.subarray(0, 60)); // inside the body
    await new Promise((resolve) => setTimeout(resolve, 50));
    reset.resetAndDestroy();
    const hanging = await openSocket(port);
    hanging.write(concat(encodeFrameHeader(1000), new Uint8Array(10))); // claims 1000, sends 10, stays open
    const whole = await openSocket(port);
    whole.end(encodeFrame(Uint8Array.of(1, 2, 3)));
    const until = Date.now() + 5000;
    while (received.length === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toEqual([Uint8Array.of(1, 2, 3)]);
    expect(transport.counters.oversizedFrames).toBe(0);
    hanging.destroy();
  });
});

describe('replayed sealed packets', () => {
  test('the same sealed envelope twice changes nothing the second time', () => {
    const keyring = new Keyring([ringKey(5)]);
    const { node: n, events } = node({ sealer: keyring });
    const envelope = keyring.seal(encodePacket(push({ kind: 'service-config', group: 'redis.prod', version: 3, encrypted: false, config: new TextEncoder().encode('port = 1'), from: PEER }, member(PEER, 4, 'alive'))));
    n.receive('10.0.0.2:9638', 'datagram', envelope);
    const first = events.splice(0).filter((e) => e.type === 'rumor-changed' || e.type.startsWith('member-'));
    expect(first.map((e) => e.type)).toEqual(['rumor-changed']);
    expect(n.core.member(PEER)?.member.incarnation).toBe(4);
    const storeBefore = [...n.core.store.values()].map((e) => e.rumor);
    n.receive('10.0.0.2:9638', 'datagram', envelope);
    expect(events.filter((e) => e.type === 'rumor-changed' || e.type.startsWith('member-') || e.type === 'refuted')).toEqual([]);
    expect([...n.core.store.values()].map((e) => e.rumor)).toEqual(storeBefore);
    expect(n.counters.openErrors + n.counters.decodeErrors).toBe(0);
  });
});

describe('absurd versions and incarnations', () => {
  test('an accusation of the receiver at incarnation 2^53 − 1 is ignored, and the member keeps gossiping (found by fuzzing)', () => {
    const core = newCore();
    const effects = core.handlePacket('10.0.0.2:9638', push(member(ME, MAX, 'suspect', PEER)), 2);
    expect(effects.some((e) => e.type === 'emit' && e.event.type === 'packet-ignored')).toBe(true);
    expect(core.incarnation).toBe(0);
    expect(core.member(ME)?.health).toBe('alive');
    // Before the fix the member raised itself to 2^53, which no encoder takes: every later send threw.
    expect(() => core.handleTimer({ kind: 'gossip-tick' }, 1000)).not.toThrow();
    expect(() => core.handleTimer({ kind: 'probe-tick' }, 1000)).not.toThrow();
    expect(() => core.handlePacket('10.0.0.2:9638', { type: 'ping', seq: 1, from: PEER, target: ME, piggyback: [] }, 1001)).not.toThrow();
  });

  test('an accusation at 2^53 − 2 is refuted at 2^53 − 1, which still encodes; a graceful leave there does not overflow', () => {
    const core = newCore();
    const effects = core.handlePacket('10.0.0.2:9638', push(member(ME, MAX - 1, 'confirmed', PEER)), 2);
    expect(core.incarnation).toBe(MAX);
    expect(effects.some((e) => e.type === 'emit' && e.event.type === 'refuted')).toBe(true);
    expect(() => encodeRumor(core.member(ME) as MemberRumor)).not.toThrow();
    const leave = core.leave(3);
    expect(core.member(ME)).toMatchObject({ health: 'departed', member: { incarnation: MAX } });
    expect(sends(leave).length).toBeGreaterThan(0);
  });

  test('versions, terms and incarnations of 2^53 − 1 are kept and merge; a uint64 above it is refused by the decoder', () => {
    const core = newCore();
    const rumors: Rumor[] = [
      { kind: 'service-config', group: 'a.b', version: MAX, encrypted: false, config: new Uint8Array([1]), from: PEER },
      { kind: 'election', group: 'a.b', memberId: PEER, term: MAX, suitability: MAX, status: 'finished', votes: [PEER], roster: [PEER], rosterVersion: MAX },
      member('c'.repeat(32), MAX, 'confirmed'),
    ];
    for (const r of rumors) expect(decodeRumor(encodeRumor(r))).toEqual({ ok: true, value: r });
    expect(() => core.handlePacket('10.0.0.2:9638', push(...rumors), 2)).not.toThrow();
    expect(core.store.get(keyOf('service-config', 'a.b', 'service_config'))?.rumor).toEqual(rumors[0]);
    // The service-config version field (2) holding 2^53: valid protobuf, invalid for murmur.
    const over = Uint8Array.from([0x1a, 12, 0x0a, 3, 0x61, 0x2e, 0x62, 0x10, ...varint(2 ** 53)]);
    expect(decodeRumor(over)).toMatchObject({ ok: false, error: { code: 'invalid' } });
  });
});

describe('malformed member ids and group names', () => {
  test('an id of 0, 15 or 17 bytes where one is required is invalid, never thrown', () => {
    for (const length of [0, 15, 17]) {
      // ping { seq 1, from: <length bytes> }
      const body = [0x08, 0x01, 0x12, length, ...new Array<number>(length).fill(0xab)];
      expect(decodePacket(Uint8Array.from([0x0a, body.length, ...body]))).toMatchObject({ ok: false, error: { code: 'invalid' } });
    }
  });

  test('a group, file name or tombstone id with NUL is invalid; a group like ../../etc/passwd is only a name', () => {
    const withNul = encodeRumor({ kind: 'service-config', group: 'a.b\u0000c', version: 1, encrypted: false, config: new Uint8Array(0), from: '' });
    expect(decodeRumor(withNul)).toMatchObject({ ok: false, error: { code: 'invalid' } });
    const core = newCore();
    const odd: Rumor = { kind: 'service-config', group: '../../etc/passwd', version: 1, encrypted: false, config: new TextEncoder().encode('a = 1'), from: PEER };
    core.handlePacket('10.0.0.2:9638', push(odd), 2);
    expect(buildCensus(core, ME).census_groups['../../etc/passwd']?.service_config).toEqual({ incarnation: 1, value: { a: 1 } });
  });
});

describe('rumors about the receiver itself', () => {
  test.each(['suspect', 'confirmed', 'departed'] as const)('a %s record at its own incarnation is refuted, never taken', (health) => {
    const core = newCore();
    const effects = core.handlePacket('10.0.0.2:9638', push(member(ME, 0, health, PEER)), 2);
    expect(core.incarnation).toBe(1);
    expect(core.member(ME)).toMatchObject({ health: 'alive', member: { incarnation: 1 } });
    expect(effects.some((e) => e.type === 'emit' && e.event.type === 'refuted')).toBe(true);
    // The refutation goes out: some packet carries our alive record at the new incarnation.
    const all = [...sends(effects), ...sends(core.handleTimer({ kind: 'gossip-tick' }, 1000))];
    expect(all.some((p) => 'rumors' in p && p.rumors.some((r) => r.kind === 'member' && r.member.id === ME && r.health === 'alive' && r.member.incarnation === 1))).toBe(true);
  });

  test('a record about the receiver below its incarnation is ignored; an alive one above is outdone', () => {
    const core = newCore();
    core.handlePacket('10.0.0.2:9638', push(member(ME, 5, 'suspect', PEER)), 2);
    expect(core.incarnation).toBe(6);
    core.handlePacket('10.0.0.2:9638', push(member(ME, 3, 'departed', PEER)), 3);
    expect(core.incarnation).toBe(6);
    core.handlePacket('10.0.0.2:9638', push(member(ME, 9, 'alive', PEER)), 4);
    expect(core.incarnation).toBe(10);
    expect(core.member(ME)?.health).toBe('alive');
  });

  test('a join carrying the receiver’s own id is ignored', () => {
    const core = newCore();
    const effects = core.handlePacket('10.0.0.2:9638', { type: 'join', member: member(ME, 50, 'alive').member }, 2);
    expect(sends(effects)).toEqual([]);
    expect(core.incarnation).toBe(0);
  });
});
