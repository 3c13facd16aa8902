/**
 * Exact prime-order subgroup membership for Ed25519 points (RFC 9591 §6.1 DeserializeElement:
 * "[h]·P ≠ I" is not enough, the element must satisfy [ℓ]P = I), faster than noble's generic
 * `isTorsionFree()` (a width-4 one-shot wNAF through the general multiplier).
 *
 * Why this is exact, not probabilistic: E(F_p) ≅ Z/ℓ × Z/8, so a point P = A + T (A of order
 * dividing ℓ, T of order dividing 8) has [ℓ]P = [ℓ]T = [ℓ mod 8]T = [5]T, which is the identity
 * iff T is. `hasPrimeOrder(P)` computes [ℓ]P itself, for this one point, with no randomness
 * and no batching: ℓ is written in width-4 NAF once at load (digits in {0, ±1, ±3, ±5, ±7},
 * Σ dᵢ2ⁱ = ℓ, checked at load), and the walk doubles and adds with the complete RFC 8032
 * formulas of extended-coordinates.ts (complete on Ed25519: the group law for every pair of
 * points, the identity and torsion points included), so the walk yields exactly [ℓ]P. The
 * result is the identity iff X ≡ 0 and Y ≡ Z (mod p) (Z ≠ 0 by completeness). The point is
 * public, so variable time is fine.
 *
 * No batching across points, on purpose: E(F_p)[8] is cyclic, so any single combination
 * Σ cᵢPᵢ maps the torsion parts (T₁, …, T_k) ∈ (Z/8)^k to Z/8 with a non-trivial kernel for
 * k ≥ 2 (a random combination misses an order-2 component with probability 1/2): one walk
 * per point.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  IDENTITY,
  add,
  double,
  fromPoint,
  isIdentity,
  oddMultiples,
  type Extended,
  type TableEntry,
} from './extended-coordinates.ts';

const Point = ed25519.Point;
type EdwardsPoint = InstanceType<typeof Point>;

const ELL = Point.Fn.ORDER;
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

/**
 * True iff `point` (any point of E(F_p), e.g. from `Point.fromBytes`) lies in the prime-order
 * subgroup, i.e. [ℓ]·point is the identity. Exact; see the module comment.
 */
export function hasPrimeOrder(point: EdwardsPoint): boolean {
  // Odd multiples 1P, 3P, 5P, 7P.
  const table = oddMultiples(fromPoint(point), 1 << (WINDOW - 2));
  let acc: Extended = IDENTITY;
  for (let index = 0; index < ELL_DIGITS.length; index++) {
    const digit = ELL_DIGITS[index] as number;
    if (index > 0) acc = double(acc, digit !== 0);
    if (digit !== 0) {
      acc = add(acc, table[(Math.abs(digit) - 1) >> 1] as TableEntry, digit < 0, false);
    }
  }
  return isIdentity(acc);
}
