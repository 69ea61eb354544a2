/**
 * What the gossip core asks its shell to do. The core never sends, sleeps or logs to the world
 * itself: every input returns a list of these, and the shell (real sockets and timers, or the
 * simulator) carries them out in order.
 */
import type { MemberId } from '../core/index.js';
import type { Health, MemberInfo, PeerAddress, Rumor } from '../wire/index.js';

export type Channel = 'datagram' | 'stream';

/**
 * A timer is data: it says what it is about, and the core ignores it when it has gone stale
 * (another probe round began, the suspicion was refuted) instead of cancelling it.
 */
export type Timer =
  | { kind: 'probe-tick' }
  | { kind: 'probe-timeout'; seq: number }
  | { kind: 'probe-deadline'; seq: number }
  | { kind: 'relay-timeout'; seq: number }
  | { kind: 'suspicion'; member: MemberId; incarnation: number }
  | { kind: 'gossip-tick' }
  | { kind: 'anti-entropy-tick' }
  | { kind: 'reconnect-tick' }
  | { kind: 'join-tick' }
  | { kind: 'gc-tick' };

/** What the core reports to the census and Supervisor. */
export type GossipEvent =
  | { type: 'member-joined'; member: MemberInfo }
  | { type: 'member-suspect'; member: MemberInfo; from: MemberId | '' }
  | {
      type: 'member-confirmed';
      member: MemberInfo;
      /** True when this member's own suspicion timed out (not learned from a rumor). */
      local: boolean;
      /** When the suspicion began here (ms), for a local confirmation. */
      suspectedAt?: number;
    }
  | { type: 'member-departed'; member: MemberInfo }
  | { type: 'member-alive'; member: MemberInfo; was: Health }
  | { type: 'member-removed'; id: MemberId }
  | { type: 'rumor-changed'; rumor: Rumor; previous: Rumor | undefined }
  /** This member refuted a suspicion or confirmation of itself. */
  | { type: 'refuted'; incarnation: number }
  /** A `departure` rumor names this member: the Supervisor must stop (exit 86). */
  | { type: 'self-departed' }
  /** This member's own probe of a peer failed and it raised suspicion (for counting). */
  | { type: 'suspicion-raised'; member: MemberId }
  /** A probe of ours was answered (directly or through a helper) after `rttMs`. */
  | { type: 'probe-acked'; member: MemberId; rttMs: number }
  /**
   * A packet (or a rumor in one) this member could not or would not use: counted by the shell
   * (`ignored`), and by `code` where the shell keeps a counter of its own.
   */
  | { type: 'packet-ignored'; reason: string; code?: IgnoredCode };

/**
 * Refusals with a counter of their own (`NodeCounters`): a join over the rate limit or repeated
 * within `joinAnswerRepeatMs` (`joinsRefused`), and a member record whose address is not an IP
 * literal (`addressesRefused`).
 */
export type IgnoredCode = 'join-rate-limit' | 'join-answered-recently' | 'address-not-ip';

export type Effect =
  | { type: 'send'; to: PeerAddress; channel: Channel; bytes: Uint8Array }
  | { type: 'schedule'; at: number; timer: Timer }
  | { type: 'emit'; event: GossipEvent };
