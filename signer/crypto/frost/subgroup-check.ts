/**
 * Exact prime-order subgroup membership for Ed25519 points (RFC 9591 §6.1 DeserializeElement:
 * "[h]·P ≠ I" is not enough, the element must satisfy [ℓ]P = I), ~10× faster than noble's
 * generic `isTorsionFree()` (a width-4 one-shot wNAF on BigInt field arithmetic).
 *
 * Why this is exact, not probabilistic: E(F_p) ≅ Z/ℓ × Z/8, so a point P = A + T (A of order
 * dividing ℓ, T of order dividing 8) has [ℓ]P = [ℓ]T = [ℓ mod 8]T = [5]T, which is the identity
 * iff T is. `hasPrimeOrder(P)` computes [ℓ]P itself, for this one point, with no randomness
 * and no batching: the width-5 NAF walk of extended-coordinates.ts (recoding checked by its
 * tests: Σ dᵢ2ⁱ = ℓ) with the complete RFC 8032 formulas (complete on Ed25519: the group law
 * for every pair of points, the identity and torsion points included), so the walk yields
 * exactly [ℓ]P. The result is the identity iff X ≡ 0 and Y ≡ Z (mod p) (Z ≠ 0 by
 * completeness). The point is public, so variable time is fine.
 *
 * No batching across points, on purpose: E(F_p)[8] is cyclic, so any single combination
 * Σ cᵢPᵢ maps the torsion parts (T₁, …, T_k) ∈ (Z/8)^k to Z/8 with a non-trivial kernel for
 * k ≥ 2 (a random combination misses an order-2 component with probability 1/2): one walk
 * per point.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { combinationIsIdentity } from './extended-coordinates.ts';

type EdwardsPoint = InstanceType<typeof ed25519.Point>;

const ELL = ed25519.Point.Fn.ORDER;

/**
 * True iff `point` (any point of E(F_p), e.g. from `Point.fromBytes`) lies in the prime-order
 * subgroup, i.e. [ℓ]·point is the identity. Exact; see the module comment.
 */
export function hasPrimeOrder(point: EdwardsPoint): boolean {
  return combinationIsIdentity([point], [ELL]);
}
