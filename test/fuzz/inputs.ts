/**
 * Inputs for the fuzz harness, by property-based generation: fast-check arbitraries for every
 * packet and rumor of `src/wire/types.ts`, built from the real types and encoded with the real
 * encoder, plus "raw protobuf" (random field sequences that follow protobuf's framing but not
 * murmur's schema) and envelopes. `mutate.ts` then damages what these produce.
 *
 * Every key a rumor is stored under comes from a bounded pool (`Pools`): in a ring without a
 * ring key anyone may add rumors under new keys (that is what a gossip protocol does, and what a
 * ring key is for, docs/security.md), so unbounded keys would measure the store's growth rather
 * than the Supervisor's robustness. The pools still hold the bad names: `../../etc/passwd`, `a/b`,
 * `..`, NUL, very long and non-ASCII ones.
 */
import fc from 'fast-check';
import type { MemberId } from '../../src/core/index.js';
import type { ElectionRumor, FileVersion, MemberInfo, Packet, Rumor, SysInfo, Tombstone } from '../../src/wire/index.js';

export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** The names rumors may carry; see the module comment for why they are bounded. */
export interface Pools {
  /** Member ids any rumor may name: fake ones, plus the target's own (rumors about the receiver). */
  ids: readonly MemberId[];
  /** Ids a departure rumor may name: fake ones only (a departure of the target stops it, by design). */
  departable: readonly MemberId[];
  groups: readonly string[];
  filenames: readonly string[];
  addresses: readonly string[];
}

/** Service group names, good and bad. */
export const GROUP_NAMES: readonly string[] = [
  'redis.prod',
  'redis.prod@acme',
  'web.default',
  'a.b',
  '',
  '.',
  'no-dot',
  '../../etc/passwd',
  'redis.prod\u0000evil',
  'ünïcødé.grüp',
  '💥.💥',
  'x'.repeat(300) + '.y',
  'redis.prod@',
  ' redis.prod ',
  'redis.prod/../x',
  'a.b.c.d',
];

/** File names, good and bad (path traversal among them). */
export const FILE_NAMES: readonly string[] = [
  'app.conf',
  'cert.pem',
  '../../etc/passwd',
  '../escape',
  'a/b',
  '..',
  '.',
  '',
  'nul\u0000byte',
  '/etc/shadow',
  'f'.repeat(300),
  'ünïcødé.txt',
  '.hidden',
  'back\\slash',
  'new\nline',
  '%2e%2e%2fetc',
];

/** Addresses a member record may carry; none reaches anything that listens. */
export const ADDRESSES: readonly string[] = ['127.0.0.250', '127.0.0.251', '', '0.0.0.0', '::1', '[::1]', 'not an address', '10.255.255.1', 'ünï', '127.0.0.250:1'];

/** Pools of `fakeIds` ids from `seed`, plus `selfId` (the target) in `ids`. */
export function makePools(seed: number, selfId: MemberId | undefined, fakeIds = 24): Pools {
  const fake = fc.sample(fc.uint8Array({ minLength: 16, maxLength: 16 }), { seed, numRuns: fakeIds }).map(toHex);
  return {
    ids: selfId === undefined ? fake : [...fake, selfId],
    departable: fake,
    groups: GROUP_NAMES,
    filenames: FILE_NAMES,
    addresses: ADDRESSES,
  };
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** A uint64 as murmur holds it: small, at the edges (2^32, 2^53 − 1), or anywhere up to 2^53 − 1. */
export const uint53 = (): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.nat({ max: 1000 }) },
    { weight: 2, arbitrary: fc.constantFrom(0, 1, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 32, MAX_SAFE - 1, MAX_SAFE) },
    { weight: 1, arbitrary: fc.maxSafeNat() },
  );

const uint32 = (): fc.Arbitrary<number> => fc.oneof(fc.nat({ max: 100 }), fc.constantFrom(0, 2 ** 31, 2 ** 32 - 1), fc.nat({ max: 2 ** 32 - 1 }));
const port = (): fc.Arbitrary<number> => fc.oneof(fc.constantFrom(0, 1, 9638, 65_535), fc.integer({ min: 0, max: 65_535 }));
const text = (max = 40): fc.Arbitrary<string> => fc.oneof(fc.string({ maxLength: max }), fc.string({ unit: 'grapheme', maxLength: max }));
const bytes = (max = 256): fc.Arbitrary<Uint8Array> =>
  fc.oneof({ weight: 8, arbitrary: fc.uint8Array({ maxLength: max }) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 4000 }) });
/** TOML-ish text as bytes: mostly valid configs, some junk, some nested past 1000 levels by dotted keys. */
const configBytes = (): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.boolean())).map((table) =>
        new TextEncoder().encode(
          Object.entries(table)
            .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
            .join('\n'),
        ),
      ),
    },
    { weight: 3, arbitrary: bytes() },
    { weight: 1, arbitrary: fc.integer({ min: 900, max: 20_000 }).map((n) => new TextEncoder().encode(`${'a.'.repeat(n)}b = 1`)) },
  );

export function rumorArb(p: Pools): fc.Arbitrary<Rumor> {
  const id = fc.constantFrom(...p.ids);
  const optionalId = fc.oneof(fc.constant(''), id);
  const group = fc.constantFrom(...p.groups);
  const filename = fc.constantFrom(...p.filenames);
  const memberInfo: fc.Arbitrary<MemberInfo> = fc.record({
    id,
    incarnation: uint53(),
    address: fc.constantFrom(...p.addresses),
    swimPort: port(),
    gossipPort: port(),
    persistent: fc.boolean(),
  });
  const sys: fc.Arbitrary<SysInfo> = fc.record({
    ip: text(),
    hostname: text(),
    gossipIp: text(),
    gossipPort: port(),
    httpGatewayIp: text(),
    httpGatewayPort: port(),
    ctlGatewayIp: text(),
    ctlGatewayPort: port(),
  });
  const fileVersion: fc.Arbitrary<FileVersion> = fc.record({ filename, version: uint53() });
  const election = (kind: ElectionRumor['kind']): fc.Arbitrary<Rumor> =>
    fc.record({
      kind: fc.constant(kind),
      group,
      memberId: id,
      term: uint53(),
      suitability: uint53(),
      status: fc.constantFrom('running' as const, 'no-quorum' as const, 'finished' as const),
      votes: fc.uniqueArray(id, { maxLength: 8 }),
      roster: fc.uniqueArray(id, { maxLength: 8 }),
      rosterVersion: uint53(),
    });
  const tombstone: fc.Arbitrary<Tombstone> = fc.record({
    kind: fc.constant('tombstone' as const),
    target: fc.constantFrom('service' as const, 'service-config' as const, 'service-file' as const, 'election' as const, 'election-update' as const),
    group,
    id: fc.oneof(id, filename, fc.constant('service_config'), fc.constant('election')),
    version: uint53(),
  });
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('member' as const),
        member: memberInfo,
        health: fc.constantFrom('alive' as const, 'suspect' as const, 'confirmed' as const, 'departed' as const),
        from: optionalId,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('service' as const),
        group,
        memberId: id,
        incarnation: uint53(),
        pkg: fc.oneof(fc.constant('core/redis/7.0.0/20240101000000'), text()),
        cfg: configBytes(),
        sys,
        initialized: fc.boolean(),
        configVersion: uint53(),
        files: fc.array(fileVersion, { maxLength: 4 }),
        state: fc.constantFrom('down' as const, 'starting' as const, 'up' as const),
        health: fc.constantFrom('unknown' as const, 'ok' as const, 'warning' as const, 'critical' as const),
        topology: fc.oneof(fc.constantFrom('standalone', 'leader'), text(10)),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('service-config' as const), group, version: uint53(), encrypted: fc.boolean(), config: configBytes(), from: optionalId }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('service-file' as const), group, filename, version: uint53(), encrypted: fc.boolean(), body: bytes(), from: optionalId }),
    },
    { weight: 1, arbitrary: election('election') },
    { weight: 1, arbitrary: election('election-update') },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('departure' as const), memberId: fc.constantFrom(...p.departable) }) },
    { weight: 1, arbitrary: tombstone },
  );
}

export function packetArb(p: Pools, maxRumors = 6): fc.Arbitrary<Packet> {
  const id = fc.constantFrom(...p.ids);
  const rumors = fc.array(rumorArb(p), { maxLength: maxRumors });
  const seq = uint32();
  return fc.oneof(
    fc.record({ type: fc.constant('ping' as const), seq, from: id, target: fc.oneof(fc.constant(''), id), piggyback: rumors }),
    fc.record({ type: fc.constant('ack' as const), seq, from: id, piggyback: rumors }),
    fc.record({
      type: fc.constant('ping-req' as const),
      seq,
      from: id,
      target: id,
      targetAddress: fc.oneof(fc.constantFrom(...p.addresses), text()),
      piggyback: rumors,
    }),
    fc.record({ type: fc.constant('nack' as const), seq, from: id }),
    fc.record({ type: fc.constant('push' as const), from: id, rumors, span: fc.oneof(fc.constant(0), fc.nat({ max: 10 }), fc.constant(2 ** 32 - 1)) }).map((push) => {
      const { span, ...rest } = push;
      return span === 0 ? rest : push;
    }),
    fc.record({
      type: fc.constant('join' as const),
      member: fc.record({ id, incarnation: uint53(), address: fc.constantFrom(...p.addresses), swimPort: port(), gossipPort: port(), persistent: fc.boolean() }),
    }),
    fc.record({ type: fc.constant('state' as const), from: id, rumors }),
    fc.record({ type: fc.constant('sync-digest' as const), from: id, rootHi: uint32(), rootLo: uint32(), count: uint32() }),
    fc.record({
      type: fc.constant('sync-buckets' as const),
      from: id,
      hashes: fc.oneof(fc.array(uint32(), { maxLength: 16 }), fc.array(uint32(), { minLength: 128, maxLength: 128 }), fc.array(uint32(), { minLength: 256, maxLength: 2048 })),
    }),
    fc.record({ type: fc.constant('sync-pull' as const), from: id, buckets: fc.array(uint32(), { maxLength: 200 }), rumors }),
    fc.record({ type: fc.constant('sync-rumors' as const), from: id, rumors }),
  );
}

/**
 * Bytes that follow protobuf's framing with random field numbers, wire types and nesting: they
 * pass the tag reader and reach the field loops and the skipping of unknown fields, which random
 * bytes rarely do. Field numbers are mostly murmur's (1..15), so known fields get wrong types.
 */
export function rawProtobufArb(): fc.Arbitrary<Uint8Array> {
  const field = fc.letrec<{ field: number[] }>((tie) => ({
    field: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.tuple(fieldNumber(), fc.constantFrom(0), varintBytes()).map(([n, w, v]) => [...varint(n * 8 + w), ...v]),
      fc.tuple(fieldNumber(), fc.uint8Array({ maxLength: 40 })).map(([n, b]) => [...varint(n * 8 + 2), ...varint(b.length), ...b]),
      fc.tuple(fieldNumber(), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([n, b]) => [...varint(n * 8 + 5), ...b]),
      fc.tuple(fieldNumber(), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([n, b]) => [...varint(n * 8 + 1), ...b]),
      fc.tuple(fieldNumber(), fc.array(tie('field'), { maxLength: 4 })).map(([n, fs]) => {
        const inner = fs.flat();
        return [...varint(n * 8 + 2), ...varint(inner.length), ...inner];
      }),
      fc.tuple(fieldNumber(), fc.array(tie('field'), { maxLength: 3 })).map(([n, fs]) => [...varint(n * 8 + 3), ...fs.flat(), ...varint(n * 8 + 4)]),
      fc.tuple(fieldNumber(), fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([n, b]) => [...varint(n * 8 + 2), 16, ...b]),
    ),
  })).field;
  return fc.array(field, { maxLength: 8 }).map((fs) => Uint8Array.from(fs.flat()));
}

const fieldNumber = (): fc.Arbitrary<number> => fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 15 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 29 - 1 }) });

const varintBytes = (): fc.Arbitrary<readonly number[]> =>
  fc.oneof(
    fc.nat().map(varint),
    fc.constant<readonly number[]>([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    fc.constant<readonly number[]>([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
    fc.constant<readonly number[]>([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]),
  );

/** A non-negative safe integer as a protobuf varint. */
export function varint(value: number): number[] {
  const out: number[] = [];
  while (value > 0x7f) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** `n` values of `arb` from `seed` (deterministic). */
export function sample<T>(arb: fc.Arbitrary<T>, n: number, seed: number): T[] {
  return n <= 0 ? [] : fc.sample(arb, { seed, numRuns: n });
}
