import { describe, test, expect } from 'vitest';
import { seededRandom } from '../../src/core/random.js';
import type { PeerAddress } from '../../src/wire/types.js';
import {
  SimNetwork,
  type AddressStats,
  type Channel,
  type LinkProfile,
  type TrafficStats,
} from '../../src/testkit/sim-network.js';
import { VirtualScheduler } from '../../src/testkit/virtual-time.js';

const A = '10.0.0.1:9638';
const B = '10.0.0.2:9638';
const C = '10.0.0.3:9638';
const D = '10.0.0.4:9638';

interface Delivery {
  at: number;
  from: PeerAddress;
  to: PeerAddress;
  channel: Channel;
  /** The first byte: tests number their messages with it. */
  n: number;
}

/** A network with a handler on each address that logs what arrives. */
function setup(
  link: Partial<LinkProfile> = {},
  opts: { seed?: number; pauseBuffer?: number } = {},
) {
  const scheduler = new VirtualScheduler();
  const network = new SimNetwork(
    { scheduler, random: seededRandom(opts.seed ?? 1) },
    {
      link: { delayMs: 10, jitterMs: 0, loss: 0, ...link },
      ...(opts.pauseBuffer === undefined ? {} : { pauseBufferPackets: opts.pauseBuffer }),
    },
  );
  const log: Delivery[] = [];
  const attach = (to: PeerAddress): void =>
    network.attach(to, (from, channel, bytes) =>
      log.push({ at: scheduler.now, from, to, channel, n: bytes[0] ?? -1 }),
    );
  for (const address of [A, B, C, D]) attach(address);
  const received = (to: PeerAddress): number[] => log.filter((d) => d.to === to).map((d) => d.n);
  return { scheduler, network, log, attach, received };
}

const ZERO: TrafficStats = {
  sentMessages: 0,
  sentBytes: 0,
  receivedMessages: 0,
  receivedBytes: 0,
  dropped: 0,
};

const msg = (n: number, size = 1): Uint8Array => new Uint8Array(size).fill(n, 0, 1);

/** Every counter, summed over addresses. */
function sum(all: AddressStats[], pick: (s: AddressStats) => TrafficStats): TrafficStats {
  const total = { ...ZERO };
  for (const s of all) {
    const t = pick(s);
    total.sentMessages += t.sentMessages;
    total.sentBytes += t.sentBytes;
    total.receivedMessages += t.receivedMessages;
    total.receivedBytes += t.receivedBytes;
    total.dropped += t.dropped;
  }
  return total;
}

describe('SimNetwork delivery', () => {
  test('a datagram arrives after the link delay plus jitter, with its sender and bytes', () => {
    const { scheduler, network, log } = setup({ delayMs: 10, jitterMs: 5 });
    for (let n = 0; n < 100; n++) network.send(A, B, 'datagram', msg(n));
    scheduler.runUntil(1000);
    expect(log).toHaveLength(100);
    for (const d of log) {
      expect(d).toMatchObject({ from: A, to: B, channel: 'datagram' });
      expect(d.at).toBeGreaterThanOrEqual(10);
      expect(d.at).toBeLessThan(15);
    }
  });

  test('datagrams may arrive out of order when jitter exceeds their spacing', () => {
    const { scheduler, network, received } = setup({ delayMs: 1, jitterMs: 50 });
    for (let n = 0; n < 100; n++) {
      scheduler.runFor(0.1);
      network.send(A, B, 'datagram', msg(n));
    }
    scheduler.runUntil(1000);
    const order = received(B);
    expect(order).toHaveLength(100);
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  test('stream messages between a pair arrive in send order even with jitter', () => {
    const { scheduler, network, received, log } = setup({ delayMs: 1, jitterMs: 50 });
    for (let n = 0; n < 100; n++) {
      scheduler.runFor(0.1);
      network.send(A, B, 'stream', msg(n));
      network.send(C, B, 'stream', msg(100 + n));
    }
    scheduler.runUntil(1000);
    const fromA = log.filter((d) => d.from === A).map((d) => d.n);
    const fromC = log.filter((d) => d.from === C).map((d) => d.n);
    expect(fromA).toEqual(Array.from({ length: 100 }, (_, n) => n));
    expect(fromC).toEqual(Array.from({ length: 100 }, (_, n) => 100 + n));
    // The two pairs are independent: their messages interleave.
    expect(received(B).slice(0, 100).some((n) => n >= 100)).toBe(true);
  });

  test('a stream message takes a handshake round trip plus the data: twice the delay, plus jitter', () => {
    const { scheduler, network, log } = setup({ delayMs: 10, jitterMs: 5 });
    for (let n = 0; n < 50; n++) network.send(A, B, 'stream', msg(n));
    scheduler.runUntil(1000);
    expect(log).toHaveLength(50);
    for (const d of log) {
      expect(d.at).toBeGreaterThanOrEqual(20);
      expect(d.at).toBeLessThan(25);
    }
  });

  test('a handler can send from inside a delivery', () => {
    const scheduler = new VirtualScheduler();
    const network = new SimNetwork(
      { scheduler, random: seededRandom(3) },
      { link: { delayMs: 5, jitterMs: 0, loss: 0 } },
    );
    const pongs: number[] = [];
    network.attach(A, () => pongs.push(scheduler.now));
    network.attach(B, (from, channel, bytes) => network.send(B, from, channel, bytes));
    network.send(A, B, 'datagram', msg(1));
    scheduler.runUntil(100);
    expect(pongs).toEqual([10]);
  });

  test('the same seed gives the same delivery schedule, and another seed a different one', () => {
    const run = (seed: number): Delivery[] => {
      const { scheduler, network, log } = setup({ delayMs: 2, jitterMs: 3, loss: 0.1 }, { seed });
      const traffic = seededRandom(99); // the same sends in every run
      const addresses = [A, B, C, D];
      for (let n = 0; n < 2000; n++) {
        const from = addresses[traffic.int(4)] as PeerAddress;
        const to = addresses[traffic.int(4)] as PeerAddress;
        network.send(from, to, traffic.next() < 0.5 ? 'datagram' : 'stream', msg(n % 256));
        scheduler.runFor(traffic.next());
      }
      // Streams under loss wait out TCP's retransmissions (RTO up to 1 s, doubling).
      scheduler.runUntil(scheduler.now + 200_000);
      return log;
    };
    const first = run(7);
    expect(first.length).toBeGreaterThan(1500);
    expect(run(7)).toEqual(first);
    expect(run(8)).not.toEqual(first);
  });

  test('sending to an address with a link override uses that link, in that direction only', () => {
    const { scheduler, network, log } = setup({ delayMs: 10 });
    network.setLink(A, B, { delayMs: 100, jitterMs: 0, loss: 0 });
    network.send(A, B, 'datagram', msg(1));
    network.send(B, A, 'datagram', msg(2));
    network.send(A, C, 'datagram', msg(3));
    scheduler.runUntil(1000);
    expect(log.map((d) => [d.n, d.at])).toEqual([
      [2, 10],
      [3, 10],
      [1, 100],
    ]);
    network.clearLink(A, B);
    network.send(A, B, 'datagram', msg(4));
    scheduler.runFor(10);
    expect(log.at(-1)).toMatchObject({ n: 4, at: 1010 });
  });

  test('invalid link profiles and a second attach to an address are refused', () => {
    const { network } = setup();
    expect(() => network.setLoss(1.5)).toThrow(RangeError);
    expect(() => network.setLoss(-0.1)).toThrow(RangeError);
    expect(() => network.setLink(A, B, { delayMs: -1, jitterMs: 0, loss: 0 })).toThrow(RangeError);
    expect(() => network.setLink(A, B, { delayMs: 1, jitterMs: NaN, loss: 0 })).toThrow(RangeError);
    expect(() => network.attach(A, () => {})).toThrow(/already attached/);
  });
});

describe('SimNetwork faults', () => {
  test('loss 0.2 drops about 20 % of datagrams and never a stream message', () => {
    const { scheduler, network, received } = setup({ loss: 0.2, jitterMs: 1 });
    for (let n = 0; n < 10_000; n++) network.send(A, B, 'datagram', msg(0));
    for (let n = 0; n < 10_000; n++) network.send(A, C, 'stream', msg(0));
    scheduler.runUntil(200_000); // streams under loss wait out TCP's retransmissions
    const lost = 10_000 - received(B).length;
    expect(lost).toBeGreaterThan(1700);
    expect(lost).toBeLessThan(2300);
    expect(received(C)).toHaveLength(10_000);
    expect(network.stats(B).datagram.dropped).toBe(lost);
    expect(network.stats(C).stream.dropped).toBe(0);
    expect(network.totals().dropReasons.loss).toBe(lost);
  });

  test('a stream under loss arrives later, as TCP retransmissions would make it', () => {
    const lastArrival = (loss: number): number => {
      const { scheduler, network, log } = setup({ delayMs: 1, jitterMs: 0, loss });
      for (let n = 0; n < 50; n++) network.send(A, B, 'stream', msg(n));
      scheduler.runUntil(200_000);
      expect(log.map((d) => d.n)).toEqual(Array.from({ length: 50 }, (_, n) => n));
      return Math.max(...log.map((d) => d.at));
    };
    expect(lastArrival(0)).toBe(2);
    // Half the segments lost: some handshake waits out the 1 s initial RTO, and order holds.
    expect(lastArrival(0.5)).toBeGreaterThanOrEqual(1000);
  });

  test('setLoss changes the loss of every link without an override', () => {
    const { scheduler, network, received } = setup();
    network.setLink(A, C, { delayMs: 10, jitterMs: 0, loss: 0 });
    network.setLoss(1);
    network.send(A, B, 'datagram', msg(1));
    network.send(A, C, 'datagram', msg(2));
    network.send(A, B, 'stream', msg(3));
    scheduler.runUntil(200_000); // streams are never lost: with every try lost it arrives after six retransmissions
    expect(received(B)).toEqual([3]);
    expect(received(C)).toEqual([2]);
    network.setLoss(0);
    network.send(A, B, 'datagram', msg(4));
    scheduler.runFor(100);
    expect(received(B)).toEqual([3, 4]);
  });

  test('a partition drops traffic both ways, in flight too, and heal restores it', () => {
    const { scheduler, network, received } = setup({ delayMs: 10 });
    network.send(A, C, 'datagram', msg(1)); // in flight when the partition starts
    network.send(C, A, 'stream', msg(2)); // in flight too
    scheduler.runUntil(5);
    network.partition([A, B], [C, D]);
    expect(network.isPartitioned(A, C)).toBe(true);
    expect(network.isPartitioned(D, B)).toBe(true);
    expect(network.isPartitioned(A, B)).toBe(false);
    network.send(A, D, 'datagram', msg(3));
    network.send(D, A, 'datagram', msg(4));
    network.send(B, C, 'stream', msg(5));
    network.send(A, B, 'datagram', msg(6)); // same side: unaffected
    network.send(D, C, 'stream', msg(7)); // same side: unaffected
    scheduler.runUntil(100);
    expect(received(A)).toEqual([]);
    expect(received(B)).toEqual([6]);
    expect(received(C)).toEqual([7]);
    expect(received(D)).toEqual([]);
    expect(network.totals().dropReasons.partition).toBe(5);

    network.heal();
    expect(network.isPartitioned(A, C)).toBe(false);
    network.send(A, C, 'datagram', msg(8));
    network.send(D, B, 'stream', msg(9));
    scheduler.runUntil(200);
    expect(received(C)).toEqual([7, 8]);
    expect(received(B)).toEqual([6, 9]);
  });

  test('a packet sent while partitioned stays lost when the partition heals before it would land', () => {
    const { scheduler, network, received } = setup({ delayMs: 10 });
    network.partition([A], [B]);
    network.send(A, B, 'datagram', msg(1));
    network.heal();
    scheduler.runUntil(100);
    expect(received(B)).toEqual([]);
  });

  test('partitions add up, and one address on both sides is refused', () => {
    const { scheduler, network, received } = setup();
    network.partition([A], [B]);
    network.partition([A], [C]);
    expect(() => network.partition([A, B], [B])).toThrow(/both sides/);
    for (const to of [B, C, D]) network.send(A, to, 'datagram', msg(1));
    scheduler.runUntil(100);
    expect([received(B), received(C), received(D)]).toEqual([[], [], [1]]);
  });

  test('a paused host receives nothing, then everything buffered, in arrival order, at resume', () => {
    const { scheduler, network, received, log } = setup({ delayMs: 1, jitterMs: 20 });
    network.pause(B);
    expect(network.isPaused(B)).toBe(true);
    for (let n = 0; n < 50; n++) {
      network.send(A, B, 'datagram', msg(n));
      network.send(C, B, 'stream', msg(100 + n));
      scheduler.runFor(0.5);
    }
    scheduler.runUntil(1000);
    expect(received(B)).toEqual([]);
    expect(network.totals().buffered).toBe(100);
    const arrival = setup({ delayMs: 1, jitterMs: 20 }); // the same seed and sends, unpaused
    for (let n = 0; n < 50; n++) {
      arrival.network.send(A, B, 'datagram', msg(n));
      arrival.network.send(C, B, 'stream', msg(100 + n));
      arrival.scheduler.runFor(0.5);
    }
    arrival.scheduler.runUntil(1000);

    network.resume(B);
    expect(network.isPaused(B)).toBe(false);
    expect(received(B)).toEqual(arrival.received(B));
    expect(log.every((d) => d.at === 1000)).toBe(true);
    expect(network.totals().buffered).toBe(0);
    network.send(A, B, 'datagram', msg(200));
    scheduler.runFor(100);
    expect(received(B).at(-1)).toBe(200);
  });

  test('a paused host buffers up to its bound and drops the rest, like a full socket buffer', () => {
    const { scheduler, network, received } = setup({}, { pauseBuffer: 5 });
    network.pause(B);
    for (let n = 0; n < 8; n++) network.send(A, B, 'datagram', msg(n));
    scheduler.runUntil(100);
    expect(network.stats(B).dropped).toBe(3);
    expect(network.totals().dropReasons.overflow).toBe(3);
    network.resume(B);
    expect(received(B)).toEqual([0, 1, 2, 3, 4]);
  });

  test('a handler that pauses its host during resume keeps the rest buffered for the next resume', () => {
    const scheduler = new VirtualScheduler();
    const network = new SimNetwork(
      { scheduler, random: seededRandom(1) },
      { link: { delayMs: 1, jitterMs: 0, loss: 0 } },
    );
    const got: number[] = [];
    network.attach(B, (_from, _channel, bytes) => {
      got.push(bytes[0] ?? -1);
      if (bytes[0] === 2) network.pause(B);
    });
    network.pause(B);
    for (let n = 0; n < 5; n++) network.send(A, B, 'datagram', msg(n));
    scheduler.runUntil(10);
    network.resume(B);
    expect(got).toEqual([0, 1, 2]);
    expect(network.isPaused(B)).toBe(true);
    network.resume(B);
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  test('a detached host’s packets are dropped and counted, in flight and buffered alike', () => {
    const { scheduler, network, received } = setup({ delayMs: 10 });
    network.pause(C);
    network.send(A, C, 'datagram', msg(1));
    scheduler.runUntil(10); // buffered at the paused C
    network.send(A, B, 'datagram', msg(2));
    network.send(A, B, 'stream', msg(3));
    scheduler.runUntil(15); // both in flight
    network.detach(B);
    network.detach(C);
    expect(network.isAttached(B)).toBe(false);
    expect(network.isPaused(C)).toBe(false);
    expect(network.totals().buffered).toBe(0);
    network.send(A, B, 'stream', msg(4)); // refused at once: nobody listens
    expect(network.totals().inFlight).toBe(2);
    scheduler.runUntil(100);
    expect(received(B)).toEqual([]);
    expect(received(C)).toEqual([]);
    expect(network.stats(B).dropped).toBe(3);
    expect(network.stats(C).dropped).toBe(1);
    expect(network.totals().dropReasons.down).toBe(4);
  });

  test('a restarted host gets datagrams still in flight, but no stream sent to its previous run', () => {
    const { scheduler, network, received, attach } = setup({ delayMs: 10 });
    network.send(A, B, 'datagram', msg(1));
    network.send(A, B, 'stream', msg(2));
    scheduler.runUntil(5);
    network.detach(B);
    attach(B);
    scheduler.runUntil(100);
    expect(received(B)).toEqual([1]);
    expect(network.stats(B).stream.dropped).toBe(1);
  });
});

describe('SimNetwork stats', () => {
  test('every message sent is received, dropped, in flight or buffered, per channel and in total', () => {
    const { scheduler, network } = setup({ delayMs: 3, jitterMs: 4, loss: 0.1 });
    const traffic = seededRandom(5);
    const addresses = [A, B, C, D];
    let bytes = 0;
    let messages = 0;
    const sendSome = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const size = 1 + traffic.int(100);
        const channel: Channel = traffic.next() < 0.5 ? 'datagram' : 'stream';
        network.send(
          addresses[traffic.int(4)] as PeerAddress,
          addresses[traffic.int(4)] as PeerAddress,
          channel,
          msg(0, size),
        );
        bytes += size;
        messages++;
        scheduler.runFor(traffic.next());
      }
    };
    sendSome(300);
    network.partition([A], [B, C]);
    sendSome(300);
    network.pause(D);
    sendSome(300);
    network.detach(C);
    sendSome(300); // ends with packets in flight and buffered at D

    const check = (): void => {
      const totals = network.totals();
      expect(totals.sentMessages).toBe(messages);
      expect(totals.sentBytes).toBe(bytes);
      expect(totals.sentMessages).toBe(
        totals.receivedMessages + totals.dropped + totals.inFlight + totals.buffered,
      );
      expect(totals.dropped).toBe(Object.values(totals.dropReasons).reduce((x, y) => x + y));
      expect(totals.sentMessages).toBe(totals.datagram.sentMessages + totals.stream.sentMessages);
      expect(totals.datagram.sentMessages).toBeGreaterThan(0);
      expect(totals.stream.sentMessages).toBeGreaterThan(0);
      const all = addresses.map((address) => network.stats(address));
      const { inFlight: _i, buffered: _b, dropReasons: _d, ...counters } = totals;
      expect({
        ...sum(all, (s) => s),
        datagram: sum(all, (s) => s.datagram),
        stream: sum(all, (s) => s.stream),
      }).toEqual(counters);
    };
    expect(network.totals().inFlight).toBeGreaterThan(0);
    expect(network.totals().buffered).toBeGreaterThan(0);
    check();
    scheduler.runUntil(scheduler.now + 200_000);
    network.resume(D);
    expect(network.totals().inFlight).toBe(0);
    expect(network.totals().buffered).toBe(0);
    check();
    const { dropReasons } = network.totals();
    expect(dropReasons.loss).toBeGreaterThan(0);
    expect(dropReasons.partition).toBeGreaterThan(0);
    expect(dropReasons.down).toBeGreaterThan(0);
  });

  test('stats count per sender and per receiver, by channel', () => {
    const { scheduler, network } = setup({ delayMs: 1 });
    network.send(A, B, 'datagram', msg(1, 10));
    network.send(A, B, 'stream', msg(2, 100));
    network.send(B, A, 'stream', msg(3, 1000));
    scheduler.runUntil(10);
    expect(network.stats(A)).toEqual({
      sentMessages: 2,
      sentBytes: 110,
      receivedMessages: 1,
      receivedBytes: 1000,
      dropped: 0,
      datagram: { ...ZERO, sentMessages: 1, sentBytes: 10 },
      stream: {
        ...ZERO,
        sentMessages: 1,
        sentBytes: 100,
        receivedMessages: 1,
        receivedBytes: 1000,
      },
    });
    expect(network.stats(B).datagram).toEqual({ ...ZERO, receivedMessages: 1, receivedBytes: 10 });
    expect(network.stats('10.9.9.9:9638')).toEqual({ ...ZERO, datagram: ZERO, stream: ZERO });
  });

  test('resetStats zeroes every counter but not what is in flight', () => {
    const { scheduler, network } = setup({ delayMs: 10 });
    network.send(A, B, 'datagram', msg(1));
    scheduler.runUntil(10);
    network.send(A, B, 'datagram', msg(2));
    network.resetStats();
    expect(network.stats(A)).toEqual({ ...ZERO, datagram: ZERO, stream: ZERO });
    expect(network.totals()).toMatchObject({ ...ZERO, inFlight: 1, buffered: 0 });
    scheduler.runUntil(20);
    expect(network.stats(B).receivedMessages).toBe(1);
  });
});
