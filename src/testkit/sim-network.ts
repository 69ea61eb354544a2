/**
 * A simulated network that carries bytes between addresses in virtual time: the seam where the
 * simulator puts delay, loss, partitions, killed hosts and paused hosts, so that no production
 * code carries fault flags (STYLE.md §4). Like Habitat's `SwimNet` test harness, but driven by a
 * `VirtualScheduler` and a seeded `Random`: the same seed and the same sends give the same
 * deliveries, in the same order, at the same virtual times.
 *
 * The model, per channel (murmur sends SWIM over UDP and rumors over TCP on the same port):
 *
 * - `datagram` (UDP): each packet is lost independently with the link's `loss`, and otherwise
 *   arrives `delayMs + jitter` later, jitter uniform in [0, jitterMs); so datagrams may reorder.
 * - `stream` (TCP): a message is a short-lived connection: it arrives after one round trip for the
 *   handshake plus the data, modelled as `2 * delayMs + jitter`, and never before an earlier
 *   message of the same (from, to) pair (in order per pair). `loss` never drops it but delays it
 *   as TCP's retransmissions would: each of SYN, SYN-ACK and the data segment is lost with the
 *   link's `loss` and resent after Linux's RTO (1 s for the handshake, 200 ms for data, doubling,
 *   at most 6 times). It fails at once (connection refused) if the
 *   receiver is not attached or the pair is partitioned at send time, and fails on arrival if a
 *   partition has started meanwhile or the receiver was detached (even if it re-attached since: a
 *   restarted process does not inherit the old connection).
 *
 * Faults, on arrival, in this order: a partition between the pair drops the packet (also a packet
 * already in flight when the partition started); a receiver that is not attached drops it; a
 * paused receiver (CPU-starved: its socket buffer fills, nobody reads it) buffers it, up to
 * `pauseBufferPackets`, beyond which it drops like a full socket buffer. `resume` hands the buffer
 * to the handler in arrival order. Every packet that never reaches a handler is counted as
 * `dropped` on the receiver, with a reason in `totals().dropReasons`.
 *
 * Bytes travel by reference, never copied: a sender must not modify an array after sending it
 * (encoders return fresh arrays), and a receiver must not modify what it gets (one array may be
 * sent to many receivers).
 *
 * The sender need not be attached: the network does not know which code runs where. Stopping a
 * killed or paused member's own timers is the simulator's job.
 */
import type { Random } from '../core/random.js';
import type { PeerAddress } from '../wire/types.js';
import type { VirtualScheduler } from './virtual-time.js';

export type Channel = 'datagram' | 'stream';

export type PacketHandler = (from: PeerAddress, channel: Channel, bytes: Uint8Array) => void;

/** The behaviour of one directed link. */
export interface LinkProfile {
  /** One-way delay, ms. A stream message takes two (handshake round trip, then data). */
  delayMs: number;
  /** Extra delay, uniform in [0, jitterMs), drawn per packet. */
  jitterMs: number;
  /** Probability, 0..1, that a datagram is lost. Streams are never lost. */
  loss: number;
}

export interface SimNetworkDeps {
  scheduler: VirtualScheduler;
  random: Random;
}

export interface SimNetworkOptions {
  /** The profile of every link without a `setLink` override. */
  link: LinkProfile;
  /**
   * Packets a paused host buffers before further arrivals drop (a full socket buffer).
   * @default 10_000
   */
  pauseBufferPackets?: number;
}

export interface TrafficStats {
  sentMessages: number;
  sentBytes: number;
  receivedMessages: number;
  receivedBytes: number;
  /** Messages addressed here that never reached the handler. */
  dropped: number;
}

export interface AddressStats extends TrafficStats {
  datagram: TrafficStats;
  stream: TrafficStats;
}

/** Why a packet never reached a handler. */
export type DropReason = 'loss' | 'partition' | 'down' | 'overflow';

export interface NetworkStats extends AddressStats {
  dropReasons: Record<DropReason, number>;
  /** Packets sent and not yet arrived (not reset by `resetStats`). */
  inFlight: number;
  /** Packets waiting in paused hosts' buffers (not reset by `resetStats`). */
  buffered: number;
}

// Counters live in a Float64Array per address: channel * FIELDS + field.
const DATAGRAM = 0;
const STREAM = 1;
const CHANNELS: readonly Channel[] = ['datagram', 'stream'];
const SENT_MESSAGES = 0;
const SENT_BYTES = 1;
const RECEIVED_MESSAGES = 2;
const RECEIVED_BYTES = 3;
const DROPPED = 4;
const FIELDS = 5;
const DROP_REASONS: readonly DropReason[] = ['loss', 'partition', 'down', 'overflow'];
const LOSS = 0;
const PARTITION = 1;
const DOWN = 2;
const OVERFLOW = 3;

/** Everything the network knows about one address. */
class Host {
  handler: PacketHandler | undefined = undefined;
  /** Raised by every `attach`: a stream sent to an earlier incarnation is not delivered. */
  epoch = 0;
  paused = false;
  buffer: Packet[] = [];
  readonly counts = new Float64Array(2 * FIELDS);
  /** Outgoing link overrides, by receiver. */
  links: Map<PeerAddress, LinkProfile> | undefined = undefined;
  /** Arrival time of the last stream message in flight to each receiver. */
  readonly streamTail = new Map<PeerAddress, number>();
  constructor(readonly address: PeerAddress) {}
}

interface Packet {
  from: Host;
  to: Host;
  channel: number;
  bytes: Uint8Array;
  /** The receiver's epoch at send time (streams only). */
  epoch: number;
}

interface Partition {
  a: ReadonlySet<PeerAddress>;
  b: ReadonlySet<PeerAddress>;
}

export class SimNetwork {
  private readonly scheduler: VirtualScheduler;
  private readonly random: Random;
  private link: LinkProfile;
  private readonly pauseBufferPackets: number;
  private readonly hosts = new Map<PeerAddress, Host>();
  private partitions: Partition[] = [];
  private readonly totalCounts = new Float64Array(2 * FIELDS);
  private readonly dropCounts = new Float64Array(DROP_REASONS.length);
  private inFlight = 0;
  private buffered = 0;
  /** One long-lived callback for every arrival: the packet is the event's argument. */
  private readonly onArrival = (packet: Packet): void => this.handleArrival(packet);

  constructor(deps: SimNetworkDeps, opts: SimNetworkOptions) {
    this.scheduler = deps.scheduler;
    this.random = deps.random;
    this.link = checkedLink(opts.link);
    const bound = opts.pauseBufferPackets ?? 10_000;
    if (!(Number.isInteger(bound) && bound >= 0)) {
      throw new RangeError(`pauseBufferPackets must be an integer >= 0, got ${bound}`);
    }
    this.pauseBufferPackets = bound;
  }

  /** Starts delivering packets addressed to `address` to `handler`. Throws if already attached. */
  attach(address: PeerAddress, handler: PacketHandler): void {
    const host = this.host(address);
    if (host.handler !== undefined) throw new Error(`${address} is already attached`);
    host.handler = handler;
    host.epoch++;
  }

  /**
   * Kills the host at `address`: what is buffered for it and everything in flight to it is dropped
   * (on arrival), and it is no longer paused.
   */
  detach(address: PeerAddress): void {
    const host = this.hosts.get(address);
    if (host === undefined) return;
    host.handler = undefined;
    host.paused = false;
    for (const packet of host.buffer) this.drop(host, packet.channel, DOWN);
    this.buffered -= host.buffer.length;
    host.buffer = [];
  }

  isAttached(address: PeerAddress): boolean {
    return this.hosts.get(address)?.handler !== undefined;
  }

  /** Sends `bytes` from `from` to `to`; delivery, or a drop, happens later on the scheduler. */
  send(from: PeerAddress, to: PeerAddress, channel: Channel, bytes: Uint8Array): void {
    const sender = this.host(from);
    const receiver = this.host(to);
    const ch = channel === 'datagram' ? DATAGRAM : STREAM;
    const length = bytes.length;
    const base = ch * FIELDS;
    add(sender.counts, base + SENT_MESSAGES, 1);
    add(sender.counts, base + SENT_BYTES, length);
    add(this.totalCounts, base + SENT_MESSAGES, 1);
    add(this.totalCounts, base + SENT_BYTES, length);

    if (this.partitions.length !== 0 && this.isCut(from, to)) {
      this.drop(receiver, ch, PARTITION);
      return;
    }
    const link = sender.links?.get(to) ?? this.link;
    const random = this.random;
    const now = this.scheduler.now;
    let time: number;
    if (ch === DATAGRAM) {
      if (link.loss > 0 && random.next() < link.loss) {
        this.drop(receiver, ch, LOSS);
        return;
      }
      time = now + link.delayMs + (link.jitterMs > 0 ? random.next() * link.jitterMs : 0);
    } else {
      if (receiver.handler === undefined) {
        this.drop(receiver, ch, DOWN);
        return;
      }
      time = now + 2 * link.delayMs + (link.jitterMs > 0 ? random.next() * link.jitterMs : 0);
      if (link.loss > 0) {
        // TCP recovers lost segments by retransmitting them: a lost SYN or SYN-ACK costs the
        // initial RTO (1 s, doubling), a lost data segment the minimum RTO (200 ms, doubling).
        time += retransmitDelay(random, link.loss, 1000) + retransmitDelay(random, link.loss, 1000) + retransmitDelay(random, link.loss, 200);
      }
      const tail = sender.streamTail.get(to);
      if (tail !== undefined && tail > time) time = tail;
      sender.streamTail.set(to, time);
    }
    this.inFlight++;
    this.scheduler.at(time, this.onArrival, {
      from: sender,
      to: receiver,
      channel: ch,
      bytes,
      epoch: receiver.epoch,
    });
  }

  /** Sets the datagram loss of every link without a `setLink` override. */
  setLoss(loss: number): void {
    this.link = checkedLink({ ...this.link, loss });
  }

  /** Overrides the directed link `from` → `to` (the reverse direction is unaffected). */
  setLink(from: PeerAddress, to: PeerAddress, profile: LinkProfile): void {
    const host = this.host(from);
    host.links ??= new Map();
    host.links.set(to, checkedLink(profile));
  }

  /** Removes the override of the directed link `from` → `to`. */
  clearLink(from: PeerAddress, to: PeerAddress): void {
    this.hosts.get(from)?.links?.delete(to);
  }

  /**
   * Cuts every link between `sideA` and `sideB`, both ways, until `heal()`: new sends and packets
   * already in flight are dropped. Partitions add up; the sides of one must not overlap.
   */
  partition(sideA: readonly PeerAddress[], sideB: readonly PeerAddress[]): void {
    const a = new Set(sideA);
    const b = new Set(sideB);
    for (const address of b) {
      if (a.has(address)) throw new Error(`${address} is on both sides of the partition`);
    }
    this.partitions.push({ a, b });
  }

  /** Removes every partition. */
  heal(): void {
    this.partitions = [];
  }

  /** Whether an active partition separates `a` and `b`. */
  isPartitioned(a: PeerAddress, b: PeerAddress): boolean {
    return this.isCut(a, b);
  }

  /** Stops delivering to `address`: arrivals are buffered until `resume`. */
  pause(address: PeerAddress): void {
    this.host(address).paused = true;
  }

  /**
   * Hands the packets buffered while paused to the handler, in arrival order, now (synchronously),
   * then delivers normally again. If a handler pauses or detaches the host meanwhile, the rest stay
   * buffered or are dropped accordingly.
   */
  resume(address: PeerAddress): void {
    const host = this.hosts.get(address);
    if (host === undefined || !host.paused) return;
    host.paused = false;
    const buffer = host.buffer;
    host.buffer = [];
    const epoch = host.epoch;
    const stillUp = (): boolean => host.handler !== undefined && host.epoch === epoch;
    let i = 0;
    while (i < buffer.length && !host.paused && stillUp()) {
      const packet = buffer[i++] as Packet;
      this.buffered--;
      this.deliver(host, packet);
    }
    if (i < buffer.length) {
      // A handler paused the host again (the rest stay buffered, ahead of anything newer) or
      // detached it (the rest are dropped, as `detach` dropped what was in `host.buffer`).
      const rest = buffer.slice(i);
      if (stillUp()) {
        host.buffer = rest.concat(host.buffer);
      } else {
        for (const packet of rest) this.drop(host, packet.channel, DOWN);
        this.buffered -= rest.length;
      }
    }
  }

  isPaused(address: PeerAddress): boolean {
    return this.hosts.get(address)?.paused ?? false;
  }

  /** Counters of one address since the last `resetStats` (zeros for an unknown address). */
  stats(address: PeerAddress): AddressStats {
    const counts = this.hosts.get(address)?.counts ?? new Float64Array(2 * FIELDS);
    return toAddressStats(counts);
  }

  /** Counters of the whole network since the last `resetStats`, and what is under way now. */
  totals(): NetworkStats {
    const dropReasons = {} as Record<DropReason, number>;
    DROP_REASONS.forEach((reason, i) => (dropReasons[reason] = this.dropCounts[i] as number));
    return {
      ...toAddressStats(this.totalCounts),
      dropReasons,
      inFlight: this.inFlight,
      buffered: this.buffered,
    };
  }

  /**
   * Zeroes every counter. Packets in flight or buffered at that moment count as received or
   * dropped when they land, so sent = received + dropped + inFlight + buffered holds only for
   * traffic sent after the reset.
   */
  resetStats(): void {
    for (const host of this.hosts.values()) host.counts.fill(0);
    this.totalCounts.fill(0);
    this.dropCounts.fill(0);
  }

  private handleArrival(packet: Packet): void {
    this.inFlight--;
    const { from, to, channel } = packet;
    if (channel === STREAM && from.streamTail.get(to.address) === this.scheduler.now) {
      from.streamTail.delete(to.address); // the last stream message in flight on this pair
    }
    if (this.partitions.length !== 0 && this.isCut(from.address, to.address)) {
      this.drop(to, channel, PARTITION);
    } else if (to.handler === undefined || (channel === STREAM && packet.epoch !== to.epoch)) {
      this.drop(to, channel, DOWN);
    } else if (to.paused) {
      if (to.buffer.length < this.pauseBufferPackets) {
        to.buffer.push(packet);
        this.buffered++;
      } else {
        this.drop(to, channel, OVERFLOW);
      }
    } else {
      this.deliver(to, packet);
    }
  }

  private deliver(to: Host, packet: Packet): void {
    const base = packet.channel * FIELDS;
    const length = packet.bytes.length;
    add(to.counts, base + RECEIVED_MESSAGES, 1);
    add(to.counts, base + RECEIVED_BYTES, length);
    add(this.totalCounts, base + RECEIVED_MESSAGES, 1);
    add(this.totalCounts, base + RECEIVED_BYTES, length);
    const handler = to.handler as PacketHandler;
    handler(packet.from.address, CHANNELS[packet.channel] as Channel, packet.bytes);
  }

  private drop(to: Host, channel: number, reason: number): void {
    add(to.counts, channel * FIELDS + DROPPED, 1);
    add(this.totalCounts, channel * FIELDS + DROPPED, 1);
    add(this.dropCounts, reason, 1);
  }

  private isCut(a: PeerAddress, b: PeerAddress): boolean {
    for (const { a: sideA, b: sideB } of this.partitions) {
      if ((sideA.has(a) && sideB.has(b)) || (sideB.has(a) && sideA.has(b))) return true;
    }
    return false;
  }

  private host(address: PeerAddress): Host {
    let host = this.hosts.get(address);
    if (host === undefined) {
      host = new Host(address);
      this.hosts.set(address, host);
    }
    return host;
  }
}

/** `counts[index] += value`, for typed arrays under `noUncheckedIndexedAccess`. */
function add(counts: Float64Array, index: number, value: number): void {
  counts[index] = (counts[index] as number) + value;
}

function checkedLink(link: LinkProfile): LinkProfile {
  const { delayMs, jitterMs, loss } = link;
  if (!(delayMs >= 0 && delayMs < Infinity)) {
    throw new RangeError(`delayMs must be finite and >= 0, got ${delayMs}`);
  }
  if (!(jitterMs >= 0 && jitterMs < Infinity)) {
    throw new RangeError(`jitterMs must be finite and >= 0, got ${jitterMs}`);
  }
  if (!(loss >= 0 && loss <= 1)) throw new RangeError(`loss must be in [0, 1], got ${loss}`);
  return { delayMs, jitterMs, loss };
}

function toTrafficStats(counts: Float64Array, channel: number): TrafficStats {
  const base = channel * FIELDS;
  return {
    sentMessages: counts[base + SENT_MESSAGES] as number,
    sentBytes: counts[base + SENT_BYTES] as number,
    receivedMessages: counts[base + RECEIVED_MESSAGES] as number,
    receivedBytes: counts[base + RECEIVED_BYTES] as number,
    dropped: counts[base + DROPPED] as number,
  };
}

function toAddressStats(counts: Float64Array): AddressStats {
  const datagram = toTrafficStats(counts, DATAGRAM);
  const stream = toTrafficStats(counts, STREAM);
  return {
    sentMessages: datagram.sentMessages + stream.sentMessages,
    sentBytes: datagram.sentBytes + stream.sentBytes,
    receivedMessages: datagram.receivedMessages + stream.receivedMessages,
    receivedBytes: datagram.receivedBytes + stream.receivedBytes,
    dropped: datagram.dropped + stream.dropped,
    datagram,
    stream,
  };
}

/** The time TCP spends resending one segment lost with probability `loss` (RTO doubling, ≤ 6 tries). */
function retransmitDelay(random: Random, loss: number, rto: number): number {
  let delay = 0;
  for (let i = 0; i < 6 && random.next() < loss; i++) {
    delay += rto;
    rto *= 2;
  }
  return delay;
}
