/**
 * Stream framing: on a TCP connection each message is `[u32 big-endian length][length bytes]`.
 * TCP delivers a byte stream, not messages, so a frame may arrive in many chunks and a chunk may
 * hold many frames; `FrameDecoder` reassembles them incrementally. Like every parser in murmur it
 * never throws on junk: a length over the limit is a typed error, and the caller (the transport)
 * counts it and closes the connection, since nothing after a bad length can be trusted.
 *
 * Memory grows with the bytes actually received, never with a length a peer merely claims: a
 * frame's body is kept as the chunks that carried it and joined once complete.
 */

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** The largest length the prefix can express. */
export const MAX_FRAME_LENGTH = 0xffff_ffff;

/** The length prefix of a frame carrying `length` bytes. */
export function encodeFrameHeader(length: number): Uint8Array {
  if (!(Number.isInteger(length) && length >= 0 && length <= MAX_FRAME_LENGTH)) {
    throw new RangeError(`frame length must be an integer in [0, ${MAX_FRAME_LENGTH}], got ${length}`);
  }
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, length, false);
  return header;
}

/** `bytes` framed: header and body in one new array (for tests and small messages). */
export function encodeFrame(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + bytes.length);
  out.set(encodeFrameHeader(bytes.length), 0);
  out.set(bytes, FRAME_HEADER_BYTES);
  return out;
}

/** Why a stream can no longer be parsed. */
export interface FrameError {
  kind: 'oversized';
  /** The length the prefix announced. */
  length: number;
  /** The decoder's limit. */
  max: number;
}

export interface FrameResult {
  /** Complete frames, in order; each a fresh array the receiver owns. */
  frames: Uint8Array[];
  /** Set once the stream is unusable; frames before the fault are still returned. */
  error?: FrameError;
}

export class FrameDecoder {
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFill = 0;
  /** Length of the frame whose body is being read; -1 while reading a header. */
  private need = -1;
  private parts: Uint8Array[] = [];
  private got = 0;
  private failure: FrameError | undefined = undefined;

  /** @param maxFrameBytes the largest body accepted (the prefix not included). */
  constructor(private readonly maxFrameBytes: number) {
    if (!(Number.isInteger(maxFrameBytes) && maxFrameBytes >= 0 && maxFrameBytes <= MAX_FRAME_LENGTH)) {
      throw new RangeError(`maxFrameBytes must be an integer in [0, ${MAX_FRAME_LENGTH}], got ${maxFrameBytes}`);
    }
  }

  /** Bytes held for a frame not yet complete (its prefix included). */
  get buffered(): number {
    return this.need < 0 ? this.headerFill : FRAME_HEADER_BYTES + this.got;
  }

  /**
   * Feeds the next chunk of the stream. Keeps references into `chunk` until the frame it carries
   * completes, so the caller must not modify a chunk after pushing it (Node never reuses a
   * socket's read buffers). After an error every push returns that error and no frames.
   */
  push(chunk: Uint8Array): FrameResult {
    const frames: Uint8Array[] = [];
    if (this.failure !== undefined) return { frames, error: this.failure };
    let offset = 0;
    while (offset < chunk.length) {
      if (this.need < 0) {
        const n = Math.min(FRAME_HEADER_BYTES - this.headerFill, chunk.length - offset);
        this.header.set(chunk.subarray(offset, offset + n), this.headerFill);
        this.headerFill += n;
        offset += n;
        if (this.headerFill < FRAME_HEADER_BYTES) break;
        this.headerFill = 0;
        const length = new DataView(this.header.buffer).getUint32(0, false);
        if (length > this.maxFrameBytes) {
          this.failure = { kind: 'oversized', length, max: this.maxFrameBytes };
          this.parts = [];
          return { frames, error: this.failure };
        }
        if (length === 0) {
          frames.push(new Uint8Array(0));
          continue;
        }
        this.need = length;
        this.got = 0;
      }
      const n = Math.min(this.need - this.got, chunk.length - offset);
      if (this.got === 0 && n === this.need) {
        // The whole body in this chunk: one copy, so that the frame does not pin the chunk (and
        // a plain Uint8Array: `Buffer#slice` would return a view).
        frames.push(new Uint8Array(chunk.subarray(offset, offset + n)));
      } else {
        this.parts.push(chunk.subarray(offset, offset + n));
        this.got += n;
        if (this.got < this.need) break;
        frames.push(concat(this.parts, this.need));
        this.parts = [];
      }
      offset += n;
      this.need = -1;
      this.got = 0;
    }
    return { frames };
  }
}

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
