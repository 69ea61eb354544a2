/**
 * wire: murmur's protocol values (`types.ts`) and their protobuf encoding (`codec.ts`, schema in
 * `proto/murmur/v1/gossip.proto`). Pure functions, no I/O; decoders return a typed error for
 * junk and never throw. Start reading at `types.ts`, then `codec.ts`.
 */
export * from './types.js';
export {
  MAX_PACKET_BYTES,
  decodePacket,
  decodeRumor,
  encodePacket,
  encodeRumor,
  encodedRumorSize,
  packetSize,
  rumorFieldSize,
  type DecodeError,
  type DecodeErrorCode,
  type DecodeOptions,
  type DecodeResult,
} from './codec.js';
