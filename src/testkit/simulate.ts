/**
 * `murmur sim`: runs one scenario on a simulated cluster of real gossip cores in virtual time
 * and reports what a user of the ring would notice: how fast a rumor reaches everyone, how fast
 * a dead member is confirmed, how often a live one is wrongly accused, and what it costs in
 * messages and bytes. The same options and seed give the same report, apart from `wallMs`.
 *
 * Byte figures add an estimate of what the real transport adds to each payload: the sealed
 * envelope (2 header bytes, 4 key-id bytes, 24 nonce bytes, 16 MAC bytes) plus UDP/IPv4
 * headers (28 bytes) per datagram, or TCP/IPv4 headers (40 bytes) and a 4-byte frame length per
 * stream message. `payloadBytesPerMemberPerSecond` has the bare protobuf bytes.
 */
import { performance } from 'node:perf_hooks';
import type { MemberId, Random } from '../core/index.js';
import { seededRandom } from '../core/index.js';
import type { GossipOptions } from '../gossip/index.js';
import { presets } from '../gossip/index.js';
import type { ServiceConfigRumor } from '../wire/index.js';
import type { RecordedEvent, SimMember } from './cluster.js';
import { SimCluster } from './cluster.js';
import type { Percentiles, SimOptions, SimReport } from './sim-types.js';

/** The sealed envelope of `crypto/ring.ts`: magic, version, key id, nonce, MAC. */
export const SEAL_OVERHEAD_BYTES = 46;
export const DATAGRAM_OVERHEAD_BYTES = SEAL_OVERHEAD_BYTES + 28;
export const STREAM_OVERHEAD_BYTES = SEAL_OVERHEAD_BYTES + 40 + 4;

const DEFAULT_DURATION_S = { rumor: 30, kill: 60, churn: 120, idle: 60 } as const;

export function runSimulation(o: SimOptions): SimReport {
  const wallStart = performance.now();
  const options: GossipOptions = presets[o.preset];
  const cluster = new SimCluster({
    seed: o.seed,
    options,
    link: { loss: o.loss, ...(o.delayMs !== undefined ? { delayMs: o.delayMs } : {}), ...(o.jitterMs !== undefined ? { jitterMs: o.jitterMs } : {}) },
  });
  cluster.recordEvents = false;
  const pick = seededRandom(o.seed ^ 0x5bd1e995);
  const durationMs = (o.durationS ?? DEFAULT_DURATION_S[o.scenario]) * 1000;
  const warmupMs = 3 * options.probeIntervalMs;

  cluster.bootConverged(o.members);
  const accusations = countAccusations(cluster);
  cluster.runFor(warmupMs);
  const before = cluster.traffic();
  const measureStart = cluster.now;
  accusations.reset();

  let extra: Partial<SimReport> = {};
  switch (o.scenario) {
    case 'rumor':
      extra = rumorScenario(cluster, pick, durationMs);
      break;
    case 'kill':
      extra = killScenario(cluster, pick, durationMs);
      break;
    case 'churn':
      extra = churnScenario(cluster, pick, durationMs);
      break;
    case 'idle':
      cluster.runFor(durationMs);
      break;
  }

  const seconds = Math.max(1e-9, (cluster.now - measureStart) / 1000);
  const t = cluster.traffic();
  const datagrams = t.datagrams - before.datagrams;
  const streams = t.streams - before.streams;
  const payload = t.datagramBytes - before.datagramBytes + (t.streamBytes - before.streamBytes);
  const wire = payload + datagrams * DATAGRAM_OVERHEAD_BYTES + streams * STREAM_OVERHEAD_BYTES;
  const perMember = (x: number): number => round(x / o.members / seconds, 1);
  return {
    members: o.members,
    loss: o.loss,
    seed: o.seed,
    scenario: o.scenario,
    preset: o.preset,
    virtualMs: Math.round(cluster.now),
    wallMs: Math.round(performance.now() - wallStart),
    messagesPerMemberPerSecond: perMember(datagrams + streams),
    bytesPerMemberPerSecond: perMember(wire),
    payloadBytesPerMemberPerSecond: perMember(payload),
    falseSuspicions: accusations.falseSuspicions,
    falseConfirmations: accusations.falseConfirmations,
    ...extra,
  };
}

/** Inject one service-config rumor at a random member; time until each member has it. */
function rumorScenario(cluster: SimCluster, pick: Random, durationMs: number): Partial<SimReport> {
  const origin = cluster.members[pick.int(cluster.members.length)] as SimMember;
  const got = new Map<MemberId, number>();
  const start = cluster.now;
  cluster.onEvent((e) => {
    if (e.event.type === 'rumor-changed' && e.event.rumor.kind === 'service-config' && !got.has(e.member)) got.set(e.member, e.at - start);
  });
  const rumor: ServiceConfigRumor = {
    kind: 'service-config',
    group: 'redis.prod',
    version: 1,
    encrypted: false,
    config: new TextEncoder().encode('port = 2112\n'),
    from: origin.id,
  };
  cluster.publish(origin, rumor);
  cluster.runUntil(() => got.size >= cluster.members.length, durationMs, 10);
  return { disseminationMs: percentiles(cluster.members.map((m) => got.get(m.id) ?? Infinity)), reached: got.size };
}

/** Kill one member; time until every live member holds it confirmed. */
function killScenario(cluster: SimCluster, pick: Random, durationMs: number): Partial<SimReport> {
  const victim = cluster.members[pick.int(cluster.members.length)] as SimMember;
  const confirmedAt = new Map<MemberId, number>();
  let start = 0;
  cluster.onEvent((e) => {
    if (e.event.type === 'member-confirmed' && e.event.member.id === victim.id && !confirmedAt.has(e.member)) confirmedAt.set(e.member, e.at - start);
  });
  start = cluster.now;
  cluster.kill(victim);
  const live = cluster.live();
  cluster.runUntil(() => live.every((m) => confirmedAt.has(m.id)), durationMs, 10);
  return { detectionMs: percentiles(live.map((m) => confirmedAt.get(m.id) ?? Infinity)) };
}

/**
 * Kill and restart members throughout the run: every 2 probe intervals one live member (never
 * more than a tenth of the ring at once) is killed and comes back 5–20 s later from its data.
 */
function churnScenario(cluster: SimCluster, pick: Random, durationMs: number): Partial<SimReport> {
  const every = 2 * cluster.opts.options.probeIntervalMs;
  const end = cluster.now + durationMs;
  let kills = 0;
  let restarts = 0;
  while (cluster.now + every <= end) {
    cluster.runFor(every);
    const down = cluster.members.length - cluster.live().length;
    if (down >= Math.max(1, Math.floor(cluster.members.length / 10))) continue;
    const live = cluster.live();
    const victim = live[pick.int(live.length)] as SimMember;
    cluster.kill(victim);
    kills++;
    const backAfter = 5000 + pick.int(15_000);
    cluster.scheduler.after(backAfter, () => {
      const seeds = cluster.live().slice(0, 3).map((m) => m.address);
      cluster.restart(victim, seeds);
      restarts++;
    });
  }
  cluster.runFor(Math.max(0, end - cluster.now));
  return { kills, restarts };
}

/**
 * Counts accusations of members that were in fact up: a suspicion this member raised from its
 * own failed probe, and a confirmation from its own suspicion timing out while the accused had
 * been up since before the suspicion began.
 */
function countAccusations(cluster: SimCluster): { falseSuspicions: number; falseConfirmations: number; reset(): void } {
  const counts = {
    falseSuspicions: 0,
    falseConfirmations: 0,
    reset() {
      counts.falseSuspicions = 0;
      counts.falseConfirmations = 0;
    },
  };
  cluster.onEvent((e: RecordedEvent) => {
    if (e.event.type === 'suspicion-raised') {
      const s = cluster.member(e.event.member);
      if (s.up && !s.paused) counts.falseSuspicions++;
    } else if (e.event.type === 'member-confirmed' && e.event.local) {
      const s = cluster.member(e.event.member.id);
      if (s.up && s.upSince <= (e.event.suspectedAt ?? e.at)) counts.falseConfirmations++;
    }
  });
  return counts;
}

/** p50, p99 and p100 in ms; a percentile that falls on a member that never got there is null. */
export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number | null => {
    if (sorted.length === 0) return null;
    const v = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
    return Number.isFinite(v) ? round(v, 1) : null;
  };
  return { p50: at(0.5), p99: at(0.99), p100: at(1) };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
