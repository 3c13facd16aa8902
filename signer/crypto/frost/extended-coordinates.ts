/**
 * Variable-time Ed25519 point arithmetic in extended coordinates for PUBLIC points and PUBLIC
 * scalars only: the exact prime-order subgroup check (subgroup-check.ts) and the group
 * commitment R = Σ D_i + Σ ρ_i·E_i of a signing run (signing-core.ts). Never pass a secret:
 * the operation sequence and BigInt timings depend on every input.
 *
 * Formulas: RFC 8032 §5.1.4 doubling and addition for twisted Edwards curves with a = −1 in
 * extended coordinates (X : Y : Z : T), x = X/Z, y = Y/Z, xy = T/Z. They are complete on
 * Ed25519 (a = −1 is a square and d a non-square mod p, so no denominator 1 ± d·x₁x₂y₁y₂
 * vanishes; Bernstein–Lange, "Twisted Edwards curves", Thm 3.3 / Hisil et al. §3): they give
 * the group law for every pair of points, the identity and torsion points included, so a walk
 * built from them computes exactly the scalar multiple it encodes.
 *
 * Where the time goes away compared with noble's general multipliers (~3× faster per scalar
 * multiplication here, measured with bench/frost.bench.ts): a doubling not followed by an
 * addition skips T (3M + 4S), an addition followed by a doubling skips T₃, table points carry
 * 2d·T precomputed, sums and differences stay unreduced (only products are reduced, so every
 * coordinate is congruent, not equal, to its value in [0, p)), and the walk interleaves all
 * scalars of a linear combination over one chain of doublings (Straus) with width-5 NAF.
 */
import { ed25519 } from '@noble/curves/ed25519.js';

const Point = ed25519.Point;
type EdwardsPoint = InstanceType<typeof Point>;

/** p = 2^255 − 19. */
export const P: bigint = Point.Fp.ORDER;
/** 2·d mod p. */
const D2 = (2n * Point.CURVE().d) % P;

/** A point in extended coordinates; every coordinate congruent mod p to its true value. */
export interface Extended {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
  readonly t: bigint;
}

/** A table entry: the point and 2d·T, so that additions save a multiplication. */
export interface TableEntry {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
  readonly t2d: bigint;
}

export const IDENTITY: Extended = { x: 0n, y: 1n, z: 1n, t: 0n };

export function fromPoint(point: EdwardsPoint): Extended {
  return { x: point.X, y: point.Y, z: point.Z, t: point.T };
}

function canonical(value: bigint): bigint {
  const reduced = value % P;
  return reduced < 0n ? reduced + P : reduced;
}

/** A noble point from coordinates that carry a valid T (the last step computed it). */
export function toPoint(point: Extended): EdwardsPoint {
  return new Point(canonical(point.x), canonical(point.y), canonical(point.z), canonical(point.t));
}

/** True iff `point` is the identity (X ≡ 0, Y ≡ Z; Z ≢ 0 by completeness). */
export function isIdentity(point: Extended): boolean {
  return point.x % P === 0n && (point.y - point.z) % P === 0n;
}

/** RFC 8032 doubling; T₃ only when `withT` (the next step reads it). */
export function double(point: Extended, withT: boolean): Extended {
  const a = (point.x * point.x) % P;
  const b = (point.y * point.y) % P;
  const c = (2n * point.z * point.z) % P;
  const h = a + b;
  const sum = point.x + point.y;
  const e = h - ((sum * sum) % P);
  const g = a - b;
  const f = c + g;
  return {
    x: (e * f) % P,
    y: (g * h) % P,
    z: (f * g) % P,
    t: withT ? (e * h) % P : 0n,
  };
}

/** RFC 8032 addition P₁ + sign·Q (Q from a table); T₃ only when `withT`. */
export function add(point: Extended, entry: TableEntry, negate: boolean, withT: boolean): Extended {
  const qx = negate ? -entry.x : entry.x;
  const qt2d = negate ? -entry.t2d : entry.t2d;
  const a = ((point.y - point.x) * (entry.y - qx)) % P;
  const b = ((point.y + point.x) * (entry.y + qx)) % P;
  const c = (point.t * qt2d) % P;
  const d = (2n * point.z * entry.z) % P;
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return { x: (e * f) % P, y: (g * h) % P, z: (f * g) % P, t: withT ? (e * h) % P : 0n };
}

/** The table form of a point whose T is valid. */
export function entryOf(point: Extended): TableEntry {
  return { x: point.x, y: point.y, z: point.z, t2d: (point.t * D2) % P };
}

/** Odd multiples 1P, 3P, …, (2·count − 1)P as table entries. */
export function oddMultiples(point: Extended, count: number): TableEntry[] {
  const table: TableEntry[] = [entryOf(point)];
  if (count < 2) return table;
  const twice = entryOf(double(point, true));
  let current = point;
  for (let index = 1; index < count; index++) {
    current = add(current, twice, false, true);
    table.push(entryOf(current));
  }
  return table;
}

/** NAF window width of `linearCombination` (digits odd, |digit| < 2^(WINDOW−1)). */
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

/**
 * Σ scalars[i]·points[i] for public points and public scalars in [0, 2^256), as a noble point
 * (T valid). One chain of doublings shared by all scalars; each point gets a table of the odd
 * multiples its NAF actually uses.
 */
export function linearCombination(
  points: readonly EdwardsPoint[],
  scalars: readonly bigint[],
): EdwardsPoint {
  if (points.length !== scalars.length) throw new RangeError('points and scalars differ');
  const digits = scalars.map(nafDigits);
  let top = -1;
  const tables: TableEntry[][] = [];
  points.forEach((point, index) => {
    const naf = digits[index] as Int8Array;
    let largest = 0;
    for (let position = 0; position < naf.length; position++) {
      const digit = naf[position] as number;
      if (digit === 0) continue;
      if (position > top) top = position;
      largest = Math.max(largest, Math.abs(digit));
    }
    tables.push(largest === 0 ? [] : oddMultiples(fromPoint(point), (largest + 1) >> 1));
  });
  if (top < 0) return Point.ZERO;
  // The steps of the walk, so that each knows whether the next one reads T.
  let acc: Extended = IDENTITY;
  for (let position = top; position >= 0; position--) {
    const adds: number[] = [];
    for (let index = 0; index < digits.length; index++) {
      if ((digits[index] as Int8Array)[position] !== 0) adds.push(index);
    }
    const last = position === 0;
    if (position !== top) acc = double(acc, adds.length > 0 || last);
    adds.forEach((index, count) => {
      const digit = (digits[index] as Int8Array)[position] as number;
      const entry = (tables[index] as TableEntry[])[(Math.abs(digit) - 1) >> 1] as TableEntry;
      acc = add(acc, entry, digit < 0, count < adds.length - 1 || last);
    });
  }
  return toPoint(acc);
}
