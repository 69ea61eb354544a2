/**
 * The protocol's values as plain TypeScript data: members, rumors and packets. `codec.ts` turns
 * them into protobuf bytes (schema in `proto/murmur/v1/gossip.proto`) and back. Versions,
 * incarnations and terms are uint64 on the wire and safe integers here: a decoded value above
 * `Number.MAX_SAFE_INTEGER` is a decode error, never a silent rounding.
 */
import type { MemberId } from '../core/index.js';

/** Habitat's health order: a worse health wins at equal incarnation. */
export type Health = 'alive' | 'suspect' | 'confirmed' | 'departed';

/** `host:port`, e.g. `10.0.0.2:9638` or `[::1]:9638`. */
export type PeerAddress = string;

export interface MemberInfo {
  id: MemberId;
  /** Raised only by the member itself, to refute suspicion or announce departure. */
  incarnation: number;
  address: string;
  swimPort: number;
  gossipPort: number;
  /** A permanent peer is probed whatever its health (`--permanent-peer`). */
  persistent: boolean;
}

export type RumorKind =
  | 'member'
  | 'service'
  | 'service-config'
  | 'service-file'
  | 'election'
  | 'election-update'
  | 'departure'
  | 'ring-key';

export const RUMOR_KINDS: readonly RumorKind[] = [
  'member',
  'service',
  'service-config',
  'service-file',
  'election',
  'election-update',
  'departure',
  'ring-key',
];

/** A member's health as one member believes it. Key: ('member', '', member id). */
export interface MemberRumor {
  kind: 'member';
  member: MemberInfo;
  health: Health;
  /**
   * Who reported this health. For `suspect` it names the suspecting member, so that receivers can
   * count independent confirmations (Lifeguard). Empty when unknown.
   */
  from: MemberId | '';
}

export interface SysInfo {
  ip: string;
  hostname: string;
  gossipIp: string;
  gossipPort: number;
  httpGatewayIp: string;
  httpGatewayPort: number;
  ctlGatewayIp: string;
  ctlGatewayPort: number;
}

/** One member's service in a group. Key: ('service', group, member id). */
export interface ServiceRumor {
  kind: 'service';
  group: string;
  memberId: MemberId;
  incarnation: number;
  /** Full package ident, `origin/name/version/release`. */
  pkg: string;
  /** TOML text of the exported config. */
  cfg: Uint8Array;
  sys: SysInfo;
  initialized: boolean;
  /** The `hab config apply` version applied to the service (0: none). */
  configVersion: number;
  /** The `hab file upload` versions written to the service's `files/`, sorted by file name. */
  files: FileVersion[];
  state: ServiceState;
  health: ServiceHealth;
  /** `standalone` or `leader`. */
  topology: string;
}

export interface FileVersion {
  filename: string;
  version: number;
}

export type ServiceState = 'down' | 'starting' | 'up';
export const SERVICE_STATES: readonly ServiceState[] = ['down', 'starting', 'up'];

/** Habitat's health check results. */
export type ServiceHealth = 'unknown' | 'ok' | 'warning' | 'critical';
export const SERVICE_HEALTHS: readonly ServiceHealth[] = ['unknown', 'ok', 'warning', 'critical'];

/** A group's gossiped config (`hab config apply`). Key: ('service-config', group, 'service_config'). */
export interface ServiceConfigRumor {
  kind: 'service-config';
  group: string;
  version: number;
  encrypted: boolean;
  /** TOML text, or BOX-1 text when encrypted. */
  config: Uint8Array;
  from: MemberId | '';
}

/** A file for a group (`hab file upload`). Key: ('service-file', group, filename). */
export interface ServiceFileRumor {
  kind: 'service-file';
  group: string;
  filename: string;
  version: number;
  encrypted: boolean;
  body: Uint8Array;
  from: MemberId | '';
}

export type ElectionStatus = 'running' | 'no-quorum' | 'finished';

/** A leader (or update-leader) election. Key: (kind, group, 'election'). */
export interface ElectionRumor {
  kind: 'election' | 'election-update';
  group: string;
  /** The candidate. */
  memberId: MemberId;
  term: number;
  /** Higher wins; `Number.MAX_SAFE_INTEGER` stands for Habitat's u64::MAX. */
  suitability: number;
  status: ElectionStatus;
  /**
   * Running: the members that took part in this term. Finished: the members that acknowledged
   * this roster version (the leader counts them before it changes the roster again).
   */
  votes: MemberId[];
  /**
   * The group's roster, the members quorum is counted over (`src/election/`): on a running
   * election the roster it is decided against, on a finished one the leader's roster. Empty on
   * a rumor from before rosters (quorum is then not known).
   */
  roster: MemberId[];
  /** Raised by one at every change of the roster by a leader; orders rosters (docs/protocol.md §16). */
  rosterVersion: number;
}

/** `hab sup depart`: that member is departed everywhere, for good. Key: ('departure', '', member id). */
export interface DepartureRumor {
  kind: 'departure';
  memberId: MemberId;
}

export type RingKeyState = 'installed' | 'primary' | 'removed';
export const RING_KEY_STATES: readonly RingKeyState[] = ['installed', 'primary', 'removed'];

/**
 * Ring key rotation (`hab ring key install|use|remove`). A command (`memberId` empty) is the
 * ring's decision about one key, key ('ring-key', '', '<name>-<revision>'); a report (`memberId`
 * set) says what that member holds, key ('ring-key', member id, '<name>-<revision>').
 */
export interface RingKeyRumor {
  kind: 'ring-key';
  /** Empty on a command; the reporting member on a report. */
  memberId: MemberId | '';
  name: string;
  revision: string;
  version: number;
  state: RingKeyState;
  /** The 32 key bytes on an `installed` or `primary` command; empty otherwise. */
  key: Uint8Array;
}

/**
 * A removal. It occupies the key of the rumor it removes and carries that rumor's version (or a
 * higher one); at equal version the tombstone wins. Collected after `tombstoneRetentionMs`.
 */
export interface Tombstone {
  kind: 'tombstone';
  target: Exclude<RumorKind, 'member' | 'departure' | 'ring-key'>;
  group: string;
  id: string;
  version: number;
}

export type Rumor =
  | MemberRumor
  | ServiceRumor
  | ServiceConfigRumor
  | ServiceFileRumor
  | ElectionRumor
  | DepartureRumor
  | RingKeyRumor
  | Tombstone;

/** SWIM probe. `target` lets a restarted member with a new id ignore a ping meant for the old one. */
export interface Ping {
  type: 'ping';
  seq: number;
  from: MemberId;
  target: MemberId | '';
  piggyback: Rumor[];
}

export interface Ack {
  type: 'ack';
  seq: number;
  from: MemberId;
  piggyback: Rumor[];
}

/** Ask a helper to probe `target` for us (the helper uses the address it knows; `targetAddress` is informational). */
export interface PingReq {
  type: 'ping-req';
  seq: number;
  from: MemberId;
  target: MemberId;
  targetAddress: PeerAddress;
  piggyback: Rumor[];
}

/** Lifeguard: a helper says it did not hear from the target, so the requester knows it is not itself deaf. */
export interface Nack {
  type: 'nack';
  seq: number;
  from: MemberId;
}

/** Dissemination: rumors pushed to a peer; a receiver pushes on what changed. */
export interface Push {
  type: 'push';
  from: MemberId;
  rumors: Rumor[];
  /**
   * Broadcast tree (`docs/protocol.md` §8.2): the run of the ring this push covers, its receiver
   * included: the receiver pushes the rumors on to the next `span − 1` members after itself in
   * its member ring. Absent or 0: a gossip-round push.
   */
  span?: number;
}

/** A member asks a seed for the full state (stream). */
export interface Join {
  type: 'join';
  member: MemberInfo;
}

/** The full state, as the answer to a join (stream). */
export interface State {
  type: 'state';
  from: MemberId;
  rumors: Rumor[];
}

/**
 * Anti-entropy, step 1: the digest root (XOR of every rumor's fingerprint) and the rumor count.
 * A receiver whose root differs answers with its bucket hashes.
 */
export interface SyncDigest {
  type: 'sync-digest';
  from: MemberId;
  rootHi: number;
  rootLo: number;
  count: number;
}

/** Anti-entropy, step 2: per-bucket XOR hashes (hi, lo interleaved). */
export interface SyncBuckets {
  type: 'sync-buckets';
  from: MemberId;
  hashes: number[];
}

/**
 * Anti-entropy, step 3: the rumors this side holds in the buckets that differ, and a request for
 * the other side's rumors in the same buckets (answered with a `sync-rumors`).
 */
export interface SyncPull {
  type: 'sync-pull';
  from: MemberId;
  buckets: number[];
  rumors: Rumor[];
}

/** Anti-entropy, step 4: the answer to a `sync-pull`. */
export interface SyncRumors {
  type: 'sync-rumors';
  from: MemberId;
  rumors: Rumor[];
}

export type Packet =
  | Ping
  | Ack
  | PingReq
  | Nack
  | Push
  | Join
  | State
  | SyncDigest
  | SyncBuckets
  | SyncPull
  | SyncRumors;

export type PacketType = Packet['type'];
