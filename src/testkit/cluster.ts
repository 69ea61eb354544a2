/**
 * A cluster of real gossip cores on the simulated network, in virtual time: the DSL that the
 * simulated-cluster tests and `murmur sim` are written in. Everything is deterministic from the
 * seed.
 *
 *   const c = new SimCluster({ seed: 7, options: localTestPreset });
 *   const [a, b] = c.bootConverged(50);
 *   c.partition(c.members.slice(0, 25), c.members.slice(25));
 *   c.runFor(10_000);
 *   c.heal();
 *   c.runUntil(() => c.allAgree(), 60_000);
 *
 * Model: a killed member loses its process (timers and sockets) but keeps its data, as a
 * Supervisor keeps `$FS_ROOT/hab/sup/default` across kill -9; a restart builds a new core from
 * the rumors it held. A paused (CPU-starved) member handles nothing while paused; at resume it
 * handles everything that arrived or fell due meanwhile, in time order, with `now` = resume time.
 * What runs beside gossip in a member's process (its elections: `elections.ts`) starts on
 * `onLaunch` and keeps time with `atMember`, so it dies, pauses and restarts with the member.
 */
import type { MemberId, Random } from '../core/index.js';
import { forkRandom, newMemberId, seededRandom } from '../core/index.js';
import type { Channel, GossipEvent, GossipOptions } from '../gossip/index.js';
import { GossipCore, GossipNode, RumorStore, joinHostPort } from '../gossip/index.js';
import type { Health, MemberInfo, PeerAddress, Rumor } from '../wire/index.js';
import type { LinkProfile } from './sim-network.js';
import { SimNetwork } from './sim-network.js';
import { VirtualScheduler } from './virtual-time.js';

export interface SimClusterOptions {
  seed: number;
  options: GossipOptions;
  link?: Partial<LinkProfile>;
}

export interface RecordedEvent {
  at: number;
  member: MemberId;
  event: GossipEvent;
}

interface Held {
  at: number;
  order: number;
  run: () => void;
}

export class SimMember {
  node: GossipNode | undefined;
  up = false;
  paused = false;
  /** When the current process started (ms). */
  upSince = 0;
  /** Bumped at every kill, so that the dead process's timers never fire into the new one. */
  generation = 0;
  held: Held[] = [];
  /** What the member had when it was killed: its "disk". */
  disk: { incarnation: number; rumors: Rumor[] } | undefined;

  constructor(
    readonly id: MemberId,
    readonly address: PeerAddress,
    readonly info: MemberInfo,
  ) {}

  get core(): GossipCore {
    if (!this.node) throw new Error(`member ${this.id.slice(0, 8)} is not running`);
    return this.node.core;
  }
}

export class SimCluster {
  readonly scheduler: VirtualScheduler;
  readonly network: SimNetwork;
  readonly members: SimMember[] = [];
  readonly events: RecordedEvent[] = [];
  /** Keep every event in `events` (tests); the simulator turns it off and listens instead. */
  recordEvents = true;
  private readonly random: Random;
  private readonly byId = new Map<MemberId, SimMember>();
  private readonly byAddress = new Map<PeerAddress, SimMember>();
  private readonly listeners: ((e: RecordedEvent) => void)[] = [];
  private readonly launchListeners: ((m: SimMember) => void)[] = [];
  private heldOrder = 0;
  private readonly counters = { datagrams: 0, datagramBytes: 0, streams: 0, streamBytes: 0 };

  constructor(readonly opts: SimClusterOptions) {
    this.random = seededRandom(opts.seed);
    this.scheduler = new VirtualScheduler();
    this.network = new SimNetwork(
      { scheduler: this.scheduler, random: forkRandom(this.random) },
      { link: { delayMs: 1, jitterMs: 1, loss: 0, ...opts.link } },
    );
  }

  get now(): number {
    return this.scheduler.now;
  }

  /** Everything every member has sent so far (payload bytes, before sealing). */
  traffic(): Readonly<{ datagrams: number; datagramBytes: number; streams: number; streamBytes: number }> {
    return { ...this.counters };
  }

  onEvent(listener: (e: RecordedEvent) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Calls `listener` each time a member's process starts (boot, join, restart), once its gossip
   * node has started: where a simulated Supervisor starts what runs beside gossip.
   */
  onLaunch(listener: (m: SimMember) => void): void {
    this.launchListeners.push(listener);
  }

  /**
   * Runs `fire` at `at` (ms) in `m`'s current process, as its own timers run: never if the
   * process is killed first, later if it is paused then (at resume, in time order).
   */
  atMember(m: SimMember, at: number, fire: () => void): void {
    const generation = m.generation;
    this.scheduler.at(Math.max(at, this.scheduler.now), () => this.hold(m, generation, at, fire));
  }

  member(id: MemberId): SimMember {
    const m = this.byId.get(id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  live(): SimMember[] {
    return this.members.filter((m) => m.up);
  }

  /**
   * `n` members that already know each other (all alive at incarnation 0), as if each had joined
   * and synced: they share one frozen store and keep only their own changes.
   */
  bootConverged(n: number): SimMember[] {
    const fresh = Array.from({ length: n }, () => this.define(false));
    const store = new RumorStore({ buckets: this.opts.options.digestBuckets });
    for (const m of [...this.members]) store.set({ kind: 'member', member: m.info, health: 'alive', from: '' }, 0);
    const base = store.freeze();
    for (const m of fresh) this.launch(m, { base, announce: false });
    return fresh;
  }

  /** A new member that joins through `seeds` (addresses). */
  join(seeds: PeerAddress[], opts: { persistent?: boolean } = {}): SimMember {
    const m = this.define(opts.persistent ?? false);
    this.launch(m, { seeds });
    return m;
  }

  /** kill -9: the process is gone; its data stays for a restart. */
  kill(m: SimMember): void {
    if (!m.up) return;
    m.disk = { incarnation: m.core.incarnation, rumors: [...m.core.store.values()].map((e) => e.rumor) };
    m.core.stop();
    m.up = false;
    m.paused = false;
    m.held = [];
    m.generation++;
    this.network.detach(m.address);
  }

  /** Starts a killed member again from its data, seeded with `seeds` if it finds itself alone. */
  restart(m: SimMember, seeds: PeerAddress[] = []): void {
    if (m.up) return;
    const disk = m.disk;
    this.launch(m, { seeds, ...(disk ? { restored: disk.rumors, incarnation: disk.incarnation } : {}) });
  }

  /** Graceful departure (`hab sup term`). */
  leave(m: SimMember): void {
    if (!m.up) return;
    m.node?.leave();
    this.kill(m);
  }

  pause(m: SimMember): void {
    if (m.up) m.paused = true;
  }

  resume(m: SimMember): void {
    if (!m.paused) return;
    m.paused = false;
    const held = m.held.sort((a, b) => a.at - b.at || a.order - b.order);
    m.held = [];
    for (const h of held) if (m.up && !m.paused) h.run();
  }

  partition(sideA: SimMember[], sideB: SimMember[]): void {
    this.network.partition(
      sideA.map((m) => m.address),
      sideB.map((m) => m.address),
    );
  }

  heal(): void {
    this.network.heal();
  }

  setLoss(p: number): void {
    this.network.setLoss(p);
  }

  publish(m: SimMember, rumor: Rumor): void {
    m.node?.publish(rumor);
  }

  runFor(ms: number): void {
    this.scheduler.runUntil(this.scheduler.now + ms);
  }

  /** Runs until `done()` holds (checked every `stepMs`) or `limitMs` passes; true if it held. */
  runUntil(done: () => boolean, limitMs: number, stepMs = 50): boolean {
    const end = this.scheduler.now + limitMs;
    while (this.scheduler.now < end) {
      if (done()) return true;
      this.scheduler.runUntil(Math.min(end, this.scheduler.now + stepMs));
    }
    return done();
  }

  /** What `observer` believes of `subject`'s health. */
  view(observer: SimMember, subject: SimMember): Health | undefined {
    return observer.core.member(subject.id)?.health;
  }

  /** Every live member sees every live member alive and every dead one not alive. */
  allAgree(): boolean {
    const live = this.live();
    for (const o of live) {
      for (const s of this.members) {
        if (s === o) continue;
        const h = this.view(o, s);
        if (s.up ? h !== 'alive' : h === 'alive' || h === 'suspect') return false;
      }
    }
    return true;
  }

  private define(persistent: boolean): SimMember {
    const i = this.members.length + 1;
    const host = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const info: MemberInfo = { id: newMemberId(this.random), incarnation: 0, address: host, swimPort: 9638, gossipPort: 9638, persistent };
    const m = new SimMember(info.id, joinHostPort(host, 9638), info);
    this.members.push(m);
    this.byId.set(m.id, m);
    this.byAddress.set(m.address, m);
    return m;
  }

  private launch(
    m: SimMember,
    init: { base?: ReturnType<RumorStore['freeze']>; announce?: boolean; seeds?: PeerAddress[]; restored?: Rumor[]; incarnation?: number },
  ): void {
    const generation = ++m.generation;
    const core = new GossipCore(
      { random: forkRandom(this.random) },
      {
        self: { ...m.info, incarnation: init.incarnation ?? m.info.incarnation },
        options: this.opts.options,
        ...(init.seeds ? { seeds: init.seeds } : {}),
        ...(init.base ? { base: init.base } : {}),
        ...(init.restored ? { restored: init.restored } : {}),
        ...(init.announce !== undefined ? { announce: init.announce } : {}),
      },
    );
    const scheduler = this.scheduler;
    const network = this.network;
    const hold = (at: number, run: () => void): void => this.hold(m, generation, at, run);
    const node = new GossipNode(
      {
        clock: { now: () => scheduler.now },
        transport: {
          send: (to: PeerAddress, channel: Channel, bytes: Uint8Array) => {
            if (channel === 'datagram') {
              this.counters.datagrams++;
              this.counters.datagramBytes += bytes.length;
            } else {
              this.counters.streams++;
              this.counters.streamBytes += bytes.length;
            }
            network.send(m.address, to, channel, bytes);
          },
        },
        timers: { at: (at: number, fire: () => void) => scheduler.at(Math.max(at, scheduler.now), () => hold(at, fire)) },
      },
      core,
    );
    node.onEvent((event, now) => {
      const e: RecordedEvent = { at: now, member: m.id, event };
      if (this.recordEvents) this.events.push(e);
      for (const l of this.listeners) l(e);
    });
    m.node = node;
    m.up = true;
    m.upSince = scheduler.now;
    network.attach(m.address, (from: PeerAddress, channel: Channel, bytes: Uint8Array) => {
      const at = scheduler.now;
      hold(at, () => node.receive(from, channel, bytes));
    });
    node.start();
    for (const l of this.launchListeners) l(m);
  }

  /** Runs `run` in process `generation` of `m`: dropped if that process is gone, held while paused. */
  private hold(m: SimMember, generation: number, at: number, run: () => void): void {
    if (!m.up || m.generation !== generation) return;
    if (m.paused) m.held.push({ at, order: this.heldOrder++, run });
    else run();
  }
}
