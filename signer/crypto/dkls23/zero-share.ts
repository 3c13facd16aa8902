/**
 * Pairwise zero-sharing (DKLs23 Functionality 3.4): each pair (i, j) holds a shared seed from
 * the DKG; for a signing session party i computes ζ_i = Σ_{j ∈ S, j ≠ i} ±H(seed_ij, context),
 * + when i < j and − otherwise, so Σ_{i∈S} ζ_i = 0 while each ζ_i is uniform to anyone who
 * lacks one of i's honest seeds.
 */
import { Fn, scalarFromHash } from './group.ts';
import { taggedExpand } from '../transcript.ts';
import type { PartyId } from '../round-protocol.ts';

export function zeroShare(
  self: PartyId,
  signers: readonly PartyId[],
  seeds: ReadonlyMap<PartyId, Uint8Array>,
  sessionContext: Uint8Array,
): bigint {
  let share = 0n;
  for (const other of signers) {
    if (other === self) continue;
    const seed = seeds.get(other);
    if (seed === undefined) throw new RangeError(`zero share: no seed for party ${other}`);
    const low = Math.min(self, other);
    const high = Math.max(self, other);
    const value = scalarFromHash(
      taggedExpand('DKLs23/v1/zero-share', 32, seed, sessionContext, low, high),
    );
    share = self < other ? Fn.add(share, value) : Fn.sub(share, value);
  }
  return share;
}
