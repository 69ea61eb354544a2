/**
 * One suite, every transport (STYLE.md §4, after js-libp2p's interface tests): what the gossip
 * shell may rely on whichever network carries its bytes. `transport.test.ts` runs it on real
 * sockets, `sim-transport.test.ts` on the simulated network; a behaviour that only one of them
 * has does not belong here.
 */
import { afterEach, describe, expect, test } from 'vitest';

export type Channel = 'datagram' | 'stream';

export interface Received {
  from: string;
  channel: Channel;
  bytes: Uint8Array;
}

/** One member's end of the network. */
export interface Endpoint {
  /** What peers send to, and what they see as `from` of this endpoint's datagrams. */
  readonly address: string;
  send(to: string, channel: Channel, bytes: Uint8Array): void;
  /** Everything delivered to this endpoint, in delivery order. */
  readonly received: Received[];
}

export interface TestNetwork {
  endpoints: Endpoint[];
  /** An address nobody listens on. */
  nowhere: string;
  /**
   * Lets deliveries happen until `done()` holds, or gives up (without failing: the assertions
   * that follow do). The simulated network runs its scheduler; the real one polls, bounded.
   */
  settle(done: () => boolean): Promise<void>;
  close(): Promise<void>;
}

/** Builds `n` endpoints that can reach one another. */
export type NetworkFactory = (n: number) => Promise<TestNetwork>;

/** `size` bytes: the message number in the first four, then a pattern that depends on it. */
export function message(n: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (n * 31 + i * 7) & 0xff;
  if (size >= 4) new DataView(bytes.buffer).setUint32(0, n, false);
  return bytes;
}

export function transportCompliance(name: string, factory: NetworkFactory): void {
  describe(`transport compliance: ${name}`, () => {
    let network: TestNetwork | undefined;
    const open = async (n: number): Promise<TestNetwork> => {
      network = await factory(n);
      return network;
    };
    afterEach(async () => {
      await network?.close();
      network = undefined;
    });

    test("a datagram arrives with the sender's address as from", async () => {
      const net = await open(2);
      const [a, b] = pair(net);
      a.send(b.address, 'datagram', message(7, 64));
      await net.settle(() => b.received.length >= 1);
      expect(b.received).toEqual([{ from: a.address, channel: 'datagram', bytes: message(7, 64) }]);
    });

    test('datagrams from several senders each arrive from their own address', async () => {
      const net = await open(3);
      const [a, b, c] = net.endpoints as [Endpoint, Endpoint, Endpoint];
      a.send(b.address, 'datagram', message(1, 10));
      c.send(b.address, 'datagram', message(2, 10));
      await net.settle(() => b.received.length >= 2);
      const byNumber = [...b.received].sort((x, y) => (x.bytes[3] ?? 0) - (y.bytes[3] ?? 0));
      expect(byNumber.map((r) => r.from)).toEqual([a.address, c.address]);
    });

    test('stream messages between a pair arrive complete and in order', async () => {
      const net = await open(2);
      const [a, b] = pair(net);
      const sent = Array.from({ length: 100 }, (_, i) => message(i, 4 + ((i * 7919) % 20_000)));
      for (const bytes of sent) a.send(b.address, 'stream', bytes);
      await net.settle(() => b.received.length >= sent.length);
      expect(b.received.length).toBe(sent.length);
      expect(b.received.every((r) => r.channel === 'stream')).toBe(true);
      expect(b.received.map((r) => summary(r.bytes))).toEqual(sent.map(summary));
      expect(b.received.map((r, i) => mismatchAt(r.bytes, sent[i] as Uint8Array))).toEqual(sent.map(() => -1));
    });

    test('an empty stream message arrives as an empty message', async () => {
      const net = await open(2);
      const [a, b] = pair(net);
      a.send(b.address, 'stream', new Uint8Array(0));
      a.send(b.address, 'stream', message(1, 8));
      await net.settle(() => b.received.length >= 2);
      expect(b.received.map((r) => r.bytes)).toEqual([new Uint8Array(0), message(1, 8)]);
    });

    test('a 1 MiB stream message arrives intact', async () => {
      const net = await open(2);
      const [a, b] = pair(net);
      const big = message(42, 1024 * 1024);
      a.send(b.address, 'stream', big);
      await net.settle(() => b.received.length >= 1);
      expect(b.received.length).toBe(1);
      const got = b.received[0]?.bytes ?? new Uint8Array(0);
      expect(got.length).toBe(big.length);
      expect(mismatchAt(got, big)).toBe(-1);
    });

    test("a stream message sent back to a stream message's from reaches its sender", async () => {
      const net = await open(2);
      const [a, b] = pair(net);
      a.send(b.address, 'stream', message(1, 16));
      await net.settle(() => b.received.length >= 1);
      const from = b.received[0]?.from as string;
      b.send(from, 'stream', message(2, 16));
      await net.settle(() => a.received.length >= 1);
      expect(a.received.map((r) => r.bytes)).toEqual([message(2, 16)]);
    });

    test('sending a stream to an address nobody listens on does not throw, and later sends still work', async () => {
      const net = await open(2);
      const [a, b] = pair(net);
      expect(() => a.send(net.nowhere, 'stream', message(1, 100))).not.toThrow();
      expect(() => a.send(net.nowhere, 'stream', message(2, 100))).not.toThrow();
      a.send(b.address, 'stream', message(3, 100));
      a.send(b.address, 'datagram', message(4, 100));
      await net.settle(() => b.received.length >= 2);
      expect(b.received.map((r) => r.channel).sort()).toEqual(['datagram', 'stream']);
      // And a later stream to the dead address still neither throws nor blocks the others.
      a.send(net.nowhere, 'stream', message(5, 100));
      a.send(b.address, 'stream', message(6, 100));
      await net.settle(() => b.received.length >= 3);
      expect(b.received[2]?.bytes).toEqual(message(6, 100));
    });

    test('a datagram to nowhere does not throw', async () => {
      const net = await open(2);
      const [a, b] = pair(net);
      expect(() => a.send(net.nowhere, 'datagram', message(1, 100))).not.toThrow();
      a.send(b.address, 'datagram', message(2, 100));
      await net.settle(() => b.received.length >= 1);
      expect(b.received.map((r) => r.bytes)).toEqual([message(2, 100)]);
    });
  });
}

/** Message number and length: what a reader wants to see when a list differs. */
function summary(bytes: Uint8Array): string {
  const n = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, false) : -1;
  return `#${n} (${bytes.length} bytes)`;
}

/**
 * The first index where two byte arrays differ, or -1 when they are equal. (vitest's `toEqual`
 * walks typed arrays element by element and takes seconds on a megabyte.)
 */
export function mismatchAt(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function pair(net: TestNetwork): [Endpoint, Endpoint] {
  const [a, b] = net.endpoints;
  if (a === undefined || b === undefined) throw new Error('the factory made fewer than 2 endpoints');
  return [a, b];
}
