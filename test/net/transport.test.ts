/**
 * The real transport on loopback sockets: the compliance suite, then what only real sockets have
 * (byte streams cut anywhere, hostile length prefixes, ports that are taken, handles that must be
 * released). Every port is 0 (the OS picks); every wait is bounded and decides nothing by itself.
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { MurmurError, nullLogger, type Logger } from '../../src/core/index.js';
import type { GossipNode, TimerService, Transport } from '../../src/gossip/shell.js';
import {
  RealTimers,
  UdpTcpTransport,
  encodeFrame,
  encodeFrameHeader,
  monotonicClock,
  type Channel,
  type PacketHandler,
  type UdpTcpTransportOptions,
} from '../../src/net/index.js';
import { message, mismatchAt, transportCompliance, type Endpoint, type Received } from './transport-compliance.js';
import { waitUntil } from './wait.js';

const HOST = '127.0.0.1';

interface Started {
  transport: UdpTcpTransport;
  address: string;
  port: number;
  received: Received[];
}

/** Transports started by a test, stopped after it whatever happened. */
const running: UdpTcpTransport[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
});

async function startTransport(
  opts: Partial<UdpTcpTransportOptions> = {},
  log: Logger = nullLogger,
): Promise<Started> {
  const transport = new UdpTcpTransport({ log }, { host: HOST, port: 0, ...opts });
  running.push(transport);
  const received: Received[] = [];
  const { host, port } = await transport.start((from, channel, bytes) => received.push({ from, channel, bytes }));
  return { transport, address: `${host}:${port}`, port, received };
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A raw TCP client, to write bytes the transport's own sender never would. */
async function rawClient(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: HOST, port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

function write(socket: net.Socket, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => socket.write(bytes, (err) => (err ? reject(err) : resolve())));
}

/** A logger that remembers what it was told, to check that floods are limited. */
function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, msg, ...(fields === undefined ? {} : { fields }) });
    };
  const logger = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

transportCompliance('UDP and TCP on loopback', async (n) => {
  const started: Started[] = [];
  for (let i = 0; i < n; i++) started.push(await startTransport());
  const endpoints: Endpoint[] = started.map(({ transport, address, received }) => ({
    address,
    received,
    send: (to: string, channel: Channel, bytes: Uint8Array) => transport.send(to, channel, bytes),
  }));
  return {
    endpoints,
    nowhere: `${HOST}:${await deadPort()}`,
    settle: (done) => waitUntil(done),
    close: async () => {
      await Promise.all(started.map((s) => s.transport.stop()));
    },
  };
});

describe('UdpTcpTransport', () => {
  test("fits the gossip shell's seams: Transport, TimerService and GossipNode.receive", () => {
    // Checked by the compiler: the composition root passes these where gossip expects its types.
    const transport: Transport = new UdpTcpTransport({ log: nullLogger }, { host: HOST, port: 0 });
    const timers: TimerService = new RealTimers();
    const feed = (node: GossipNode): PacketHandler => (from, channel, bytes) => node.receive(from, channel, bytes);
    expect([typeof transport.send, typeof timers.at, typeof feed]).toEqual(['function', 'function', 'function']);
  });

  describe('binding', () => {
    test('port 0 binds UDP and TCP to one port number and reports it', async () => {
      const { transport, port } = await startTransport();
      expect(port).toBeGreaterThan(0);
      expect(transport.address).toEqual({ host: HOST, port });
      // Both protocols are taken on that number: a second transport cannot have it.
      const tcp = net.createServer();
      const tcpError = await new Promise<NodeJS.ErrnoException>((resolve) => {
        tcp.once('error', resolve);
        tcp.listen(port, HOST);
      });
      expect(tcpError.code).toBe('EADDRINUSE');
    });

    test('a fixed port whose UDP side is taken gives a clear IO error naming the address', async () => {
      const { port } = await startTransport();
      const second = new UdpTcpTransport({ log: nullLogger }, { host: HOST, port });
      running.push(second);
      const error = await second.start(() => {}).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(MurmurError);
      expect(error).toMatchObject({
        code: 'IO',
        message: `address ${HOST}:${port} is in use: is another Supervisor running? choose another with --listen-gossip`,
      });
      expect((error as MurmurError).cause).toMatchObject({ code: 'EADDRINUSE' });
    });

    test('a fixed port whose TCP side is taken gives the same error, and leaves the UDP port free', async () => {
      const tcp = net.createServer();
      await new Promise<void>((resolve) => tcp.listen(0, HOST, resolve));
      const port = (tcp.address() as net.AddressInfo).port;
      try {
        const transport = new UdpTcpTransport({ log: nullLogger }, { host: HOST, port });
        running.push(transport);
        const error = await transport.start(() => {}).catch((err: unknown) => err);
        expect(error).toMatchObject({ code: 'IO', message: expect.stringContaining(`address ${HOST}:${port} is in use`) });
        // The UDP socket it had bound was closed again: once TCP is free, a transport gets both.
        await new Promise((resolve) => tcp.close(resolve));
        const again = await transport.start(() => {});
        expect(again.port).toBe(port);
      } finally {
        if (tcp.listening) await new Promise((resolve) => tcp.close(resolve));
      }
    });

    test('an address that is not this host\'s gives an IO error naming it', async () => {
      // 192.0.2.0/24 is TEST-NET-1; .254 is assigned to no interface here.
      const transport = new UdpTcpTransport({ log: nullLogger }, { host: '192.0.2.254', port: 9638 });
      running.push(transport);
      const error = await transport.start(() => {}).catch((err: unknown) => err);
      expect(error).toMatchObject({ code: 'IO', message: expect.stringContaining('192.0.2.254:9638') });
    });

    test('a listen host that is not an IP address is refused at construction', () => {
      expect(() => new UdpTcpTransport({ log: nullLogger }, { host: 'localhost', port: 0 })).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT' }),
      );
    });
  });

  describe('datagrams', () => {
    test("from is the sender's bound gossip port, so replies reach it", async () => {
      const a = await startTransport();
      const b = await startTransport();
      a.transport.send(b.address, 'datagram', message(1, 20));
      await waitUntil(() => b.received.length >= 1);
      expect(b.received[0]?.from).toBe(`${HOST}:${a.port}`);
      b.transport.send(b.received[0]?.from ?? '', 'datagram', message(2, 20));
      await waitUntil(() => a.received.length >= 1);
      expect(a.received.map((r) => r.from)).toEqual([b.address]);
      expect(a.transport.counters).toMatchObject({ datagramsOut: 1, datagramBytesOut: 20, datagramsIn: 1, datagramBytesIn: 20 });
    });

    test('a datagram over the OS limit is counted as a send error and breaks nothing', async () => {
      const a = await startTransport();
      const b = await startTransport();
      expect(() => a.transport.send(b.address, 'datagram', new Uint8Array(70_000))).not.toThrow();
      await waitUntil(() => a.transport.counters.sendErrors >= 1);
      expect(a.transport.counters.sendErrors).toBe(1);
      a.transport.send(b.address, 'datagram', message(1, 10));
      await waitUntil(() => b.received.length >= 1);
      expect(b.received.length).toBe(1);
    });

    test('a datagram over maxDatagramBytes is dropped and counted by the receiver', async () => {
      const a = await startTransport();
      const b = await startTransport({ maxDatagramBytes: 100 });
      a.transport.send(b.address, 'datagram', message(1, 101));
      a.transport.send(b.address, 'datagram', message(2, 100));
      await waitUntil(() => b.received.length >= 1 && b.transport.counters.oversizedDatagrams >= 1);
      expect(b.received.map((r) => r.bytes.length)).toEqual([100]);
      expect(b.transport.counters.oversizedDatagrams).toBe(1);
    });

    test('bad addresses and a stopped transport are counted, never thrown', async () => {
      const a = await startTransport();
      // Host names are bad addresses too: never resolved per packet.
      for (const to of ['nonsense', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', '::1:9638', '[::1]9638', 'localhost:9638', 'node-1.example:9638']) {
        expect(() => a.transport.send(to, 'datagram', message(1, 1))).not.toThrow();
        expect(() => a.transport.send(to, 'stream', message(1, 1))).not.toThrow();
      }
      expect(a.transport.counters.sendErrors).toBe(16);
      await a.transport.stop();
      expect(() => a.transport.send(`${HOST}:9`, 'datagram', message(1, 1))).not.toThrow();
      expect(() => a.transport.send(`${HOST}:9`, 'stream', message(1, 1))).not.toThrow();
      expect(a.transport.counters.sendErrors).toBe(18);
    });
  });

  describe('streams', () => {
    test('frames split byte by byte, and many frames in one write, are all parsed', async () => {
      const b = await startTransport();
      const client = await rawClient(b.port);
      const from = `${HOST}:${client.localPort}`;
      // Three frames coalesced into one write.
      const three = [message(1, 5), new Uint8Array(0), message(3, 300)];
      await write(client, Buffer.concat(three.map(encodeFrame)));
      // One frame written a byte at a time.
      const slow = message(4, 40);
      for (const byte of encodeFrame(slow)) await write(client, Uint8Array.of(byte));
      // A frame cut inside its prefix, with the next frame in the same write as its tail.
      const cut = encodeFrame(message(5, 9));
      const next = encodeFrame(message(6, 7));
      await write(client, cut.subarray(0, 2));
      await write(client, Buffer.concat([cut.subarray(2), next]));
      await waitUntil(() => b.received.length >= 6);
      client.destroy();
      const expected = [...three, slow, message(5, 9), message(6, 7)];
      expect(b.received.map((r) => [r.from, r.channel, r.bytes.length])).toEqual(expected.map((e) => [from, 'stream', e.length]));
      expect(b.received.map((r, i) => mismatchAt(r.bytes, expected[i] as Uint8Array))).toEqual(expected.map(() => -1));
    });

    test('an oversized length prefix closes that connection, and the transport keeps serving others', async () => {
      const b = await startTransport({ maxFrameBytes: 1024 });
      const bad = await rawClient(b.port);
      const badClosed = new Promise<void>((resolve) => bad.once('close', () => resolve()));
      bad.on('error', () => {}); // a reset is how it may end
      await write(bad, Buffer.concat([encodeFrame(message(1, 10)), encodeFrameHeader(1025), new Uint8Array(100)]));
      await Promise.race([badClosed, waitUntil(() => false)]);
      expect(bad.destroyed).toBe(true);
      expect(b.transport.counters.oversizedFrames).toBe(1);
      // The frame before the bad prefix was still delivered.
      expect(b.received.map((r) => r.bytes.length)).toEqual([10]);

      const good = await rawClient(b.port);
      await write(good, encodeFrame(message(2, 1024)));
      const a = await startTransport();
      a.transport.send(b.address, 'stream', message(3, 20));
      a.transport.send(b.address, 'datagram', message(4, 20));
      await waitUntil(() => b.received.length >= 4);
      good.destroy();
      expect(b.received.map((r) => r.bytes.length).sort((x, y) => x - y)).toEqual([10, 20, 20, 1024]);
    });

    test('a stream message over maxFrameBytes is refused at the sender', async () => {
      const a = await startTransport({ maxFrameBytes: 1000 });
      const b = await startTransport();
      a.transport.send(b.address, 'stream', new Uint8Array(1001));
      a.transport.send(b.address, 'stream', new Uint8Array(1000));
      await waitUntil(() => b.received.length >= 1);
      expect(a.transport.counters.sendErrors).toBe(1);
      expect(b.received.map((r) => r.bytes.length)).toEqual([1000]);
    });

    test('messages to one peer share one pooled connection', async () => {
      const a = await startTransport();
      const b = await startTransport();
      for (let i = 0; i < 10; i++) a.transport.send(b.address, 'stream', message(i, 100));
      await waitUntil(() => b.received.length >= 10);
      for (let i = 10; i < 20; i++) a.transport.send(b.address, 'stream', message(i, 100));
      await waitUntil(() => b.received.length >= 20);
      expect(a.transport.connectionCounts()).toEqual({ outbound: 1, inbound: 0 });
      expect(b.transport.connectionCounts()).toEqual({ outbound: 0, inbound: 1 });
      expect(new Set(b.received.map((r) => r.from)).size).toBe(1);
    });

    test('a reply to a stream message goes back on the connection it came on', async () => {
      const a = await startTransport();
      const b = await startTransport();
      a.transport.send(b.address, 'stream', message(1, 10));
      await waitUntil(() => b.received.length >= 1);
      const from = b.received[0]?.from ?? '';
      expect(from).not.toBe(a.address); // the connection's ephemeral port, not the gossip port
      b.transport.send(from, 'stream', message(2, 10));
      await waitUntil(() => a.received.length >= 1);
      expect(a.received.map((r) => r.from)).toEqual([b.address]);
      expect(b.transport.connectionCounts()).toEqual({ outbound: 0, inbound: 1 });
    });

    test('an idle connection is closed, and the next message opens a new one', async () => {
      const a = await startTransport({ idleConnectionMs: 50 });
      const b = await startTransport();
      a.transport.send(b.address, 'stream', message(1, 10));
      await waitUntil(() => b.received.length >= 1);
      await waitUntil(() => a.transport.connectionCounts().outbound === 0 && b.transport.connectionCounts().inbound === 0);
      expect(a.transport.connectionCounts()).toEqual({ outbound: 0, inbound: 0 });
      expect(b.transport.connectionCounts()).toEqual({ outbound: 0, inbound: 0 });
      a.transport.send(b.address, 'stream', message(2, 10));
      await waitUntil(() => b.received.length >= 2);
      expect(b.received.map((r) => r.bytes[3])).toEqual([1, 2]);
    });

    test('a failed connection drops what was queued for it, counted, and logs once per destination', async () => {
      const log = recordingLogger();
      const a = await startTransport({}, log);
      const nowhere = `${HOST}:${await deadPort()}`;
      for (let i = 0; i < 3; i++) a.transport.send(nowhere, 'stream', message(i, 10));
      await waitUntil(() => a.transport.counters.connectErrors >= 1);
      a.transport.send(nowhere, 'stream', message(9, 10));
      await waitUntil(() => a.transport.counters.connectErrors >= 2);
      expect(a.transport.counters).toMatchObject({ connectErrors: 2, streamsDropped: 4, streamsOut: 0 });
      const warnings = log.lines.filter((l) => l.msg === 'stream connection failed');
      expect(warnings).toEqual([
        expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ to: nowhere, code: 'ECONNREFUSED', dropped: 3 }) }),
      ]);
    });

    test('a handler that throws is counted, and later packets are still delivered', async () => {
      const a = await startTransport();
      const b = new UdpTcpTransport({ log: nullLogger }, { host: HOST, port: 0 });
      running.push(b);
      const got: number[] = [];
      const { port } = await b.start((_from, _channel, bytes) => {
        got.push(bytes[3] ?? -1);
        if (got.length === 1) throw new Error('boom');
      });
      a.transport.send(`${HOST}:${port}`, 'stream', message(1, 10));
      a.transport.send(`${HOST}:${port}`, 'stream', message(2, 10));
      await waitUntil(() => got.length >= 2);
      expect(got).toEqual([1, 2]);
      expect(b.counters.handlerErrors).toBe(1);
    });
  });

  test.skipIf(!hasIPv6Loopback())('a dual-stack listener reports IPv4 peers without the ::ffff: prefix', async () => {
    const dual = new UdpTcpTransport({ log: nullLogger }, { host: '::', port: 0 });
    running.push(dual);
    const received: Received[] = [];
    const { port } = await dual.start((from, channel, bytes) => received.push({ from, channel, bytes }));
    const a = await startTransport();
    a.transport.send(`${HOST}:${port}`, 'datagram', message(1, 10));
    a.transport.send(`${HOST}:${port}`, 'stream', message(2, 10));
    await waitUntil(() => received.length >= 2);
    expect(received.find((r) => r.channel === 'datagram')?.from).toBe(a.address);
    expect(received.find((r) => r.channel === 'stream')?.from).toMatch(/^127\.0\.0\.1:\d+$/);
    // And it reaches IPv4 peers through the same dual-stack UDP socket.
    dual.send(a.address, 'datagram', message(3, 10));
    await waitUntil(() => a.received.length >= 1);
    expect(a.received.map((r) => r.from)).toEqual([`127.0.0.1:${port}`]);
  });

  describe('lifecycle', () => {
    test('stop() is idempotent and releases the port', async () => {
      const { transport, port } = await startTransport();
      const first = transport.stop();
      expect(transport.stop()).toBe(first);
      await first;
      await transport.stop();
      expect(transport.address).toBeUndefined();
      expect(transport.connectionCounts()).toEqual({ outbound: 0, inbound: 0 });
      // Both sides of the port are free again: a new transport binds exactly that port.
      const again = new UdpTcpTransport({ log: nullLogger }, { host: HOST, port });
      running.push(again);
      expect(await again.start(() => {})).toEqual({ host: HOST, port });
    });

    test('start() twice returns the same address; a stopped transport does not start again', async () => {
      const { transport, port } = await startTransport();
      expect(await transport.start(() => {})).toEqual({ host: HOST, port });
      await transport.stop();
      await expect(transport.start(() => {})).rejects.toThrow();
    });

    test('stop() while start() is binding leaves nothing bound', async () => {
      const transport = new UdpTcpTransport({ log: nullLogger }, { host: HOST, port: 0 });
      const starting = transport.start(() => {});
      await transport.stop();
      await expect(starting).rejects.toMatchObject({ code: 'IO' });
      expect(transport.address).toBeUndefined();
    });

    test('stop() closes connections both ways, including one still connecting', async () => {
      const a = await startTransport();
      const b = await startTransport();
      a.transport.send(b.address, 'stream', message(1, 10));
      await waitUntil(() => b.received.length >= 1);
      a.transport.send(`${HOST}:${await deadPort()}`, 'stream', message(2, 10));
      await Promise.all([a.transport.stop(), b.transport.stop()]);
      expect(a.transport.connectionCounts()).toEqual({ outbound: 0, inbound: 0 });
      expect(b.transport.connectionCounts()).toEqual({ outbound: 0, inbound: 0 });
    });

    test('a process that stopped its transports and timers exits by itself (no handle left open)', () => {
      const root = path.resolve(import.meta.dirname, '..', '..');
      const script = path.join(root, 'test', 'net', 'fixtures', 'start-stop.ts');
      const child = spawnSync(process.execPath, ['--import', 'tsx', script], {
        cwd: root,
        encoding: 'utf8',
        // An upper bound only: a leaked handle keeps the child alive until this kills it.
        timeout: 30_000,
      });
      expect({ signal: child.signal, status: child.status, stderr: child.stderr }).toEqual({
        signal: null,
        status: 0,
        stderr: '',
      });
      expect(child.stdout).toBe('stopped after 2 packets\n');
    });
  });
});

describe('RealTimers', () => {
  test('fires in time order, never before its time', async () => {
    const timers = new RealTimers();
    const start = monotonicClock.now();
    const fired: Array<{ name: string; late: number }> = [];
    for (const [name, delay] of [['c', 30], ['a', 10], ['b', 20], ['past', -5]] as const) {
      timers.at(start + delay, () => fired.push({ name, late: monotonicClock.now() - (start + delay) }));
    }
    await waitUntil(() => fired.length >= 4);
    expect(fired.map((f) => f.name)).toEqual(['past', 'a', 'b', 'c']);
    expect(fired.every((f) => f.late >= 0)).toBe(true);
    expect(timers.size).toBe(0);
  });

  test('a time already past fires on a later turn, not synchronously', () => {
    const timers = new RealTimers();
    let fired = false;
    timers.at(monotonicClock.now() - 1000, () => (fired = true));
    expect(fired).toBe(false);
    timers.stop();
  });

  test('stop() cancels every pending timer and ignores later ones', async () => {
    const timers = new RealTimers();
    const fired: string[] = [];
    const now = monotonicClock.now();
    timers.at(now + 5, () => fired.push('cancelled'));
    timers.at(now + 10, () => fired.push('cancelled too'));
    expect(timers.size).toBe(2);
    timers.stop();
    timers.stop();
    timers.at(now, () => fired.push('after stop'));
    expect(timers.size).toBe(0);
    // A witness on another service, due after all of those: once it fires, they would have.
    const witness = new RealTimers();
    witness.at(now + 40, () => fired.push('witness'));
    await waitUntil(() => fired.includes('witness'));
    expect(fired).toEqual(['witness']);
  });

  test('runs on a clock given to it', async () => {
    let fake = 1_000_000;
    const timers = new RealTimers({ clock: { now: () => fake } });
    let fired = false;
    timers.at(fake + 5, () => (fired = true));
    fake += 5; // the clock reaches the time before the wake-up, so it fires then
    await waitUntil(() => fired);
    expect(fired).toBe(true);
  });
});

function hasIPv6Loopback(): boolean {
  return Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.family === 'IPv6' && i.address === '::1'));
}
