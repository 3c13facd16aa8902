/**
 * Batch framing (issue 15): round trips, every malformed shape refused whole, reply decoding,
 * and grouping of a queue within the limits.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  BATCH_FRAME_TYPE,
  decodeBatchReply,
  decodeFrameBatch,
  encodeBatchReply,
  encodeFrameBatch,
  groupForBatches,
} from './frame-batch.ts';

const envelopeFrame = (...bytes: number[]): Uint8Array => Uint8Array.of(0x01, ...bytes);
const controlFrame = (...bytes: number[]): Uint8Array => Uint8Array.of(0x02, ...bytes);

describe('frame batches', () => {
  it('round-trips envelope and control frames in order', () => {
    const frames = [envelopeFrame(1, 2), controlFrame(3), envelopeFrame()];
    const decoded = decodeFrameBatch(encodeFrameBatch(frames));
    expect(decoded.map((frame) => [...frame])).toEqual(frames.map((frame) => [...frame]));
  });

  it('round-trips any list of frames within the limits', () => {
    const frame = fc
      .tuple(fc.constantFrom(0x01, 0x02), fc.uint8Array({ maxLength: 40 }))
      .map(([type, body]) => Uint8Array.of(type, ...body));
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 20 }), (frames) => {
        const decoded = decodeFrameBatch(encodeFrameBatch(frames));
        expect(decoded.map((f) => [...f])).toEqual(frames.map((f) => [...f]));
      }),
    );
  });

  it('refuses to batch probes, nested batches, empty frames or too many frames', () => {
    expect(() => encodeFrameBatch([Uint8Array.of(0x03, 1)])).toThrow(RangeError);
    expect(() => encodeFrameBatch([Uint8Array.of(BATCH_FRAME_TYPE)])).toThrow(RangeError);
    expect(() => encodeFrameBatch([new Uint8Array(0)])).toThrow(RangeError);
    expect(() => encodeFrameBatch([])).toThrow(RangeError);
    const limits = { maxFrames: 2, maxBytes: 100 };
    expect(() =>
      encodeFrameBatch([envelopeFrame(), envelopeFrame(), envelopeFrame()], limits),
    ).toThrow(RangeError);
    expect(() => encodeFrameBatch([new Uint8Array(101).fill(1)], limits)).toThrow(RangeError);
  });

  it('refuses every malformed batch whole', () => {
    const good = encodeFrameBatch([envelopeFrame(1), controlFrame(2)]);
    expect(decodeFrameBatch(good)).toHaveLength(2);
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      Uint8Array.of(BATCH_FRAME_TYPE, 0),
      Uint8Array.of(0x01, ...good.subarray(1)), // not a batch
      Uint8Array.of(BATCH_FRAME_TYPE, 0, 0), // count 0
      good.subarray(0, good.length - 1), // truncated inner frame
      Uint8Array.of(...good, 0), // trailing byte
      Uint8Array.of(BATCH_FRAME_TYPE, 0, 1, 0, 0, 0, 0), // empty inner frame
      encodeRaw([Uint8Array.of(0x03, 1)]), // probe inside
      encodeRaw([Uint8Array.of(BATCH_FRAME_TYPE, 0, 1, 0, 0, 0, 1, 1)]), // nested batch
      Uint8Array.of(BATCH_FRAME_TYPE, 0, 2, 0, 0, 0, 1, 1), // count larger than content
    ];
    for (const bytes of cases) expect(() => decodeFrameBatch(bytes)).toThrow(RangeError);
    // More frames than the receiver's limit.
    const three = encodeFrameBatch([envelopeFrame(), envelopeFrame(), envelopeFrame()]);
    expect(() => decodeFrameBatch(three, 2)).toThrow(RangeError);
  });

  it('decodes a reply only when it is a batch reply of the right size', () => {
    expect(decodeBatchReply(encodeBatchReply([0, 2, 3]), 3)).toEqual([0, 2, 3]);
    expect(decodeBatchReply(encodeBatchReply([0, 2]), 3)).toBeUndefined();
    expect(decodeBatchReply(Uint8Array.of(0x03), 3)).toBeUndefined(); // refused whole
    expect(decodeBatchReply(Uint8Array.of(0x00, 0, 0, 0), 3)).toBeUndefined();
  });

  it('groups a queue in order within the frame and byte limits', () => {
    const limits = { maxFrames: 3, maxBytes: 100 };
    expect(groupForBatches([10, 10, 10, 10, 10], limits)).toEqual([
      [0, 1, 2],
      [3, 4],
    ]);
    expect(groupForBatches([60, 30, 20, 150, 5], limits)).toEqual([[0, 1], [2], [3], [4]]);
    expect(groupForBatches([], limits)).toEqual([]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 150 }), { maxLength: 40 }), (sizes) => {
        const groups = groupForBatches(sizes, limits);
        expect(groups.flat()).toEqual(sizes.map((_, index) => index));
        for (const group of groups) {
          expect(group.length).toBeLessThanOrEqual(limits.maxFrames);
          const bytes = group.reduce((sum, index) => sum + (sizes[index] ?? 0), 0);
          if (group.length > 1) expect(bytes).toBeLessThanOrEqual(limits.maxBytes);
        }
      }),
    );
  });
});

/** A batch encoding without the encoder's checks (to build frames it would refuse). */
function encodeRaw(frames: readonly Uint8Array[]): Uint8Array {
  const parts: number[] = [BATCH_FRAME_TYPE, frames.length >> 8, frames.length & 0xff];
  for (const frame of frames) {
    parts.push(0, 0, frame.length >> 8, frame.length & 0xff, ...frame);
  }
  return Uint8Array.from(parts);
}
