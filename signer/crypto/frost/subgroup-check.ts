/**
 * Exact prime-order subgroup membership for Ed25519 points (RFC 9591 §6.1 DeserializeElement:
 * "[h]·P ≠ I" is not enough, the element must satisfy [ℓ]P = I), faster than noble's generic
 * `isTorsionFree()` (a width-4 one-shot wNAF through the general multiplier).
 *
 * Why this is exact, not probabilistic: E(F_p) ≅ Z/ℓ × Z/8, so a point P = A + T (A of order
 * dividing ℓ, T of order dividing 8) has [ℓ]P = [ℓ]T = [ℓ mod 8]T = [5]T, which is the identity
 * iff T is. `hasPrimeOrder(P)` computes [ℓ]P itself, for this one point, with no randomness
 * and no batching: ℓ is written in width-4 NAF once at load (digits in {0, ±1, ±3, ±5, ±7},
 * Σ dᵢ2ⁱ = ℓ, checked at load), and the walk doubles and adds with RFC 8032 §5.1.4's formulas
 * for twisted Edwards (a = −1) in extended coordinates. Those formulas are complete on
 * Ed25519 (a = −1 is a square and d a non-square mod p, so no denominator 1 ± d·x₁x₂y₁y₂
 * vanishes; Bernstein–Lange, "Twisted Edwards curves", Thm 3.3 / Hisil et al. §3): they give
 * the group law for every pair of points, the identity and torsion points included, so the
 * walk yields exactly [ℓ]P. The result is the identity iff X ≡ 0 and Y ≡ Z (mod p) (Z ≠ 0 by
 * completeness). The point is public, so variable time is fine.
 *
 * Where the time goes away: a doubling that is not followed by an addition skips T (3M + 4S),
 * additions skip T₃ (always followed by a doubling, which does not read T), 2d·T of the table
 * points is precomputed, and intermediate sums stay unreduced (only products are reduced).
 */
import { ed25519 } from '@noble/curves/ed25519.js';

const Point = ed25519.Point;
type EdwardsPoint = InstanceType<typeof Point>;

const P = Point.Fp.ORDER;
const ELL = Point.Fn.ORDER;
/** 2·d mod p. */
const D2 = (2n * ed25519.Point.CURVE().d) % P;

const WINDOW = 4;

/** Width-`WINDOW` NAF of `k`, most significant digit first. */
function nafDigits(k: bigint): number[] {
  const digits: number[] = [];
  const full = 1n << BigInt(WINDOW);
  const half = full >> 1n;
  let rest = k;
  while (rest > 0n) {
    let digit = 0n;
    if ((rest & 1n) === 1n) {
      digit = rest % full;
      if (digit >= half) digit -= full;
      rest -= digit;
    }
    digits.push(Number(digit));
    rest >>= 1n;
  }
  digits.reverse();
  let check = 0n;
  for (const digit of digits) check = 2n * check + BigInt(digit);
  if (check !== k) throw new Error('subgroup-check: NAF of the group order is wrong');
  return digits;
}

const ELL_DIGITS: readonly number[] = nafDigits(ELL);

interface Extended {
  x: bigint;
  y: bigint;
  z: bigint;
  t: bigint;
}

/** A table entry: the point and 2d·T, so that additions save a multiplication. */
interface TableEntry {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
  readonly t2d: bigint;
}

/** RFC 8032 doubling; T₃ only when `withT` (the next step is an addition). */
function double(point: Extended, withT: boolean): Extended {
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

/** RFC 8032 addition P₁ + sign·Q (Q from the table); T₃ only when `withT`. */
function add(point: Extended, entry: TableEntry, negate: boolean, withT: boolean): Extended {
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

function entryOf(point: Extended): TableEntry {
  return { x: point.x, y: point.y, z: point.z, t2d: (point.t * D2) % P };
}

/**
 * True iff `point` (any point of E(F_p), e.g. from `Point.fromBytes`) lies in the prime-order
 * subgroup, i.e. [ℓ]·point is the identity. Exact; see the module comment.
 */
export function hasPrimeOrder(point: EdwardsPoint): boolean {
  const base: Extended = { x: point.X, y: point.Y, z: point.Z, t: point.T };
  // Odd multiples 1P, 3P, 5P, 7P.
  const twice = double(base, true);
  const table: TableEntry[] = [entryOf(base)];
  let current = base;
  for (let index = 1; index < 1 << (WINDOW - 2); index++) {
    current = add(twice, entryOf(current), false, true);
    table.push(entryOf(current));
  }
  // The identity (0 : 1 : 1 : 0).
  let acc: Extended = { x: 0n, y: 1n, z: 1n, t: 0n };
  for (let index = 0; index < ELL_DIGITS.length; index++) {
    const digit = ELL_DIGITS[index] as number;
    if (index > 0) acc = double(acc, digit !== 0);
    if (digit !== 0) {
      acc = add(acc, table[(Math.abs(digit) - 1) >> 1] as TableEntry, digit < 0, false);
    }
  }
  return acc.x % P === 0n && (acc.y - acc.z) % P === 0n;
}
