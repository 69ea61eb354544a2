/**
 * Sample values for the wire tests: every rumor kind and every packet type, with every field set
 * to a non-default value at least once, plus the edges (zero values, the largest integers,
 * lengths that need a multi-byte varint, non-ASCII text).
 */
import { newMemberId, seededRandom, type MemberId } from '../../src/core/index.js';
import type { MemberInfo, MemberRumor, Packet, Rumor, SysInfo } from '../../src/wire/index.js';

const random = seededRandom(0x5eed);
const ids: MemberId[] = Array.from({ length: 8 }, () => newMemberId(random));
export const [A, B, C, D, E, F, G, H] = ids as [MemberId, MemberId, MemberId, MemberId, MemberId, MemberId, MemberId, MemberId];

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

export const memberInfo = (overrides: Partial<MemberInfo> = {}): MemberInfo => ({
  id: A,
  incarnation: 3,
  address: '10.0.0.12',
  swimPort: 9638,
  gossipPort: 9638,
  persistent: false,
  ...overrides,
});

export const memberRumor = (overrides: Partial<MemberRumor> = {}): MemberRumor => ({
  kind: 'member',
  member: memberInfo(),
  health: 'alive',
  from: '',
  ...overrides,
});

const sys: SysInfo = {
  ip: '10.0.0.12',
  hostname: 'redis-1',
  gossipIp: '0.0.0.0',
  gossipPort: 9638,
  httpGatewayIp: '0.0.0.0',
  httpGatewayPort: 9631,
  ctlGatewayIp: '127.0.0.1',
  ctlGatewayPort: 9632,
};

export const RUMORS: [string, Rumor][] = [
  ['an alive member', memberRumor()],
  ['a suspect member with its accuser', memberRumor({ health: 'suspect', from: B })],
  ['a confirmed member', memberRumor({ health: 'confirmed', from: C })],
  ['a departed permanent peer', memberRumor({ health: 'departed', member: memberInfo({ persistent: true }) })],
  ['a member with zero incarnation and ports', memberRumor({ member: memberInfo({ incarnation: 0, swimPort: 0, gossipPort: 0 }) })],
  [
    'a member with the largest incarnation and ports',
    memberRumor({ member: memberInfo({ incarnation: Number.MAX_SAFE_INTEGER, swimPort: 65535, gossipPort: 65535 }) }),
  ],
  ['a member with an incarnation above 2^32', memberRumor({ member: memberInfo({ incarnation: 2 ** 32 + 5 }) })],
  ['a member with an IPv6 address', memberRumor({ member: memberInfo({ address: '[fe80::1%eth0]' }) })],
  ['a member with a non-ASCII host name', memberRumor({ member: memberInfo({ address: 'hôte.例え.test' }) })],
  ['a member with no address', memberRumor({ member: memberInfo({ address: '' }) })],
  ['a member with a 200-character host name', memberRumor({ member: memberInfo({ address: 'h'.repeat(200) }) })],
  [
    'a service',
    {
      kind: 'service',
      group: 'redis.default',
      memberId: B,
      incarnation: 7,
      pkg: 'core/redis/4.0.14/20190116005049',
      cfg: text('port = 6379\n'),
      sys,
      initialized: true,
      configVersion: 3,
      files: [
        { filename: 'a.conf', version: 2 },
        { filename: 'b.pem', version: 1 },
      ],
      state: 'up',
      health: 'critical',
      topology: 'leader',
    },
  ],
  [
    'a service with empty sys info and config',
    {
      kind: 'service',
      group: 'redis.default',
      memberId: B,
      incarnation: 0,
      pkg: '',
      cfg: new Uint8Array(0),
      sys: {
        ip: '',
        hostname: '',
        gossipIp: '',
        gossipPort: 0,
        httpGatewayIp: '',
        httpGatewayPort: 0,
        ctlGatewayIp: '',
        ctlGatewayPort: 0,
      },
      initialized: false,
      configVersion: 0,
      files: [],
      state: 'down',
      health: 'unknown',
      topology: '',
    },
  ],
  [
    'a service config',
    { kind: 'service-config', group: 'redis.default', version: 42, encrypted: false, config: text('port = 6380\n'), from: C },
  ],
  [
    'an encrypted service config from nobody in particular',
    { kind: 'service-config', group: 'redis.prod', version: 1, encrypted: true, config: text('BOX-1\n...'), from: '' },
  ],
  [
    'a service file of 20 000 bytes',
    {
      kind: 'service-file',
      group: 'nginx.default',
      filename: 'index.html',
      version: 3,
      encrypted: false,
      body: new Uint8Array(20_000).map((_, i) => i % 251),
      from: D,
    },
  ],
  [
    'an encrypted service file',
    { kind: 'service-file', group: 'nginx.default', filename: 'key.pem', version: 9, encrypted: true, body: text('BOX-1'), from: '' },
  ],
  [
    'a running election',
    { kind: 'election', group: 'redis.default', memberId: E, term: 2, suitability: 10, status: 'running', votes: [E, F], roster: [E, F, G], rosterVersion: 0 },
  ],
  [
    'a finished election with the largest suitability',
    {
      kind: 'election',
      group: 'redis.default',
      memberId: E,
      term: 3,
      suitability: Number.MAX_SAFE_INTEGER,
      status: 'finished',
      votes: [E, F, G],
      roster: [E, F, G],
      rosterVersion: Number.MAX_SAFE_INTEGER,
    },
  ],
  [
    'an update election without quorum',
    { kind: 'election-update', group: 'redis.default', memberId: F, term: 0, suitability: 0, status: 'no-quorum', votes: [], roster: [], rosterVersion: 0 },
  ],
  ['a departure', { kind: 'departure', memberId: G }],
  ['a ring-key install command', { kind: 'ring-key', memberId: '', name: 'prod', revision: '20240101000000', version: 3, state: 'installed', key: new Uint8Array(32).fill(7) }],
  ['a ring-key primary command', { kind: 'ring-key', memberId: '', name: 'prod', revision: '20240101000000', version: 4, state: 'primary', key: new Uint8Array(32).fill(9) }],
  ['a ring-key removal', { kind: 'ring-key', memberId: '', name: 'prod', revision: '20230101000000', version: 5, state: 'removed', key: new Uint8Array(0) }],
  ['a ring-key report', { kind: 'ring-key', memberId: G, name: 'prod', revision: '20240101000000', version: 1, state: 'installed', key: new Uint8Array(0) }],
  ['a tombstone for a service', { kind: 'tombstone', target: 'service', group: 'redis.default', id: B, version: 7 }],
  ['a tombstone for a service config', { kind: 'tombstone', target: 'service-config', group: 'redis.default', id: 'service_config', version: 42 }],
  ['a tombstone for a service file', { kind: 'tombstone', target: 'service-file', group: 'nginx.default', id: 'index.html', version: 3 }],
  ['a tombstone for an election', { kind: 'tombstone', target: 'election', group: 'redis.default', id: 'election', version: 0 }],
  ['a tombstone for an update election', { kind: 'tombstone', target: 'election-update', group: 'redis.default', id: 'election', version: 1 }],
];

const rumor = (name: string): Rumor => {
  const found = RUMORS.find(([n]) => n === name);
  if (found === undefined) throw new Error(`no sample rumor ${name}`);
  return found[1];
};

const twoMembers: Rumor[] = [rumor('an alive member'), rumor('a suspect member with its accuser')];
const bigFile = rumor('a service file of 20 000 bytes');
/** Every sample but the big file, which gets a packet of its own to keep the prefix tests quick. */
const everyRumor: Rumor[] = RUMORS.map(([, r]) => r).filter((r) => r !== bigFile);

export const PACKETS: [string, Packet][] = [
  ['a ping', { type: 'ping', seq: 1, from: A, target: B, piggyback: [] }],
  ['a ping with two member rumors', { type: 'ping', seq: 12345, from: A, target: B, piggyback: twoMembers }],
  ['a ping with no target and seq 0', { type: 'ping', seq: 0, from: A, target: '', piggyback: [] }],
  ['a ping with the largest seq', { type: 'ping', seq: 0xffffffff, from: A, target: B, piggyback: [] }],
  ['a ping carrying every kind of rumor', { type: 'ping', seq: 7, from: A, target: B, piggyback: everyRumor }],
  ['an ack', { type: 'ack', seq: 1, from: B, piggyback: [] }],
  ['an ack with two member rumors', { type: 'ack', seq: 99, from: B, piggyback: twoMembers }],
  ['a ping-req', { type: 'ping-req', seq: 5, from: A, target: C, targetAddress: '10.0.0.13:9638', piggyback: [] }],
  [
    'a ping-req with rumors and an IPv6 address',
    { type: 'ping-req', seq: 6, from: A, target: C, targetAddress: '[::1]:9638', piggyback: twoMembers },
  ],
  ['a nack', { type: 'nack', seq: 5, from: D }],
  ['a push', { type: 'push', from: A, rumors: everyRumor }],
  ['an empty push', { type: 'push', from: A, rumors: [] }],
  ['a broadcast-tree push', { type: 'push', from: A, rumors: [rumor('a departure')], span: 19 }],
  ['a push of a 20 000-byte file', { type: 'push', from: A, rumors: [bigFile, rumor('a departure')] }],
  ['a join', { type: 'join', member: memberInfo({ id: H, persistent: true }) }],
  ['a state', { type: 'state', from: B, rumors: everyRumor }],
  ['a sync digest', { type: 'sync-digest', from: A, rootHi: 0xdeadbeef, rootLo: 0x01234567, count: 1234 }],
  ['a sync digest of an empty store', { type: 'sync-digest', from: A, rootHi: 0, rootLo: 0, count: 0 }],
  ['sync buckets', { type: 'sync-buckets', from: B, hashes: [0, 1, 0xffffffff, 0x80000000, 42, 7] }],
  ['no sync buckets', { type: 'sync-buckets', from: B, hashes: [] }],
  ['a sync pull', { type: 'sync-pull', from: A, buckets: [0, 3, 200, 65535, 0xffffffff], rumors: twoMembers }],
  ['an empty sync pull', { type: 'sync-pull', from: A, buckets: [], rumors: [] }],
  ['sync rumors', { type: 'sync-rumors', from: B, rumors: everyRumor }],
];
