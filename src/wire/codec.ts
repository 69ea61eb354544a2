/**
 * The wire codec, the wire layer's public face with `types.ts`: packets and rumors to protobuf
 * bytes (`proto/murmur/v1/gossip.proto`) and back.
 *
 * Encoding (`encode.ts`) and decoding (`decode.ts`) are written by hand over @bufbuild's
 * `BinaryWriter`/`BinaryReader` rather than through the generated `toBinary`/`fromBinary`: the
 * reflective path took about 6.5 µs to encode and decode a ping carrying two member rumors
 * (before converting bigints and hex ids), the hand-written one about 2 µs, and the simulator
 * moves millions of packets. Tests compare every message with the generated code byte for byte,
 * so the .proto file stays the source of truth.
 *
 * Each rumor is encoded once: the gossip core sends the same rumor object in many packets, and
 * `encodePacket` splices the cached bytes in. Decoders never throw: junk gives a `DecodeError`.
 */
import { readPacket, readRumor } from './decode.js';
import { encodePacketBody, encodeRumorMessage, probeBodySize, putProbe, putVarint, varintSize } from './encode.js';
import { WireReader, toDecodeError, type DecodeResult } from './reader.js';
import { PACKET } from './schema.js';
import type { Packet, Rumor } from './types.js';

export type { DecodeError, DecodeErrorCode, DecodeResult } from './reader.js';

/**
 * The largest input `decodePacket` reads unless told otherwise: 32 MiB. A full state sync of a
 * large ring travels over a stream as one packet; anything bigger is refused before it is parsed.
 */
export const MAX_PACKET_BYTES = 32 * 1024 * 1024;

export interface DecodeOptions {
  /** Inputs longer than this are `too-large`. @default MAX_PACKET_BYTES */
  maxBytes?: number;
}

// ---------------------------------------------------------------------------------------------
// Rumors
// ---------------------------------------------------------------------------------------------

/**
 * Encoded rumors, by rumor object: the wire layer's one piece of module-level state, and a safe
 * one. Rumors are immutable values, so an entry never goes stale and needs no invalidation; the
 * map is keyed by identity, so a lookup needs no hashing; and a WeakMap keeps no rumor alive, so
 * the cache shrinks by itself as the gossip core drops rumors. Passing a cache through `deps`
 * instead would make every caller of `encodePacket` carry it for no gain.
 */
const rumorBytes = new WeakMap<Rumor, Uint8Array>();

/**
 * The `murmur.v1.Rumor` message for `rumor`, encoded on the first call for that object and
 * cached after. The returned bytes are shared: do not modify them, nor the rumor.
 * @throws MurmurError `BAD_INPUT` when a field is outside its wire range (a member id that is not
 *   32 lowercase hex characters, a negative or unsafe integer, a port above 65535).
 */
export function encodeRumor(rumor: Rumor): Uint8Array {
  let bytes = rumorBytes.get(rumor);
  if (bytes === undefined) {
    bytes = encodeRumorMessage(rumor);
    rumorBytes.set(rumor, bytes);
  }
  return bytes;
}

/** Bytes of `encodeRumor(rumor)`. */
export function encodedRumorSize(rumor: Rumor): number {
  return encodeRumor(rumor).byteLength;
}

/**
 * Bytes that `rumor` adds to any packet that carries it: a one-byte tag, the length as a varint,
 * and the rumor. A packet's size is `packetSize` of the same packet without rumors plus this,
 * summed over its rumors, so a sender can fill a datagram up to a byte budget.
 */
export function rumorFieldSize(rumor: Rumor): number {
  const size = encodeRumor(rumor).byteLength;
  return 1 + varintSize(size) + size;
}

/** Decodes one `murmur.v1.Rumor` message (the bytes of `encodeRumor`). Never throws. */
export function decodeRumor(bytes: Uint8Array, opts?: DecodeOptions): DecodeResult<Rumor> {
  return decodeWith(bytes, opts, (r) => readRumor(r, r.len));
}

// ---------------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------------

const NO_RUMORS: readonly Rumor[] = [];

/**
 * The `murmur.v1.Packet` message for `packet`: its body, then its rumors (piggybacked or
 * carried), each spliced in as a field tag, a length and the bytes cached by `encodeRumor`. The
 * output is allocated once, at its exact size.
 * @throws MurmurError `BAD_INPUT` when a field is outside its wire range.
 */
export function encodePacket(packet: Packet): Uint8Array {
  switch (packet.type) {
    case 'ping':
      return encodeProbe(PACKET.ping, packet.seq, packet.from, packet.target, packet.piggyback);
    case 'ack':
      return encodeProbe(PACKET.ack, packet.seq, packet.from, '', packet.piggyback);
    case 'nack':
      return encodeProbe(PACKET.nack, packet.seq, packet.from, '', NO_RUMORS);
    default: {
      const body = encodePacketBody(packet);
      const rumors = packetRumors(packet);
      if (rumors.length === 0) return body;
      const out = new Uint8Array(body.byteLength + rumorsSize(rumors));
      out.set(body, 0);
      putRumors(out, body.byteLength, rumors);
      return out;
    }
  }
}

/** Bytes of `encodePacket(packet)`. */
export function packetSize(packet: Packet): number {
  switch (packet.type) {
    case 'ping':
    case 'ack':
    case 'nack': {
      const bodySize = probeBodySize(packet.seq, packet.type === 'ping' ? packet.target : '');
      return 1 + varintSize(bodySize) + bodySize + rumorsSize(packetRumors(packet));
    }
    default:
      return encodePacketBody(packet).byteLength + rumorsSize(packetRumors(packet));
  }
}

/**
 * Decodes one `murmur.v1.Packet` message. Never throws: junk, truncated or oversized input gives
 * `{ok: false, error}`. Bytes fields of the result are copies, not views of `bytes`.
 */
export function decodePacket(bytes: Uint8Array, opts?: DecodeOptions): DecodeResult<Packet> {
  return decodeWith(bytes, opts, readPacket);
}

/** Ping, ack and nack, the hot path: sized, allocated once, written in place. */
function encodeProbe(tag: number, seq: number, from: string, target: string, rumors: readonly Rumor[]): Uint8Array {
  const bodySize = probeBodySize(seq, target);
  const headSize = 1 + varintSize(bodySize) + bodySize;
  const out = new Uint8Array(headSize + rumorsSize(rumors));
  putRumors(out, putProbe(out, 0, tag, bodySize, seq, from, target), rumors);
  return out;
}

function packetRumors(packet: Packet): readonly Rumor[] {
  switch (packet.type) {
    case 'ping':
    case 'ack':
    case 'ping-req':
      return packet.piggyback;
    case 'push':
    case 'state':
    case 'sync-pull':
    case 'sync-rumors':
      return packet.rumors;
    default:
      return NO_RUMORS;
  }
}

function rumorsSize(rumors: readonly Rumor[]): number {
  let size = 0;
  for (const rumor of rumors) size += rumorFieldSize(rumor);
  return size;
}

/** Writes each rumor's field (tag, length, cached bytes) from `out[pos]`; `out` has room. */
function putRumors(out: Uint8Array, pos: number, rumors: readonly Rumor[]): void {
  for (const rumor of rumors) {
    const bytes = encodeRumor(rumor);
    out[pos++] = PACKET.rumors;
    pos = putVarint(out, pos, bytes.byteLength);
    out.set(bytes, pos);
    pos += bytes.byteLength;
  }
}

function decodeWith<T>(bytes: Uint8Array, opts: DecodeOptions | undefined, read: (r: WireReader) => T): DecodeResult<T> {
  try {
    const maxBytes = opts?.maxBytes ?? MAX_PACKET_BYTES;
    if (bytes.byteLength > maxBytes) {
      return {
        ok: false,
        error: { code: 'too-large', message: `${bytes.byteLength} bytes is over the limit of ${maxBytes}` },
      };
    }
    return { ok: true, value: read(new WireReader(bytes)) };
  } catch (err) {
    return { ok: false, error: toDecodeError(err) };
  }
}
