/**
 * The field tags and enum numbers of `proto/murmur/v1/gossip.proto`, as the hand-written codec
 * reads and writes them. Keys are the generated code's field names, so that a test checks every
 * entry against the generated descriptors: the .proto file stays the source of truth.
 *
 * A tag is `field number << 3 | wire type`; a field whose number is at most 15 has a one-byte tag.
 */
import type { ElectionStatus, Health, RingKeyState, RumorKind } from './types.js';

/** Protobuf wire types (protobuf.dev/programming-guides/encoding). */
export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const varint = (field: number): number => (field << 3) | WIRE_VARINT;
const len = (field: number): number => (field << 3) | WIRE_LEN;
const i32 = (field: number): number => (field << 3) | WIRE_I32;

export const PACKET = {
  ping: len(1),
  ack: len(2),
  pingReq: len(3),
  nack: len(4),
  push: len(5),
  join: len(6),
  state: len(7),
  syncDigest: len(8),
  syncBuckets: len(9),
  syncPull: len(10),
  syncRumors: len(11),
  rumors: len(15),
} as const;

export const PING = { seq: varint(1), from: len(2), target: len(3) } as const;
export const ACK = { seq: varint(1), from: len(2) } as const;
export const PING_REQ = { seq: varint(1), from: len(2), target: len(3), targetAddress: len(4) } as const;
export const NACK = { seq: varint(1), from: len(2) } as const;
export const PUSH = { from: len(1), span: varint(2) } as const;
export const JOIN = { member: len(1) } as const;
export const STATE = { from: len(1) } as const;
export const SYNC_DIGEST = { from: len(1), rootHi: i32(2), rootLo: i32(3), count: varint(4) } as const;
/** `hashes` is packed; `hashesUnpacked` is the same field one element at a time, which a decoder must accept. */
export const SYNC_BUCKETS = { from: len(1), hashes: len(2), hashesUnpacked: i32(2) } as const;
/** `buckets` is packed; `bucketsUnpacked` is the same field one element at a time. */
export const SYNC_PULL = { from: len(1), buckets: len(2), bucketsUnpacked: varint(2) } as const;
export const SYNC_RUMORS = { from: len(1) } as const;

export const MEMBER_INFO = {
  id: len(1),
  incarnation: varint(2),
  address: len(3),
  swimPort: varint(4),
  gossipPort: varint(5),
  persistent: varint(6),
} as const;

export const RUMOR = {
  member: len(1),
  service: len(2),
  serviceConfig: len(3),
  serviceFile: len(4),
  election: len(5),
  electionUpdate: len(6),
  departure: len(7),
  tombstone: len(8),
  ringKey: len(9),
} as const;

export const MEMBER_RUMOR = { member: len(1), health: varint(2), from: len(3) } as const;

export const SYS_INFO = {
  ip: len(1),
  hostname: len(2),
  gossipIp: len(3),
  gossipPort: varint(4),
  httpGatewayIp: len(5),
  httpGatewayPort: varint(6),
  ctlGatewayIp: len(7),
  ctlGatewayPort: varint(8),
} as const;

export const SERVICE_RUMOR = {
  group: len(1),
  memberId: len(2),
  incarnation: varint(3),
  pkg: len(4),
  cfg: len(5),
  sys: len(6),
  initialized: varint(7),
  configVersion: varint(8),
  files: len(9),
  state: varint(10),
  health: varint(11),
  topology: len(12),
} as const;

export const FILE_VERSION = { filename: len(1), version: varint(2) } as const;

export const SERVICE_CONFIG_RUMOR = {
  group: len(1),
  version: varint(2),
  encrypted: varint(3),
  config: len(4),
  from: len(5),
} as const;

export const SERVICE_FILE_RUMOR = {
  group: len(1),
  filename: len(2),
  version: varint(3),
  encrypted: varint(4),
  body: len(5),
  from: len(6),
} as const;

export const ELECTION_RUMOR = {
  group: len(1),
  memberId: len(2),
  term: varint(3),
  suitability: varint(4),
  status: varint(5),
  votes: len(6),
  roster: len(7),
  rosterVersion: varint(8),
} as const;

export const DEPARTURE_RUMOR = { memberId: len(1) } as const;

export const RING_KEY_RUMOR = {
  name: len(1),
  revision: len(2),
  version: varint(3),
  state: varint(4),
  key: len(5),
  memberId: len(6),
} as const;

export const TOMBSTONE = { target: varint(1), group: len(2), id: len(3), version: varint(4) } as const;

/** `murmur.v1.Health`; the index is the wire number. */
export const HEALTH_BY_NUMBER: readonly Health[] = ['alive', 'suspect', 'confirmed', 'departed'];
export const HEALTH_NUMBER: Readonly<Record<Health, number>> = {
  alive: 0,
  suspect: 1,
  confirmed: 2,
  departed: 3,
};

/** `murmur.v1.ElectionStatus`; 0 is UNSPECIFIED, which a decoder rejects. */
export const ELECTION_STATUS_BY_NUMBER: readonly (ElectionStatus | undefined)[] = [
  undefined,
  'running',
  'no-quorum',
  'finished',
];
export const ELECTION_STATUS_NUMBER: Readonly<Record<ElectionStatus, number>> = {
  running: 1,
  'no-quorum': 2,
  finished: 3,
};

/** `murmur.v1.RumorKind`; 0 is UNSPECIFIED, which a decoder rejects. */
export const RUMOR_KIND_BY_NUMBER: readonly (RumorKind | undefined)[] = [
  undefined,
  'member',
  'service',
  'service-config',
  'service-file',
  'election',
  'election-update',
  'departure',
  'ring-key',
];
export const RUMOR_KIND_NUMBER: Readonly<Record<RumorKind, number>> = {
  member: 1,
  service: 2,
  'service-config': 3,
  'service-file': 4,
  election: 5,
  'election-update': 6,
  departure: 7,
  'ring-key': 8,
};

/** `murmur.v1.RingKeyState`; 0 is UNSPECIFIED, which a decoder rejects. */
export const RING_KEY_STATE_BY_NUMBER: readonly (RingKeyState | undefined)[] = [undefined, 'installed', 'primary', 'removed'];
export const RING_KEY_STATE_NUMBER: Readonly<Record<RingKeyState, number>> = { installed: 1, primary: 2, removed: 3 };

/** The kinds a tombstone may remove (not members, not departures), by `RumorKind` number. */
export const TOMBSTONE_TARGET_NUMBER: ReadonlyMap<string, number> = new Map(
  (['service', 'service-config', 'service-file', 'election', 'election-update'] as const).map((kind) => [
    kind,
    RUMOR_KIND_NUMBER[kind],
  ]),
);
