/**
 * Leader elections on a simulated cluster: each member that has "loaded" the group's service
 * runs the real election engine (`src/election/`) beside its gossip core, as a Supervisor will,
 * driven by its gossip events and a tick, in virtual time and deterministic from the seed.
 *
 *   const c = new SimCluster({ seed: 1, options: localTestPreset });
 *   const all = c.bootConverged(5);
 *   const e = new SimElections(c, { suitability: (m) => all.indexOf(m) });
 *   for (const m of all) e.load(m);
 *   c.runUntil(() => e.agreedLeader() !== undefined, 10_000);
 *
 * A loaded member keeps its service across kill and restart, like a spec file: a restarted
 * process publishes its service rumor again and starts a new engine, which knows only what the
 * member's restored rumors say.
 */
import type { Logger, MemberId } from '../core/index.js';
import type { ElectionView } from '../election/index.js';
import { Elections } from '../election/index.js';
import type { GossipOptions } from '../gossip/index.js';
import { keyOf, versionOf } from '../gossip/index.js';
import type { ServiceRumor } from '../wire/index.js';
import type { SimMember } from './cluster.js';
import { SimCluster } from './cluster.js';

export interface SimElectionsOptions {
  /** @default 'redis.default' */
  group?: string;
  /** Each member's `suitability` hook. @default () => 0 */
  suitability?: (m: SimMember) => number;
  /** Time between two engine ticks of one member (ms). @default 1000 */
  tickMs?: number;
  /** Each member's engine logger. @default none */
  log?: (m: SimMember) => Logger;
  /** How long a joiner waits for the ring's state before it starts its elections anyway (ms). @default 5000 */
  syncWaitMs?: number;
}

interface Running {
  generation: number;
  engine: Elections;
}

export class SimElections {
  readonly group: string;
  private readonly suitability: (m: SimMember) => number;
  private readonly tickMs: number;
  private readonly log: ((m: SimMember) => Logger) | undefined;
  private readonly syncWaitMs: number;
  /** Members whose service is loaded (their "spec files"). */
  private readonly loaded = new Set<MemberId>();
  private readonly running = new Map<MemberId, Running>();

  constructor(
    readonly cluster: SimCluster,
    opts: SimElectionsOptions = {},
  ) {
    this.group = opts.group ?? 'redis.default';
    this.suitability = opts.suitability ?? (() => 0);
    this.tickMs = opts.tickMs ?? 1000;
    this.log = opts.log;
    this.syncWaitMs = opts.syncWaitMs ?? 5000;
    cluster.onLaunch((m) => {
      if (this.loaded.has(m.id)) this.start(m);
    });
    cluster.onEvent((e) => {
      const m = this.cluster.member(e.member);
      const engine = this.current(m);
      if (engine) engine.onEvent(e.event);
      else if (this.loaded.has(m.id)) this.start(m);
    });
  }

  /** Loads the group's service on `m` (topology `leader`): publishes its service rumor and starts its elections. */
  load(m: SimMember): void {
    this.loaded.add(m.id);
    if (m.up) this.start(m);
  }

  /**
   * Publishes `m`'s service rumor without starting its elections: a member of the group that
   * has not voted yet (its Supervisor is slow to start), which holds every election open.
   */
  publishService(m: SimMember): void {
    const held = m.core.store.get(keyOf('service', this.group, m.id))?.rumor;
    m.node?.publish(this.serviceRumor(m, (held ? versionOf(held) : 0) + 1));
  }

  /** Unloads the service on `m`: its elections stop and a tombstone removes its service rumor. */
  unload(m: SimMember): void {
    this.loaded.delete(m.id);
    this.current(m)?.leave(this.group);
    this.running.delete(m.id);
    const held = m.up ? m.core.store.get(keyOf('service', this.group, m.id))?.rumor : undefined;
    if (held !== undefined) m.node?.publish({ kind: 'tombstone', target: 'service', group: this.group, id: m.id, version: versionOf(held) });
  }

  isLoaded(m: SimMember): boolean {
    return this.loaded.has(m.id);
  }

  /** The engine of `m`'s current process, if its service is loaded and it runs. */
  engine(m: SimMember): Elections | undefined {
    return this.current(m);
  }

  /** The group's election as `m` sees it (its engine's view; any member's store will do). */
  view(m: SimMember): ElectionView {
    const engine = this.current(m) ?? new Elections({ self: m.id, store: m.core.store, publish: () => undefined, now: () => this.cluster.now });
    return engine.status(this.group);
  }

  /** The loaded members whose process runs. */
  liveLoaded(): SimMember[] {
    return this.cluster.members.filter((m) => m.up && this.loaded.has(m.id));
  }

  /**
   * The leader every one of `members` (default: the loaded, running ones) sees, when they all
   * see the same finished election with quorum; otherwise undefined.
   */
  agreedLeader(members: readonly SimMember[] = this.liveLoaded()): MemberId | undefined {
    let leader: MemberId | undefined;
    for (const m of members) {
      const v = this.view(m);
      if (v.leaderId === null || (leader !== undefined && v.leaderId !== leader)) return undefined;
      leader = v.leaderId;
    }
    return leader;
  }

  /** How many of `members` see a leader at all (a minority partition must see none). */
  withLeader(members: readonly SimMember[]): SimMember[] {
    return members.filter((m) => this.view(m).leaderId !== null);
  }

  private current(m: SimMember): Elections | undefined {
    const r = this.running.get(m.id);
    return r && m.up && r.generation === m.generation ? r.engine : undefined;
  }

  /**
   * Starts `m`'s elections, as a Supervisor must once its gossip has synced with the ring: a
   * joiner that has not yet received the ring's state waits (here: until it knows every running
   * member, or `syncWaitMs` after its process started), so as not to elect itself alone in a
   * group whose election it cannot see yet.
   */
  private start(m: SimMember): void {
    if (this.current(m)) return;
    const node = m.node;
    if (!node) return;
    const synced = node.core.liveCount >= this.cluster.live().length || this.cluster.now - m.upSince >= this.syncWaitMs;
    if (!synced) {
      this.cluster.atMember(m, m.upSince + this.syncWaitMs, () => this.start(m));
      return;
    }
    const engine = new Elections({
      self: m.id,
      store: node.core.store,
      publish: (r) => node.publish(r),
      now: () => this.cluster.now,
      suitability: () => this.suitability(m),
      ...(this.log ? { log: this.log(m) } : {}),
    });
    this.running.set(m.id, { generation: m.generation, engine });
    this.publishService(m);
    engine.join(this.group);
    // Ticks at a phase of their own, as independent Supervisors have.
    const index = this.cluster.members.indexOf(m);
    const phase = ((index * 7919) % 1000) / 1000;
    const tick = (): void => {
      if (this.current(m) !== engine) return;
      engine.tick();
      this.cluster.atMember(m, this.cluster.now + this.tickMs, tick);
    };
    this.cluster.atMember(m, this.cluster.now + phase * this.tickMs, tick);
  }

  private serviceRumor(m: SimMember, incarnation: number): ServiceRumor {
    const ip = m.info.address;
    return {
      kind: 'service',
      group: this.group,
      memberId: m.id,
      incarnation,
      pkg: 'core/redis/7.2.4/20240101000000',
      cfg: new Uint8Array(0),
      sys: { ip, hostname: `sim-${ip}`, gossipIp: ip, gossipPort: m.info.gossipPort, httpGatewayIp: ip, httpGatewayPort: 9631, ctlGatewayIp: '127.0.0.1', ctlGatewayPort: 9632 },
      initialized: true,
      configVersion: 0,
      files: [],
      state: 'up',
      health: 'ok',
      topology: 'leader',
    };
  }
}

export interface FailoverOptions {
  members: number;
  options: GossipOptions;
  seed: number;
  /** Limit on each phase (ms of virtual time). @default 120 000 */
  limitMs?: number;
}

export interface FailoverReport {
  members: number;
  /** From kill -9 of the leader until every live member sees one new leader (ms, virtual). */
  failoverMs: number;
  /** From the kill until the first member confirmed the leader dead (failure detection, ms). */
  detectionMs: number;
  /** From the first confirmation until every live member sees the new leader (the election, ms). */
  electionMs: number;
  /** The terms: before the kill and after the failover. */
  terms: [number, number];
}

/**
 * kill -9 of the leader of an elected group of `members`, in virtual time: how long until every
 * live member sees the new leader, and how much of that is failure detection. Resolution 5 ms.
 */
export function measureFailover(opts: FailoverOptions): FailoverReport {
  const limit = opts.limitMs ?? 120_000;
  const c = new SimCluster({ seed: opts.seed, options: opts.options });
  c.recordEvents = false;
  const all = c.bootConverged(opts.members);
  const e = new SimElections(c);
  for (const m of all) e.load(m);
  if (!c.runUntil(() => e.agreedLeader() !== undefined && e.view(all[0] as SimMember).roster.length === opts.members, limit)) {
    throw new Error(`no leader elected among ${opts.members} members in ${limit} ms`);
  }
  c.runFor(2 * opts.options.probeIntervalMs);
  const leader = c.member(e.agreedLeader() as MemberId);
  const termBefore = e.view(leader).term ?? 0;
  let confirmedAt: number | undefined;
  c.onEvent((ev) => {
    if (confirmedAt === undefined && ev.event.type === 'member-confirmed' && ev.event.member.id === leader.id) confirmedAt = ev.at;
  });
  const killedAt = c.now;
  c.kill(leader);
  const ok = c.runUntil(
    () => {
      const l = e.agreedLeader();
      return l !== undefined && l !== leader.id;
    },
    limit,
    5,
  );
  if (!ok) throw new Error(`no new leader among ${opts.members - 1} members within ${limit} ms of the kill`);
  const doneAt = c.now;
  const survivor = e.liveLoaded()[0] as SimMember;
  return {
    members: opts.members,
    failoverMs: doneAt - killedAt,
    detectionMs: (confirmedAt ?? doneAt) - killedAt,
    electionMs: doneAt - (confirmedAt ?? doneAt),
    terms: [termBefore, e.view(survivor).term ?? 0],
  };
}
