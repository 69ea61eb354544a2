/**
 * The gossip core of one member: SWIM failure detection with Lifeguard's refinements, the rumor
 * store and its dissemination. It is a state machine with no I/O: packets and timer firings go
 * in with `now`, and effects (sends, timers, events) come out. Time and randomness are
 * dependencies, so the same code runs on real sockets and in the simulator.
 *
 * Reading order: `start`, then `handleTimer` (`probe-tick` → `startProbe` → `probe-timeout` →
 * `probe-deadline` → `raiseSuspicion`), then `handlePacket`, then `receive` (every rumor, from
 * any path, goes through it).
 *
 * References: SWIM (Das, Gupta, Motivala 2002) §4–5; Lifeguard (Dadgar et al. 2018) §4;
 * Habitat butterfly `src/server/{outbound,inbound,push}.rs` and `src/member.rs` for the
 * acceptance rules and the vocabulary.
 */
import type { Logger, MemberId, Random } from '../core/index.js';
import { MurmurError, isIpLiteral, nullLogger } from '../core/index.js';
import type { Health, MemberInfo, MemberRumor, Packet, PeerAddress, Rumor } from '../wire/index.js';
import { encodePacket, encodeRumor, rumorFieldSize } from '../wire/index.js';
import { Awareness } from './awareness.js';
import { BroadcastQueue } from './broadcast-queue.js';
import type { Channel, Effect, GossipEvent, IgnoredCode, Timer } from './effects.js';
import type { GossipOptions } from './options.js';
import { retransmitLimit, suspicionBounds, validateOptions } from './options.js';
import { keyOf, mergeRumor, rumorKey } from './rumor.js';
import type { StoreBase } from './store.js';
import { RumorStore, memberKey } from './store.js';
import { Suspicion } from './suspicion.js';

export interface GossipCoreDeps {
  random: Random;
  log?: Logger;
}

export interface GossipCoreInit {
  /** This member as others should reach it. */
  self: MemberInfo;
  options: GossipOptions;
  /** Addresses to join through (`--peer`), tried in turn until a member answers, and whenever alone. */
  seeds?: PeerAddress[];
  /** A shared frozen store to start from (the simulator's converged boot). */
  base?: StoreBase;
  /** Rumors restored from disk; merged quietly before start. */
  restored?: Iterable<Rumor>;
  /** Gossip this member's own alive record at start. @default true */
  announce?: boolean;
  /**
   * Added to `now` to get a time all members share (wall-clock ms), for aligned probing. The
   * simulator's members share `now` already (0); a real Supervisor passes its wall clock minus
   * its monotonic clock. @default 0
   */
  clockOffsetMs?: number;
}

/** How a rumor reached us decides how far we pass it on. */
type Via =
  /** Originated here, or pushed/piggybacked to us: push at once and keep hot. */
  | 'push'
  /** Repaired by anti-entropy: keep hot for gossip rounds, no at-once push. */
  | 'sync'
  /** Full state on join or restored from disk: store only. */
  | 'quiet';

interface Probe {
  seq: number;
  startedAt: number;
  target: MemberId;
  incarnation: number;
  acked: boolean;
  expectedNacks: number;
  nacks: number;
}

interface Relay {
  requester: PeerAddress;
  originSeq: number;
  createdAt: number;
  done: boolean;
}

/** The per-packet bytes outside piggybacked rumors, rounded up (ids, seq, tags). */
const PACKET_HEADROOM = 96;

export class GossipCore {
  readonly store: RumorStore;
  private readonly opts: GossipOptions;
  private readonly random: Random;
  private readonly log: Logger;
  private readonly self: MemberInfo;
  private readonly seeds: PeerAddress[];
  private readonly queue: BroadcastQueue;
  private readonly awareness: Awareness;
  private readonly suspicions = new Map<MemberId, Suspicion>();
  private readonly probes = new Map<number, Probe>();
  private readonly relays = new Map<number, Relay>();
  private readonly counts: Record<Health, number>;
  private readonly announce: boolean;
  private out: Effect[] = [];
  private seq = 0;
  private seedCursor = 0;
  private probeOrder = { a: 1, b: 0, n: 0, i: 0 };
  private readonly clockOffsetMs: number;
  private ringPosition: { ring: readonly string[]; index: number } = { ring: [], index: -1 };
  private lastRound = -Infinity;
  /** When the next gossip round is due (ms); a tick that fires before it is stale. */
  private gossipDueAt = Infinity;
  /** Whether any other member has answered or written to us since start (seeds are tried until then). */
  private heardFromPeer = false;
  /** A peer's state reached us since start (a join's answer, an anti-entropy exchange), or we started alone (`synced`). */
  private stateReceived: boolean;
  /**
   * While a packet is handled: the span of the tree push being handled, else 0 (pushes on learned
   * news at random). Outside packet handling null: news originated here goes down the whole tree.
   */
  private inboundSpan: number | null = null;
  private started = false;
  private stopped = false;
  /** Full-state answers to joins that may still be given now: a token bucket (`joinAnswerRate`). */
  private joinTokens: number;
  private joinTokensAt = -Infinity;
  /**
   * Member ids and addresses answered within `joinAnswerRepeatMs`, with when, oldest first (a
   * `Map` keeps insertion order, so expired entries are dropped from the front).
   */
  private readonly joinsAnswered = new Map<string, number>();

  constructor(deps: GossipCoreDeps, init: GossipCoreInit) {
    const problems = validateOptions(init.options);
    if (problems.length > 0) throw new Error(`invalid gossip options: ${problems.join('; ')}`);
    this.opts = init.options;
    this.random = deps.random;
    this.log = (deps.log ?? nullLogger).child({ member: init.self.id.slice(0, 8) });
    this.self = { ...init.self };
    this.seeds = [...(init.seeds ?? [])];
    this.announce = init.announce ?? true;
    this.clockOffsetMs = init.clockOffsetMs ?? 0;
    this.joinTokens = init.options.joinAnswerBurst;
    this.queue = new BroadcastQueue(init.options.maxHotRumors);
    this.awareness = new Awareness(init.options.awarenessMax);
    this.store = new RumorStore({ buckets: init.options.digestBuckets, ...(init.base ? { base: init.base } : {}) });
    this.counts = init.base ? { ...init.base.memberHealth } : { alive: 0, suspect: 0, confirmed: 0, departed: 0 };
    for (const r of init.restored ?? []) this.receive(r, 0, 'quiet');
    this.out = [];
    const held = this.store.get(memberKey(this.self.id))?.rumor;
    if (held?.kind === 'member' && held.member.incarnation > this.self.incarnation) this.self.incarnation = held.member.incarnation;
    this.writeSelf(0);
    // Alone by design: no seeds, and nobody else in the store. Whatever the ring holds later
    // reaches it by gossip (members join through it).
    this.stateReceived = this.seeds.length === 0 && this.liveCount <= 1;
  }

  // ---------------------------------------------------------------- reading

  get id(): MemberId {
    return this.self.id;
  }

  get incarnation(): number {
    return this.self.incarnation;
  }

  get awarenessScore(): number {
    return this.awareness.value;
  }

  /**
   * The store holds what the ring knows: a peer's state has arrived since start (the answer to a
   * join, or an anti-entropy exchange), or this member started alone by design (no seeds, and no
   * other live member in its store). Elections wait for it, so that a Supervisor just started
   * does not elect itself alone before it hears of the group's members, and one restarted does
   * not act on the election it stored, which the ring may have replaced meanwhile. Any packet is
   * not enough: a ping or a reconnect's digest carries no state.
   */
  get synced(): boolean {
    return this.stateReceived;
  }

  /** Members believed alive or suspect, this one included (SWIM's N). */
  get liveCount(): number {
    return this.counts.alive + this.counts.suspect;
  }

  healthCounts(): Readonly<Record<Health, number>> {
    return this.counts;
  }

  member(id: MemberId): MemberRumor | undefined {
    const r = this.store.get(memberKey(id))?.rumor;
    return r?.kind === 'member' ? r : undefined;
  }

  *members(): IterableIterator<MemberRumor> {
    for (let i = 0; i < this.store.memberIdCount(); i++) {
      const m = this.member(this.store.memberIdAt(i) as string);
      if (m) yield m;
    }
  }

  get hotRumors(): number {
    return this.queue.size;
  }

  // ---------------------------------------------------------------- inputs

  /** Schedules the periodic work and tries the seeds. */
  start(now: number): Effect[] {
    if (this.started) return [];
    this.started = true;
    const jitter = (interval: number): number => now + this.random.next() * interval;
    this.schedule(jitter(this.opts.probeIntervalMs), { kind: 'probe-tick' });
    this.schedule(jitter(this.opts.antiEntropyIntervalMs), { kind: 'anti-entropy-tick' });
    this.schedule(jitter(this.opts.reconnectIntervalMs), { kind: 'reconnect-tick' });
    this.schedule(jitter(this.opts.gcIntervalMs), { kind: 'gc-tick' });
    if (this.announce) this.hot(this.selfRumor(), now, 'push');
    if (this.seeds.length > 0) this.onJoinTick(now);
    else this.schedule(now + this.opts.joinRetryIntervalMs, { kind: 'join-tick' });
    return this.flush();
  }

  /** A decoded packet from `from` (the sender's socket address), on `channel`. */
  handlePacket(from: PeerAddress, packet: Packet, now: number, channel: Channel = 'datagram'): Effect[] {
    if (this.stopped) return [];
    this.heardFromPeer = true;
    // Rumors learned from any packet but a tree push are pushed on at random (`hot`).
    this.inboundSpan = 0;
    try {
      this.dispatchPacket(from, packet, now, channel);
    } finally {
      this.inboundSpan = null;
    }
    return this.flush();
  }

  private dispatchPacket(from: PeerAddress, packet: Packet, now: number, channel: Channel): void {
    switch (packet.type) {
      case 'ping':
        this.onPing(from, channel, packet.seq, packet.from, packet.target, packet.piggyback, now);
        break;
      case 'ack':
        this.onAck(packet.seq, packet.from, packet.piggyback, now);
        break;
      case 'ping-req':
        this.onPingReq(from, packet.seq, packet.target, packet.piggyback, now);
        break;
      case 'nack': {
        const probe = this.probes.get(packet.seq);
        if (probe) probe.nacks++;
        break;
      }
      case 'push':
        // A tree push hands us a span of the ring to push on to; a gossip round's push does not.
        this.inboundSpan = packet.span ?? 0;
        this.receiveAll(packet.rumors, now, 'push');
        this.inboundSpan = 0;
        break;
      case 'join':
        this.onJoin(from, packet.member, now);
        break;
      case 'state':
        this.receiveAll(packet.rumors, now, 'quiet');
        this.stateReceived = true;
        this.directContact(packet.from, now);
        break;
      case 'sync-digest': {
        this.directContact(packet.from, now);
        const root = this.store.root();
        if (root.hi === packet.rootHi && root.lo === packet.rootLo && this.store.size === packet.count) {
          this.stateReceived = true;
          break;
        }
        this.sendPacket(this.addressOf(packet.from) ?? from, { type: 'sync-buckets', from: this.self.id, hashes: this.store.bucketHashes() });
        break;
      }
      case 'sync-buckets': {
        if (packet.hashes.length !== this.store.buckets * 2) {
          this.emit({ type: 'packet-ignored', reason: 'sync-buckets with another bucket count' });
          break;
        }
        const buckets = this.store.differingBuckets(packet.hashes);
        if (buckets.length === 0) {
          this.stateReceived = true;
          break;
        }
        const rumors = this.store.inBuckets(new Set(buckets));
        this.sendPacket(this.addressOf(packet.from) ?? from, { type: 'sync-pull', from: this.self.id, buckets, rumors });
        break;
      }
      case 'sync-pull': {
        const wanted = new Set(packet.buckets.filter((b) => Number.isInteger(b) && b >= 0 && b < this.store.buckets));
        const mine = this.store.inBuckets(wanted);
        const theirs = new Map<string, Rumor>();
        for (const r of packet.rumors) theirs.set(rumorKey(r), r);
        this.receiveAll(packet.rumors, now, 'sync');
        this.stateReceived = true;
        // Send back only what still stands here and beats what they sent.
        const answer = mine.filter((r) => {
          const key = rumorKey(r);
          const their = theirs.get(key);
          return this.store.get(key)?.rumor === r && (their === undefined || mergeRumor(their, r).changed);
        });
        if (answer.length > 0) this.sendPacket(this.addressOf(packet.from) ?? from, { type: 'sync-rumors', from: this.self.id, rumors: answer });
        break;
      }
      case 'sync-rumors':
        this.receiveAll(packet.rumors, now, 'sync');
        this.stateReceived = true;
        break;
    }
  }

  handleTimer(timer: Timer, now: number): Effect[] {
    if (this.stopped) return [];
    switch (timer.kind) {
      case 'probe-tick':
        this.onProbeTick(now);
        break;
      case 'probe-timeout':
        this.onProbeTimeout(timer.seq);
        break;
      case 'probe-deadline':
        this.onProbeDeadline(timer.seq, now);
        break;
      case 'relay-timeout': {
        const relay = this.relays.get(timer.seq);
        if (relay && !relay.done) {
          relay.done = true;
          this.sendPacket(relay.requester, { type: 'nack', seq: relay.originSeq, from: this.self.id });
        }
        break;
      }
      case 'suspicion':
        this.onSuspicionTimeout(timer.member, timer.incarnation, now);
        break;
      case 'gossip-tick':
        if (now < this.gossipDueAt) break; // superseded by an earlier round
        this.gossipDueAt = Infinity;
        this.onGossipTick(now);
        break;
      case 'anti-entropy-tick':
        this.schedule(now + this.opts.antiEntropyIntervalMs * (0.9 + 0.2 * this.random.next()), { kind: 'anti-entropy-tick' });
        this.sendDigest(this.pickMembers(1, (m) => m.health === 'alive')[0]);
        break;
      case 'reconnect-tick':
        this.schedule(now + this.opts.reconnectIntervalMs * (0.9 + 0.2 * this.random.next()), { kind: 'reconnect-tick' });
        if (this.counts.confirmed > 0) this.sendDigest(this.pickMembers(1, (m) => m.health === 'confirmed')[0]);
        break;
      case 'join-tick':
        this.onJoinTick(now);
        break;
      case 'gc-tick':
        this.schedule(now + this.opts.gcIntervalMs, { kind: 'gc-tick' });
        this.collect(now);
        break;
    }
    return this.flush();
  }

  /**
   * A rumor that starts here (config apply, file upload, service, election, departure). It is
   * encoded first, so a value the wire cannot carry is refused (a `MurmurError` BAD_INPUT is
   * thrown) before it is stored or queued.
   */
  publish(rumor: Rumor, now: number): Effect[] {
    const key = rumorKey(rumor);
    if (key.split('\u0000').length !== 3) throw new MurmurError('BAD_INPUT', 'a rumor group, file name or id may not contain a NUL character');
    encodeRumor(rumor);
    if (!this.stopped) this.receive(rumor, now, 'push');
    return this.flush();
  }

  /**
   * Graceful departure: raise the incarnation, mark ourselves departed, tell `leaveFanout`
   * members over streams (they push it on), then stop reacting to anything.
   */
  leave(now: number): Effect[] {
    if (this.stopped) return [];
    // At the largest incarnation, `departed` still beats `alive` at the same one.
    this.self.incarnation = Math.min(this.self.incarnation + 1, Number.MAX_SAFE_INTEGER);
    const departed: MemberRumor = { kind: 'member', member: { ...this.self }, health: 'departed', from: this.self.id };
    this.store.set(departed, now);
    this.recount('alive', 'departed');
    for (const m of this.pickMembers(this.opts.leaveFanout, isLive)) {
      this.sendPacket(this.addressOfMember(m.member), { type: 'push', from: this.self.id, rumors: [departed] }, 'stream');
    }
    this.stopped = true;
    return this.flush();
  }

  /** Replaces the seed addresses (`--peer-watch-file` changed). */
  setSeeds(seeds: readonly PeerAddress[]): void {
    this.seeds.splice(0, this.seeds.length, ...seeds);
    this.seedCursor = 0;
  }

  /** Stop reacting (the process is going away without a word). */
  stop(): void {
    this.stopped = true;
  }

  // ---------------------------------------------------------------- probing

  private onProbeTick(now: number): void {
    this.schedule(now + this.awareness.scale(this.opts.probeIntervalMs), { kind: 'probe-tick' });
    for (const [seq, relay] of this.relays) {
      if (now - relay.createdAt > 2 * this.opts.probeIntervalMs) this.relays.delete(seq);
    }
    const target = (this.opts.alignedProbing ? this.alignedProbeTarget(now) : undefined) ?? this.nextProbeTarget();
    if (target) this.startProbe(target, now);
  }

  /** The target of this round under aligned probing (see `GossipOptions.alignedProbing`). */
  private alignedProbeTarget(now: number): MemberRumor | undefined {
    const ring = this.store.memberRing();
    const n = ring.length;
    if (n < 2) return undefined;
    if (this.ringPosition.ring !== ring) this.ringPosition = { ring, index: ring.indexOf(this.self.id) };
    const me = this.ringPosition.index;
    if (me < 0) return undefined;
    // Two ticks in one round (timer jitter) take consecutive rounds rather than one target twice.
    const round = Math.max(Math.floor((now + this.clockOffsetMs) / this.opts.probeIntervalMs), this.lastRound + 1);
    this.lastRound = round;
    const id = ring[(me + 1 + (round % (n - 1))) % n] as string;
    const m = this.member(id);
    return m && id !== this.self.id && (isLive(m) || m.member.persistent) ? m : undefined;
  }

  /**
   * Round-robin over a random permutation of the member index, as SWIM §4.3 asks (every member
   * probed within a bounded time). The permutation is affine, `(a·i + b) mod n` with a coprime to
   * n, so it costs no memory however large the ring.
   */
  private nextProbeTarget(): MemberRumor | undefined {
    for (let tries = 0; tries < 2; tries++) {
      const order = this.probeOrder;
      while (order.i < order.n) {
        const index = (order.a * order.i + order.b) % order.n;
        order.i++;
        const id = this.store.memberIdAt(index);
        if (id === undefined || id === this.self.id) continue;
        const m = this.member(id);
        if (m && (isLive(m) || m.member.persistent)) return m;
      }
      const n = this.store.memberIdCount();
      if (n <= 1) return undefined;
      let a = 1 + this.random.int(n - 1);
      while (gcd(a, n) !== 1) a = (a % (n - 1)) + 1;
      this.probeOrder = { a, b: this.random.int(n), n, i: 0 };
    }
    return undefined;
  }

  private startProbe(target: MemberRumor, now: number): void {
    const seq = this.nextSeq();
    this.probes.set(seq, { seq, startedAt: now, target: target.member.id, incarnation: target.member.incarnation, acked: false, expectedNacks: 0, nacks: 0 });
    this.sendSwim(this.addressOfMember(target.member), (piggyback) => ({ type: 'ping', seq, from: this.self.id, target: target.member.id, piggyback }));
    this.schedule(now + this.awareness.scale(this.opts.probeTimeoutMs), { kind: 'probe-timeout', seq });
    this.schedule(now + this.awareness.scale(this.opts.probeIntervalMs), { kind: 'probe-deadline', seq });
  }

  /**
   * No direct ack in time: ask k helpers to ping the target for us (SWIM's ping-req), and ping
   * it once more over a stream, whose retransmissions get through a lossy path that dropped
   * the datagram (memberlist's TCP fallback ping).
   */
  private onProbeTimeout(seq: number): void {
    const probe = this.probes.get(seq);
    if (!probe || probe.acked) return;
    const target = this.member(probe.target);
    if (!target) return;
    this.sendPacket(this.addressOfMember(target.member), { type: 'ping', seq, from: this.self.id, target: probe.target, piggyback: [] }, 'stream');
    const helpers = this.pickMembers(this.opts.indirectChecks, (m) => m.health === 'alive' && m.member.id !== probe.target);
    probe.expectedNacks = helpers.length;
    const targetAddress = this.addressOfMember(target.member);
    for (const h of helpers) {
      this.sendSwim(this.addressOfMember(h.member), (piggyback) => ({ type: 'ping-req', seq, from: this.self.id, target: probe.target, targetAddress, piggyback }));
    }
  }

  /**
   * The probe interval is over. Lifeguard: a success lowers our awareness score; a failure
   * with missing nacks raises it (we may be the slow one), and without helpers a failure raises
   * it by one. Then the target is suspected.
   */
  private onProbeDeadline(seq: number, now: number): void {
    const probe = this.probes.get(seq);
    if (!probe) return;
    this.probes.delete(seq);
    if (probe.acked) return;
    if (probe.expectedNacks > 0) this.awareness.apply(Math.max(0, probe.expectedNacks - probe.nacks));
    else this.awareness.apply(1);
    const target = this.member(probe.target);
    if (!target || target.member.incarnation !== probe.incarnation) return;
    if (target.health === 'alive' || target.health === 'suspect') this.raiseSuspicion(target, now);
  }

  /** Our own probe failed: suspect the target, or confirm an existing suspicion. */
  private raiseSuspicion(target: MemberRumor, now: number): void {
    const rumor: MemberRumor = { kind: 'member', member: target.member, health: 'suspect', from: this.self.id };
    this.emit({ type: 'suspicion-raised', member: target.member.id });
    if (target.health === 'suspect') {
      // Already suspect: our failed probe is an independent confirmation for everyone else.
      const key = keyOf('member', 'confirm', `${target.member.id}/${this.self.id}`);
      this.queue.enqueue(key, rumor);
      this.pushNow(rumor, key, '');
      return;
    }
    this.receive(rumor, now, 'push');
    // Lifeguard: the suspected member learns of it at once and can refute.
    this.sendPacket(this.addressOfMember(target.member), { type: 'push', from: this.self.id, rumors: [rumor] });
  }

  private onSuspicionTimeout(id: MemberId, incarnation: number, now: number): void {
    const s = this.suspicions.get(id);
    if (!s || s.incarnation !== incarnation) return;
    if (now < s.deadline()) {
      this.schedule(s.deadline(), { kind: 'suspicion', member: id, incarnation });
      return;
    }
    const m = this.member(id);
    this.suspicions.delete(id);
    if (!m || m.health !== 'suspect' || m.member.incarnation !== incarnation) return;
    const confirmed: MemberRumor = { kind: 'member', member: m.member, health: 'confirmed', from: this.self.id };
    this.receive(confirmed, now, 'push', s.startedAt);
  }

  private onPing(from: PeerAddress, channel: Channel, seq: number, sender: MemberId, target: MemberId | '', piggyback: Rumor[], now: number): void {
    if (target !== '' && target !== this.self.id) {
      this.emit({ type: 'packet-ignored', reason: 'ping for another member id' });
      return;
    }
    if (channel === 'stream') {
      // A fallback ping: answer the same way, to the sender's gossip address.
      this.sendPacket(this.addressOf(sender) ?? from, { type: 'ack', seq, from: this.self.id, piggyback: [] }, 'stream');
    } else {
      this.sendSwim(from, (pb) => ({ type: 'ack', seq, from: this.self.id, piggyback: pb }));
    }
    this.receiveAll(piggyback, now, 'push');
    this.directContact(sender, now);
  }

  private onAck(seq: number, sender: MemberId, piggyback: Rumor[], now: number): void {
    this.receiveAll(piggyback, now, 'push');
    const relay = this.relays.get(seq);
    if (relay) {
      this.relays.delete(seq);
      this.sendPacket(relay.requester, { type: 'ack', seq: relay.originSeq, from: sender, piggyback: [] });
      this.directContact(sender, now);
      return;
    }
    const probe = this.probes.get(seq);
    if (!probe || probe.acked || probe.target !== sender) return;
    probe.acked = true;
    this.awareness.apply(-1);
    this.emit({ type: 'probe-acked', member: sender, rttMs: now - probe.startedAt });
    this.directContact(sender, now);
  }

  private onPingReq(from: PeerAddress, originSeq: number, target: MemberId, piggyback: Rumor[], now: number): void {
    this.receiveAll(piggyback, now, 'push');
    // Only members we know, at the address we know: a ping-req never sends us to an address of
    // the requester's choosing.
    const known = this.member(target);
    if (!known || known.health === 'departed') {
      this.emit({ type: 'packet-ignored', reason: 'ping-req for a member this one does not know' });
      return;
    }
    const targetAddress = this.addressOfMember(known.member);
    const seq = this.nextSeq();
    this.relays.set(seq, { requester: from, originSeq, createdAt: now, done: false });
    this.sendSwim(targetAddress, (pb) => ({ type: 'ping', seq, from: this.self.id, target, piggyback: pb }));
    this.schedule(now + this.opts.probeTimeoutMs * 0.8, { kind: 'relay-timeout', seq });
  }

  /** Habitat: hearing from a member directly marks it alive, whatever its incarnation. */
  private directContact(id: MemberId, now: number): void {
    const m = this.member(id);
    if (!m || m.health === 'alive' || m.health === 'departed' || this.departed(id)) return;
    const alive: MemberRumor = { kind: 'member', member: m.member, health: 'alive', from: this.self.id };
    this.store.set(alive, now);
    this.recount(m.health, 'alive');
    this.suspicions.delete(id);
    this.emit({ type: 'member-alive', member: m.member, was: m.health });
  }

  // ---------------------------------------------------------------- joining

  private onJoinTick(now: number): void {
    this.schedule(now + this.opts.joinRetryIntervalMs, { kind: 'join-tick' });
    // Seeds are tried until some member has answered since start (a member restored from disk
    // may believe in peers that are long gone), and again whenever this member is alone.
    if (this.seeds.length === 0 || (this.heardFromPeer && this.liveCount > 1)) return;
    const seed = this.seeds[this.seedCursor++ % this.seeds.length] as PeerAddress;
    this.sendPacket(seed, { type: 'join', member: { ...this.self } }, 'stream');
  }

  /**
   * A member joins through us: it gets our whole state, once, from us alone. A join costs its
   * sender about 50 bytes and us an encoding of every rumor we hold, so answers are bounded
   * (docs/security.md "Fuzzing"): at most `joinAnswerBurst` at once and `joinAnswerRate` a
   * second after that, and none to a member id or an address answered within
   * `joinAnswerRepeatMs`. A join refused is dropped whole (no record is kept: a flood of ids
   * grows nothing) and counted; the joiner asks again after its `joinRetryIntervalMs`.
   */
  private onJoin(from: PeerAddress, joiner: MemberInfo, now: number): void {
    if (joiner.id === this.self.id) return;
    const host = hostOf(from);
    const member: MemberInfo = { ...joiner, address: joiner.address === '' || joiner.address === '0.0.0.0' ? host : joiner.address };
    if (!isIpLiteral(member.address)) {
      this.refuse('address-not-ip', 'a join whose address is not an IP literal');
      return;
    }
    const to = this.addressOfMember(member);
    for (const [key, at] of this.joinsAnswered) {
      if (now - at < this.opts.joinAnswerRepeatMs) break;
      this.joinsAnswered.delete(key);
    }
    if (this.joinsAnswered.has(member.id) || this.joinsAnswered.has(to)) {
      this.refuse('join-answered-recently', 'a join from a member id or to an address answered moments ago');
      return;
    }
    const elapsed = Math.max(0, now - this.joinTokensAt);
    this.joinTokens = Math.min(this.opts.joinAnswerBurst, this.joinTokens + (elapsed * this.opts.joinAnswerRate) / 1000);
    this.joinTokensAt = now;
    if (this.joinTokens < 1) {
      this.refuse('join-rate-limit', 'a join over joinAnswerRate');
      return;
    }
    this.joinTokens -= 1;
    // Re-inserted, so that the map stays in the order of answers.
    for (const key of [member.id, to]) {
      this.joinsAnswered.delete(key);
      this.joinsAnswered.set(key, now);
    }
    this.receive({ kind: 'member', member, health: 'alive', from: this.self.id }, now, 'push');
    this.directContact(member.id, now);
    const rumors = [...this.store.values()].map((e) => e.rumor);
    this.sendPacket(this.addressOfMember(member), { type: 'state', from: this.self.id, rumors }, 'stream');
  }

  // ---------------------------------------------------------------- rumors

  private receiveAll(rumors: readonly Rumor[], now: number, via: Via): void {
    for (const r of rumors) this.receive(r, now, via);
  }

  /**
   * Every rumor, from every path, goes through here: merge it, react to what changed (suspicion,
   * refutation, departure), and pass it on as far as `via` says.
   */
  private receive(r: Rumor, now: number, via: Via, suspectedAt?: number): void {
    if (r.kind === 'member') {
      this.receiveMember(r, now, via, suspectedAt);
      return;
    }
    if (r.kind === 'departure' && r.memberId === this.self.id) {
      const res = this.store.merge(r, now);
      if (res.changed) {
        this.emit({ type: 'self-departed' });
        this.hot(r, now, via);
      }
      return;
    }
    const res = this.store.merge(r, now);
    if (!res.changed) return;
    this.emit({ type: 'rumor-changed', rumor: res.current, previous: res.previous });
    if (r.kind === 'departure') {
      const m = this.member(r.memberId);
      if (m && m.health !== 'departed') this.setMember({ ...m, health: 'departed', from: '' }, m.health, now);
    }
    this.hot(res.current, now, via);
  }

  private receiveMember(r: MemberRumor, now: number, via: Via, suspectedAt?: number): void {
    // Every member sends to the addresses in these records: a host name would make each of them
    // resolve whatever name any sender chose (`core/ip.ts`).
    if (!isIpLiteral(r.member.address)) {
      this.refuse('address-not-ip', 'a member record whose address is not an IP literal');
      return;
    }
    const id = r.member.id;
    if (id === this.self.id) {
      this.receiveAboutSelf(r, now);
      return;
    }
    if (this.departed(id) && r.health !== 'departed') return;
    const held = this.member(id);
    if (held && held.health === 'suspect' && r.health === 'suspect' && held.member.incarnation === r.member.incarnation) {
      this.confirmSuspicion(r, now);
      return;
    }
    const res = this.store.merge(r, now);
    if (!res.changed) return;
    const was = held?.health;
    this.recount(was, r.health);
    this.memberChanged(r, was, now, via, suspectedAt);
    this.hot(r, now, via);
  }

  /** Another member's failed probe of a member we already suspect: an independent confirmation. */
  private confirmSuspicion(r: MemberRumor, now: number): void {
    const s = this.suspicions.get(r.member.id);
    if (!s || s.incarnation !== r.member.incarnation || !s.confirm(r.from)) return;
    this.schedule(s.deadline(), { kind: 'suspicion', member: r.member.id, incarnation: s.incarnation });
    const key = keyOf('member', 'confirm', `${r.member.id}/${r.from}`);
    this.queue.enqueue(key, r);
    this.scheduleGossip(now);
  }

  private memberChanged(r: MemberRumor, was: Health | undefined, now: number, via: Via, suspectedAt?: number): void {
    const id = r.member.id;
    switch (r.health) {
      case 'alive':
        this.suspicions.delete(id);
        if (was === undefined) this.emit({ type: 'member-joined', member: r.member });
        else if (was !== 'alive') this.emit({ type: 'member-alive', member: r.member, was });
        break;
      case 'suspect': {
        const { min, max } = suspicionBounds(this.opts, this.liveCount);
        const s = new Suspicion(id, r.member.incarnation, now, r.from, this.self.id, min, max, this.opts.suspicionConfirmations);
        this.suspicions.set(id, s);
        this.schedule(s.deadline(), { kind: 'suspicion', member: id, incarnation: r.member.incarnation });
        if (was === undefined) this.emit({ type: 'member-joined', member: r.member });
        this.emit({ type: 'member-suspect', member: r.member, from: r.from });
        // Check it ourselves now, so that confirmations arrive within one probe interval.
        const alreadyProbing = [...this.probes.values()].some((p) => p.target === id);
        if (via !== 'quiet' && r.from !== this.self.id && !alreadyProbing && this.random.next() < this.opts.suspicionProbes / this.liveCount) {
          this.startProbe(r, now);
        }
        break;
      }
      case 'confirmed':
        this.suspicions.delete(id);
        this.emit({
          type: 'member-confirmed',
          member: r.member,
          local: suspectedAt !== undefined,
          ...(suspectedAt !== undefined ? { suspectedAt } : {}),
        });
        break;
      case 'departed':
        this.suspicions.delete(id);
        this.emit({ type: 'member-departed', member: r.member });
        break;
    }
  }

  /**
   * A rumor about ourselves. An accusation (suspect, confirmed, departed) at our incarnation or
   * later, or an alive record from a previous life with a higher incarnation, is refuted by
   * raising our incarnation above it (SWIM §4.2).
   */
  private receiveAboutSelf(r: MemberRumor, now: number): void {
    const inc = r.member.incarnation;
    if (inc < this.self.incarnation) return;
    if (r.health === 'alive' && inc === this.self.incarnation) return;
    // Refuting means going one above, which the wire cannot carry past 2^53 − 1: such a record
    // is ignored rather than answered with an incarnation no member can encode or decode.
    if (inc >= Number.MAX_SAFE_INTEGER) {
      this.emit({ type: 'packet-ignored', reason: 'a record about this member at the largest incarnation cannot be refuted' });
      return;
    }
    this.self.incarnation = inc + 1;
    if (r.health === 'suspect' || r.health === 'confirmed') this.awareness.apply(1);
    this.writeSelf(now);
    // A refutation originates here, whatever packet carried the accusation: the whole tree.
    this.hot(this.selfRumor(), now, 'push', null);
    this.emit({ type: 'refuted', incarnation: this.self.incarnation });
  }

  private setMember(r: MemberRumor, was: Health, now: number): void {
    this.store.set(r, now);
    this.recount(was, r.health);
    this.memberChanged(r, was, now, 'quiet');
  }

  /**
   * Passes a changed rumor on as `via` says. A rumor pushed at once goes down a broadcast tree
   * when it originated here (`span` null: the whole ring) or came in a tree push (`span` ≥ 1,
   * the receiver and the members after it that it covers),
   * and to `pushFanout` random members when it came any other way (a gossip round, a piggyback):
   * those are the members the tree missed, and their news spreads as an epidemic.
   */
  private hot(r: Rumor, now: number, via: Via, span: number | null = this.inboundSpan): void {
    if (via === 'quiet') return;
    const key = rumorKey(r);
    this.queue.enqueue(key, r);
    // A fresh rumor's first gossip round comes soon, to reach the few the at-once push missed;
    // except at the members the broadcast tree reached, where the tree has just done that work
    // and an early round would only hand every member its own news again, on a busy machine.
    const early = via === 'push' && (span === null || span === 0);
    this.scheduleGossip(now, early ? this.opts.gossipFirstRoundMs : this.opts.gossipIntervalMs);
    if (via !== 'push') return;
    // The suspect itself is told directly by whoever suspected it; fan-out goes to the others.
    const except = r.kind === 'member' && r.health === 'suspect' ? r.member.id : '';
    // A tree push's span counts its receiver: a leaf (span 1) pushes nothing on.
    if (span === 0) this.pushNow(r, key, except);
    else this.pushTree(r, span === null ? Number.POSITIVE_INFINITY : span - 1, except);
  }

  /**
   * Broadcast tree (`docs/protocol.md` §8.2): the next `span` live members after this one in the
   * member ring are split into runs (`directPushMax`: each member its own run up to 128, else
   * about √span runs; `pushFanout` runs for a rumor sent over streams); the first member of each
   * run gets the rumor with the length of its run as its span, and covers the rest of it. Every
   * member of the span hears it once, one or two hops away, where random pushes deliver each
   * rumor `pushFanout` times to everyone (a CPU-bound machine's whole budget at N = 100), and a
   * narrow tree puts several busy wake-ups in a row on every path. Members whose view of the
   * ring differs, or whose push was lost, are reached by the gossip rounds, which start
   * `gossipFirstRoundMs` later.
   */
  private pushTree(r: Rumor, span: number, except: MemberId): void {
    const ring = this.store.memberRing();
    const at = Math.max(0, ring.indexOf(this.self.id));
    const run: MemberRumor[] = [];
    for (let i = 1; i < ring.length && run.length < span; i++) {
      const id = ring[(at + i) % ring.length] as MemberId;
      if (id === except || id === this.self.id) continue;
      const m = this.member(id);
      if (m && isLive(m)) run.push(m);
    }
    if (run.length === 0) return;
    const channel: Channel = rumorFieldSize(r) > this.datagramBudget() ? 'stream' : 'datagram';
    const fanout = Math.max(1, this.opts.pushFanout);
    // Datagrams are cheap to send and every hop costs a wake-up of a busy machine: wide and flat.
    const wide = run.length <= this.opts.directPushMax ? run.length : Math.max(fanout, Math.ceil(Math.sqrt(run.length)));
    const parts = Math.min(channel === 'datagram' ? wide : fanout, run.length);
    let start = 0;
    for (let p = 0; p < parts; p++) {
      const size = Math.floor(run.length / parts) + (p < run.length % parts ? 1 : 0);
      const head = run[start] as MemberRumor;
      this.sendPacket(this.addressOfMember(head.member), { type: 'push', from: this.self.id, rumors: [r], span: size }, channel);
      start += size;
    }
  }

  /** Pushes hot rumors (the new one first: it has the fewest sends) to `pushFanout` members. */
  private pushNow(r: Rumor, key: string, except: MemberId): void {
    const big = rumorFieldSize(r) > this.datagramBudget();
    const limit = this.retransmitLimit();
    for (const m of this.pickMembers(this.opts.pushFanout, (c) => isLive(c) && c.member.id !== except)) {
      const to = this.addressOfMember(m.member);
      if (big) {
        this.sendPacket(to, { type: 'push', from: this.self.id, rumors: [r] }, 'stream');
        continue;
      }
      const rumors = this.queue.take(this.datagramBudget(), limit, rumorFieldSize);
      if (!rumors.includes(r) && !this.queue.has(key)) rumors.unshift(r);
      if (rumors.length > 0) this.sendPacket(to, { type: 'push', from: this.self.id, rumors });
    }
  }

  private onGossipTick(now: number): void {
    if (this.queue.size === 0) return;
    const limit = this.retransmitLimit();
    const budget = this.datagramBudget();
    for (const m of this.pickMembers(this.opts.gossipNodes, isLive)) {
      const to = this.addressOfMember(m.member);
      const rumors = this.queue.take(budget, limit, rumorFieldSize);
      if (rumors.length > 0) this.sendPacket(to, { type: 'push', from: this.self.id, rumors });
      for (const big of this.queue.takeOversize(budget, limit, rumorFieldSize)) {
        this.sendPacket(to, { type: 'push', from: this.self.id, rumors: [big] }, 'stream');
      }
    }
    this.scheduleGossip(now);
  }

  private scheduleGossip(now: number, delay = this.opts.gossipIntervalMs): void {
    if (this.queue.size === 0 || now + delay >= this.gossipDueAt) return;
    this.gossipDueAt = now + delay;
    this.schedule(this.gossipDueAt, { kind: 'gossip-tick' });
  }

  private sendDigest(to: MemberRumor | undefined): void {
    if (!to) return;
    const root = this.store.root();
    this.sendPacket(this.addressOfMember(to.member), { type: 'sync-digest', from: this.self.id, rootHi: root.hi, rootLo: root.lo, count: this.store.size });
  }

  /**
   * Confirmed members become departed, and departed members, tombstones, and the service rumors
   * and ring key reports of forgotten members are forgotten, in time.
   */
  private collect(now: number): void {
    const o = this.opts;
    const toDepart: MemberRumor[] = [];
    const expired: { key: string; rumor: Rumor }[] = [];
    for (const e of this.store.values()) {
      const age = now - e.storedAt;
      const r = e.rumor;
      if (r.kind === 'member' && r.member.id !== this.self.id) {
        if (r.health === 'confirmed' && age >= o.confirmedToDepartedMs) toDepart.push(r);
        else if (r.health === 'departed' && age >= o.departedRetentionMs) expired.push({ key: e.key, rumor: r });
      } else if (r.kind === 'tombstone' && age >= o.tombstoneRetentionMs) expired.push({ key: e.key, rumor: r });
      else if ((r.kind === 'service' || (r.kind === 'ring-key' && r.memberId !== '')) && !this.member(r.memberId) && age >= o.departedRetentionMs) {
        expired.push({ key: e.key, rumor: r });
      }
    }
    for (const r of toDepart) this.setMember({ ...r, health: 'departed', from: '' }, 'confirmed', now);
    for (const { key, rumor } of expired) {
      this.store.delete(key);
      this.queue.remove(key);
      if (rumor.kind === 'member') {
        this.recount(rumor.health, undefined);
        this.emit({ type: 'member-removed', id: rumor.member.id });
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  private departed(id: MemberId): boolean {
    return this.store.get(keyOf('departure', '', id)) !== undefined;
  }

  private selfRumor(): MemberRumor {
    return { kind: 'member', member: { ...this.self }, health: 'alive', from: this.self.id };
  }

  /** Our own record in our own store is always alive at our incarnation. */
  private writeSelf(now: number): void {
    const held = this.member(this.self.id);
    this.store.set(this.selfRumor(), now);
    this.recount(held?.health, 'alive');
  }

  private recount(was: Health | undefined, now: Health | undefined): void {
    if (was !== undefined) this.counts[was]--;
    if (now !== undefined) this.counts[now]++;
  }

  private retransmitLimit(): number {
    return retransmitLimit(this.opts, this.liveCount);
  }

  private datagramBudget(): number {
    return this.opts.maxDatagramBytes - PACKET_HEADROOM;
  }

  /**
   * Up to `k` distinct random members other than ourselves that pass `accept`. Samples the
   * index at random (bounded tries) and falls back to a scan for small rings.
   */
  private pickMembers(k: number, accept: (m: MemberRumor) => boolean): MemberRumor[] {
    const n = this.store.memberIdCount();
    if (k <= 0 || n <= 1) return [];
    if (n > 4 * k + 8) {
      const out: MemberRumor[] = [];
      const seen = new Set<string>();
      for (let tries = 0; tries < 8 * k + 16 && out.length < k; tries++) {
        const id = this.store.memberIdAt(this.random.int(n));
        if (id === undefined || id === this.self.id || seen.has(id)) continue;
        seen.add(id);
        const m = this.member(id);
        if (m && accept(m)) out.push(m);
      }
      if (out.length === k) return out;
    }
    const all: MemberRumor[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.store.memberIdAt(i);
      if (id === undefined || id === this.self.id) continue;
      const m = this.member(id);
      if (m && accept(m)) all.push(m);
    }
    // k of them at random (partial Fisher–Yates).
    const picks = Math.min(k, all.length);
    for (let i = 0; i < picks; i++) {
      const j = i + this.random.int(all.length - i);
      const tmp = all[i] as MemberRumor;
      all[i] = all[j] as MemberRumor;
      all[j] = tmp;
    }
    return all.slice(0, picks);
  }

  private addressOf(id: MemberId): PeerAddress | undefined {
    const m = this.member(id);
    return m ? this.addressOfMember(m.member) : undefined;
  }

  private addressOfMember(m: MemberInfo): PeerAddress {
    return joinHostPort(m.address, m.swimPort);
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  /** A SWIM packet with as many hot rumors as fit in one datagram. */
  private sendSwim(to: PeerAddress, build: (piggyback: Rumor[]) => Packet): void {
    const piggyback = this.queue.take(this.datagramBudget(), this.retransmitLimit(), rumorFieldSize);
    this.sendPacket(to, build(piggyback), 'datagram');
  }

  private sendPacket(to: PeerAddress, packet: Packet, channel?: Channel): void {
    const bytes = encodePacket(packet);
    const ch = channel ?? (bytes.length > this.opts.maxDatagramBytes ? 'stream' : 'datagram');
    this.out.push({ type: 'send', to, channel: ch, bytes });
  }

  private schedule(at: number, timer: Timer): void {
    this.out.push({ type: 'schedule', at, timer });
  }

  private emit(event: GossipEvent): void {
    this.out.push({ type: 'emit', event });
  }

  /** Something refused that the shell counts on its own (`IgnoredCode`). */
  private refuse(code: IgnoredCode, reason: string): void {
    this.emit({ type: 'packet-ignored', reason, code });
  }

  private flush(): Effect[] {
    const out = this.out;
    this.out = [];
    return out;
  }
}

function isLive(m: MemberRumor): boolean {
  return m.health === 'alive' || m.health === 'suspect';
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

export function joinHostPort(host: string, port: number): PeerAddress {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function hostOf(address: PeerAddress): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'));
  const i = address.lastIndexOf(':');
  return i < 0 ? address : address.slice(0, i);
}
