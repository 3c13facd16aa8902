/**
 * Non-interactive Schnorr proof of knowledge of a discrete logarithm (Fiat–Shamir), over any
 * prime-order group. The challenge binds the domain, the caller's context (session, prover id,
 * anything else the proof must not be replayable outside of), the statement X and the nonce
 * commitment R: e = H(domain, context, X, R) mod q, z = k + e·x, verified as z·G == R + e·X.
 */
import type { GroupPoint, PrimeGroup } from './shamir.ts';
import { taggedExpand } from './transcript.ts';
import { bytesToNumberBE } from '@noble/curves/utils.js';

/** Points must also encode canonically for hashing. */
export interface EncodablePoint<P> extends GroupPoint<P> {
  toBytes(compressed?: boolean): Uint8Array;
}

export interface SchnorrProof<P> {
  readonly commitment: P;
  readonly response: bigint;
}

function challenge<P extends EncodablePoint<P>>(
  group: PrimeGroup<P>,
  domain: string,
  context: Uint8Array,
  statement: P,
  commitment: P,
): bigint {
  // 64 bytes reduced modulo q: bias below 2^-256 for 256-bit groups.
  const wide = taggedExpand(domain, 64, context, statement.toBytes(true), commitment.toBytes(true));
  return bytesToNumberBE(wide) % group.Fn.ORDER;
}

/** Proves knowledge of `secret` with X = secret·G; `nonce` must be fresh, uniform and non-zero. */
export function proveSchnorr<P extends EncodablePoint<P>>(
  group: PrimeGroup<P>,
  domain: string,
  context: Uint8Array,
  secret: bigint,
  nonce: bigint,
): SchnorrProof<P> {
  const statement = group.BASE.multiply(secret);
  const commitment = group.BASE.multiply(nonce);
  const e = challenge(group, domain, context, statement, commitment);
  return { commitment, response: group.Fn.add(nonce, group.Fn.mul(e, secret)) };
}

/** Verifies a proof for statement X (public data; variable time). */
export function verifySchnorr<P extends EncodablePoint<P>>(
  group: PrimeGroup<P>,
  domain: string,
  context: Uint8Array,
  statement: P,
  proof: SchnorrProof<P>,
): boolean {
  if (statement.is0() || proof.commitment.is0()) return false;
  if (proof.response <= 0n || proof.response >= group.Fn.ORDER) return false;
  const e = challenge(group, domain, context, statement, proof.commitment);
  return group.BASE.multiplyUnsafe(proof.response).equals(
    proof.commitment.add(statement.multiplyUnsafe(e)),
  );
}
