/**
 * The stream of packet bytes every gossip target is fed: a seeded mix of generated packets
 * (`inputs.ts`, encoded with the real encoder), mutations of them (`mutate.ts`), raw protobuf,
 * random bytes and a few pathological shapes. Generation is batched (fast-check samples
 * `BATCH` values per seed), and every mutation starts from a generated packet, so the whole
 * stream is reproducible from `seed`.
 */
import type fc from 'fast-check';
import { seededRandom, type Random } from '../../src/core/index.js';
import { encodePacket, encodeRumor, type Packet, type Rumor } from '../../src/wire/index.js';
import { packetArb, rawProtobufArb, rumorArb, sample, type Pools } from './inputs.js';
import { Mutator, concat, type MutationKind } from './mutate.js';

export type InputKind = 'generated' | 'mutated' | 'raw-protobuf' | 'random' | 'pathological';

export interface PacketInput {
  kind: InputKind;
  bytes: Uint8Array;
  /** The packet it was encoded from (generated inputs only). */
  packet?: Packet;
  mutations?: MutationKind[];
}

const BATCH = 256;
/** The corpus of valid encodings mutations start from and splice with. */
const CORPUS = 512;

export class PacketSource {
  readonly random: Random;
  private readonly mutator: Mutator;
  private readonly packets: fc.Arbitrary<Packet>;
  private readonly raw = rawProtobufArb();
  private batch: Packet[] = [];
  private rawBatch: Uint8Array[] = [];
  private batchSeed: number;
  readonly corpus: Uint8Array[] = [];
  readonly counts: Record<InputKind, number> = { generated: 0, mutated: 0, 'raw-protobuf': 0, random: 0, pathological: 0 };

  constructor(
    readonly pools: Pools,
    seed: number,
    /** The largest input made, in bytes (65 507 for a datagram). */
    private readonly maxBytes = 65_507,
  ) {
    this.random = seededRandom(seed);
    this.mutator = new Mutator(seededRandom(seed ^ 0x5eed));
    this.packets = packetArb(pools);
    this.batchSeed = seed;
  }

  next(): PacketInput {
    const input = this.make();
    this.counts[input.kind]++;
    if (input.bytes.length > this.maxBytes) {
      // Cut to what the channel carries: no longer the packet it was encoded from.
      input.bytes = input.bytes.subarray(0, this.maxBytes);
      delete input.packet;
    }
    return input;
  }

  /** A valid packet (generated and encoded), also kept in the corpus. */
  generated(): PacketInput {
    if (this.batch.length === 0) this.batch = sample(this.packets, BATCH, this.batchSeed++);
    const packet = this.batch.pop() as Packet;
    const bytes = encodePacket(packet);
    if (this.corpus.length < CORPUS) this.corpus.push(bytes);
    else this.corpus[this.random.int(CORPUS)] = bytes;
    return { kind: 'generated', bytes, packet };
  }

  private make(): PacketInput {
    const roll = this.random.next();
    if (roll < 0.35 || this.corpus.length === 0) return this.generated();
    if (roll < 0.8) {
      const base = this.corpus[this.random.int(this.corpus.length)] as Uint8Array;
      const { bytes, kinds } = this.mutator.mutate(base, this.corpus);
      return { kind: 'mutated', bytes, mutations: kinds };
    }
    if (roll < 0.9) {
      if (this.rawBatch.length === 0) this.rawBatch = sample(this.raw, BATCH, this.batchSeed++);
      return { kind: 'raw-protobuf', bytes: this.rawBatch.pop() as Uint8Array };
    }
    if (roll < 0.97) {
      const length = this.random.next() < 0.9 ? this.random.int(200) : this.random.int(this.maxBytes + 1);
      return { kind: 'random', bytes: randomBytes(this.random, length) };
    }
    return { kind: 'pathological', bytes: pathological(this.random, this.maxBytes) };
  }
}

/** Rumor bytes for `decodeRumor`: generated, and mutated. */
export class RumorSource {
  private readonly random: Random;
  private readonly mutator: Mutator;
  private readonly rumors: fc.Arbitrary<Rumor>;
  private batch: Rumor[] = [];
  private batchSeed: number;
  private readonly corpus: Uint8Array[] = [];

  constructor(pools: Pools, seed: number) {
    this.random = seededRandom(seed);
    this.mutator = new Mutator(seededRandom(seed ^ 0xa11ce));
    this.rumors = rumorArb(pools);
    this.batchSeed = seed;
  }

  next(): Uint8Array {
    if (this.corpus.length > 0 && this.random.next() < 0.6) {
      return this.mutator.mutate(this.corpus[this.random.int(this.corpus.length)] as Uint8Array, this.corpus).bytes;
    }
    if (this.batch.length === 0) this.batch = sample(this.rumors, BATCH, this.batchSeed++);
    const bytes = encodeRumor(this.batch.pop() as Rumor);
    if (this.corpus.length < CORPUS) this.corpus.push(bytes);
    else this.corpus[this.random.int(CORPUS)] = bytes;
    return bytes;
  }
}

export function randomBytes(random: Random, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = random.int(256);
  return out;
}

/**
 * Shapes that stress a decoder rather than its rules: groups nested thousands deep (protobuf's
 * deprecated wire types 3/4, which a skipper must recurse into), thousands of empty rumors,
 * a length prefix of 2^32, a body repeated thousands of times, all zeros, all 0xff.
 */
export function pathological(random: Random, maxBytes: number): Uint8Array {
  const n = Math.max(1, Math.min(maxBytes, 1000 + random.int(60_000)));
  switch (random.int(7)) {
    case 0:
      return new Uint8Array(Math.floor(n / 2)).fill(0x0b); // field 1, start group, nested
    case 1:
      return concat(new Uint8Array(Math.floor(n / 2)).fill(0x0b), new Uint8Array(Math.floor(n / 2)).fill(0x0c));
    case 2: {
      // A ping, then thousands of empty rumors (tag 0x7a, length 0).
      const ping = Uint8Array.of(0x0a, 0x12, 0x12, 0x10, ...new Uint8Array(16));
      const rumors = new Uint8Array(2 * Math.floor((n - ping.length) / 2));
      for (let i = 0; i < rumors.length; i += 2) rumors[i] = 0x7a;
      return concat(ping, rumors);
    }
    case 3:
      return Uint8Array.of(0x2a, 0x80, 0x80, 0x80, 0x80, 0x10, 0x0a); // push, length 2^32
    case 4: {
      // A push body field repeated: the last one wins, thousands of times.
      const push = Uint8Array.of(0x2a, 0x12, 0x0a, 0x10, ...new Uint8Array(16).fill(7));
      return concat(...Array.from({ length: Math.floor(n / push.length) }, () => push));
    }
    case 5:
      return new Uint8Array(n);
    default:
      return new Uint8Array(n).fill(0xff);
  }
}
