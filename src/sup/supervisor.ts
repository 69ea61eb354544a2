/**
 * One Supervisor: its identity and state on disk, its gossip member, and its lifecycle. Sockets,
 * timers and the ring key come in as capabilities (the composition root in `app/` builds them),
 * so that this class is the same in a test and in `hab sup run`.
 *
 * Lifecycle: `open` (lock, member id, restored state) → `start` (gossip begins, peers are tried
 * until reached) → `term` (graceful: announce departure, save, release) or `stop` (save and
 * release, as after a crash). A `departure` rumor naming this member calls `onDeparted`; the
 * process then exits 86 as Habitat's does.
 */
import type { Clock, Logger, MemberId, Random } from '../core/index.js';
import type { GossipEvent, GossipOptions, Sealer, TimerService, Transport } from '../gossip/index.js';
import { GossipCore, GossipNode } from '../gossip/index.js';
import type { PeerAddress, Rumor } from '../wire/index.js';
import { ensureDir } from './files.js';
import type { Lock } from './lock.js';
import { acquireLock } from './lock.js';
import type { SupPaths } from './paths.js';
import { loadOrCreateMemberId, loadState, saveState } from './state.js';

export interface SupervisorDeps {
  clock: Clock;
  random: Random;
  log: Logger;
  transport: Transport;
  timers: TimerService;
  sealer?: Sealer;
  /** Periodic work outside the gossip core (persistence); returns a cancel function. */
  every(ms: number, run: () => void): () => void;
}

export interface SupervisorOptions {
  paths: SupPaths;
  /** The address other members reach this one at (`--sys-ip-address` or the gossip listen address). */
  address: string;
  gossipPort: number;
  seeds: PeerAddress[];
  permanent: boolean;
  gossip: GossipOptions;
  /**
   * How soon a changed store is written to disk (ms): at most this much is lost to a kill -9.
   * Writes happen only when something changed. @default 250
   */
  persistIntervalMs?: number;
}

export class Supervisor {
  readonly id: MemberId;
  readonly node: GossipNode;
  onDeparted: () => void = () => {};
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;
  private cancelPersist: () => void = () => {};
  private closed = false;

  private constructor(
    private readonly deps: SupervisorDeps,
    private readonly opts: SupervisorOptions,
    private readonly lock: Lock,
    id: MemberId,
    restored: { incarnation: number; rumors: Rumor[] },
  ) {
    this.id = id;
    const core = new GossipCore(
      { random: deps.random, log: deps.log },
      {
        self: { id, incarnation: restored.incarnation, address: opts.address, swimPort: opts.gossipPort, gossipPort: opts.gossipPort, persistent: opts.permanent },
        options: opts.gossip,
        seeds: opts.seeds,
        restored: restored.rumors,
      },
    );
    this.node = new GossipNode(
      { clock: deps.clock, transport: deps.transport, timers: deps.timers, log: deps.log, ...(deps.sealer ? { sealer: deps.sealer } : {}) },
      core,
    );
    this.node.onEvent((e) => this.onEvent(e));
  }

  /** Takes the lock and loads identity and state; nothing is sent yet. */
  static async open(deps: SupervisorDeps, opts: SupervisorOptions): Promise<Supervisor> {
    await ensureDir(opts.paths.supDir);
    const lock = await acquireLock(opts.paths.lockFile);
    try {
      const id = await loadOrCreateMemberId(opts.paths, deps.random);
      const restored = await loadState(opts.paths, deps.log);
      if (restored.rumors.length > 0) deps.log.info('restored rumors from disk', { rumors: restored.rumors.length, incarnation: restored.incarnation });
      return new Supervisor(deps, opts, lock, id, restored);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  get core(): GossipCore {
    return this.node.core;
  }

  start(): void {
    this.node.start();
    this.dirty = true;
    this.cancelPersist = this.deps.every(this.opts.persistIntervalMs ?? 250, () => {
      if (this.dirty) void this.save();
    });
  }

  /** Bytes from the gossip transport. */
  receive(from: PeerAddress, channel: 'datagram' | 'stream', bytes: Uint8Array): void {
    if (!this.closed) this.node.receive(from, channel, bytes);
  }

  /** A rumor that starts here (config apply, file upload, departure). */
  publish(rumor: Rumor): void {
    this.node.publish(rumor);
    this.dirty = true;
  }

  replaceSeeds(seeds: PeerAddress[]): void {
    this.core.setSeeds(seeds);
  }

  /** Graceful shutdown: tell the ring we are leaving, save, release the lock. */
  async term(): Promise<void> {
    if (this.closed) return;
    this.node.leave();
    this.dirty = true;
    await this.close();
  }

  /** Save and release without announcing anything. */
  async stop(): Promise<void> {
    await this.close();
  }

  /** Writes the store if anything changed since the last write. Serialised: one write at a time. */
  save(): Promise<void> {
    this.saving = this.saving.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const rumors = [...this.core.store.values()].map((e) => e.rumor);
      try {
        await saveState(this.opts.paths, this.id, this.core.incarnation, rumors);
      } catch (err) {
        this.dirty = true;
        this.deps.log.error('could not save state', { error: (err as Error).message });
      }
    });
    return this.saving;
  }

  private async close(): Promise<void> {
    this.closed = true;
    this.cancelPersist();
    this.core.stop();
    await this.save();
    await this.lock.release();
  }

  private onEvent(e: GossipEvent): void {
    switch (e.type) {
      case 'rumor-changed':
      case 'refuted':
        this.dirty = true;
        break;
      case 'member-joined':
      case 'member-alive':
      case 'member-suspect':
      case 'member-confirmed':
      case 'member-departed':
      case 'member-removed':
        this.dirty = true;
        this.deps.log.info(e.type.replace('member-', 'member '), { member: 'member' in e ? e.member.id : e.id });
        break;
      case 'self-departed':
        this.deps.log.warn('this Supervisor was departed from the ring (hab sup depart): stopping');
        this.onDeparted();
        break;
      default:
        break;
    }
  }
}
