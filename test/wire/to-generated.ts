/**
 * Our values as messages of the code generated from gossip.proto: the independent reference
 * that the hand-written codec is checked against.
 */
import { create } from '@bufbuild/protobuf';
import { fromHex } from '../../src/core/index.js';
import * as gen from '../../src/wire/gen/murmur/v1/gossip_pb.js';
import type { MemberInfo, Packet, Rumor } from '../../src/wire/index.js';
import { SERVICE_HEALTHS, SERVICE_STATES } from '../../src/wire/index.js';

const id = (hex: string): Uint8Array => (hex === '' ? new Uint8Array(0) : (fromHex(hex) ?? new Uint8Array(0)));

const HEALTH = {
  alive: gen.Health.ALIVE,
  suspect: gen.Health.SUSPECT,
  confirmed: gen.Health.CONFIRMED,
  departed: gen.Health.DEPARTED,
} as const;

const STATUS = {
  running: gen.ElectionStatus.RUNNING,
  'no-quorum': gen.ElectionStatus.NO_QUORUM,
  finished: gen.ElectionStatus.FINISHED,
} as const;

const RING_KEY_STATE = {
  installed: gen.RingKeyState.INSTALLED,
  primary: gen.RingKeyState.PRIMARY,
  removed: gen.RingKeyState.REMOVED,
} as const;

const KIND = {
  service: gen.RumorKind.SERVICE,
  'service-config': gen.RumorKind.SERVICE_CONFIG,
  'service-file': gen.RumorKind.SERVICE_FILE,
  election: gen.RumorKind.ELECTION,
  'election-update': gen.RumorKind.ELECTION_UPDATE,
} as const;

function memberInfo(m: MemberInfo): gen.MemberInfo {
  return create(gen.MemberInfoSchema, {
    id: id(m.id),
    incarnation: BigInt(m.incarnation),
    address: m.address,
    swimPort: m.swimPort,
    gossipPort: m.gossipPort,
    persistent: m.persistent,
  });
}

export function toGeneratedRumor(r: Rumor): gen.Rumor {
  switch (r.kind) {
    case 'member':
      return create(gen.RumorSchema, {
        payload: {
          case: 'member',
          value: create(gen.MemberRumorSchema, { member: memberInfo(r.member), health: HEALTH[r.health], from: id(r.from) }),
        },
      });
    case 'service':
      return create(gen.RumorSchema, {
        payload: {
          case: 'service',
          value: create(gen.ServiceRumorSchema, {
            group: r.group,
            memberId: id(r.memberId),
            incarnation: BigInt(r.incarnation),
            pkg: r.pkg,
            cfg: r.cfg,
            sys: create(gen.SysInfoSchema, { ...r.sys }),
            initialized: r.initialized,
            configVersion: BigInt(r.configVersion),
            files: r.files.map((f) => create(gen.FileVersionSchema, { filename: f.filename, version: BigInt(f.version) })),
            state: SERVICE_STATES.indexOf(r.state),
            health: SERVICE_HEALTHS.indexOf(r.health),
            topology: r.topology,
          }),
        },
      });
    case 'service-config':
      return create(gen.RumorSchema, {
        payload: {
          case: 'serviceConfig',
          value: create(gen.ServiceConfigRumorSchema, {
            group: r.group,
            version: BigInt(r.version),
            encrypted: r.encrypted,
            config: r.config,
            from: id(r.from),
          }),
        },
      });
    case 'service-file':
      return create(gen.RumorSchema, {
        payload: {
          case: 'serviceFile',
          value: create(gen.ServiceFileRumorSchema, {
            group: r.group,
            filename: r.filename,
            version: BigInt(r.version),
            encrypted: r.encrypted,
            body: r.body,
            from: id(r.from),
          }),
        },
      });
    case 'election':
    case 'election-update':
      return create(gen.RumorSchema, {
        payload: {
          case: r.kind === 'election' ? 'election' : 'electionUpdate',
          value: create(gen.ElectionRumorSchema, {
            group: r.group,
            memberId: id(r.memberId),
            term: BigInt(r.term),
            suitability: BigInt(r.suitability),
            status: STATUS[r.status],
            votes: r.votes.map(id),
            roster: r.roster.map(id),
            rosterVersion: BigInt(r.rosterVersion),
          }),
        },
      });
    case 'departure':
      return create(gen.RumorSchema, {
        payload: { case: 'departure', value: create(gen.DepartureRumorSchema, { memberId: id(r.memberId) }) },
      });
    case 'ring-key':
      return create(gen.RumorSchema, {
        payload: {
          case: 'ringKey',
          value: create(gen.RingKeyRumorSchema, {
            name: r.name,
            revision: r.revision,
            version: BigInt(r.version),
            state: RING_KEY_STATE[r.state],
            key: r.key,
            memberId: id(r.memberId),
          }),
        },
      });
    case 'tombstone':
      return create(gen.RumorSchema, {
        payload: {
          case: 'tombstone',
          value: create(gen.TombstoneSchema, {
            target: KIND[r.target],
            group: r.group,
            id: r.id,
            version: BigInt(r.version),
          }),
        },
      });
  }
}

export function toGeneratedPacket(p: Packet): gen.Packet {
  const packet = (body: gen.Packet['body'], rumors: Rumor[] = []): gen.Packet =>
    create(gen.PacketSchema, { body, rumors: rumors.map(toGeneratedRumor) });
  switch (p.type) {
    case 'ping':
      return packet(
        { case: 'ping', value: create(gen.PingSchema, { seq: p.seq, from: id(p.from), target: id(p.target) }) },
        p.piggyback,
      );
    case 'ack':
      return packet({ case: 'ack', value: create(gen.AckSchema, { seq: p.seq, from: id(p.from) }) }, p.piggyback);
    case 'ping-req':
      return packet(
        {
          case: 'pingReq',
          value: create(gen.PingReqSchema, {
            seq: p.seq,
            from: id(p.from),
            target: id(p.target),
            targetAddress: p.targetAddress,
          }),
        },
        p.piggyback,
      );
    case 'nack':
      return packet({ case: 'nack', value: create(gen.NackSchema, { seq: p.seq, from: id(p.from) }) });
    case 'push':
      return packet({ case: 'push', value: create(gen.PushSchema, { from: id(p.from), span: p.span ?? 0 }) }, p.rumors);
    case 'join':
      return packet({ case: 'join', value: create(gen.JoinSchema, { member: memberInfo(p.member) }) });
    case 'state':
      return packet({ case: 'state', value: create(gen.StateSchema, { from: id(p.from) }) }, p.rumors);
    case 'sync-digest':
      return packet({
        case: 'syncDigest',
        value: create(gen.SyncDigestSchema, { from: id(p.from), rootHi: p.rootHi, rootLo: p.rootLo, count: p.count }),
      });
    case 'sync-buckets':
      return packet({ case: 'syncBuckets', value: create(gen.SyncBucketsSchema, { from: id(p.from), hashes: p.hashes }) });
    case 'sync-pull':
      return packet(
        { case: 'syncPull', value: create(gen.SyncPullSchema, { from: id(p.from), buckets: p.buckets }) },
        p.rumors,
      );
    case 'sync-rumors':
      return packet({ case: 'syncRumors', value: create(gen.SyncRumorsSchema, { from: id(p.from) }) }, p.rumors);
  }
}
