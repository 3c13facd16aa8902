/**
 * k·B for a SECRET scalar k (FROST nonce commitments, RFC 9591 §5.1 commit), in constant time
 * on the WebAssembly field arithmetic of edwards-wasm.ts, with the affine encoding computed
 * there too. noble's blinded `BASE.multiply` cost ~0.4 ms of BigInt arithmetic per call, two
 * calls per signing run; this is ~0.05 ms.
 *
 * Method (the fixed-base comb of Bernstein et al., "High-speed high-security signatures",
 * §4, as in ref10's ge_scalarmult_base): k = Σ eᵢ·16^i with signed digits eᵢ ∈ [−8, 8]
 * (i = 0 … 63), and a table of jᵢ·256^m·B for m = 0 … 31, j = 1 … 8 in affine Niels form
 * (y + x, y − x, 2d·x·y), computed once per thread from noble's points. Then
 *   A = Σ_{i odd} eᵢ·16^(i−1)·B;  A = 16·A;  A += Σ_{i even} eᵢ·16^i·B,
 * 64 table selections, 64 mixed additions and 4 doublings, all with complete formulas (a digit
 * of 0 adds the identity). The sequence of operations and every memory address are the same
 * for every k: digits come from bit operations on bytes (no branch), `select` reads all eight
 * entries of a position and merges under masks, `mixedAdd`, `double` and `invert` are
 * straight-line code. The result's affine x, y (computed with the fixed inversion chain, so the
 * projective Z, which depends on k, never reaches variable-time code) are the public commitment.
 *
 * Secrets: the digits are wiped here, and the module's scratch and accumulator (which held
 * partial sums) are zeroed before returning, also on the way out of an exception.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  BASE_ACCUMULATOR,
  BASE_TABLE_BYTES,
  BASE_TABLE_START,
  COORDINATE,
  FIELD_BYTES,
  NIELS_ADDRESS,
  NIELS_BYTES,
  P,
  SECRET_SCRATCH_END,
  edwardsWasm,
  type EdwardsWasm,
} from './edwards-wasm.ts';
import { affineFromModule } from './point-codec.ts';
import { signedRadix16 } from '../signed-radix16.ts';

const Point = ed25519.Point;
type EdwardsPoint = InstanceType<typeof Point>;

const D2 = (2n * Point.CURVE().d) % P;
const POSITIONS = 32;
const MULTIPLES = 8;
/** The scratch field elements [0, 16 × 80) and [NIELS_ADDRESS, SECRET_SCRATCH_END). */
const SCRATCH_END = 16 * FIELD_BYTES;
/** Z⁻¹ and the affine x and y (scratch elements 13 to 15, wiped with the rest). */
const AFFINE_SCRATCH = 13 * FIELD_BYTES;

let tableWritten: EdwardsWasm | undefined;

/** Writes j·256^m·B (m < 32, 1 ≤ j ≤ 8) once per module instance. */
function baseTable(): EdwardsWasm {
  const wasm = edwardsWasm();
  if (tableWritten === wasm) return wasm;
  wasm.reserve(BASE_TABLE_START + BASE_TABLE_BYTES);
  let position = Point.BASE;
  for (let m = 0; m < POSITIONS; m++) {
    let multiple = position;
    for (let j = 1; j <= MULTIPLES; j++) {
      const { x, y } = multiple.toAffine();
      const entry = BASE_TABLE_START + (m * MULTIPLES + j - 1) * NIELS_BYTES;
      wasm.writeField(entry, y + x);
      wasm.writeField(entry + FIELD_BYTES, y - x);
      wasm.writeField(entry + 2 * FIELD_BYTES, D2 * x * y);
      multiple = multiple.add(position);
    }
    for (let doubling = 0; doubling < 8; doubling++) position = position.double();
  }
  tableWritten = wasm;
  return wasm;
}

/** k·B and its encoding, for a secret scalar given as 32 little-endian bytes, k < 2^255. */
export function multiplyBase(scalar: Uint8Array): { point: EdwardsPoint; bytes: Uint8Array } {
  if (scalar.length !== 32 || ((scalar[31] as number) & 0x80) !== 0) {
    throw new RangeError('scalar must be 32 little-endian bytes below 2^255');
  }
  const wasm = baseTable();
  const digits = new Int8Array(64);
  try {
    signedRadix16(scalar, digits);
    const accumulator = BASE_ACCUMULATOR;
    wasm.writeField(accumulator + COORDINATE.x, 0n);
    wasm.writeField(accumulator + COORDINATE.y, 1n);
    wasm.writeField(accumulator + COORDINATE.z, 1n);
    wasm.writeField(accumulator + COORDINATE.t, 0n);
    const addDigit = (index: number): void => {
      const table = BASE_TABLE_START + (index >> 1) * MULTIPLES * NIELS_BYTES;
      wasm.select(NIELS_ADDRESS, table, digits[index] as number);
      wasm.mixedAdd(accumulator, accumulator, NIELS_ADDRESS);
    };
    for (let index = 1; index < 64; index += 2) addDigit(index);
    wasm.double(accumulator, accumulator, 0);
    wasm.double(accumulator, accumulator, 0);
    wasm.double(accumulator, accumulator, 0);
    wasm.double(accumulator, accumulator, 1);
    for (let index = 0; index < 64; index += 2) addDigit(index);
    return affineFromModule(wasm, accumulator, AFFINE_SCRATCH);
  } finally {
    digits.fill(0);
    wasm.wipe(0, SCRATCH_END);
    wasm.wipe(NIELS_ADDRESS, SECRET_SCRATCH_END);
  }
}
