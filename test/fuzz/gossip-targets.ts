/**
 * Targets (b) and (c): a live Supervisor's gossip port, UDP and TCP (one port number, both
 * channels, `src/net/transport.ts`). Inputs come from `PacketSource` and are sent as a peer
 * without a ring key sends them: the target runs without one, so that the inputs reach the
 * decoder and the gossip core rather than stopping at `Keyring.open` (which the wire target
 * fuzzes in-process); one in ten is wrapped in an envelope, whole or broken.
 *
 * TCP adds broken framing to broken packets: streams that stop mid-frame (closed, reset or left
 * hanging), length prefixes over the 32 MiB limit, zero-length frames, a frame written one byte at
 * a time, bursts of frames in one write, unframed junk, large frames, and bursts of many
 * connections at once.
 *
 * During the run a `Monitor` checks the target; after it, the peer joined to the target must
 * still see it alive, and the target the peer.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { seededRandom, type Random } from '../../src/core/index.js';
import { encodeFrame, encodeFrameHeader } from '../../src/net/index.js';
import { makePools } from './inputs.js';
import { sleep, timedFetch, waitSeesAlive, type LiveSup } from './live.js';
import { Monitor, type MonitorOptions } from './monitor.js';
import { concat } from './mutate.js';
import { addFinding, emptyReport, type TargetReport } from './report.js';
import { PacketSource, randomBytes } from './source.js';

export interface GossipFuzzOptions {
  inputs: number;
  seed: number;
  target: LiveSup;
  peer: LiveSup;
  monitor?: MonitorOptions;
  /** How long the peer and the target get to see each other alive after the run. @default 20000 */
  ringWaitMs?: number;
  onProgress?: (done: number) => void;
}

const UNSEALED = Uint8Array.of(0x4d, 0x00);

/**
 * A packet as a Supervisor without a ring key sends it (the bare packet: its shell has no sealer),
 * or (1 in 10) in an envelope, whole or broken, which such a Supervisor reads as a packet.
 */
function envelope(random: Random, bytes: Uint8Array): Uint8Array {
  const roll = random.next();
  if (roll < 0.9) return bytes;
  if (roll < 0.93) return concat(UNSEALED, bytes);
  if (roll < 0.96) return concat(Uint8Array.of(0x4d, 0x01), bytes); // "sealed", to a ring without a key
  if (roll < 0.98) return concat(Uint8Array.of(0x4d, random.int(256)), bytes);
  return random.int(2) === 0 ? new Uint8Array(0) : Uint8Array.of(0x4d);
}

function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** `hab_butterfly_packets_total{direction="in"}` and the decode and open errors, from `/metrics`. */
export async function gossipCounters(sup: LiveSup): Promise<{ packetsIn: number; decodeErrors: number; openErrors: number; rumors: number; members: number }> {
  const { body } = await timedFetch(`http://${sup.http}/metrics`, 5000);
  const read = (re: RegExp): number => Number(re.exec(body)?.[1] ?? 0);
  const sum = (re: RegExp): number => [...body.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  return {
    packetsIn: read(/^hab_butterfly_packets_total\{direction="in"\} (\d+)/m),
    decodeErrors: read(/^hab_butterfly_decode_errors_total (\d+)/m),
    openErrors: read(/^hab_butterfly_open_errors_total (\d+)/m),
    rumors: sum(/^hab_butterfly_rumors\{[^}]*\} (\d+)/gm),
    members: sum(/^hab_butterfly_members\{[^}]*\} (\d+)/gm),
  };
}

async function finishGossipRun(report: TargetReport, opts: GossipFuzzOptions, monitor: Monitor, before: Awaited<ReturnType<typeof gossipCounters>> | undefined): Promise<void> {
  await monitor.finish();
  if (monitor.alive) {
    const wait = opts.ringWaitMs ?? 20_000;
    const [peerSees, targetSees] = await Promise.all([waitSeesAlive(opts.peer, opts.target, wait), waitSeesAlive(opts.target, opts.peer, wait)]);
    report.ringAlive = peerSees && targetSees;
    if (!report.ringAlive) {
      addFinding(report, { target: report.target, kind: 'property', detail: `after the run the peer ${peerSees ? 'sees' : 'does not see'} the target alive, the target ${targetSees ? 'sees' : 'does not see'} the peer alive` });
    }
    if (before !== undefined) {
      const after = await gossipCounters(opts.target).catch(() => undefined);
      if (after) {
        report.notes.targetPacketsIn = after.packetsIn - before.packetsIn;
        report.notes.targetDecodeErrors = after.decodeErrors - before.decodeErrors;
        report.notes.targetOpenErrors = after.openErrors - before.openErrors;
        report.notes.storeAfter = `${after.rumors} rumors, ${after.members} members`;
      }
    }
  } else {
    report.ringAlive = false;
  }
  for (const line of opts.target.errors) addFinding(report, { target: report.target, kind: 'property', detail: `the target logged: ${line}` });
  opts.target.errors.length = 0;
}

// ------------------------------------------------------------------------------------------ UDP

export async function fuzzUdp(opts: GossipFuzzOptions): Promise<TargetReport> {
  const report = emptyReport('udp');
  const source = new PacketSource(makePools(opts.seed, opts.target.id), opts.seed, 65_507 - UNSEALED.length);
  const random = seededRandom(opts.seed + 11);
  const { host, port } = hostPort(opts.target.gossip);
  const socket = dgram.createSocket('udp4');
  let sendErrors = 0;
  socket.on('error', () => void sendErrors++);
  socket.on('message', () => {}); // acks and pushes from the target: read and dropped
  await new Promise<void>((resolve) => socket.bind({ address: '127.0.0.1', port: 0 }, resolve));
  const before = await gossipCounters(opts.target).catch(() => undefined);
  const monitor = new Monitor(opts.target, report, opts.monitor);
  const started = performance.now();
  let inFlight = 0;
  let unchecked = 0;
  for (let i = 0; i < opts.inputs && monitor.alive; i++) {
    const bytes = envelope(random, source.next().bytes);
    inFlight++;
    unchecked += bytes.length + 64;
    socket.send(bytes, port, host, (err) => {
      inFlight--;
      if (err) sendErrors++;
    });
    report.inputs++;
    if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
    // Keep the target's socket buffer (~200 KiB by default) from overflowing: after 100 KiB or
    // 250 datagrams, wait until it has read what was sent, or has stopped reading (the kernel
    // dropped the rest).
    if (before !== undefined && (unchecked > 100 * 1024 || i % 250 === 249)) {
      unchecked = 0;
      let last = -1;
      let still = 0;
      const limit = Date.now() + 3000;
      while (Date.now() < limit && still < 3) {
        const now = await gossipCounters(opts.target).catch(() => undefined);
        if (now === undefined || report.inputs - (now.packetsIn - before.packetsIn) < 50) break;
        still = now.packetsIn === last ? still + 1 : 0;
        last = now.packetsIn;
        await sleep(5);
      }
    }
    if (i % 5000 === 4999) opts.onProgress?.(i + 1);
  }
  while (inFlight > 0) await sleep(5);
  report.seconds = (performance.now() - started) / 1000;
  await finishGossipRun(report, opts, monitor, before);
  socket.close();
  report.notes = { ...report.notes, sendErrors, ...prefixed('kind.', source.counts) };
  return report;
}

// ------------------------------------------------------------------------------------------ TCP

type TcpCase = 'frame' | 'burst' | 'oversize' | 'mid-frame-end' | 'mid-frame-reset' | 'mid-frame-hang' | 'zero-length' | 'byte-by-byte' | 'junk' | 'large' | 'many-connections';

/** How many connections may be left hanging mid-frame at once (the rest are closed). */
const MAX_HANGING = 48;
const POOL = 4;

class Connections {
  private readonly pool: (net.Socket | undefined)[] = Array.from({ length: POOL }, () => undefined);
  readonly hanging: net.Socket[] = [];
  connectErrors = 0;
  resets = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** A new connection; resolves once connected (or undefined if it failed). */
  open(): Promise<net.Socket | undefined> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
      socket.on('data', () => {}); // the target's answers: read and dropped
      socket.on('error', () => void this.resets++);
      socket.once('connect', () => resolve(socket));
      socket.once('close', () => resolve(undefined));
      socket.setTimeout(30_000, () => socket.destroy());
    });
  }

  /** One of the pooled connections, reopened when the target closed it. */
  async pooled(i: number): Promise<net.Socket | undefined> {
    const held = this.pool[i % POOL];
    if (held !== undefined && !held.destroyed && held.writable) return held;
    const fresh = await this.open();
    if (fresh === undefined) this.connectErrors++;
    this.pool[i % POOL] = fresh;
    return fresh;
  }

  hang(socket: net.Socket): void {
    this.hanging.push(socket);
    while (this.hanging.length > MAX_HANGING) this.hanging.shift()?.destroy();
  }

  closeAll(): void {
    for (const s of [...this.pool, ...this.hanging]) s?.destroy();
    this.hanging.length = 0;
  }
}

async function write(socket: net.Socket, bytes: Uint8Array): Promise<void> {
  if (socket.destroyed) return;
  if (!socket.write(bytes)) {
    await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), new Promise((resolve) => socket.once('close', resolve)), sleep(10_000)]);
  }
}

function pickCase(random: Random): TcpCase {
  const roll = random.next();
  if (roll < 0.8) return 'frame';
  if (roll < 0.84) return 'burst';
  if (roll < 0.86) return 'oversize';
  if (roll < 0.88) return 'mid-frame-end';
  if (roll < 0.9) return 'mid-frame-reset';
  if (roll < 0.92) return 'mid-frame-hang';
  if (roll < 0.94) return 'zero-length';
  if (roll < 0.955) return 'byte-by-byte';
  if (roll < 0.99) return 'junk';
  if (roll < 0.993) return 'large';
  return 'many-connections';
}

export async function fuzzTcp(opts: GossipFuzzOptions): Promise<TargetReport> {
  const report = emptyReport('tcp');
  const source = new PacketSource(makePools(opts.seed, opts.target.id), opts.seed + 100, 256 * 1024);
  const random = seededRandom(opts.seed + 12);
  const { host, port } = hostPort(opts.target.gossip);
  const conns = new Connections(host, port);
  const cases: Record<string, number> = {};
  const before = await gossipCounters(opts.target).catch(() => undefined);
  const monitor = new Monitor(opts.target, report, opts.monitor);
  const started = performance.now();
  let i = 0;
  while (report.inputs < opts.inputs && monitor.alive) {
    const kind = pickCase(random);
    cases[kind] = (cases[kind] ?? 0) + 1;
    const frameOf = (): Uint8Array => encodeFrame(envelope(random, source.next().bytes));
    switch (kind) {
      case 'frame': {
        const s = await conns.pooled(i);
        if (s) await write(s, frameOf());
        report.inputs++;
        break;
      }
      case 'burst': {
        const s = await conns.pooled(i);
        const n = 2 + random.int(20);
        if (s) await write(s, concat(...Array.from({ length: n }, frameOf)));
        report.inputs += n;
        break;
      }
      case 'zero-length': {
        const s = await conns.pooled(i);
        if (s) await write(s, concat(encodeFrameHeader(0), frameOf()));
        report.inputs++;
        break;
      }
      case 'oversize': {
        // Over the 32 MiB limit: the target closes the connection.
        const s = await conns.open();
        const length = random.int(2) === 0 ? 0xffff_ffff : 32 * 1024 * 1024 + 1 + random.int(1000);
        if (s) {
          await write(s, concat(encodeFrameHeader(length), randomBytes(random, random.int(2000))));
          await Promise.race([new Promise((resolve) => s.once('close', resolve)), sleep(2000)]);
          s.destroy();
        }
        report.inputs++;
        break;
      }
      case 'mid-frame-end':
      case 'mid-frame-reset':
      case 'mid-frame-hang': {
        const s = await conns.open();
        if (s) {
          const frame = frameOf();
          // Stop inside the header or inside the body.
          await write(s, frame.subarray(0, Math.max(1, random.int(frame.length))));
          if (kind === 'mid-frame-end') s.end();
          else if (kind === 'mid-frame-reset') s.resetAndDestroy();
          else conns.hang(s);
        }
        report.inputs++;
        break;
      }
      case 'byte-by-byte': {
        const s = await conns.open();
        if (s) {
          const frame = frameOf().subarray(0, 512);
          for (const b of frame) await write(s, Uint8Array.of(b));
          s.end();
        }
        report.inputs++;
        break;
      }
      case 'junk': {
        const s = await conns.open();
        if (s) {
          await write(s, randomBytes(random, 1 + random.int(4096)));
          s.end();
        }
        report.inputs++;
        break;
      }
      case 'large': {
        // 1 to 4 MiB of junk in one frame, under the limit: read whole, then refused by the decoder.
        const s = await conns.open();
        if (s) {
          const body = randomBytes(random, (1 + random.int(4)) * 1024 * 1024);
          body[0] = 0x4d;
          body[1] = 0x00;
          await write(s, concat(encodeFrameHeader(body.length), body));
          s.end();
        }
        report.inputs++;
        break;
      }
      case 'many-connections': {
        // 100 connections at once, each one frame, then closed.
        const n = 100;
        const opened = await Promise.all(Array.from({ length: n }, () => conns.open()));
        await Promise.all(opened.map(async (s) => (s ? write(s, frameOf()).then(() => void s.end()) : undefined)));
        report.inputs += n;
        break;
      }
    }
    i++;
    if (i % 500 === 0) opts.onProgress?.(report.inputs);
  }
  report.seconds = (performance.now() - started) / 1000;
  conns.closeAll();
  await finishGossipRun(report, opts, monitor, before);
  report.notes = { ...report.notes, connectErrors: conns.connectErrors, ...prefixed('case.', cases), ...prefixed('kind.', source.counts) };
  return report;
}

function prefixed(prefix: string, counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [`${prefix}${k}`, v]));
}
