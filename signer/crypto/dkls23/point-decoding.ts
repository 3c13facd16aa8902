/**
 * Decoding of compressed secp256k1 points (SEC 1 §2.3.4: 0x02/0x03 ‖ x, 33 bytes) with the
 * square root on the WebAssembly field (secp256k1-wasm.ts `powSqrt`, a fixed chain) instead of
 * noble's BigInt exponentiation (~0.15 ms, a tenth of a keygen party's CPU). Accepts exactly
 * what noble's `Point.fromBytes` accepts for 33-byte inputs: prefix 2 or 3, x < p, x³ + 7 a
 * square; y is the root whose parity the prefix names (tested against noble). Public inputs.
 */
import { FIELD_BYTES, P, secp256k1Wasm } from './secp256k1-wasm.ts';

/** The affine point a compressed encoding names, or undefined when it names none. */
export function decompressPoint(bytes: Uint8Array): { x: bigint; y: bigint } | undefined {
  if (bytes.length !== 33) return undefined;
  const prefix = bytes[0] as number;
  if (prefix !== 2 && prefix !== 3) return undefined;
  const x = BigInt('0x' + Buffer.from(bytes.subarray(1)).toString('hex'));
  if (x >= P) return undefined;
  const rightSide = (((((x * x) % P) * x) % P) + 7n) % P;
  const wasm = secp256k1Wasm();
  // Scratch elements 14 and 15 are free outside the point functions.
  wasm.writeField(14 * FIELD_BYTES, rightSide);
  wasm.powSqrt(15 * FIELD_BYTES, 14 * FIELD_BYTES);
  let y = wasm.readField(15 * FIELD_BYTES);
  if ((y * y) % P !== rightSide) return undefined;
  if (Number(y & 1n) !== (prefix & 1)) y = P - y;
  return { x, y };
}
