/**
 * The one shell around a gossip core: it owns the core, decodes what the transport hands in
 * (counting what does not decode), carries out the core's effects through injected capabilities
 * (a transport and a timer service), and hands events to listeners. Real sockets (`net/`) and
 * the simulator (`testkit/`) each provide the capabilities; the shell is the same.
 */
import type { Clock, Logger } from '../core/index.js';
import { nullLogger } from '../core/index.js';
import type { Packet, PeerAddress, Rumor } from '../wire/index.js';
import { decodePacket } from '../wire/index.js';
import type { GossipCore } from './core.js';
import { hostOf } from './core.js';
import type { Channel, Effect, GossipEvent, Timer } from './effects.js';

export interface Transport {
  send(to: PeerAddress, channel: Channel, bytes: Uint8Array): void;
}

export interface TimerService {
  /** Calls `fire` at `at` (ms on the clock's scale) or as soon after as possible. */
  at(at: number, fire: () => void): void;
}

/**
 * Seals every outgoing packet and opens every incoming one (the ring key; `crypto/ring.ts`).
 * `open` never throws.
 */
export interface Sealer {
  seal(plain: Uint8Array): Uint8Array;
  open(bytes: Uint8Array): { ok: true; value: Uint8Array } | { ok: false; error: { code: string; message: string } };
}

export interface GossipNodeDeps {
  clock: Clock;
  transport: Transport;
  timers: TimerService;
  sealer?: Sealer;
  log?: Logger;
}

export interface NodeCounters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  decodeErrors: number;
  /** Packets that did not open with our ring key (another key, no key, tampered). */
  openErrors: number;
  /** Packets, or rumors in them, that the core would not use (every `packet-ignored` event). */
  ignored: number;
  /** Joins not answered: over `joinAnswerRate`, or answered already within `joinAnswerRepeatMs`. */
  joinsRefused: number;
  /** Member records refused because their address is not an IP literal (`core/ip.ts`). */
  addressesRefused: number;
}

/** A packet that does not open is logged at most once per peer host per this long (ms). */
const OPEN_ERROR_LOG_INTERVAL_MS = 60_000;

export type EventListener = (event: GossipEvent, now: number) => void;

export class GossipNode {
  readonly counters: NodeCounters = { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, decodeErrors: 0, openErrors: 0, ignored: 0, joinsRefused: 0, addressesRefused: 0 };
  private readonly listeners: EventListener[] = [];
  /** Largest datagram accepted; streams may carry up to the codec's limit. */
  private readonly maxDatagramIn: number;
  private readonly log: Logger;
  private readonly openErrorLoggedAt = new Map<string, number>();

  constructor(
    private readonly deps: GossipNodeDeps,
    readonly core: GossipCore,
    opts: { maxDatagramIn?: number } = {},
  ) {
    this.maxDatagramIn = opts.maxDatagramIn ?? 65_507;
    this.log = deps.log ?? nullLogger;
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
    let plain = bytes;
    if (this.deps.sealer) {
      const opened = this.deps.sealer.open(bytes);
      if (!opened.ok) {
        this.counters.openErrors++;
        this.logOpenError(from, opened.error);
        return;
      }
      plain = opened.value;
    }
    const decoded = decodePacket(plain, channel === 'datagram' ? { maxBytes: this.maxDatagramIn } : {});
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

  private logOpenError(from: PeerAddress, error: { code: string; message: string }): void {
    const host = hostOf(from);
    const now = this.deps.clock.now();
    const last = this.openErrorLoggedAt.get(host);
    if (last !== undefined && now - last < OPEN_ERROR_LOG_INTERVAL_MS) return;
    this.openErrorLoggedAt.set(host, now);
    this.log.warn('dropped a packet that does not open with the ring key', { from: host, reason: error.code, detail: error.message });
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
          this.deps.transport.send(e.to, e.channel, this.deps.sealer ? this.deps.sealer.seal(e.bytes) : e.bytes);
          break;
        case 'schedule': {
          const timer = e.timer;
          this.deps.timers.at(e.at, () => this.fire(timer));
          break;
        }
        case 'emit':
          if (e.event.type === 'packet-ignored') {
            this.counters.ignored++;
            if (e.event.code === 'join-rate-limit' || e.event.code === 'join-answered-recently') this.counters.joinsRefused++;
            else if (e.event.code === 'address-not-ip') this.counters.addressesRefused++;
          }
          for (const l of this.listeners) l(e.event, this.deps.clock.now());
          break;
      }
    }
  }
}
