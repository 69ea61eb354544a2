/**
 * One Supervisor: its identity and state on disk, its gossip member, and its lifecycle. Sockets,
 * timers and the ring key come in as capabilities (the composition root in `app/` builds them),
 * so that this class is the same in a test and in `hab sup run`.
 *
 * Lifecycle: `open` (lock, member id, restored state) → `start` (gossip begins, peers are tried
 * until reached) → `term` (graceful: announce departure, save, release) or `stop` (save and
 * release, as after a crash). A `departure` rumor naming this member calls `onDeparted`; the
 * process then exits 86 as Habitat's does.
 *
 * Operator operations (`applyConfig`, `uploadFile`, `depart`; the control gateway calls them)
 * check their input against `rules.ts` and against this Supervisor's store, then publish a rumor
 * from this member. Unlike Habitat, a version that is not newer than the one held is refused
 * with an error naming the held version instead of being dropped in silence (habitat#3009).
 */
import type { Clock, Logger, MemberId, Random } from '../core/index.js';
import { MurmurError } from '../core/index.js';
import type { GossipEvent, GossipOptions, Sealer, TimerService, Transport } from '../gossip/index.js';
import { GossipCore, GossipNode, keyOf, versionOf } from '../gossip/index.js';
import type { Census } from '../census/index.js';
import { buildCensus } from '../census/index.js';
import { parseBox1 } from '../crypto/index.js';
import type { ElectionView } from '../election/index.js';
import { Elections } from '../election/index.js';
import type { Health, PeerAddress, Rumor, ServiceConfigRumor, ServiceFileRumor, ServiceRumor, SysInfo } from '../wire/index.js';
import { ensureDir } from './files.js';
import type { Lock } from './lock.js';
import { acquireLock } from './lock.js';
import type { SupPaths } from './paths.js';
import { checkFileName, checkMemberId, checkPayloadSize, checkServiceGroup, checkVersion, parseConfigToml } from './rules.js';
import { loadOrCreateMemberId, loadState, saveState } from './state.js';

export interface SupervisorDeps {
  clock: Clock;
  random: Random;
  log: Logger;
  transport: Transport;
  timers: TimerService;
  sealer?: Sealer;
  /** Periodic work outside the gossip core (the election tick); returns a cancel function. */
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
  /**
   * How long a Supervisor that no peer answered waits before it takes part in the elections of
   * its leader-topology groups alone (ms). Until some peer answers, its store may not hold the
   * group's members, and it would elect itself. @default 10000
   */
  electionAloneMs?: number;
}

/** What `applyConfig` and `uploadFile` published. */
export interface Published {
  group: string;
  version: number;
  /** The payload size in bytes (TOML text or file body). */
  bytes: number;
}

/** This member as it sees itself and the ring (`GET /v1/sup/status`). */
export interface SupervisorStatus {
  memberId: MemberId;
  incarnation: number;
  /** Every member this one knows, itself included, by health; ids sorted. */
  members: Record<Health, MemberId[]>;
}

/**
 * Refuses an encrypted payload that is not a well-formed `BOX-1` (`parseBox1`), or that is sealed
 * for another service key than `group`'s: no member of `group` could ever open it. (Habitat
 * checks neither; a group without `@org` has no service key, so nothing sealed can be for it.)
 */
function checkSealedFor(group: string, payload: Uint8Array, what: string): void {
  const box = parseBox1(payload, what);
  if (box.decryptor.name !== group) {
    throw new MurmurError(
      'BAD_INPUT',
      `${what} is sealed for the service key ${box.decryptor.name}-${box.decryptor.revision}, not for ${group}: only members of ${box.decryptor.name} could read it`,
    );
  }
}

export class Supervisor {
  readonly id: MemberId;
  readonly node: GossipNode;
  onDeparted: () => void = () => {};
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;
  /** A save is due (`markDirty`). */
  private saveDue = false;
  private started = false;
  private cancelElectionTick: () => void = () => {};
  private closed = false;
  /** Leader elections of the groups this Supervisor runs with `--topology leader`. */
  readonly elections: Elections;
  /** Groups whose elections services asked to join, until the ring is synced (`electionAloneMs`). */
  private readonly electionsWanted = new Set<string>();
  /** The `suitability` hook's last value per group (the engine reads it when it stands). */
  private readonly suitabilities = new Map<string, number>();
  private startedAt = 0;

  private constructor(
    private readonly deps: SupervisorDeps,
    private readonly opts: SupervisorOptions,
    private readonly lock: Lock,
    id: MemberId,
    restored: { incarnation: number; rumors: Rumor[] },
  ) {
    this.id = id;
    // A restart comes back one incarnation up, so that its first word (alive) outranks whatever
    // the ring says of its previous life (suspect, confirmed) at once, instead of after a refutation.
    const incarnation = restored.rumors.length > 0 ? Math.min(restored.incarnation + 1, Number.MAX_SAFE_INTEGER) : restored.incarnation;
    const core = new GossipCore(
      { random: deps.random, log: deps.log },
      {
        self: { id, incarnation, address: opts.address, swimPort: opts.gossipPort, gossipPort: opts.gossipPort, persistent: opts.permanent },
        options: opts.gossip,
        seeds: opts.seeds,
        restored: restored.rumors,
        // Aligned probing needs a time every member shares: the wall clock, read once.
        clockOffsetMs: Date.now() - deps.clock.now(),
      },
    );
    this.node = new GossipNode(
      { clock: deps.clock, transport: deps.transport, timers: deps.timers, log: deps.log, ...(deps.sealer ? { sealer: deps.sealer } : {}) },
      core,
    );
    this.elections = new Elections({
      self: id,
      store: core.store,
      publish: (rumor) => this.publish(rumor),
      now: () => deps.clock.now(),
      suitability: (group) => this.suitabilities.get(group) ?? 0,
      log: deps.log,
    });
    this.node.onEvent((e) => this.onEvent(e));
    this.node.onEvent(this.elections.onEvent);
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
    this.startedAt = this.deps.clock.now();
    this.started = true;
    this.markDirty();
    this.cancelElectionTick = this.deps.every(1000, () => {
      this.joinWantedElections();
      this.elections.tick();
    });
  }

  /** Bytes from the gossip transport. */
  receive(from: PeerAddress, channel: 'datagram' | 'stream', bytes: Uint8Array): void {
    if (!this.closed) this.node.receive(from, channel, bytes);
  }

  /** A rumor that starts here (config apply, file upload, departure). */
  publish(rumor: Rumor): void {
    this.node.publish(rumor);
    this.markDirty();
  }

  /**
   * `hab config apply`: gossips `text` as version `version` of `group`'s config. Refused when
   * the group name, the version, the size or the TOML is bad, or when this Supervisor already
   * holds that version or a newer one. With `encrypted` (`--user`), `text` is a `BOX-1` payload
   * the CLI sealed after checking the TOML: this Supervisor checks its form and that it is
   * sealed for `group`'s service key, and gossips it as it is (`checkSealedFor`).
   */
  applyConfig(group: string, version: number, text: string, encrypted = false): Published {
    this.checkOpen();
    checkServiceGroup(group);
    checkVersion(version);
    const config = new TextEncoder().encode(text);
    checkPayloadSize(`${encrypted ? 'encrypted ' : ''}config for ${group}`, config.length);
    if (encrypted) checkSealedFor(group, config, `encrypted config for ${group}`);
    else parseConfigToml(text, `config for ${group}`);
    const held = this.heldVersion(keyOf('service-config', group, 'service_config'));
    if (held !== undefined && version <= held) {
      throw new MurmurError('CONFLICT', `${group} already has config version ${held}; apply a version above ${held}`);
    }
    this.publish({ kind: 'service-config', group, version, encrypted, config, from: this.id });
    this.deps.log.info('config applied', { group, version, bytes: config.length, encrypted });
    return { group, version, bytes: config.length };
  }

  /**
   * `hab file upload`: gossips `body` as version `version` of `filename` for `group`. Versions
   * are per (group, filename), as Habitat's. With `encrypted`, `body` is a `BOX-1` payload.
   */
  uploadFile(group: string, version: number, filename: string, body: Uint8Array, encrypted = false): Published {
    this.checkOpen();
    checkServiceGroup(group);
    checkVersion(version);
    checkFileName(filename);
    checkPayloadSize(`${encrypted ? 'encrypted ' : ''}file ${filename}`, body.length);
    if (encrypted) checkSealedFor(group, body, `encrypted file ${filename} for ${group}`);
    const held = this.heldVersion(keyOf('service-file', group, filename));
    if (held !== undefined && version <= held) {
      throw new MurmurError('CONFLICT', `${group} already has version ${held} of file ${filename}; upload a version above ${held}`);
    }
    this.publish({ kind: 'service-file', group, filename, version, encrypted, body: body.slice(), from: this.id });
    this.deps.log.info('file uploaded', { group, filename, version, bytes: body.length, encrypted });
    return { group, version, bytes: body.length };
  }

  /**
   * `hab sup depart`: that member is departed everywhere, for good; its Supervisor exits 86 when
   * the rumor reaches it. Departing a member again changes nothing and is not an error.
   * @returns whether the member was already departed
   */
  depart(memberId: string): { alreadyDeparted: boolean } {
    this.checkOpen();
    checkMemberId(memberId);
    if (this.core.member(memberId) === undefined) {
      throw new MurmurError('NOT_FOUND', `no member ${memberId} in this Supervisor's ring`);
    }
    const alreadyDeparted = this.core.store.get(keyOf('departure', '', memberId)) !== undefined;
    if (!alreadyDeparted) {
      this.deps.log.info('departing member', { member: memberId });
      this.publish({ kind: 'departure', memberId });
    }
    return { alreadyDeparted };
  }

  status(): SupervisorStatus {
    const members: Record<Health, MemberId[]> = { alive: [], suspect: [], confirmed: [], departed: [] };
    for (const m of this.core.members()) members[m.health].push(m.member.id);
    for (const list of Object.values(members)) list.sort();
    return { memberId: this.id, incarnation: this.core.incarnation, members };
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
        this.markDirty();
        this.deps.log.error('could not save state', { error: (err as Error).message });
      }
    });
    return this.saving;
  }

  /**
   * Something the store file holds changed: it is written `persistIntervalMs` after the first
   * change since the last write, once for every change in between. A timer per change rather
   * than a poll: an idle Supervisor does not wake for it, and the members a rumor reaches at
   * once all write it after the rumor has gone round, not while the last of them (on a busy
   * machine) still wait for the CPU to take it.
   */
  private markDirty(): void {
    this.dirty = true;
    if (this.saveDue || this.closed || !this.started) return;
    this.saveDue = true;
    this.deps.timers.at(this.deps.clock.now() + (this.opts.persistIntervalMs ?? 250), () => {
      this.saveDue = false;
      if (this.dirty && !this.closed) void this.save();
    });
  }

  /** The version of the config or file rumor (or its tombstone) held under `key`, if any. */
  // ------------------------------------------------------------------ the ring, as services see it

  /** This Supervisor's addresses for templates and service rumors; set by the composition root once the gateways listen. */
  sysInfo: SysInfo = { ip: '', hostname: '', gossipIp: '', gossipPort: 0, httpGatewayIp: '', httpGatewayPort: 0, ctlGatewayIp: '', ctlGatewayPort: 0 };

  get memberId(): MemberId {
    return this.id;
  }

  get permanent(): boolean {
    return this.opts.permanent;
  }

  sys(): SysInfo {
    return this.sysInfo;
  }

  config(serviceGroup: string): ServiceConfigRumor | undefined {
    const r = this.core.store.get(keyOf('service-config', serviceGroup, 'service_config'))?.rumor;
    return r?.kind === 'service-config' ? r : undefined;
  }

  files(serviceGroup: string): ServiceFileRumor[] {
    const out: ServiceFileRumor[] = [];
    for (const { rumor } of this.core.store.values()) if (rumor.kind === 'service-file' && rumor.group === serviceGroup) out.push(rumor);
    return out.sort((a, b) => (a.filename < b.filename ? -1 : 1));
  }

  serviceRumor(serviceGroup: string, memberId: MemberId): ServiceRumor | undefined {
    const r = this.core.store.get(keyOf('service', serviceGroup, memberId))?.rumor;
    return r?.kind === 'service' ? r : undefined;
  }

  census(): Census {
    return buildCensus(this.core, this.id);
  }

  /** Publishes this member's rumor for a service, one incarnation above whatever the ring holds for it. */
  publishService(rumor: Omit<ServiceRumor, 'incarnation' | 'kind' | 'memberId'>): void {
    if (this.closed) return;
    const held = this.heldVersion(keyOf('service', rumor.group, this.id)) ?? 0;
    // A rumor of ours at the largest incarnation the wire carries (2^53 − 1; only a forged one
    // gets there) cannot be outdone: publishing above it would throw from the encoder.
    if (held >= Number.MAX_SAFE_INTEGER) {
      this.deps.log.warn('cannot publish this service rumor: the ring holds one for this member at the largest incarnation', { group: rumor.group });
      return;
    }
    this.publish({ kind: 'service', memberId: this.id, incarnation: held + 1, ...rumor });
  }

  /** Unload: a tombstone takes this member's service rumor for the group out of every census. */
  withdrawService(serviceGroup: string): void {
    if (this.closed) return;
    const held = this.heldVersion(keyOf('service', serviceGroup, this.id));
    if (held === undefined) return;
    this.publish({ kind: 'tombstone', target: 'service', group: serviceGroup, id: this.id, version: held });
  }

  /**
   * Leader topology: take part in the group's elections. Deferred until the ring is synced (a
   * peer's state arrived, or this member is alone by design: `GossipCore.synced`), or
   * `electionAloneMs` passed without one.
   */
  joinElection(serviceGroup: string): void {
    if (this.closed || this.elections.joined().includes(serviceGroup)) return;
    this.electionsWanted.add(serviceGroup);
    this.joinWantedElections();
  }

  /** The service was unloaded (or changed topology): no longer a voter or a candidate in the group. */
  leaveElection(serviceGroup: string): void {
    this.electionsWanted.delete(serviceGroup);
    this.elections.leave(serviceGroup);
  }

  /** The `suitability` hook's value for the group, used when this member next stands. */
  setSuitability(serviceGroup: string, value: number): void {
    this.suitabilities.set(serviceGroup, value);
  }

  /** The group's election as this member sees it. */
  election(serviceGroup: string): ElectionView {
    return this.elections.status(serviceGroup);
  }

  /** Whether this member takes part in the group's elections yet (`joinElection` waits for the ring's state). */
  electionJoined(serviceGroup: string): boolean {
    return this.elections.joined().includes(serviceGroup);
  }

  private joinWantedElections(): void {
    if (this.electionsWanted.size === 0) return;
    const alone = this.deps.clock.now() - this.startedAt >= (this.opts.electionAloneMs ?? 10_000);
    if (!this.core.synced && !alone) return;
    for (const group of this.electionsWanted) {
      if (!this.core.synced) this.deps.log.warn('no peer has sent the ring\'s state: taking part in the election alone', { group });
      this.elections.join(group);
    }
    this.electionsWanted.clear();
    this.changed();
  }

  /** Calls `listener` after any rumor that services render from changed (services, config, files, members, elections). */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private readonly changeListeners = new Set<() => void>();

  private heldVersion(key: string): number | undefined {
    const held = this.core.store.get(key)?.rumor;
    return held === undefined ? undefined : versionOf(held);
  }

  private checkOpen(): void {
    if (this.closed) throw new MurmurError('IO', 'this Supervisor is shutting down: nothing was published');
  }

  private async close(): Promise<void> {
    this.closed = true;
    this.cancelElectionTick();
    this.core.stop();
    await this.save();
    await this.lock.release();
  }

  /**
   * One line per config or file version that arrives by gossip (Habitat logs nothing, so an
   * operator cannot tell whether `config apply` reached a member). Our own publications are
   * logged where they are made (`config applied`, `file uploaded`).
   */
  private logReceived(rumor: Rumor): void {
    if (rumor.kind === 'service-config' && rumor.from !== this.id) {
      this.deps.log.info('config received', { group: rumor.group, version: rumor.version, from: rumor.from });
    } else if (rumor.kind === 'service-file' && rumor.from !== this.id) {
      this.deps.log.info('file received', { group: rumor.group, filename: rumor.filename, version: rumor.version, from: rumor.from });
    }
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  private onEvent(e: GossipEvent): void {
    switch (e.type) {
      case 'rumor-changed':
        this.markDirty();
        this.logReceived(e.rumor);
        this.changed();
        break;
      case 'refuted':
        this.markDirty();
        break;
      case 'member-joined':
      case 'member-alive':
      case 'member-suspect':
      case 'member-confirmed':
      case 'member-departed':
      case 'member-removed':
        this.markDirty();
        this.deps.log.info(e.type.replace('member-', 'member '), { member: 'member' in e ? e.member.id : e.id });
        this.changed();
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
