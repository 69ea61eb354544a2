/**
 * The one shell around a gossip core: it owns the core, decodes what the transport hands in
 * (counting what does not decode), carries out the core's effects through injected capabilities
 * (a transport and a timer service), and hands events to listeners. Real sockets (`net/`) and
 * the simulator (`testkit/`) each provide the capabilities; the shell is the same.
 */
import type { Clock } from '../core/index.js';
import type { Packet, PeerAddress, Rumor } from '../wire/index.js';
import { decodePacket } from '../wire/index.js';
import type { GossipCore } from './core.js';
import type { Channel, Effect, GossipEvent, Timer } from './effects.js';

export interface Transport {
  send(to: PeerAddress, channel: Channel, bytes: Uint8Array): void;
}

export interface TimerService {
  /** Calls `fire` at `at` (ms on the clock's scale) or as soon after as possible. */
  at(at: number, fire: () => void): void;
}

export interface GossipNodeDeps {
  clock: Clock;
  transport: Transport;
  timers: TimerService;
}

export interface NodeCounters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  decodeErrors: number;
  ignored: number;
}

export type EventListener = (event: GossipEvent, now: number) => void;

export class GossipNode {
  readonly counters: NodeCounters = { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, decodeErrors: 0, ignored: 0 };
  private readonly listeners: EventListener[] = [];
  /** Largest datagram accepted; streams may carry up to the codec's limit. */
  private readonly maxDatagramIn: number;

  constructor(
    private readonly deps: GossipNodeDeps,
    readonly core: GossipCore,
    opts: { maxDatagramIn?: number } = {},
  ) {
    this.maxDatagramIn = opts.maxDatagramIn ?? 65_507;
  }

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.run(this.core.start(this.deps.clock.now()));
  }

  /** Bytes from the transport. Junk is counted and dropped; nothing here throws. */
  receive(from: PeerAddress, channel: Channel, bytes: Uint8Array): void {
    this.counters.packetsIn++;
    this.counters.bytesIn += bytes.length;
    const decoded = decodePacket(bytes, channel === 'datagram' ? { maxBytes: this.maxDatagramIn } : {});
    if (!decoded.ok) {
      this.counters.decodeErrors++;
      return;
    }
    this.receivePacket(from, decoded.value, channel);
  }

  receivePacket(from: PeerAddress, packet: Packet, channel: Channel = 'datagram'): void {
    this.run(this.core.handlePacket(from, packet, this.deps.clock.now(), channel));
  }

  publish(rumor: Rumor): void {
    this.run(this.core.publish(rumor, this.deps.clock.now()));
  }

  leave(): void {
    this.run(this.core.leave(this.deps.clock.now()));
  }

  private fire(timer: Timer): void {
    this.run(this.core.handleTimer(timer, this.deps.clock.now()));
  }

  private run(effects: readonly Effect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'send':
          this.counters.packetsOut++;
          this.counters.bytesOut += e.bytes.length;
          this.deps.transport.send(e.to, e.channel, e.bytes);
          break;
        case 'schedule': {
          const timer = e.timer;
          this.deps.timers.at(e.at, () => this.fire(timer));
          break;
        }
        case 'emit':
          if (e.event.type === 'packet-ignored') this.counters.ignored++;
          for (const l of this.listeners) l(e.event, this.deps.clock.now());
          break;
      }
    }
  }
}
