/**
 * Variable-time Ed25519 scalar multiplication for PUBLIC points and PUBLIC scalars only: the
 * exact prime-order subgroup check (subgroup-check.ts) and the group commitment
 * R = Σ D_i + Σ ρ_i·E_i of a signing run (signing-core.ts). Never pass a secret: the
 * operation sequence depends on every input.
 *
 * Formulas: RFC 8032 §5.1.4 doubling and addition for twisted Edwards curves with a = −1 in
 * extended coordinates (X : Y : Z : T), x = X/Z, y = Y/Z, xy = T/Z, run in WebAssembly
 * (edwards-wasm.ts: field arithmetic in 10 limbs, ~6× cheaper than BigInt). They are complete
 * on Ed25519 (a = −1 is a square and d a non-square mod p, so no denominator 1 ± d·x₁x₂y₁y₂
 * vanishes; Bernstein–Lange, "Twisted Edwards curves", Thm 3.3 / Hisil et al. §3): they give
 * the group law for every pair of points, the identity and torsion points included, so a walk
 * built from them computes exactly the scalar multiple it encodes.
 *
 * The walk interleaves all scalars of a linear combination over one chain of doublings
 * (Straus) with width-5 NAF; a doubling not followed by an addition skips T, an addition
 * followed by a doubling skips T₃, and table entries carry 2d·T (and the negated entries are
 * precomputed), so an addition costs 8 multiplications.
 */
import type { ed25519 } from '@noble/curves/ed25519.js';
import {
  ARENA_START,
  COORDINATE,
  FIELD_BYTES,
  POINT_BYTES,
  edwardsWasm,
  type EdwardsWasm,
} from './edwards-wasm.ts';
import { affineFromModule } from './point-codec.ts';

type EdwardsPoint = InstanceType<typeof ed25519.Point>;

/** NAF window width of `linearCombinationEncoded` (digits odd, |digit| < 2^(WINDOW−1)). */
const WINDOW = 5;
const MAX_BITS = 256;

/**
 * Width-`WINDOW` NAF digits of `k` ∈ [0, 2^256), least significant first: Σ dᵢ2ⁱ = k, every
 * non-zero digit odd with |dᵢ| < 2^(WINDOW−1), and at least WINDOW − 1 zeros after each.
 * Computed on small numbers (one bit per array slot), not BigInt operations per bit.
 */
export function nafDigits(k: bigint): Int8Array {
  if (k < 0n || k >= 1n << BigInt(MAX_BITS)) throw new RangeError('scalar out of range');
  const bits = new Uint8Array(MAX_BITS + WINDOW + 1);
  let rest = k;
  for (let word = 0; rest !== 0n; word++) {
    let chunk = Number(rest & 0xffffffffn);
    rest >>= 32n;
    for (let bit = 0; bit < 32; bit++) {
      bits[word * 32 + bit] = chunk & 1;
      chunk >>>= 1;
    }
  }
  const digits = new Int8Array(bits.length);
  const full = 1 << WINDOW;
  const half = full >> 1;
  for (let index = 0; index < bits.length; index++) {
    if (bits[index] === 0) continue;
    // Every slot holds 0 or 1 here (carries are propagated as they are made).
    let value = 0;
    for (let offset = WINDOW - 1; offset >= 0; offset--) {
      value = value * 2 + (bits[index + offset] ?? 0);
    }
    if (value >= half) value -= full;
    digits[index] = value;
    for (let offset = 0; offset < WINDOW; offset++) bits[index + offset] = 0;
    if (value < 0) {
      // k − (negative digit)·2^index carries 2^(index+WINDOW) upwards.
      let position = index + WINDOW;
      bits[position] = (bits[position] as number) + 1;
      while (bits[position] === 2) {
        bits[position] = 0;
        position++;
        bits[position] = (bits[position] as number) + 1;
      }
    }
  }
  return digits;
}

/** Writes a noble point's extended coordinates at `address`. */
function writePoint(wasm: EdwardsWasm, address: number, point: EdwardsPoint): void {
  wasm.writeField(address + COORDINATE.x, point.X);
  wasm.writeField(address + COORDINATE.y, point.Y);
  wasm.writeField(address + COORDINATE.z, point.Z);
  wasm.writeField(address + COORDINATE.t, point.T);
}

/**
 * Σ scalars[i]·points[i] left in the module's memory at `accumulator` (T valid), for public
 * points and public scalars in [0, 2^256). One chain of doublings shared by all scalars; each
 * point gets a table of the odd multiples its NAF uses and of their negations. `end`: the first
 * module address the computation did not use.
 */
function combineInModule(
  wasm: EdwardsWasm,
  points: readonly EdwardsPoint[],
  scalars: readonly bigint[],
): { accumulator: number; end: number } {
  if (points.length !== scalars.length) throw new RangeError('points and scalars differ');
  const digits = scalars.map(nafDigits);
  const accumulator = ARENA_START;
  const current = accumulator + POINT_BYTES;
  const twice = current + POINT_BYTES;
  const twiceEntry = twice + POINT_BYTES;
  let next = twiceEntry + POINT_BYTES;
  let top = -1;
  /** Per point: address of its table (entries 1P, 3P, …, then −1P, −3P, …) and its size. */
  const tables: { readonly address: number; readonly count: number }[] = [];
  for (const naf of digits) {
    let largest = 0;
    for (let position = 0; position < naf.length; position++) {
      const digit = naf[position] as number;
      if (digit === 0) continue;
      if (position > top) top = position;
      largest = Math.max(largest, Math.abs(digit));
    }
    const count = (largest + 1) >> 1;
    tables.push({ address: next, count });
    next += 2 * count * POINT_BYTES;
  }
  wasm.reserve(next);
  points.forEach((point, index) => {
    const { address, count } = tables[index] as { address: number; count: number };
    if (count === 0) return;
    writePoint(wasm, current, point);
    wasm.entry(address, current);
    if (count > 1) {
      wasm.double(twice, current, 1);
      wasm.entry(twiceEntry, twice);
      for (let odd = 1; odd < count; odd++) {
        wasm.addPoint(current, current, twiceEntry, 1);
        wasm.entry(address + odd * POINT_BYTES, current);
      }
    }
    for (let odd = 0; odd < count; odd++) {
      wasm.negateEntry(address + (count + odd) * POINT_BYTES, address + odd * POINT_BYTES);
    }
  });
  wasm.writeField(accumulator + COORDINATE.x, 0n);
  wasm.writeField(accumulator + COORDINATE.y, 1n);
  wasm.writeField(accumulator + COORDINATE.z, 1n);
  wasm.writeField(accumulator + COORDINATE.t, 0n);
  const adds: number[] = [];
  for (let position = top; position >= 0; position--) {
    adds.length = 0;
    for (let index = 0; index < digits.length; index++) {
      if ((digits[index] as Int8Array)[position] !== 0) adds.push(index);
    }
    const last = position === 0;
    if (position !== top) wasm.double(accumulator, accumulator, adds.length > 0 || last ? 1 : 0);
    for (let count = 0; count < adds.length; count++) {
      const index = adds[count] as number;
      const digit = (digits[index] as Int8Array)[position] as number;
      const table = tables[index] as { address: number; count: number };
      const slot = ((Math.abs(digit) - 1) >> 1) + (digit < 0 ? table.count : 0);
      const withT = count < adds.length - 1 || last ? 1 : 0;
      wasm.addPoint(accumulator, accumulator, table.address + slot * POINT_BYTES, withT);
    }
  }
  return { accumulator, end: next };
}

/**
 * Σ scalars[i]·points[i] for public points and public scalars in [0, 2^256), and its RFC 8032
 * encoding, made affine in the module (one inversion by the fixed chain there instead of
 * noble's BigInt one).
 */
export function linearCombinationEncoded(
  points: readonly EdwardsPoint[],
  scalars: readonly bigint[],
): { point: EdwardsPoint; bytes: Uint8Array } {
  const wasm = edwardsWasm();
  const { accumulator, end } = combineInModule(wasm, points, scalars);
  wasm.reserve(end + 3 * FIELD_BYTES);
  return affineFromModule(wasm, accumulator, end);
}

/** True iff Σ scalars[i]·points[i] is the identity (X ≡ 0, Y ≡ Z; Z ≢ 0 by completeness). */
export function combinationIsIdentity(
  points: readonly EdwardsPoint[],
  scalars: readonly bigint[],
): boolean {
  const wasm = edwardsWasm();
  const result = combineInModule(wasm, points, scalars).accumulator;
  return (
    wasm.readField(result + COORDINATE.x) === 0n &&
    wasm.readField(result + COORDINATE.y) === wasm.readField(result + COORDINATE.z)
  );
}
