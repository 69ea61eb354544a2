/**
 * Mutation of valid encoded messages: the second source of fuzz inputs, after generation
 * (`inputs.ts`). A mutation knows just enough protobuf to aim at what decoders trip on: it walks
 * the fields (`fieldsOf`) to corrupt a length prefix, duplicate a field or splice one message's
 * field into another; the rest is byte-level (bit flips, truncation, insertion, huge varints).
 * Seeded: the same seed and corpus give the same inputs.
 */
import type { Random } from '../../src/core/index.js';
import { varint } from './inputs.js';

export type MutationKind =
  | 'bit-flip'
  | 'byte-set'
  | 'truncate'
  | 'splice'
  | 'insert'
  | 'delete'
  | 'duplicate-field'
  | 'length-corrupt'
  | 'huge-varint'
  | 'wire-type'
  | 'append-field';

export const MUTATIONS: readonly MutationKind[] = [
  'bit-flip',
  'byte-set',
  'truncate',
  'splice',
  'insert',
  'delete',
  'duplicate-field',
  'length-corrupt',
  'huge-varint',
  'wire-type',
  'append-field',
];

/** One field of a protobuf message: where its tag starts, its value starts, and it ends. */
export interface FieldSpan {
  start: number;
  /** Where the value starts (for a length-delimited field: after the length prefix). */
  valueStart: number;
  /** Where the length prefix starts (length-delimited fields only), else -1. */
  lengthAt: number;
  end: number;
  wireType: number;
}

/** The fields of `bytes[start, end)`, as far as they parse; nested ones with `depth` > 0. */
export function fieldsOf(bytes: Uint8Array, start = 0, end = bytes.length, depth = 2): FieldSpan[] {
  const out: FieldSpan[] = [];
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    const tag = readVarint(bytes, pos, end);
    if (tag === undefined) break;
    pos = tag.next;
    const wireType = tag.value % 8;
    let lengthAt = -1;
    let valueStart = pos;
    switch (wireType) {
      case 0: {
        const v = readVarint(bytes, pos, end);
        if (v === undefined) return out;
        pos = v.next;
        break;
      }
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2: {
        const len = readVarint(bytes, pos, end);
        if (len === undefined) return out;
        lengthAt = pos;
        valueStart = len.next;
        pos = len.next + len.value;
        break;
      }
      default:
        return out;
    }
    if (pos > end) return out;
    out.push({ start: fieldStart, valueStart, lengthAt, end: pos, wireType });
    if (wireType === 2 && depth > 0) out.push(...fieldsOf(bytes, valueStart, pos, depth - 1));
  }
  return out;
}

function readVarint(bytes: Uint8Array, pos: number, end: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10 && pos < end; i++) {
    const b = bytes[pos++] as number;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return { value, next: pos };
    scale *= 128;
  }
  return undefined;
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x10, 0x12];
/** Varints that overflow something: 2^32, 2^53, 2^64 − 1, an 11-byte one, a truncated one. */
const HUGE_VARINTS: readonly number[][] = [
  [0x80, 0x80, 0x80, 0x80, 0x10],
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0x80],
];

export class Mutator {
  constructor(private readonly random: Random) {}

  /** `base` with 1 to `max` mutations; `corpus` supplies splice partners. */
  mutate(base: Uint8Array, corpus: readonly Uint8Array[], max = 4): { bytes: Uint8Array; kinds: MutationKind[] } {
    let bytes = base;
    const kinds: MutationKind[] = [];
    const n = 1 + this.random.int(max);
    for (let i = 0; i < n; i++) {
      const kind = this.pick(MUTATIONS);
      bytes = this.apply(kind, bytes, corpus);
      kinds.push(kind);
    }
    return { bytes, kinds };
  }

  apply(kind: MutationKind, b: Uint8Array, corpus: readonly Uint8Array[]): Uint8Array {
    const r = this.random;
    switch (kind) {
      case 'bit-flip': {
        if (b.length === 0) return b;
        const out = b.slice();
        const flips = 1 + r.int(4);
        for (let i = 0; i < flips; i++) {
          const at = r.int(out.length);
          out[at] = (out[at] as number) ^ (1 << r.int(8));
        }
        return out;
      }
      case 'byte-set': {
        if (b.length === 0) return b;
        const out = b.slice();
        out[r.int(out.length)] = this.pick(INTERESTING_BYTES);
        return out;
      }
      case 'truncate':
        return b.subarray(0, r.int(b.length + 1)).slice();
      case 'splice': {
        const other = corpus.length > 0 ? this.pick(corpus) : b;
        return concat(b.subarray(0, r.int(b.length + 1)), other.subarray(r.int(other.length + 1)));
      }
      case 'insert': {
        const at = r.int(b.length + 1);
        const junk = Uint8Array.from({ length: 1 + r.int(16) }, () => r.int(256));
        return concat(b.subarray(0, at), junk, b.subarray(at));
      }
      case 'delete': {
        if (b.length === 0) return b;
        const at = r.int(b.length);
        return concat(b.subarray(0, at), b.subarray(at + 1 + r.int(Math.min(16, b.length - at))));
      }
      case 'duplicate-field': {
        const f = this.pickField(b);
        if (f === undefined) return b;
        const copies = 1 + r.int(3);
        const field = b.subarray(f.start, f.end);
        return concat(b.subarray(0, f.end), ...Array.from({ length: copies }, () => field), b.subarray(f.end));
      }
      case 'length-corrupt': {
        const f = this.pickField(b, (x) => x.lengthAt >= 0);
        if (f === undefined) return b;
        const declared = f.end - f.valueStart;
        const choice = r.int(5);
        const len =
          choice === 0 ? declared + 1 + r.int(8) : choice === 1 ? Math.max(0, declared - 1 - r.int(8)) : choice === 2 ? 0 : choice === 3 ? 2 ** 31 : 2 ** 32 + r.int(1000);
        const prefix = choice === 4 && r.int(2) === 0 ? this.pick(HUGE_VARINTS) : varint(len);
        return concat(b.subarray(0, f.lengthAt), Uint8Array.from(prefix), b.subarray(f.valueStart));
      }
      case 'huge-varint': {
        const f = this.pickField(b, (x) => x.wireType === 0);
        const huge = Uint8Array.from(this.pick(HUGE_VARINTS));
        if (f === undefined) {
          // No varint field: add one (field 1..15) with a huge value.
          const tag = Uint8Array.of(((1 + r.int(15)) << 3) | 0);
          return concat(b, tag, huge);
        }
        const tagEnd = readVarint(b, f.start, f.end)?.next ?? f.start + 1;
        return concat(b.subarray(0, tagEnd), huge, b.subarray(f.end));
      }
      case 'wire-type': {
        const f = this.pickField(b);
        if (f === undefined) return b;
        const out = b.slice();
        out[f.start] = ((out[f.start] as number) & 0xf8) | r.int(8);
        return out;
      }
      case 'append-field': {
        // Another message's field, nested or not, added at the end: rumors into the wrong packet.
        const other = corpus.length > 0 ? this.pick(corpus) : b;
        const f = this.pickField(other);
        return f === undefined ? b : concat(b, other.subarray(f.start, f.end));
      }
    }
  }

  private pickField(b: Uint8Array, accept: (f: FieldSpan) => boolean = () => true): FieldSpan | undefined {
    const fields = fieldsOf(b).filter(accept);
    return fields.length === 0 ? undefined : this.pick(fields);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.random.int(items.length)] as T;
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
