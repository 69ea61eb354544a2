/**
 * Bytes to packets and rumors: one reader per message of `proto/murmur/v1/gossip.proto`, each a
 * loop over tags that skips unknown fields and fields of an unexpected wire type (as protobuf's
 * reference parsers do), then checks murmur's rules. Readers throw; `codec.ts` catches.
 *
 * As in protobuf, a field that appears twice keeps its last value and a repeated field gathers
 * all of them, packed or not; unlike protobuf, an embedded message that appears twice replaces
 * the first rather than merging into it (no conforming encoder writes one twice).
 */
import type { MemberId } from '../core/index.js';
import { fail, requireId, type WireReader } from './reader.js';
import {
  ACK,
  DEPARTURE_RUMOR,
  ELECTION_RUMOR,
  ELECTION_STATUS_BY_NUMBER,
  HEALTH_BY_NUMBER,
  JOIN,
  MEMBER_INFO,
  MEMBER_RUMOR,
  NACK,
  PACKET,
  PING,
  PING_REQ,
  PUSH,
  RING_KEY_RUMOR,
  RING_KEY_STATE_BY_NUMBER,
  RUMOR,
  RUMOR_KIND_BY_NUMBER,
  SERVICE_CONFIG_RUMOR,
  SERVICE_FILE_RUMOR,
  SERVICE_RUMOR,
  FILE_VERSION,
  STATE,
  SYNC_BUCKETS,
  SYNC_DIGEST,
  SYNC_PULL,
  SYNC_RUMORS,
  SYS_INFO,
  TOMBSTONE,
} from './schema.js';
import type {
  Ack,
  DepartureRumor,
  ElectionRumor,
  ElectionStatus,
  Health,
  Join,
  MemberInfo,
  MemberRumor,
  Nack,
  Packet,
  Ping,
  PingReq,
  Push,
  RingKeyRumor,
  RingKeyState,
  Rumor,
  ServiceConfigRumor,
  ServiceFileRumor,
  ServiceRumor,
  FileVersion,
  ServiceState,
  ServiceHealth,
  State,
  SyncBuckets,
  SyncDigest,
  SyncPull,
  SyncRumors,
  SysInfo,
  Tombstone,
} from './types.js';
import { SERVICE_HEALTHS, SERVICE_STATES } from './types.js';

// ---------------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------------

/** A whole `Packet` message, from the reader's position to the end of its input. */
export function readPacket(r: WireReader): Packet {
  const end = r.len;
  let packet: Packet | undefined;
  const rumors: Rumor[] = [];
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case PACKET.ping: packet = readPing(r, r.messageEnd('ping')); break;
      case PACKET.ack: packet = readAck(r, r.messageEnd('ack')); break;
      case PACKET.pingReq: packet = readPingReq(r, r.messageEnd('ping-req')); break;
      case PACKET.nack: packet = readNack(r, r.messageEnd('nack')); break;
      case PACKET.push: packet = readPush(r, r.messageEnd('push')); break;
      case PACKET.join: packet = readJoin(r, r.messageEnd('join')); break;
      case PACKET.state: packet = readState(r, r.messageEnd('state')); break;
      case PACKET.syncDigest: packet = readSyncDigest(r, r.messageEnd('sync-digest')); break;
      case PACKET.syncBuckets: packet = readSyncBuckets(r, r.messageEnd('sync-buckets')); break;
      case PACKET.syncPull: packet = readSyncPull(r, r.messageEnd('sync-pull')); break;
      case PACKET.syncRumors: packet = readSyncRumors(r, r.messageEnd('sync-rumors')); break;
      case PACKET.rumors: rumors.push(readRumor(r, r.messageEnd('a rumor'))); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'the packet');
  if (packet === undefined) return fail('invalid', 'packet has no body');
  switch (packet.type) {
    case 'ping':
    case 'ack':
    case 'ping-req':
      packet.piggyback = rumors;
      break;
    case 'push':
    case 'state':
    case 'sync-pull':
    case 'sync-rumors':
      packet.rumors = rumors;
      break;
    default:
      if (rumors.length > 0) fail('invalid', `a ${packet.type} packet carries no rumors`);
  }
  return packet;
}

function readPing(r: WireReader, end: number): Ping {
  let seq = 0;
  let from: MemberId | '' = '';
  let target: MemberId | '' = '';
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case PING.seq: seq = r.uint32Value('ping.seq'); break;
      case PING.from: from = r.optionalId('ping.from'); break;
      case PING.target: target = r.optionalId('ping.target'); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'ping');
  return { type: 'ping', seq, from: requireId(from, 'ping.from'), target, piggyback: [] };
}

function readAck(r: WireReader, end: number): Ack {
  let seq = 0;
  let from: MemberId | '' = '';
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case ACK.seq: seq = r.uint32Value('ack.seq'); break;
      case ACK.from: from = r.optionalId('ack.from'); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'ack');
  return { type: 'ack', seq, from: requireId(from, 'ack.from'), piggyback: [] };
}

function readPingReq(r: WireReader, end: number): PingReq {
  let seq = 0;
  let from: MemberId | '' = '';
  let target: MemberId | '' = '';
  let targetAddress = '';
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case PING_REQ.seq: seq = r.uint32Value('ping-req.seq'); break;
      case PING_REQ.from: from = r.optionalId('ping-req.from'); break;
      case PING_REQ.target: target = r.optionalId('ping-req.target'); break;
      case PING_REQ.targetAddress: targetAddress = r.text(); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'ping-req');
  return {
    type: 'ping-req',
    seq,
    from: requireId(from, 'ping-req.from'),
    target: requireId(target, 'ping-req.target'),
    targetAddress,
    piggyback: [],
  };
}

function readNack(r: WireReader, end: number): Nack {
  let seq = 0;
  let from: MemberId | '' = '';
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case NACK.seq: seq = r.uint32Value('nack.seq'); break;
      case NACK.from: from = r.optionalId('nack.from'); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'nack');
  return { type: 'nack', seq, from: requireId(from, 'nack.from') };
}

/** Push, state and sync-rumors: a `from` and nothing else (their rumors are in the packet). */
function readFromOnly(r: WireReader, end: number, fromTag: number, what: string): MemberId {
  let from: MemberId | '' = '';
  while (r.pos < end) {
    const tag = r.fieldTag();
    if (tag === fromTag) from = r.optionalId(`${what}.from`);
    else r.skipField(tag);
  }
  r.close(end, what);
  return requireId(from, `${what}.from`);
}

function readPush(r: WireReader, end: number): Push {
  let from: MemberId | '' = '';
  let span = 0;
  while (r.pos < end) {
    const tag = r.fieldTag();
    if (tag === PUSH.from) from = r.optionalId('push.from');
    else if (tag === PUSH.span) span = r.uint32Value('push.span');
    else r.skipField(tag);
  }
  r.close(end, 'push');
  const push: Push = { type: 'push', from: requireId(from, 'push.from'), rumors: [] };
  if (span > 0) push.span = span;
  return push;
}

function readState(r: WireReader, end: number): State {
  return { type: 'state', from: readFromOnly(r, end, STATE.from, 'state'), rumors: [] };
}

function readSyncRumors(r: WireReader, end: number): SyncRumors {
  return { type: 'sync-rumors', from: readFromOnly(r, end, SYNC_RUMORS.from, 'sync-rumors'), rumors: [] };
}

function readJoin(r: WireReader, end: number): Join {
  let member: MemberInfo | undefined;
  while (r.pos < end) {
    const tag = r.fieldTag();
    if (tag === JOIN.member) member = readMemberInfo(r, r.messageEnd('join.member'));
    else r.skipField(tag);
  }
  r.close(end, 'join');
  if (member === undefined) return fail('invalid', 'join.member is missing');
  return { type: 'join', member };
}

function readSyncDigest(r: WireReader, end: number): SyncDigest {
  let from: MemberId | '' = '';
  let rootHi = 0;
  let rootLo = 0;
  let count = 0;
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case SYNC_DIGEST.from: from = r.optionalId('sync-digest.from'); break;
      case SYNC_DIGEST.rootHi: rootHi = r.fixed32(); break;
      case SYNC_DIGEST.rootLo: rootLo = r.fixed32(); break;
      case SYNC_DIGEST.count: count = r.uint32Value('sync-digest.count'); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'sync-digest');
  return { type: 'sync-digest', from: requireId(from, 'sync-digest.from'), rootHi, rootLo, count };
}

function readSyncBuckets(r: WireReader, end: number): SyncBuckets {
  let from: MemberId | '' = '';
  const hashes: number[] = [];
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case SYNC_BUCKETS.from: from = r.optionalId('sync-buckets.from'); break;
      case SYNC_BUCKETS.hashes: {
        const packedEnd = r.messageEnd('sync-buckets.hashes');
        if ((packedEnd - r.pos) % 4 !== 0) fail('malformed', 'sync-buckets.hashes is not a whole number of fixed32');
        while (r.pos < packedEnd) hashes.push(r.fixed32());
        break;
      }
      case SYNC_BUCKETS.hashesUnpacked: hashes.push(r.fixed32()); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'sync-buckets');
  return { type: 'sync-buckets', from: requireId(from, 'sync-buckets.from'), hashes };
}

function readSyncPull(r: WireReader, end: number): SyncPull {
  let from: MemberId | '' = '';
  const buckets: number[] = [];
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case SYNC_PULL.from: from = r.optionalId('sync-pull.from'); break;
      case SYNC_PULL.buckets: {
        const packedEnd = r.messageEnd('sync-pull.buckets');
        while (r.pos < packedEnd) buckets.push(r.uint32Value('sync-pull.buckets'));
        r.close(packedEnd, 'sync-pull.buckets');
        break;
      }
      case SYNC_PULL.bucketsUnpacked: buckets.push(r.uint32Value('sync-pull.buckets')); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'sync-pull');
  return { type: 'sync-pull', from: requireId(from, 'sync-pull.from'), buckets, rumors: [] };
}

// ---------------------------------------------------------------------------------------------
// Members
// ---------------------------------------------------------------------------------------------

/** Field labels in errors name the message (`member_info.id`), not the path to it: no string building on the hot path. */
function readMemberInfo(r: WireReader, end: number): MemberInfo {
  let id: MemberId | '' = '';
  let incarnation = 0;
  let address = '';
  let swimPort = 0;
  let gossipPort = 0;
  let persistent = false;
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case MEMBER_INFO.id: id = r.optionalId('member_info.id'); break;
      case MEMBER_INFO.incarnation: incarnation = r.varint('member_info.incarnation'); break;
      case MEMBER_INFO.address: address = r.text(); break;
      case MEMBER_INFO.swimPort: swimPort = r.port('member_info.swim_port'); break;
      case MEMBER_INFO.gossipPort: gossipPort = r.port('member_info.gossip_port'); break;
      case MEMBER_INFO.persistent: persistent = r.bool(); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'member_info');
  return { id: requireId(id, 'member_info.id'), incarnation, address, swimPort, gossipPort, persistent };
}

// ---------------------------------------------------------------------------------------------
// Rumors
// ---------------------------------------------------------------------------------------------

/** A `Rumor` message from the reader's position to `end`. */
export function readRumor(r: WireReader, end: number): Rumor {
  let rumor: Rumor | undefined;
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case RUMOR.member: rumor = readMemberRumor(r, r.messageEnd('a member rumor')); break;
      case RUMOR.service: rumor = readServiceRumor(r, r.messageEnd('a service rumor')); break;
      case RUMOR.serviceConfig: rumor = readServiceConfigRumor(r, r.messageEnd('a service-config rumor')); break;
      case RUMOR.serviceFile: rumor = readServiceFileRumor(r, r.messageEnd('a service-file rumor')); break;
      case RUMOR.election: rumor = readElectionRumor(r, r.messageEnd('an election rumor'), 'election'); break;
      case RUMOR.electionUpdate:
        rumor = readElectionRumor(r, r.messageEnd('an election-update rumor'), 'election-update');
        break;
      case RUMOR.departure: rumor = readDepartureRumor(r, r.messageEnd('a departure rumor')); break;
      case RUMOR.tombstone: rumor = readTombstone(r, r.messageEnd('a tombstone')); break;
      case RUMOR.ringKey: rumor = readRingKeyRumor(r, r.messageEnd('a ring-key rumor')); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'a rumor');
  if (rumor === undefined) return fail('invalid', 'rumor has no payload');
  return rumor;
}

function readMemberRumor(r: WireReader, end: number): MemberRumor {
  let member: MemberInfo | undefined;
  let health: Health = 'alive';
  let from: MemberId | '' = '';
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case MEMBER_RUMOR.member: member = readMemberInfo(r, r.messageEnd('member.member')); break;
      case MEMBER_RUMOR.health: health = r.enumValue(HEALTH_BY_NUMBER, 'member.health'); break;
      case MEMBER_RUMOR.from: from = r.optionalId('member.from'); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'a member rumor');
  if (member === undefined) return fail('invalid', 'member.member is missing');
  return { kind: 'member', member, health, from };
}

function readSysInfo(r: WireReader, end: number): SysInfo {
  let ip = '';
  let hostname = '';
  let gossipIp = '';
  let gossipPort = 0;
  let httpGatewayIp = '';
  let httpGatewayPort = 0;
  let ctlGatewayIp = '';
  let ctlGatewayPort = 0;
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case SYS_INFO.ip: ip = r.text(); break;
      case SYS_INFO.hostname: hostname = r.text(); break;
      case SYS_INFO.gossipIp: gossipIp = r.text(); break;
      case SYS_INFO.gossipPort: gossipPort = r.port('service.sys.gossip_port'); break;
      case SYS_INFO.httpGatewayIp: httpGatewayIp = r.text(); break;
      case SYS_INFO.httpGatewayPort: httpGatewayPort = r.port('service.sys.http_gateway_port'); break;
      case SYS_INFO.ctlGatewayIp: ctlGatewayIp = r.text(); break;
      case SYS_INFO.ctlGatewayPort: ctlGatewayPort = r.port('service.sys.ctl_gateway_port'); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'service.sys');
  return { ip, hostname, gossipIp, gossipPort, httpGatewayIp, httpGatewayPort, ctlGatewayIp, ctlGatewayPort };
}

function readServiceRumor(r: WireReader, end: number): ServiceRumor {
  let group = '';
  let memberId: MemberId | '' = '';
  let incarnation = 0;
  let pkg = '';
  let cfg: Uint8Array = new Uint8Array(0);
  let sys: SysInfo | undefined;
  let initialized = false;
  let configVersion = 0;
  const files: FileVersion[] = [];
  let state: ServiceState = 'down';
  let health: ServiceHealth = 'unknown';
  let topology = '';
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case SERVICE_RUMOR.configVersion: configVersion = r.varint('service.config_version'); break;
      case SERVICE_RUMOR.files: files.push(readFileVersion(r, r.messageEnd('service.files'))); break;
      // An enum number from a newer peer that this version does not know reads as the default.
      case SERVICE_RUMOR.state: state = SERVICE_STATES[r.uint32Value('service.state')] ?? 'down'; break;
      case SERVICE_RUMOR.health: health = SERVICE_HEALTHS[r.uint32Value('service.health')] ?? 'unknown'; break;
      case SERVICE_RUMOR.topology: topology = r.text(); break;
      case SERVICE_RUMOR.group: group = r.keyText('service.group'); break;
      case SERVICE_RUMOR.memberId: memberId = r.optionalId('service.member_id'); break;
      case SERVICE_RUMOR.incarnation: incarnation = r.varint('service.incarnation'); break;
      case SERVICE_RUMOR.pkg: pkg = r.text(); break;
      case SERVICE_RUMOR.cfg: cfg = r.blob(); break;
      case SERVICE_RUMOR.sys: sys = readSysInfo(r, r.messageEnd('service.sys')); break;
      case SERVICE_RUMOR.initialized: initialized = r.bool(); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'a service rumor');
  if (sys === undefined) return fail('invalid', 'service.sys is missing');
  return {
    kind: 'service',
    group,
    memberId: requireId(memberId, 'service.member_id'),
    incarnation,
    pkg,
    cfg,
    sys,
    initialized,
    configVersion,
    files: files.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0)),
    state,
    health,
    topology,
  };
}

function readFileVersion(r: WireReader, end: number): FileVersion {
  let filename = '';
  let version = 0;
  while (r.pos < end) {
    const tag = r.fieldTag();
    if (tag === FILE_VERSION.filename) filename = r.keyText('service.files.filename');
    else if (tag === FILE_VERSION.version) version = r.varint('service.files.version');
    else r.skipField(tag);
  }
  r.close(end, 'service.files');
  return { filename, version };
}

function readServiceConfigRumor(r: WireReader, end: number): ServiceConfigRumor {
  let group = '';
  let version = 0;
  let encrypted = false;
  let config: Uint8Array = new Uint8Array(0);
  let from: MemberId | '' = '';
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case SERVICE_CONFIG_RUMOR.group: group = r.keyText('service_config.group'); break;
      case SERVICE_CONFIG_RUMOR.version: version = r.varint('service-config.version'); break;
      case SERVICE_CONFIG_RUMOR.encrypted: encrypted = r.bool(); break;
      case SERVICE_CONFIG_RUMOR.config: config = r.blob(); break;
      case SERVICE_CONFIG_RUMOR.from: from = r.optionalId('service-config.from'); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'a service-config rumor');
  return { kind: 'service-config', group, version, encrypted, config, from };
}

function readServiceFileRumor(r: WireReader, end: number): ServiceFileRumor {
  let group = '';
  let filename = '';
  let version = 0;
  let encrypted = false;
  let body: Uint8Array = new Uint8Array(0);
  let from: MemberId | '' = '';
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case SERVICE_FILE_RUMOR.group: group = r.keyText('service_file.group'); break;
      case SERVICE_FILE_RUMOR.filename: filename = r.keyText('service_file.filename'); break;
      case SERVICE_FILE_RUMOR.version: version = r.varint('service-file.version'); break;
      case SERVICE_FILE_RUMOR.encrypted: encrypted = r.bool(); break;
      case SERVICE_FILE_RUMOR.body: body = r.blob(); break;
      case SERVICE_FILE_RUMOR.from: from = r.optionalId('service-file.from'); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'a service-file rumor');
  return { kind: 'service-file', group, filename, version, encrypted, body, from };
}

function readElectionRumor(r: WireReader, end: number, kind: ElectionRumor['kind']): ElectionRumor {
  let group = '';
  let memberId: MemberId | '' = '';
  let term = 0;
  let suitability = 0;
  let status: ElectionStatus | undefined;
  const votes: MemberId[] = [];
  const roster: MemberId[] = [];
  let rosterVersion = 0;
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case ELECTION_RUMOR.group: group = r.keyText('election.group'); break;
      case ELECTION_RUMOR.memberId: memberId = r.optionalId(`${kind}.member_id`); break;
      case ELECTION_RUMOR.term: term = r.varint(`${kind}.term`); break;
      case ELECTION_RUMOR.suitability: suitability = r.varint(`${kind}.suitability`); break;
      case ELECTION_RUMOR.status: status = r.enumValue(ELECTION_STATUS_BY_NUMBER, `${kind}.status`); break;
      case ELECTION_RUMOR.votes: votes.push(requireId(r.optionalId(`${kind}.votes`), `${kind}.votes`)); break;
      case ELECTION_RUMOR.roster: roster.push(requireId(r.optionalId(`${kind}.roster`), `${kind}.roster`)); break;
      case ELECTION_RUMOR.rosterVersion: rosterVersion = r.varint(`${kind}.roster_version`); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, `an ${kind} rumor`);
  if (status === undefined) return fail('invalid', `${kind}.status is missing`);
  return { kind, group, memberId: requireId(memberId, `${kind}.member_id`), term, suitability, status, votes, roster, rosterVersion };
}

function readDepartureRumor(r: WireReader, end: number): DepartureRumor {
  let memberId: MemberId | '' = '';
  while (r.pos < end) {
    const tag = r.fieldTag();
    if (tag === DEPARTURE_RUMOR.memberId) memberId = r.optionalId('departure.member_id');
    else r.skipField(tag);
  }
  r.close(end, 'a departure rumor');
  return { kind: 'departure', memberId: requireId(memberId, 'departure.member_id') };
}

/** A ring key's length in bytes (`crypto_secretbox_KEYBYTES`). */
const RING_KEY_BYTES = 32;

function readRingKeyRumor(r: WireReader, end: number): RingKeyRumor {
  let name = '';
  let revision = '';
  let version = 0;
  let state: RingKeyState | undefined;
  let key: Uint8Array = new Uint8Array(0);
  let memberId: MemberId | '' = '';
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case RING_KEY_RUMOR.name: name = r.keyText('ring-key.name'); break;
      case RING_KEY_RUMOR.revision: revision = r.keyText('ring-key.revision'); break;
      case RING_KEY_RUMOR.version: version = r.varint('ring-key.version'); break;
      case RING_KEY_RUMOR.state: state = r.enumValue(RING_KEY_STATE_BY_NUMBER, 'ring-key.state'); break;
      case RING_KEY_RUMOR.key: key = r.blob(); break;
      case RING_KEY_RUMOR.memberId: memberId = r.optionalId('ring-key.member_id'); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'a ring-key rumor');
  if (state === undefined) return fail('invalid', 'ring-key.state is missing');
  if (name === '' || revision === '') return fail('invalid', 'ring-key.name and ring-key.revision are required');
  const carriesKey = memberId === '' && state !== 'removed';
  if (carriesKey && key.length !== RING_KEY_BYTES) return fail('invalid', `ring-key.key is ${key.length} bytes; an installed or primary command carries ${RING_KEY_BYTES}`);
  if (!carriesKey && key.length !== 0) return fail('invalid', 'ring-key.key must be empty on a report or a removal');
  return { kind: 'ring-key', memberId, name, revision, version, state, key };
}

function readTombstone(r: WireReader, end: number): Tombstone {
  let target: Tombstone['target'] | undefined;
  let group = '';
  let id = '';
  let version = 0;
  while (r.pos < end) {
    const tag = r.fieldTag();
    switch (tag) {
      case TOMBSTONE.target: {
        const kind = r.enumValue(RUMOR_KIND_BY_NUMBER, 'tombstone.target');
        if (kind === 'member' || kind === 'departure' || kind === 'ring-key') fail('invalid', `tombstone.target cannot be ${kind}`);
        target = kind;
        break;
      }
      case TOMBSTONE.group: group = r.keyText('tombstone.group'); break;
      case TOMBSTONE.id: id = r.keyText('tombstone.id'); break;
      case TOMBSTONE.version: version = r.varint('tombstone.version'); break;
      default: r.skipField(tag);
    }
  }
  r.close(end, 'a tombstone');
  if (target === undefined) return fail('invalid', 'tombstone.target is missing');
  return { kind: 'tombstone', target, group, id, version };
}
