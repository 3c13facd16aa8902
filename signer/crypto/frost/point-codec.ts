/**
 * RFC 8032 §5.1.2–§5.1.3 point encoding and strict decoding for Ed25519, with the square
 * root's exponentiation on the WebAssembly field (edwards-wasm.ts `pow22523`, a fixed chain)
 * and the remaining dozen multiplications in BigInt. noble's `Point.fromBytes` runs the
 * exponentiation in BigInt (~0.1 ms); this is ~5× cheaper (18 µs). Inputs are public (received
 * commitments, keys), outputs affine coordinates.
 *
 * Strict, as RFC 9591 §6.1 DeserializeElement requires and noble's `fromBytes(bytes, false)`
 * does: a y ≥ p, an x = 0 with the sign bit set ("negative zero") and a y for which
 * (y² − 1)/(d·y² + 1) is not a square are rejected, so every accepted encoding is the
 * canonical encoding of its point (tested against noble on random and edge inputs). Subgroup
 * membership and the identity are the caller's checks (ed25519-group.ts decodeElement).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  ARENA_START,
  COORDINATE,
  FIELD_BYTES,
  P,
  edwardsWasm,
  type EdwardsWasm,
} from './edwards-wasm.ts';

const D = ed25519.Point.CURVE().d;
/** √−1 mod p = 2^((p − 1)/4). */
const SQRT_MINUS_ONE =
  19681161376707505956807079304988542015446066515923890162744021073123829784752n;

const modP = (value: bigint): bigint => {
  const reduced = value % P;
  return reduced < 0n ? reduced + P : reduced;
};

/** The 32-byte encoding of an affine point with canonical coordinates (RFC 8032 §5.1.2). */
export function encodeAffine(x: bigint, y: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let rest = y;
  for (let index = 0; index < 32; index++) {
    out[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  out[31] = (out[31] as number) | (Number(x & 1n) << 7);
  return out;
}

/**
 * The point in extended coordinates at module address `point`, made affine through the
 * module's fixed inversion chain (the same instructions whatever Z is), with its encoding. Uses
 * the three field elements from `scratch` (Z⁻¹, x, y); a caller whose point is secret wipes
 * them.
 */
export function affineFromModule(
  wasm: EdwardsWasm,
  point: number,
  scratch: number,
): { point: InstanceType<typeof ed25519.Point>; bytes: Uint8Array } {
  const inverse = scratch;
  const affineX = scratch + FIELD_BYTES;
  const affineY = scratch + 2 * FIELD_BYTES;
  wasm.invert(inverse, point + COORDINATE.z);
  wasm.multiply(affineX, point + COORDINATE.x, inverse);
  wasm.multiply(affineY, point + COORDINATE.y, inverse);
  const x = wasm.readField(affineX);
  const y = wasm.readField(affineY);
  return { point: ed25519.Point.fromAffine({ x, y }), bytes: encodeAffine(x, y) };
}

/**
 * The affine point a 32-byte encoding names (RFC 8032 §5.1.3), or undefined when the bytes
 * are not the canonical encoding of a curve point.
 */
export function decodeAffine(bytes: Uint8Array): { x: bigint; y: bigint } | undefined {
  if (bytes.length !== 32) return undefined;
  const sign = ((bytes[31] as number) >> 7) & 1;
  let y = 0n;
  for (let index = 31; index >= 0; index--) {
    y =
      (y << 8n) | BigInt(index === 31 ? (bytes[index] as number) & 0x7f : (bytes[index] as number));
  }
  if (y >= P) return undefined;
  const y2 = (y * y) % P;
  const u = modP(y2 - 1n);
  const v = (D * y2 + 1n) % P;
  const v3 = (((v * v) % P) * v) % P;
  const v7 = (((v3 * v3) % P) * v) % P;
  // x = u·v³·(u·v⁷)^((p − 5)/8)
  const wasm = edwardsWasm();
  wasm.writeField(ARENA_START, (u * v7) % P);
  wasm.pow22523(ARENA_START + FIELD_BYTES, ARENA_START);
  let x = (((u * v3) % P) * wasm.readField(ARENA_START + FIELD_BYTES)) % P;
  const check = (((v * x) % P) * x) % P;
  if (check !== u) {
    if (check !== modP(-u)) return undefined;
    x = (x * SQRT_MINUS_ONE) % P;
  }
  if (x === 0n && sign === 1) return undefined;
  if (Number(x & 1n) !== sign) x = P - x;
  return { x, y };
}
