/**
 * Coalesced session frames (issue 15 item 2): the session frames one signer has for one peer
 * in the same event-loop turn travel as one NATS request with one reply, instead of one
 * request and one reply each.
 *
 * Wire form of a batch (the `mpcnode.<node>.session` subject, frame type 0x04):
 *   0x04 ‖ u16 count ‖ count × (u32 length ‖ frame)
 * where every inner frame is a complete envelope (0x01) or control (0x02) frame, exactly the
 * bytes that would have been sent alone. Probes and nested batches are not allowed inside.
 * The reply is `0x04 ‖ count status bytes`, one `FrameReply` per inner frame, in order.
 *
 * Contract: a batch adds no trust. It carries no signature of its own and the receiver checks
 * nothing about it beyond its framing: every inner frame is dispatched on its own, through the
 * same path and with the same checks (envelope signature or AEAD, signed control) as a frame
 * sent alone, and gets its own status; a forged, mis-addressed or malformed inner frame fails
 * alone. A batch whose framing is malformed is refused whole before any inner frame is
 * dispatched (reply: the single byte `Rejected`), so a sender may then resend its frames one
 * by one without any being delivered twice; a receiver that predates batches answers the
 * same single byte (unknown frame type), which is how senders fall back during an upgrade.
 */

export const BATCH_FRAME_TYPE = 0x04;

/** Frame types allowed inside a batch (envelope, control). */
const INNER_FRAME_TYPES: ReadonlySet<number> = new Set([0x01, 0x02]);

/** Most inner frames a receiver accepts in one batch (senders may put fewer in). */
export const MAX_BATCH_FRAMES = 64;

/** Limits of one batch a sender makes: frames, and bytes of inner frames. */
export interface BatchLimits {
  readonly maxFrames: number;
  readonly maxBytes: number;
}

/**
 * 16 frames: the receiver acks a batch once it has dispatched every frame in it, so the cap
 * bounds how much a batch delays its first frame's ack (the send timeout is per request).
 * 512 KiB: well under NATS' default 1 MiB payload.
 */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxFrames: 16, maxBytes: 512 * 1024 };

/** Encodes inner frames as one batch frame. Throws `RangeError` when a limit is exceeded. */
export function encodeFrameBatch(
  frames: readonly Uint8Array[],
  limits: BatchLimits = DEFAULT_BATCH_LIMITS,
): Uint8Array {
  if (frames.length < 1 || frames.length > Math.min(limits.maxFrames, MAX_BATCH_FRAMES)) {
    throw new RangeError(`a batch holds 1 to ${limits.maxFrames} frames`);
  }
  let length = 3;
  let inner = 0;
  for (const frame of frames) {
    if (frame.length < 1 || !INNER_FRAME_TYPES.has(frame[0] as number)) {
      throw new RangeError('only envelope and control frames may be batched');
    }
    inner += frame.length;
    length += 4 + frame.length;
  }
  if (inner > limits.maxBytes) throw new RangeError('batch too large');
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  out[0] = BATCH_FRAME_TYPE;
  view.setUint16(1, frames.length);
  let offset = 3;
  for (const frame of frames) {
    view.setUint32(offset, frame.length);
    out.set(frame, offset + 4);
    offset += 4 + frame.length;
  }
  return out;
}

/**
 * Splits a batch frame (including its type byte) into its inner frames (views into `bytes`).
 * Throws `RangeError` on any malformed batch: wrong type, count 0 or above the limit,
 * truncated or trailing bytes, an empty inner frame or one of a type not allowed inside.
 */
export function decodeFrameBatch(
  bytes: Uint8Array,
  maxFrames: number = MAX_BATCH_FRAMES,
): Uint8Array[] {
  if (bytes.length < 3 || bytes[0] !== BATCH_FRAME_TYPE) throw new RangeError('not a batch');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint16(1);
  if (count < 1 || count > maxFrames) throw new RangeError('bad batch count');
  const frames: Uint8Array[] = [];
  let offset = 3;
  for (let index = 0; index < count; index++) {
    if (offset + 4 > bytes.length) throw new RangeError('truncated batch');
    const length = view.getUint32(offset);
    offset += 4;
    if (length < 1 || offset + length > bytes.length) throw new RangeError('truncated batch');
    const frame = bytes.subarray(offset, offset + length);
    if (!INNER_FRAME_TYPES.has(frame[0] as number)) {
      throw new RangeError('frame type not allowed in a batch');
    }
    frames.push(frame);
    offset += length;
  }
  if (offset !== bytes.length) throw new RangeError('trailing bytes after batch');
  return frames;
}

export function encodeBatchReply(statuses: readonly number[]): Uint8Array {
  return Uint8Array.of(BATCH_FRAME_TYPE, ...statuses);
}

/**
 * The per-frame statuses of a batch reply for `count` frames, or undefined when the reply is
 * not a batch reply of that size (a refused batch: the single byte `Rejected`).
 */
export function decodeBatchReply(reply: Uint8Array, count: number): number[] | undefined {
  if (reply.length !== count + 1 || reply[0] !== BATCH_FRAME_TYPE) return undefined;
  return [...reply.subarray(1)];
}

/**
 * Cuts a queue of frame sizes into consecutive groups within the limits, in order; a frame
 * that alone exceeds `maxBytes` forms a group of its own (it travels unbatched).
 */
export function groupForBatches(sizes: readonly number[], limits: BatchLimits): number[][] {
  const groups: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  sizes.forEach((size, index) => {
    if (
      current.length > 0 &&
      (current.length >= limits.maxFrames || bytes + size > limits.maxBytes)
    ) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += size;
  });
  if (current.length > 0) groups.push(current);
  return groups;
}
