/** The stream framing, byte by byte: TCP may cut a stream anywhere, and the decoder must not care. */
import { describe, expect, test } from 'vitest';
import { FrameDecoder, encodeFrame, encodeFrameHeader } from '../../src/net/frame.js';

const frames = [Uint8Array.of(1, 2, 3), new Uint8Array(0), new Uint8Array(300).fill(7), Uint8Array.of(9)];
const stream = Buffer.concat(frames.map(encodeFrame));

/** Feeds `chunks` one after the other and collects every frame. */
function decode(decoder: FrameDecoder, chunks: Uint8Array[]): Uint8Array[] {
  return chunks.flatMap((c) => decoder.push(c).frames);
}

describe('FrameDecoder', () => {
  test('the prefix is a big-endian u32', () => {
    expect([...encodeFrameHeader(0x01020304)]).toEqual([1, 2, 3, 4]);
    expect([...encodeFrame(Uint8Array.of(0xaa))]).toEqual([0, 0, 0, 1, 0xaa]);
  });

  test('frames coalesced in one chunk come out in order', () => {
    expect(decode(new FrameDecoder(1024), [stream])).toEqual(frames);
  });

  test('a stream fed one byte at a time gives the same frames', () => {
    const chunks = [...stream].map((b) => Uint8Array.of(b));
    expect(decode(new FrameDecoder(1024), chunks)).toEqual(frames);
  });

  test('a stream cut in two at every position gives the same frames', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const got = decode(new FrameDecoder(1024), [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(got, `cut at ${cut}`).toEqual(frames);
    }
  });

  test('buffered counts the bytes of the frame in progress', () => {
    const decoder = new FrameDecoder(1024);
    decoder.push(stream.subarray(0, 2));
    expect(decoder.buffered).toBe(2);
    decoder.push(stream.subarray(2, 5));
    expect(decoder.buffered).toBe(5);
    decoder.push(stream.subarray(5, 7));
    expect(decoder.buffered).toBe(0);
  });

  test('frames are plain arrays the receiver owns, not views of the chunk', () => {
    const chunk = Buffer.from(encodeFrame(Uint8Array.of(5, 6)));
    const [frame] = new FrameDecoder(16).push(chunk).frames;
    chunk.fill(0);
    expect(frame).toEqual(Uint8Array.of(5, 6));
    expect(Buffer.isBuffer(frame)).toBe(false);
  });

  test('a length over the limit is an error, after the frames before it, and the stream stays failed', () => {
    const decoder = new FrameDecoder(8);
    const result = decoder.push(Buffer.concat([encodeFrame(Uint8Array.of(1)), encodeFrameHeader(9), Uint8Array.of(0)]));
    expect(result).toEqual({ frames: [Uint8Array.of(1)], error: { kind: 'oversized', length: 9, max: 8 } });
    expect(decoder.push(encodeFrame(Uint8Array.of(2)))).toEqual({ frames: [], error: { kind: 'oversized', length: 9, max: 8 } });
  });

  test('a frame exactly at the limit is accepted', () => {
    expect(decode(new FrameDecoder(8), [encodeFrame(new Uint8Array(8))])).toEqual([new Uint8Array(8)]);
  });

  test('a claimed length allocates nothing until its bytes arrive', () => {
    const decoder = new FrameDecoder(0xffff_ffff);
    expect(decoder.push(encodeFrameHeader(0xffff_ffff))).toEqual({ frames: [] });
    expect(decoder.buffered).toBe(4);
  });
});
