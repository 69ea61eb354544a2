/**
 * Every timing and sizing knob of the gossip core, in one object. Each field gives its unit, its
 * default (the `lan` preset) and, where it scales, the formula. `N` is the number of members this
 * member believes alive or suspect, itself included.
 *
 * The SWIM parts follow Das, Gupta, Motivala (2002); the Lifeguard parts (local health, dynamic
 * suspicion, nacks) follow Dadgar, Phillips, Currey (2018), with hashicorp/memberlist's
 * constants where the paper leaves a choice.
 */
export interface GossipOptions {
  /**
   * Time between two probes of this member (ms). Stretched by local health:
   * `interval = probeIntervalMs × (awareness + 1)`.
   * @default 1000
   */
  probeIntervalMs: number;
  /**
   * How long a direct ping waits for its ack before ping-req helpers are asked (ms). Stretched
   * like the interval: `timeout = probeTimeoutMs × (awareness + 1)`. The indirect phase lasts
   * until the end of the probe interval.
   * @default 400
   */
  probeTimeoutMs: number;
  /**
   * Aligned probing: in probe round `r = floor(sharedTime / probeIntervalMs)` the member at ring
   * position p probes the member at `p + 1 + (r mod (n − 1))` (the ring is every member id held,
   * sorted by a hash of the id). When members agree on the ring and their clocks roughly agree,
   * every member is probed exactly once per round, so a dead member is first probed within about
   * one interval instead of after an exponentially distributed wait. Where the assigned target is
   * not probeable, or the ring is not agreed, the round-robin permutation of SWIM is used.
   * @default true
   */
  alignedProbing: boolean;
  /**
   * Helpers asked to ping a target that missed its direct ack (SWIM's k; Habitat asks 5).
   * Costs 4 messages per helper, only when a direct probe fails.
   * @default 5
   */
  indirectChecks: number;
  /**
   * Lifeguard's local health: the highest awareness score is `awarenessMax - 1`; a score of s
   * multiplies this member's own probe interval and timeout by s + 1.
   * @default 8
   */
  awarenessMax: number;
  /**
   * α in the suspicion timeout. The shortest suspicion is
   * `min = suspicionMult × max(1, log10(N)) × probeIntervalMs`.
   * @default 1
   */
  suspicionMult: number;
  /**
   * β: a suspicion starts at `max = suspicionMaxMult × min` and shrinks toward `min` as independent
   * members confirm it: `timeout(c) = max(min, max − (max − min) × log(c + 1) / log(K + 1))`.
   * @default 6
   */
  suspicionMaxMult: number;
  /**
   * K: independent confirmations after which a suspicion lasts only `min`.
   * @default 3
   */
  suspicionConfirmations: number;
  /**
   * On first hearing that a member is suspect, probe it ourselves with probability
   * `min(1, suspicionProbes / N)`, so that confirmations come from independent checks within one
   * probe interval instead of waiting for round-robin probes to reach it.
   * @default 6
   */
  suspicionProbes: number;
  /**
   * Members a changed rumor is pushed to at once, by the member that learned of it.
   * @default 5
   */
  pushFanout: number;
  /**
   * Broadcast tree (docs/protocol.md §8.2): a rumor that fits a datagram goes straight to every
   * member of a run of at most this many members (one hop); a longer run is split into
   * `max(pushFanout, ceil(√run))` runs, so 10 000 members are two hops away. A rumor sent over
   * streams is always split into `pushFanout` runs: no member opens more than that many at once.
   * @default 128
   */
  directPushMax: number;
  /**
   * Time between two gossip rounds, which send still-hot rumors to `gossipNodes` members (ms).
   * @default 200
   */
  gossipIntervalMs: number;
  /**
   * A rumor that just became hot through a push gets its first gossip round this soon (ms),
   * which reaches the few members the at-once push missed (about e^−pushFanout of them).
   * @default 20
   */
  gossipFirstRoundMs: number;
  /**
   * Members each gossip round sends to.
   * @default 3
   */
  gossipNodes: number;
  /**
   * A rumor stops being hot for this member after `retransmitMult × ceil(log10(N + 1))` sends
   * (pushes, gossip rounds and piggybacks all count).
   * @default 4
   */
  retransmitMult: number;
  /**
   * Most rumors held hot at once; beyond it the most-sent are dropped (anti-entropy repairs).
   * @default 4096
   */
  maxHotRumors: number;
  /**
   * Time between two anti-entropy exchanges with one random member (ms).
   * @default 10000
   */
  antiEntropyIntervalMs: number;
  /**
   * Buckets of the anti-entropy digest (a power of two).
   * @default 256
   */
  digestBuckets: number;
  /**
   * Time between two attempts to reach a confirmed member (anti-entropy digest sent to it), so
   * that partitions heal without permanent peers (ms).
   * @default 10000
   */
  reconnectIntervalMs: number;
  /**
   * Seeds are tried this often (ms) until some member has answered since start, and again
   * whenever this member is alone.
   * @default 2000
   */
  joinRetryIntervalMs: number;
  /**
   * Joins answered with this member's whole state, per second, on average (a token bucket that
   * refills at this rate). A `join` of about 50 bytes makes its receiver encode every rumor it
   * holds into a stream to the address the join names; this bounds what a flood of joins costs.
   * A join over the limit gets nothing, not even a record, and is counted (`joinsRefused`); the
   * joiner asks again after `joinRetryIntervalMs`, as it does when a seed does not answer.
   * @default 16
   */
  joinAnswerRate: number;
  /**
   * Joins answered at once before `joinAnswerRate` applies (the bucket's size, full at start).
   * Sized so that a ring of 100 members all joining one seed at once (the benchmarks start them
   * so) is answered without waiting.
   * @default 128
   */
  joinAnswerBurst: number;
  /**
   * A join from a member id, or naming an address, that was answered within this long (ms) is
   * not answered again: a joiner that asks twice while its state is on the way costs one state,
   * and no address can be sent more than one state per this long by joins that name it.
   * @default 5000
   */
  joinAnswerRepeatMs: number;
  /**
   * Largest datagram this member sends (bytes, before sealing). Larger packets go on a stream.
   * @default 1200
   */
  maxDatagramBytes: number;
  /**
   * A confirmed member becomes departed after this long (ms), as in Habitat.
   * @default 259_200_000 (72 h)
   */
  confirmedToDepartedMs: number;
  /**
   * A departed member is forgotten after this long (ms).
   * @default 259_200_000 (72 h)
   */
  departedRetentionMs: number;
  /**
   * A tombstone is forgotten after this long (ms).
   * @default 259_200_000 (72 h)
   */
  tombstoneRetentionMs: number;
  /**
   * How often expired members, tombstones and the service rumors of forgotten members are
   * collected (ms).
   * @default 60000
   */
  gcIntervalMs: number;
  /**
   * Members told directly (over a stream) when this member leaves gracefully.
   * @default 8
   */
  leaveFanout: number;
}

const HOURS_72 = 72 * 3600 * 1000;

/** A LAN of real hosts. */
export const lanPreset: GossipOptions = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 400,
  alignedProbing: true,
  indirectChecks: 5,
  awarenessMax: 8,
  suspicionMult: 1,
  suspicionMaxMult: 6,
  suspicionConfirmations: 3,
  suspicionProbes: 6,
  pushFanout: 5,
  directPushMax: 128,
  gossipIntervalMs: 200,
  gossipFirstRoundMs: 20,
  gossipNodes: 3,
  retransmitMult: 4,
  maxHotRumors: 4096,
  antiEntropyIntervalMs: 10_000,
  digestBuckets: 256,
  reconnectIntervalMs: 10_000,
  joinRetryIntervalMs: 2000,
  joinAnswerRate: 16,
  joinAnswerBurst: 128,
  joinAnswerRepeatMs: 5000,
  maxDatagramBytes: 1200,
  confirmedToDepartedMs: HOURS_72,
  departedRetentionMs: HOURS_72,
  tombstoneRetentionMs: HOURS_72,
  gcIntervalMs: 60_000,
  leaveFanout: 8,
};

/** Many members on one machine (loopback, tests): five times faster, same shape. */
export const localTestPreset: GossipOptions = {
  ...lanPreset,
  probeIntervalMs: 200,
  probeTimeoutMs: 80,
  gossipIntervalMs: 40,
  gossipFirstRoundMs: 10,
  antiEntropyIntervalMs: 2000,
  reconnectIntervalMs: 2000,
  joinRetryIntervalMs: 400,
  joinAnswerRepeatMs: 1000,
  gcIntervalMs: 5000,
};

export const presets = { lan: lanPreset, localTest: localTestPreset } as const;
export type PresetName = keyof typeof presets;

/** Checks a full options object; returns the problems found (empty when valid). */
export function validateOptions(o: GossipOptions): string[] {
  const problems: string[] = [];
  const positive = (name: keyof GossipOptions): void => {
    const v = o[name];
    if (typeof v === 'boolean') return;
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) problems.push(`${name} must be a positive number, got ${String(v)}`);
  };
  for (const key of Object.keys(lanPreset) as (keyof GossipOptions)[]) positive(key);
  if (o.gossipFirstRoundMs > o.gossipIntervalMs) problems.push('gossipFirstRoundMs must not exceed gossipIntervalMs');
  if (o.probeTimeoutMs >= o.probeIntervalMs) problems.push('probeTimeoutMs must be shorter than probeIntervalMs');
  if ((o.digestBuckets & (o.digestBuckets - 1)) !== 0) problems.push('digestBuckets must be a power of two');
  if (o.suspicionMaxMult < 1) problems.push('suspicionMaxMult must be at least 1');
  if (o.joinAnswerBurst < 1) problems.push('joinAnswerBurst must be at least 1');
  return problems;
}

/** `min` and `max` suspicion timeouts for a ring of `n` live members (ms). */
export function suspicionBounds(o: GossipOptions, n: number): { min: number; max: number } {
  const min = o.suspicionMult * Math.max(1, Math.log10(Math.max(1, n))) * o.probeIntervalMs;
  return { min, max: o.suspicionMaxMult * min };
}

/** Sends after which a rumor cools for this member: `retransmitMult × ceil(log10(n + 1))`. */
export function retransmitLimit(o: GossipOptions, n: number): number {
  return o.retransmitMult * Math.max(1, Math.ceil(Math.log10(n + 1)));
}
