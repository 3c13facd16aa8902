/**
 * Domain-separated, length-prefixed hashing for Fiat–Shamir challenges, commitments and key
 * derivation. Every input is framed as `u32be(length) ‖ bytes` after the framed domain tag, so
 * no two different part lists (or domains) encode to the same hash input. Strings are UTF-8;
 * numbers are non-negative integers below 2^32 encoded as 4-byte big-endian parts.
 *
 * `taggedHash` is SHA-256 (32 bytes); `taggedExpand` is SHAKE256 with a caller-chosen output
 * length, for deriving several values (scalars, seeds) from one framed input. SHA-256 and
 * SHA-512 use node:crypto (OpenSSL), about 4× faster than the pure-JS hashes on the
 * OT-extension hot path; SHAKE256 of short inputs with short outputs (≤ 2 blocks each, the
 * thousands of PRG rows and row hashes per DKLs23 signature) runs on keccak.ts's WebAssembly
 * permutation, which avoids node:crypto's per-call cost, and everything longer on OpenSSL. The
 * outputs are the standard functions, so any implementation reproduces them.
 */
import { createHash } from 'node:crypto';
import { SHAKE256_RATE, shake256WasmInto } from './keccak.ts';

/** One framed input of a tagged hash. */
export type TranscriptPart = Uint8Array | string | number;

const textEncoder = new TextEncoder();

function partBytes(part: TranscriptPart): Uint8Array {
  if (typeof part === 'string') return textEncoder.encode(part);
  if (typeof part === 'number') {
    if (!Number.isInteger(part) || part < 0 || part > 0xffffffff) {
      throw new RangeError('transcript number part must be an integer in [0, 2^32)');
    }
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, part);
    return out;
  }
  return part;
}

/** The exact byte string hashed for `domain` and `parts`: every element length-prefixed. */
export function encodeTranscript(domain: string, parts: readonly TranscriptPart[]): Uint8Array {
  const encoded = [partBytes(domain), ...parts.map(partBytes)];
  let total = 0;
  for (const bytes of encoded) total += 4 + bytes.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const bytes of encoded) {
    view.setUint32(offset, bytes.length);
    out.set(bytes, offset + 4);
    offset += 4 + bytes.length;
  }
  return out;
}

/** SHA-256 over the framed domain and parts. */
export function taggedHash(domain: string, ...parts: TranscriptPart[]): Uint8Array {
  return sha256(encodeTranscript(domain, parts));
}

/** SHA-256 of `input` (node:crypto), as a plain Uint8Array. */
export function sha256(input: Uint8Array): Uint8Array {
  const digest = createHash('sha256').update(input).digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
}

/** SHA-512 of `input` (node:crypto), as a plain Uint8Array. */
export function sha512(input: Uint8Array): Uint8Array {
  const digest = createHash('sha512').update(input).digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
}

/** SHAKE256 of `input` with `length` output bytes, as a plain Uint8Array (see the header). */
export function shake256(input: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  shake256Into(input, length, out, 0);
  return out;
}

/** `shake256` writing into `out` at `outOffset` (hot loops reuse one output buffer). */
export function shake256Into(
  input: Uint8Array,
  length: number,
  out: Uint8Array,
  outOffset: number,
): void {
  if (input.length < 2 * SHAKE256_RATE && length <= 2 * SHAKE256_RATE) {
    shake256WasmInto(input, length, out, outOffset);
    return;
  }
  if (outOffset < 0 || outOffset + length > out.length) {
    throw new RangeError('output does not fit');
  }
  const digest = createHash('shake256', { outputLength: length }).update(input).digest();
  out.set(digest, outOffset);
  digest.fill(0);
}

/** SHAKE256 over the framed domain and parts, `length` output bytes. */
export function taggedExpand(
  domain: string,
  length: number,
  ...parts: TranscriptPart[]
): Uint8Array {
  return shake256(encodeTranscript(domain, parts), length);
}
