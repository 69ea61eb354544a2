/**
 * The rumor store: every rumor this member holds, keyed by (kind, group, id), with the digest
 * that anti-entropy compares. One store holds every kind, members included.
 *
 * A store can start from a shared, frozen `StoreBase` and keep only its own changes on top (copy
 * on write). One member never needs this; the simulator does: it boots 10 000 members from one
 * converged snapshot without 10 000 × 10 000 map entries.
 *
 * Digest: each entry has a 64-bit fingerprint (two 32-bit halves) of its key and its standing in
 * the merge order; a bucket's hash is the XOR of its entries' fingerprints, so an update costs two
 * XORs, and two stores agree exactly when every bucket does (barring a 64-bit collision).
 */
import type { Health, Rumor } from '../wire/index.js';
import { fingerprintText, mergeRumor, rumorKey } from './rumor.js';

export interface StoredRumor {
  readonly key: string;
  readonly rumor: Rumor;
  readonly hi: number;
  readonly lo: number;
  readonly bucket: number;
  /** When this member stored this value (ms, the core's clock). */
  readonly storedAt: number;
}

/** A frozen store that many stores can start from. */
export interface StoreBase {
  readonly entries: ReadonlyMap<string, StoredRumor>;
  readonly bucketHi: Uint32Array;
  readonly bucketLo: Uint32Array;
  readonly memberIds: readonly string[];
  /** Member records by health, so that a store built on this base need not count them. */
  readonly memberHealth: Readonly<Record<Health, number>>;
  /** The member ids in ring order (`memberRing`), computed once for every store on this base. */
  readonly ring: readonly string[];
}

export interface StoreMerge {
  changed: boolean;
  /** The value held before the merge. */
  previous: Rumor | undefined;
  /** The value held after the merge. */
  current: Rumor;
}

export class RumorStore {
  readonly buckets: number;
  private base: StoreBase | undefined;
  /** Own entries; `null` marks a base entry deleted here. */
  private readonly own = new Map<string, StoredRumor | null>();
  private readonly bucketHi: Uint32Array;
  private readonly bucketLo: Uint32Array;
  private baseIds: readonly string[];
  private extraIds: string[] = [];
  private count: number;
  /** Deleted members whose ids are still in the index. */
  private readonly deletedIndexed = new Set<string>();
  /** Bumped whenever a member id is added or removed. */
  private membershipVersion = 0;
  private ringCache: { version: number; ring: readonly string[] } | undefined;

  constructor(opts: { buckets: number; base?: StoreBase }) {
    this.buckets = opts.buckets;
    this.base = opts.base;
    if (opts.base && opts.base.bucketHi.length !== opts.buckets) throw new Error('store base has another bucket count');
    this.bucketHi = opts.base ? opts.base.bucketHi.slice() : new Uint32Array(opts.buckets);
    this.bucketLo = opts.base ? opts.base.bucketLo.slice() : new Uint32Array(opts.buckets);
    this.baseIds = opts.base ? opts.base.memberIds : [];
    this.count = opts.base ? opts.base.entries.size : 0;
  }

  get size(): number {
    return this.count;
  }

  get(key: string): StoredRumor | undefined {
    const mine = this.own.get(key);
    if (mine !== undefined) return mine ?? undefined;
    return this.base?.entries.get(key);
  }

  /** Merges one rumor; stores the result when it changed. */
  merge(incoming: Rumor, now: number): StoreMerge {
    const key = rumorKey(incoming);
    const held = this.get(key);
    const result = mergeRumor(held?.rumor, incoming);
    if (result.changed) this.put(key, result.value, now, held);
    return { changed: result.changed, previous: held?.rumor, current: result.value };
  }

  /** Stores `rumor` whatever the merge order says (the member's own record, GC transitions). */
  set(rumor: Rumor, now: number): void {
    const key = rumorKey(rumor);
    this.put(key, rumor, now, this.get(key));
  }

  delete(key: string): boolean {
    const held = this.get(key);
    if (!held) return false;
    this.xor(held);
    if (this.base?.entries.has(key)) this.own.set(key, null);
    else this.own.delete(key);
    this.count--;
    if (held.rumor.kind === 'member') {
      this.deletedIndexed.add(held.rumor.member.id);
      this.membershipVersion++;
    }
    this.compactIds();
    return true;
  }

  *values(): IterableIterator<StoredRumor> {
    if (this.base) {
      for (const [key, entry] of this.base.entries) if (!this.own.has(key)) yield entry;
    }
    for (const entry of this.own.values()) if (entry) yield entry;
  }

  /** Member ids in the order they were first stored (may include ids since deleted: check `get`). */
  memberIdCount(): number {
    return this.baseIds.length + this.extraIds.length;
  }

  memberIdAt(i: number): string | undefined {
    return i < this.baseIds.length ? this.baseIds[i] : this.extraIds[i - this.baseIds.length];
  }

  /**
   * Every member id held, in ring order: sorted by a hash of the id, so that every member that
   * holds the same members computes the same ring (aligned probing uses it).
   */
  memberRing(): readonly string[] {
    if (this.ringCache?.version === this.membershipVersion) return this.ringCache.ring;
    let ring: readonly string[];
    if (this.base && this.membershipVersion === 0) ring = this.base.ring;
    else {
      const ids: string[] = [];
      for (let i = 0; i < this.memberIdCount(); i++) {
        const id = this.memberIdAt(i) as string;
        if (this.get(memberKey(id))) ids.push(id);
      }
      ring = toRing(ids);
    }
    this.ringCache = { version: this.membershipVersion, ring };
    return ring;
  }

  root(): { hi: number; lo: number } {
    let hi = 0;
    let lo = 0;
    for (let b = 0; b < this.buckets; b++) {
      hi ^= this.bucketHi[b] as number;
      lo ^= this.bucketLo[b] as number;
    }
    return { hi: hi >>> 0, lo: lo >>> 0 };
  }

  /** Bucket hashes, hi and lo interleaved. */
  bucketHashes(): number[] {
    const out = new Array<number>(this.buckets * 2);
    for (let b = 0; b < this.buckets; b++) {
      out[b * 2] = this.bucketHi[b] as number;
      out[b * 2 + 1] = this.bucketLo[b] as number;
    }
    return out;
  }

  /** Buckets whose hash differs from `hashes` (hi, lo interleaved, as `bucketHashes`). */
  differingBuckets(hashes: readonly number[]): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.buckets; b++) {
      if (hashes[b * 2] !== this.bucketHi[b] || hashes[b * 2 + 1] !== this.bucketLo[b]) out.push(b);
    }
    return out;
  }

  inBuckets(buckets: ReadonlySet<number>): Rumor[] {
    const out: Rumor[] = [];
    for (const entry of this.values()) if (buckets.has(entry.bucket)) out.push(entry.rumor);
    return out;
  }

  /** Freezes the current contents as a base other stores can share. */
  freeze(): StoreBase {
    const entries = new Map<string, StoredRumor>();
    for (const entry of this.values()) entries.set(entry.key, entry);
    const memberIds: string[] = [];
    const memberHealth: Record<Health, number> = { alive: 0, suspect: 0, confirmed: 0, departed: 0 };
    for (let i = 0; i < this.memberIdCount(); i++) {
      const id = this.memberIdAt(i) as string;
      const entry = entries.get(memberKey(id));
      if (entry?.rumor.kind !== 'member') continue;
      memberIds.push(id);
      memberHealth[entry.rumor.health]++;
    }
    return { entries, bucketHi: this.bucketHi.slice(), bucketLo: this.bucketLo.slice(), memberIds, memberHealth, ring: toRing(memberIds) };
  }

  private put(key: string, rumor: Rumor, now: number, held: StoredRumor | undefined): void {
    if (held) this.xor(held);
    else {
      this.count++;
      if (rumor.kind === 'member') {
        if (!this.deletedIndexed.delete(rumor.member.id)) this.extraIds.push(rumor.member.id);
        this.membershipVersion++;
      }
    }
    const bucket = held ? held.bucket : bucketOf(key, this.buckets);
    const [hi, lo] = fingerprint(key, rumor);
    const entry: StoredRumor = { key, rumor, hi, lo, bucket, storedAt: now };
    this.own.set(key, entry);
    this.xor(entry);
  }

  private xor(entry: StoredRumor): void {
    this.bucketHi[entry.bucket] = ((this.bucketHi[entry.bucket] as number) ^ entry.hi) >>> 0;
    this.bucketLo[entry.bucket] = ((this.bucketLo[entry.bucket] as number) ^ entry.lo) >>> 0;
  }

  /** Rebuilds the id index once a quarter of it points at deleted members. */
  private compactIds(): void {
    const total = this.memberIdCount();
    if (this.deletedIndexed.size < 64 || this.deletedIndexed.size * 4 < total) return;
    const live: string[] = [];
    for (let i = 0; i < total; i++) {
      const id = this.memberIdAt(i) as string;
      if (this.get(memberKey(id))) live.push(id);
    }
    this.baseIds = [];
    this.extraIds = live;
    this.deletedIndexed.clear();
  }
}

/** Ids sorted by `hash32(id)` (ties by id): the ring order every member agrees on. */
function toRing(ids: readonly string[]): string[] {
  const keyed = ids.map((id) => ({ id, h: hash32(id, 0x7f4a7c15) }));
  keyed.sort((a, b) => a.h - b.h || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return keyed.map((k) => k.id);
}

export function memberKey(id: string): string {
  return `member\u0000\u0000${id}`;
}

export function bucketOf(key: string, buckets: number): number {
  return hash32(key, 0x9747b28c) & (buckets - 1);
}

function fingerprint(key: string, rumor: Rumor): [number, number] {
  const text = `${key}\u0001${fingerprintText(rumor)}`;
  return [hash32(text, 0x2545f491), hash32(text, 0x61c88647)];
}

/** A 32-bit string hash (murmur3's mixing on UTF-16 code units). */
export function hash32(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    let k = text.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= text.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
