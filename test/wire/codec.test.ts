/**
 * The wire codec: round trips of every packet type and rumor kind, byte-for-byte agreement with
 * the code generated from gossip.proto, and junk (random, mutated, truncated, oversized, or valid
 * protobuf that breaks murmur's rules) that must give a typed error, never a throw.
 */
import { ScalarType, fromBinary, toBinary, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, test } from 'vitest';
import { MurmurError, seededRandom, type Random } from '../../src/core/index.js';
import * as gen from '../../src/wire/gen/murmur/v1/gossip_pb.js';
import {
  MAX_PACKET_BYTES,
  decodePacket,
  decodeRumor,
  encodePacket,
  encodeRumor,
  encodedRumorSize,
  packetSize,
  rumorFieldSize,
  type DecodeErrorCode,
  type DecodeResult,
  type Packet,
  type Rumor,
} from '../../src/wire/index.js';
import * as schema from '../../src/wire/schema.js';
import { A, B, C, PACKETS, RUMORS, memberInfo, memberRumor } from './samples.js';
import { toGeneratedPacket, toGeneratedRumor } from './to-generated.js';

function expectError<T>(result: DecodeResult<T>, code: DecodeErrorCode): void {
  if (result.ok) expect.fail(`expected a ${code} error, decoded ${JSON.stringify(result.value)}`);
  expect(result.error.code, result.error.message).toBe(code);
}

function expectValue<T>(result: DecodeResult<T>): T {
  if (!result.ok) return expect.fail(`expected a value, got ${result.error.code}: ${result.error.message}`);
  return result.value;
}

/** Bytes of a generated Packet message after `edit`: valid protobuf carrying values we reject. */
function editedPacket(p: Packet, edit: (msg: gen.Packet) => void): Uint8Array {
  const msg = toGeneratedPacket(p);
  edit(msg);
  return toBinary(gen.PacketSchema, msg);
}

const ping: Packet = { type: 'ping', seq: 1, from: A, target: B, piggyback: [memberRumor()] };

function randomBytes(random: Random, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = random.int(256);
  return bytes;
}

describe('round trips', () => {
  test.each(RUMORS)('%s decodes to the rumor that was encoded', (_, rumor) => {
    expect(expectValue(decodeRumor(encodeRumor(rumor)))).toStrictEqual(rumor);
  });

  test.each(PACKETS)('%s decodes to the packet that was encoded', (_, packet) => {
    expect(expectValue(decodePacket(encodePacket(packet)))).toStrictEqual(packet);
  });
});

describe('compatibility with the code generated from gossip.proto', () => {
  test.each(RUMORS)('%s encodes to the bytes of the generated toBinary, and back', (_, rumor) => {
    const reference = toGeneratedRumor(rumor);
    const bytes = encodeRumor(rumor);
    expect(bytes).toEqual(toBinary(gen.RumorSchema, reference));
    expect(fromBinary(gen.RumorSchema, bytes)).toEqual(reference);
    expect(expectValue(decodeRumor(toBinary(gen.RumorSchema, reference)))).toStrictEqual(rumor);
  });

  test.each(PACKETS)('%s, with its rumor bytes spliced in, equals toBinary and parses with fromBinary', (_, packet) => {
    const reference = toGeneratedPacket(packet);
    const bytes = encodePacket(packet);
    expect(bytes).toEqual(toBinary(gen.PacketSchema, reference));
    expect(fromBinary(gen.PacketSchema, bytes)).toEqual(reference);
    expect(expectValue(decodePacket(toBinary(gen.PacketSchema, reference)))).toStrictEqual(packet);
  });

  const tables: [DescMessage, Record<string, number>][] = [
    [gen.PacketSchema, schema.PACKET],
    [gen.PingSchema, schema.PING],
    [gen.AckSchema, schema.ACK],
    [gen.PingReqSchema, schema.PING_REQ],
    [gen.NackSchema, schema.NACK],
    [gen.PushSchema, schema.PUSH],
    [gen.JoinSchema, schema.JOIN],
    [gen.StateSchema, schema.STATE],
    [gen.SyncDigestSchema, schema.SYNC_DIGEST],
    [gen.SyncBucketsSchema, schema.SYNC_BUCKETS],
    [gen.SyncPullSchema, schema.SYNC_PULL],
    [gen.SyncRumorsSchema, schema.SYNC_RUMORS],
    [gen.MemberInfoSchema, schema.MEMBER_INFO],
    [gen.RumorSchema, schema.RUMOR],
    [gen.MemberRumorSchema, schema.MEMBER_RUMOR],
    [gen.SysInfoSchema, schema.SYS_INFO],
    [gen.ServiceRumorSchema, schema.SERVICE_RUMOR],
    [gen.ServiceConfigRumorSchema, schema.SERVICE_CONFIG_RUMOR],
    [gen.ServiceFileRumorSchema, schema.SERVICE_FILE_RUMOR],
    [gen.ElectionRumorSchema, schema.ELECTION_RUMOR],
    [gen.DepartureRumorSchema, schema.DEPARTURE_RUMOR],
    [gen.TombstoneSchema, schema.TOMBSTONE],
  ];

  function scalarWireType(scalar: ScalarType): WireType {
    switch (scalar) {
      case ScalarType.STRING:
      case ScalarType.BYTES:
        return WireType.LengthDelimited;
      case ScalarType.FIXED32:
      case ScalarType.SFIXED32:
      case ScalarType.FLOAT:
        return WireType.Bit32;
      case ScalarType.FIXED64:
      case ScalarType.SFIXED64:
      case ScalarType.DOUBLE:
        return WireType.Bit64;
      default:
        return WireType.Varint;
    }
  }

  /** Tags by field name as gossip.proto defines them; a packable list also as `<name>Unpacked`. */
  function expectedTags(field: DescField): [string, number][] {
    const tag = (wireType: WireType): number => (field.number << 3) | wireType;
    switch (field.fieldKind) {
      case 'scalar':
        return [[field.localName, tag(scalarWireType(field.scalar))]];
      case 'enum':
        return [[field.localName, tag(WireType.Varint)]];
      case 'message':
        return [[field.localName, tag(WireType.LengthDelimited)]];
      case 'list': {
        const element = field.listKind === 'scalar' ? scalarWireType(field.scalar) : WireType.LengthDelimited;
        if (element === WireType.LengthDelimited) return [[field.localName, tag(element)]];
        return [
          [field.localName, tag(WireType.LengthDelimited)],
          [`${field.localName}Unpacked`, tag(element)],
        ];
      }
      case 'map':
        throw new Error(`gossip.proto has no maps, but ${field.name} is one`);
    }
  }

  test.each(tables)('the hand-written field tags of %s match gossip.proto', (desc, table) => {
    expect(Object.fromEntries(desc.fields.flatMap(expectedTags))).toStrictEqual(table);
  });

  test('the hand-written enum numbers match gossip.proto', () => {
    const upper = (name: string): string => name.toUpperCase().replace('-', '_');
    const byName = (e: Record<string, string | number>, table: Readonly<Record<string, number>>) =>
      Object.fromEntries(Object.keys(table).map((name) => [name, e[upper(name)]]));
    expect(byName(gen.Health, schema.HEALTH_NUMBER)).toStrictEqual(schema.HEALTH_NUMBER);
    expect(gen.HealthSchema.values.map((v) => schema.HEALTH_BY_NUMBER[v.number])).toStrictEqual(schema.HEALTH_BY_NUMBER);
    expect(byName(gen.ElectionStatus, schema.ELECTION_STATUS_NUMBER)).toStrictEqual(schema.ELECTION_STATUS_NUMBER);
    expect(gen.ElectionStatusSchema.values.length).toBe(schema.ELECTION_STATUS_BY_NUMBER.length);
    expect(byName(gen.RumorKind, schema.RUMOR_KIND_NUMBER)).toStrictEqual(schema.RUMOR_KIND_NUMBER);
    expect(gen.RumorKindSchema.values.length).toBe(schema.RUMOR_KIND_BY_NUMBER.length);
  });
});

describe('the rumor cache and sizes', () => {
  test('a rumor is encoded once and the same bytes are returned after', () => {
    const rumor = memberRumor();
    expect(encodeRumor(rumor)).toBe(encodeRumor(rumor));
  });

  test('a packet splices in the cached bytes of a rumor rather than encoding it again', () => {
    const rumor = memberRumor({ health: 'alive' });
    const cached = encodeRumor(rumor);
    // Rumors are immutable; changing one after it was encoded shows which bytes the packet used.
    rumor.health = 'confirmed';
    const packet = expectValue(decodePacket(encodePacket({ ...ping, piggyback: [rumor] })));
    expect(packet).toMatchObject({ type: 'ping', piggyback: [{ health: 'alive' }] });
    expect(encodeRumor(rumor)).toBe(cached);
  });

  test.each(PACKETS)('packetSize of %s is the length of its encoding', (_, packet) => {
    expect(packetSize(packet)).toBe(encodePacket(packet).length);
  });

  test('each rumor adds exactly rumorFieldSize bytes to any packet', () => {
    const rumors = RUMORS.map(([, r]) => r);
    const empty: Packet[] = [
      { ...ping, piggyback: [] },
      { type: 'ack', seq: 3, from: A, piggyback: [] },
      { type: 'ping-req', seq: 3, from: A, target: C, targetAddress: '10.0.0.3:9638', piggyback: [] },
      { type: 'push', from: A, rumors: [] },
      { type: 'sync-pull', from: A, buckets: [1, 2], rumors: [] },
    ];
    for (const packet of empty) {
      const base = encodePacket(packet).length;
      let expected = base;
      const carried: Rumor[] = [];
      for (const rumor of rumors) {
        carried.push(rumor);
        expected += rumorFieldSize(rumor);
        const full = packet.type === 'push' || packet.type === 'sync-pull' ? { ...packet, rumors: carried } : { ...packet, piggyback: carried };
        expect(encodePacket(full as Packet).length).toBe(expected);
      }
    }
  });

  test('rumorFieldSize is a tag, a length varint and the rumor', () => {
    const small = memberRumor();
    const large = RUMORS.find(([name]) => name === 'a service file of 20 000 bytes')?.[1] ?? expect.fail('sample');
    expect(rumorFieldSize(small)).toBe(1 + 1 + encodedRumorSize(small));
    expect(encodedRumorSize(large)).toBeGreaterThan(16_384);
    expect(rumorFieldSize(large)).toBe(1 + 3 + encodedRumorSize(large));
  });

  test('a ping with two member rumors fits comfortably in a datagram', () => {
    const twoMembers = PACKETS.find(([name]) => name === 'a ping with two member rumors')?.[1] ?? expect.fail('sample');
    expect(packetSize(twoMembers)).toBeLessThan(200);
  });
});

describe('junk in, typed error out', () => {
  test('random bytes never throw and always give an error', () => {
    const random = seededRandom(1);
    const codes = new Set<DecodeErrorCode>();
    for (let i = 0; i < 20_000; i++) {
      const bytes = randomBytes(random, 1 + random.int(64));
      const packet = decodePacket(bytes);
      const rumor = decodeRumor(bytes);
      if (packet.ok || rumor.ok) expect.fail(`random bytes ${bytes.join(',')} decoded`);
      codes.add(packet.error.code).add(rumor.error.code);
    }
    expect([...codes].sort()).toStrictEqual(['invalid', 'malformed', 'truncated']);
  });

  test('random bytes behind a valid packet body tag never throw and always give an error', () => {
    const random = seededRandom(2);
    const decoded: Uint8Array[] = [];
    for (let i = 0; i < 20_000; i++) {
      const bytes = randomBytes(random, 2 + random.int(40));
      bytes[0] = schema.PACKET.ping;
      bytes[1] = bytes.length - 2;
      if (decodePacket(bytes).ok) decoded.push(bytes);
    }
    expect(decoded).toStrictEqual([]);
  });

  test('mutated packets never throw, and whatever still decodes encodes again to the same value', () => {
    const random = seededRandom(3);
    const wrong: string[] = [];
    let decoded = 0;
    for (const [name, packet] of PACKETS) {
      const original = encodePacket(packet);
      if (original.length > 4096) continue;
      for (let i = 0; i < 300; i++) {
        const bytes = original.slice();
        const flips = 1 + random.int(3);
        for (let f = 0; f < flips; f++) bytes[random.int(bytes.length)] = random.int(256);
        const result = decodePacket(bytes);
        if (!result.ok) continue;
        decoded++;
        const again = decodePacket(encodePacket(result.value));
        if (!again.ok || !isDeepStrictEqual(again.value, result.value)) wrong.push(`${name}: ${bytes.join(',')}`);
      }
    }
    expect(wrong).toStrictEqual([]);
    expect(decoded).toBeGreaterThan(0);
  });

  // The prefix tests collect failures rather than call `expect` thousands of times, which is slow.
  const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

  test.each(PACKETS)('every prefix of %s is truncated, invalid, or the shorter packet it spells', (_, packet) => {
    const bytes = encodePacket(packet);
    const wrong: string[] = [];
    for (let length = 0; length < bytes.length; length++) {
      const prefix = bytes.subarray(0, length);
      const result = decodePacket(prefix);
      if (result.ok ? !sameBytes(encodePacket(result.value), prefix) : !['truncated', 'invalid'].includes(result.error.code)) {
        wrong.push(`${length} bytes: ${result.ok ? 'decoded to another packet' : result.error.code}`);
      }
    }
    expect(wrong).toStrictEqual([]);
  });

  test.each(RUMORS)('every prefix of %s is truncated or invalid', (_, rumor) => {
    const bytes = encodeRumor(rumor);
    const wrong: string[] = [];
    for (let length = 0; length < bytes.length; length++) {
      const result = decodeRumor(bytes.subarray(0, length));
      if (result.ok || !['truncated', 'invalid'].includes(result.error.code)) wrong.push(`${length} bytes`);
    }
    expect(wrong).toStrictEqual([]);
  });

  test('input over the byte limit is too large, whatever it holds', () => {
    expectError(decodePacket(encodePacket(ping), { maxBytes: 10 }), 'too-large');
    expectError(decodePacket(new Uint8Array(MAX_PACKET_BYTES + 1)), 'too-large');
    expectError(decodeRumor(encodeRumor(memberRumor()), { maxBytes: 5 }), 'too-large');
    expect(decodePacket(encodePacket(ping), { maxBytes: encodePacket(ping).length }).ok).toBe(true);
  });

  test('an empty input is a packet without a body, which is invalid', () => {
    expectError(decodePacket(new Uint8Array(0)), 'invalid');
    expectError(decodeRumor(new Uint8Array(0)), 'invalid');
  });
});

describe("valid protobuf that breaks murmur's rules is invalid", () => {
  test.each([15, 17, 32])('a %i-byte member id is invalid', (length) => {
    const bytes = editedPacket(ping, (msg) => {
      if (msg.body.case === 'ping') msg.body.value.from = new Uint8Array(length);
    });
    expectError(decodePacket(bytes), 'invalid');
  });

  test('a missing sender id is invalid', () => {
    const bytes = editedPacket(ping, (msg) => {
      if (msg.body.case === 'ping') msg.body.value.from = new Uint8Array(0);
    });
    expectError(decodePacket(bytes), 'invalid');
  });

  test('a missing ping target is allowed, a missing ping-req target is not', () => {
    expect(decodePacket(editedPacket(ping, (msg) => {
      if (msg.body.case === 'ping') msg.body.value.target = new Uint8Array(0);
    })).ok).toBe(true);
    const pingReq: Packet = { type: 'ping-req', seq: 1, from: A, target: C, targetAddress: 'x:1', piggyback: [] };
    expectError(decodePacket(editedPacket(pingReq, (msg) => {
      if (msg.body.case === 'pingReq') msg.body.value.target = new Uint8Array(0);
    })), 'invalid');
  });

  test('an unknown health is invalid', () => {
    const bytes = toBinary(gen.RumorSchema, (() => {
      const msg = toGeneratedRumor(memberRumor());
      if (msg.payload.case === 'member') msg.payload.value.health = 7 as gen.Health;
      return msg;
    })());
    expectError(decodeRumor(bytes), 'invalid');
  });

  test('an unspecified or unknown election status is invalid', () => {
    for (const status of [gen.ElectionStatus.UNSPECIFIED, 9 as gen.ElectionStatus]) {
      const msg = toGeneratedRumor({ kind: 'election', group: 'g', memberId: A, term: 1, suitability: 1, status: 'running', votes: [], roster: [], rosterVersion: 0 });
      if (msg.payload.case === 'election') msg.payload.value.status = status;
      expectError(decodeRumor(toBinary(gen.RumorSchema, msg)), 'invalid');
    }
  });

  test('a tombstone for a member, a departure or nothing is invalid', () => {
    for (const target of [gen.RumorKind.MEMBER, gen.RumorKind.DEPARTURE, gen.RumorKind.UNSPECIFIED, 42 as gen.RumorKind]) {
      const msg = toGeneratedRumor({ kind: 'tombstone', target: 'service', group: 'g', id: 'x', version: 1 });
      if (msg.payload.case === 'tombstone') msg.payload.value.target = target;
      expectError(decodeRumor(toBinary(gen.RumorSchema, msg)), 'invalid');
    }
  });

  test.each([2n ** 53n, 2n ** 64n - 1n])('an incarnation of %s, above 2^53 - 1, is invalid', (incarnation) => {
    const msg = toGeneratedRumor(memberRumor());
    if (msg.payload.case === 'member' && msg.payload.value.member) msg.payload.value.member.incarnation = incarnation;
    expectError(decodeRumor(toBinary(gen.RumorSchema, msg)), 'invalid');
  });

  test('a version, term or suitability above 2^53 - 1 is invalid', () => {
    const config = toGeneratedRumor({ kind: 'service-config', group: 'g', version: 1, encrypted: false, config: new Uint8Array(0), from: '' });
    if (config.payload.case === 'serviceConfig') config.payload.value.version = 2n ** 60n;
    expectError(decodeRumor(toBinary(gen.RumorSchema, config)), 'invalid');
    const election = toGeneratedRumor({ kind: 'election', group: 'g', memberId: A, term: 1, suitability: 1, status: 'running', votes: [], roster: [], rosterVersion: 0 });
    if (election.payload.case === 'election') election.payload.value.suitability = 2n ** 64n - 1n;
    expectError(decodeRumor(toBinary(gen.RumorSchema, election)), 'invalid');
    const roster = toGeneratedRumor({ kind: 'election', group: 'g', memberId: A, term: 1, suitability: 1, status: 'finished', votes: [], roster: [A], rosterVersion: 1 });
    if (roster.payload.case === 'election') roster.payload.value.rosterVersion = 2n ** 53n;
    expectError(decodeRumor(toBinary(gen.RumorSchema, roster)), 'invalid');
  });

  test('an election roster id that is not 16 bytes is invalid; a rumor without a roster reads as an empty one', () => {
    const bad = toGeneratedRumor({ kind: 'election', group: 'g', memberId: A, term: 1, suitability: 1, status: 'finished', votes: [A], roster: [A], rosterVersion: 2 });
    if (bad.payload.case === 'election') bad.payload.value.roster = [new Uint8Array(15)];
    expectError(decodeRumor(toBinary(gen.RumorSchema, bad)), 'invalid');
    const old = toGeneratedRumor({ kind: 'election', group: 'g', memberId: A, term: 1, suitability: 1, status: 'finished', votes: [A], roster: [], rosterVersion: 0 });
    expect(expectValue(decodeRumor(toBinary(gen.RumorSchema, old)))).toMatchObject({ kind: 'election', roster: [], rosterVersion: 0 });
  });

  test('2^53 - 1 itself is a valid incarnation', () => {
    const rumor = memberRumor({ member: memberInfo({ incarnation: Number.MAX_SAFE_INTEGER }) });
    expect(expectValue(decodeRumor(encodeRumor(rumor)))).toStrictEqual(rumor);
  });

  test('a port above 65535 is invalid', () => {
    const msg = toGeneratedRumor(memberRumor());
    if (msg.payload.case === 'member' && msg.payload.value.member) msg.payload.value.member.swimPort = 65536;
    expectError(decodeRumor(toBinary(gen.RumorSchema, msg)), 'invalid');
  });

  test('a seq above the uint32 range is invalid rather than cut to 32 bits', () => {
    const body = new BinaryWriter().uint32(schema.PING.seq).uint64(2n ** 32n + 1n).uint32(schema.PING.from).bytes(new Uint8Array(16)).finish();
    const bytes = new BinaryWriter().uint32(schema.PACKET.ping).bytes(body).finish();
    expectError(decodePacket(bytes), 'invalid');
  });

  test('a rumor without a payload is invalid', () => {
    const bytes = new BinaryWriter().uint32(schema.PACKET.push).bytes(new BinaryWriter().uint32(schema.PUSH.from).bytes(new Uint8Array(16)).finish())
      .uint32(schema.PACKET.rumors).bytes(new Uint8Array(0)).finish();
    expectError(decodePacket(bytes), 'invalid');
  });

  test('a member rumor without its member is invalid', () => {
    const msg = toGeneratedRumor(memberRumor());
    if (msg.payload.case === 'member') msg.payload.value.member = undefined;
    expectError(decodeRumor(toBinary(gen.RumorSchema, msg)), 'invalid');
  });

  test('a service rumor without sys info is invalid', () => {
    const service = RUMORS.find(([name]) => name === 'a service')?.[1] ?? expect.fail('sample');
    const msg = toGeneratedRumor(service);
    if (msg.payload.case === 'service') msg.payload.value.sys = undefined;
    expectError(decodeRumor(toBinary(gen.RumorSchema, msg)), 'invalid');
  });

  test('a join without a member is invalid', () => {
    const join: Packet = { type: 'join', member: memberInfo() };
    expectError(decodePacket(editedPacket(join, (msg) => {
      if (msg.body.case === 'join') msg.body.value.member = undefined;
    })), 'invalid');
  });

  test.each(['nack', 'join', 'sync-digest', 'sync-buckets'] as const)('a %s that carries rumors is invalid', (type) => {
    const packet = PACKETS.find(([, p]) => p.type === type)?.[1] ?? expect.fail('sample');
    const bytes = editedPacket(packet, (msg) => msg.rumors.push(toGeneratedRumor(memberRumor())));
    expectError(decodePacket(bytes), 'invalid');
  });
});

describe('bytes that are not protobuf are malformed', () => {
  test('invalid UTF-8 in a string is malformed', () => {
    const address = new Uint8Array([0x31, 0xc3, 0x28, 0x32]);
    const info = new BinaryWriter().uint32(schema.MEMBER_INFO.id).bytes(new Uint8Array(16)).uint32(schema.MEMBER_INFO.address).bytes(address).finish();
    const bytes = new BinaryWriter().uint32(schema.PACKET.join).bytes(new BinaryWriter().uint32(schema.JOIN.member).bytes(info).finish()).finish();
    expectError(decodePacket(bytes), 'malformed');
  });

  test('a field that overruns its message is malformed', () => {
    // A ping whose declared length ends in the middle of its `from` id.
    const body = new BinaryWriter().uint32(schema.PING.from).bytes(new Uint8Array(16)).finish();
    const bytes = new Uint8Array([schema.PACKET.ping, 10, ...body, 0, 0, 0, 0, 0, 0, 0, 0]);
    expectError(decodePacket(bytes), 'malformed');
  });

  test('a varint of more than ten bytes is malformed', () => {
    expectError(decodePacket(new Uint8Array([0x08, ...new Array<number>(11).fill(0xff), 0x01])), 'malformed');
  });

  test.each([
    ['field number 0', [0x02, 0x00]],
    ['a number above the uint32 range', [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
    ['wire type 6', [0x0e]],
    ['wire type 7', [0x0f]],
    ['wire type 4, an end of group that never started', [0x0c]],
  ])('a tag with %s is malformed', (_, bytes) => {
    expectError(decodePacket(new Uint8Array(bytes)), 'malformed');
  });
});

describe('forward compatibility', () => {
  test('unknown fields are skipped, at any depth', () => {
    const body = new BinaryWriter()
      .uint32(schema.PING.seq).uint32(7)
      .uint32((9 << 3) | WireType.Varint).uint32(300)
      .uint32(schema.PING.from).bytes(new Uint8Array(16))
      .uint32((10 << 3) | WireType.Bit64).fixed64(1n)
      .finish();
    const bytes = new BinaryWriter()
      .uint32((14 << 3) | WireType.LengthDelimited).bytes(new Uint8Array([1, 2, 3]))
      .uint32(schema.PACKET.ping).bytes(body)
      .uint32((99 << 3) | WireType.Bit32).fixed32(5)
      .finish();
    expect(expectValue(decodePacket(bytes))).toStrictEqual({ type: 'ping', seq: 7, from: '0'.repeat(32), target: '', piggyback: [] });
  });

  test('a known field with an unexpected wire type is skipped like an unknown one', () => {
    const body = new BinaryWriter()
      .uint32((1 << 3) | WireType.LengthDelimited).bytes(new Uint8Array([1]))
      .uint32(schema.NACK.from).bytes(new Uint8Array(16))
      .finish();
    const bytes = new BinaryWriter().uint32(schema.PACKET.nack).bytes(body).finish();
    expect(expectValue(decodePacket(bytes))).toStrictEqual({ type: 'nack', seq: 0, from: '0'.repeat(32) });
  });

  test('repeated numbers decode whether packed or not', () => {
    const from = new Uint8Array(16);
    const buckets = new BinaryWriter().uint32(schema.SYNC_BUCKETS.from).bytes(from)
      .uint32(schema.SYNC_BUCKETS.hashesUnpacked).fixed32(1)
      .uint32(schema.SYNC_BUCKETS.hashes).uint32(8).fixed32(2).fixed32(3)
      .uint32(schema.SYNC_BUCKETS.hashesUnpacked).fixed32(4)
      .finish();
    expect(expectValue(decodePacket(new BinaryWriter().uint32(schema.PACKET.syncBuckets).bytes(buckets).finish())))
      .toMatchObject({ type: 'sync-buckets', hashes: [1, 2, 3, 4] });
    const pull = new BinaryWriter().uint32(schema.SYNC_PULL.from).bytes(from)
      .uint32(schema.SYNC_PULL.bucketsUnpacked).uint32(300)
      .uint32(schema.SYNC_PULL.buckets).fork().uint32(1).uint32(70000).join()
      .finish();
    expect(expectValue(decodePacket(new BinaryWriter().uint32(schema.PACKET.syncPull).bytes(pull).finish())))
      .toMatchObject({ type: 'sync-pull', buckets: [300, 1, 70000] });
  });
});

describe('decoded values are plain data', () => {
  test('bytes fields are copies, not views of the input', () => {
    const config: Rumor = { kind: 'service-config', group: 'g', version: 1, encrypted: false, config: new Uint8Array([1, 2, 3]), from: '' };
    const bytes = encodeRumor(config).slice();
    const decoded = expectValue(decodeRumor(bytes));
    bytes.fill(0);
    expect(decoded).toStrictEqual(config);
  });

  test('a packet is read correctly from a view into a larger buffer, as a pooled Buffer is', () => {
    const packet = PACKETS.find(([name]) => name === 'a sync digest')?.[1] ?? expect.fail('sample');
    const bytes = encodePacket(packet);
    const pool = new Uint8Array(bytes.length + 13).fill(0xff);
    pool.set(bytes, 7);
    expect(expectValue(decodePacket(pool.subarray(7, 7 + bytes.length)))).toStrictEqual(packet);
  });

  test('absent optional ids decode as the empty string', () => {
    expect(expectValue(decodeRumor(encodeRumor(memberRumor({ from: '' }))))).toHaveProperty('from', '');
  });
});

describe('encoders refuse values that cannot round-trip', () => {
  const cases: [string, () => unknown][] = [
    ['an uppercase member id', () => encodePacket({ ...ping, from: A.toUpperCase(), piggyback: [] })],
    ['a short member id', () => encodePacket({ ...ping, target: 'abc', piggyback: [] })],
    ['an empty required id', () => encodePacket({ type: 'nack', seq: 1, from: '' })],
    ['a negative seq', () => encodePacket({ ...ping, seq: -1, piggyback: [] })],
    ['a seq above 2^32 - 1', () => encodePacket({ type: 'ack', seq: 2 ** 32, from: A, piggyback: [] })],
    ['a fractional seq', () => encodePacket({ type: 'ping-req', seq: 1.5, from: A, target: B, targetAddress: '', piggyback: [] })],
    ['an incarnation above 2^53 - 1', () => encodeRumor(memberRumor({ member: memberInfo({ incarnation: 2 ** 53 }) }))],
    ['a negative version', () => encodeRumor({ kind: 'tombstone', target: 'service', group: 'g', id: 'x', version: -1 })],
    ['a port above 65535', () => encodeRumor(memberRumor({ member: memberInfo({ gossipPort: 70000 }) }))],
    ['a signed hash', () => encodePacket({ type: 'sync-buckets', from: A, hashes: [-1] })],
    ['an unknown health', () => encodeRumor(memberRumor({ health: 'zombie' as 'alive' }))],
    ['a tombstone for a member', () => encodeRumor({ kind: 'tombstone', target: 'member' as 'service', group: '', id: A, version: 1 })],
  ];

  test.each(cases)('%s is a BAD_INPUT error', (_, encode) => {
    expect(encode).toThrow(MurmurError);
    try {
      encode();
    } catch (err) {
      expect(err).toMatchObject({ code: 'BAD_INPUT' });
    }
  });
});
