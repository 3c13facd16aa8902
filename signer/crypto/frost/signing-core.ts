/**
 * RFC 9591 FROST(Ed25519, SHA-512) signing arithmetic (§4.2–§4.6, §5.2–§5.4), written once
 * over pre-validated points so that each received element is decoded and subgroup-checked
 * exactly once per signing run. noble's `ed25519_FROST.signShare`/`aggregate` re-parse and
 * re-check every element on every call (≈ 8 ms per call for 2-of-3 on the reference VM),
 * which does not fit the signing latency budget. Equivalence with noble and with the RFC
 * Appendix E.1 vectors is asserted byte for byte by signing-core.test.ts.
 *
 * Hashes (contextString = "FROST-ED25519-SHA512-v1", integers little-endian, reduced mod ℓ):
 * H1 = SHA-512(ctx‖"rho"‖m), H2 = SHA-512(m) (undecorated, RFC 8032 compatible),
 * H3 = SHA-512(ctx‖"nonce"‖m), H4 = SHA-512(ctx‖"msg"‖m) (bytes), H5 = SHA-512(ctx‖"com"‖m)
 * (bytes), HDKG = SHA-512(ctx‖"dkg"‖m) (the frost-rs/noble DKG proof-of-knowledge challenge).
 * SHA-512 is node:crypto's (OpenSSL); the function is the standard one, so the outputs are
 * those of any implementation (the RFC vectors check it).
 */
import type { PartyId } from '../round-protocol.ts';
import { sha512 } from '../transcript.ts';
import { Point, bytesToIntegerLE, encodeScalar, mod, type EdwardsPoint } from './ed25519-group.ts';
import { multiplyBase } from './base-multiply.ts';
import { linearCombinationEncoded } from './extended-coordinates.ts';

const CONTEXT_STRING = 'FROST-ED25519-SHA512-v1';
const encoder = new TextEncoder();
const PREFIX_RHO = encoder.encode(`${CONTEXT_STRING}rho`);
const PREFIX_NONCE = encoder.encode(`${CONTEXT_STRING}nonce`);
const PREFIX_MSG = encoder.encode(`${CONTEXT_STRING}msg`);
const PREFIX_COM = encoder.encode(`${CONTEXT_STRING}com`);
const PREFIX_DKG = encoder.encode(`${CONTEXT_STRING}dkg`);

function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function hashToScalar(...parts: Uint8Array[]): bigint {
  return mod(bytesToIntegerLE(sha512(concat(...parts))));
}

/** A fresh nonce and its commitment (RFC 9591 §4.1 nonce_generate, §5.1 commit). Secret `nonce`. */
export interface NonceCommitment {
  /** SerializeScalar(nonce): 32 bytes, secret (wipe after use). */
  readonly nonce: Uint8Array;
  /** nonce·B and its encoding. */
  readonly point: EdwardsPoint;
  readonly pointBytes: Uint8Array;
}

/**
 * RFC 9591 §4.1 nonce_generate(secret) = H3(random_bytes(32) ‖ SerializeScalar(secret)) and its
 * commitment nonce·B, with the constant-time fixed-base multiplication of base-multiply.ts (the
 * nonce is secret). `secretBytes` is SerializeScalar(secret) as held in the key share. The commitment is
 * kept as a point, so round one never decodes its own commitments again. A nonce of 0 (2^-252)
 * throws, as noble's `commit` does (the commitment would be the identity, which has no wire form).
 */
export function generateNonceCommitment(
  secretBytes: Uint8Array,
  random: (length: number) => Uint8Array,
): NonceCommitment {
  const randomness = random(32);
  if (!(randomness instanceof Uint8Array) || randomness.length !== 32) {
    throw new RangeError('random source returned the wrong length');
  }
  const input = concat(PREFIX_NONCE, randomness, secretBytes);
  const digest = sha512(input);
  const value = mod(bytesToIntegerLE(digest));
  digest.fill(0);
  input.fill(0);
  randomness.fill(0);
  if (value === 0n) throw new RangeError('nonce is zero');
  const nonce = encodeScalar(value);
  const { point, bytes } = multiplyBase(nonce);
  return { nonce, point, pointBytes: bytes };
}

/** One signer's published round-one commitment, already decoded and validated. */
export interface SignerCommitment {
  readonly party: PartyId;
  readonly hiding: EdwardsPoint;
  readonly binding: EdwardsPoint;
  readonly hidingBytes: Uint8Array;
  readonly bindingBytes: Uint8Array;
}

/** Everything a signer needs after round one, shared by share creation and verification. */
export interface SigningTranscript {
  /** Signers ascending by PartyId. */
  readonly commitments: readonly SignerCommitment[];
  readonly bindingFactors: ReadonlyMap<PartyId, bigint>;
  /** R, the group commitment, and its encoding. */
  readonly groupCommitment: EdwardsPoint;
  readonly groupCommitmentBytes: Uint8Array;
  /** c = H2(R ‖ PK ‖ msg). */
  readonly challenge: bigint;
  readonly signers: readonly PartyId[];
}

/** RFC 9591 §4.4 binding_factor_input prefix: PK ‖ H4(msg) ‖ H5(encode_group_commitment_list). */
export function bindingFactorPrefix(
  groupKeyBytes: Uint8Array,
  commitments: readonly SignerCommitment[],
  message: Uint8Array,
): Uint8Array {
  const encodedList = concat(
    ...commitments.flatMap((entry) => [
      encodeScalar(BigInt(entry.party)),
      entry.hidingBytes,
      entry.bindingBytes,
    ]),
  );
  return concat(
    groupKeyBytes,
    sha512(concat(PREFIX_MSG, message)),
    sha512(concat(PREFIX_COM, encodedList)),
  );
}

/**
 * Computes binding factors, group commitment and challenge (RFC 9591 §4.4–§4.6, §5.2) for a
 * commitment list sorted ascending by PartyId with distinct parties.
 */
export function computeSigningTranscript(
  groupKeyBytes: Uint8Array,
  commitments: readonly SignerCommitment[],
  message: Uint8Array,
): SigningTranscript {
  const prefix = bindingFactorPrefix(groupKeyBytes, commitments, message);
  const bindingFactors = new Map<PartyId, bigint>();
  for (const entry of commitments) {
    bindingFactors.set(
      entry.party,
      hashToScalar(PREFIX_RHO, prefix, encodeScalar(BigInt(entry.party))),
    );
  }
  // R = Σ D_i + Σ ρ_i·E_i as one interleaved linear combination over a single chain of
  // doublings (public inputs, variable time is fine; extended-coordinates.ts).
  const { point: groupCommitment, bytes: groupCommitmentBytes } = linearCombinationEncoded(
    [...commitments.map((entry) => entry.hiding), ...commitments.map((entry) => entry.binding)],
    [
      ...commitments.map(() => 1n),
      ...commitments.map((entry) => bindingFactors.get(entry.party) as bigint),
    ],
  );
  const challenge = hashToScalar(groupCommitmentBytes, groupKeyBytes, message);
  return {
    commitments,
    bindingFactors,
    groupCommitment,
    groupCommitmentBytes,
    challenge,
    signers: commitments.map((entry) => entry.party),
  };
}

/** Lagrange coefficient λ_i at 0 over the signer set (RFC 9591 §4.2). */
export function lagrangeCoefficient(party: PartyId, signers: readonly PartyId[]): bigint {
  let numerator = 1n;
  let denominator = 1n;
  const xi = BigInt(party);
  for (const other of signers) {
    if (other === party) continue;
    const xj = BigInt(other);
    numerator = mod(numerator * xj);
    denominator = mod(denominator * (xj - xi));
  }
  return mod(numerator * Point.Fn.inv(denominator));
}

/** z_i = d_i + e_i·ρ_i + λ_i·s_i·c (RFC 9591 §5.2). All inputs in [0, ℓ). */
export function computeSignatureShare(
  transcript: SigningTranscript,
  party: PartyId,
  secretShare: bigint,
  hidingNonce: bigint,
  bindingNonce: bigint,
): bigint {
  const rho = transcript.bindingFactors.get(party);
  if (rho === undefined) throw new Error('signer not in the commitment list');
  const lambda = lagrangeCoefficient(party, transcript.signers);
  return mod(hidingNonce + bindingNonce * rho + lambda * secretShare * transcript.challenge);
}

/** RFC 9591 §5.4: z_i·B == D_i + ρ_i·E_i + (c·λ_i)·Y_i. All inputs public. */
export function verifySignatureShare(
  transcript: SigningTranscript,
  party: PartyId,
  verifyingShare: EdwardsPoint,
  share: bigint,
): boolean {
  const entry = transcript.commitments.find((candidate) => candidate.party === party);
  const rho = transcript.bindingFactors.get(party);
  if (entry === undefined || rho === undefined) return false;
  const lambda = lagrangeCoefficient(party, transcript.signers);
  const expected = entry.hiding
    .add(entry.binding.multiplyUnsafe(rho))
    .add(verifyingShare.multiplyUnsafe(mod(transcript.challenge * lambda)));
  const actual = share === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(share);
  return actual.equals(expected);
}

/** RFC 9591 §5.3: signature = SerializeElement(R) ‖ SerializeScalar(Σ z_i). */
export function aggregateSignature(
  transcript: SigningTranscript,
  shares: readonly bigint[],
): Uint8Array {
  let sum = 0n;
  for (const share of shares) sum = mod(sum + share);
  const signature = new Uint8Array(64);
  signature.set(transcript.groupCommitmentBytes, 0);
  signature.set(encodeScalar(sum), 32);
  return signature;
}

/** DKG proof-of-knowledge challenge HDKG(SerializeScalar(id) ‖ C_0 ‖ R) (frost-rs / noble). */
export function proofOfKnowledgeChallenge(
  party: PartyId,
  constantCommitmentBytes: Uint8Array,
  nonceCommitmentBytes: Uint8Array,
): bigint {
  return hashToScalar(
    PREFIX_DKG,
    encodeScalar(BigInt(party)),
    constantCommitmentBytes,
    nonceCommitmentBytes,
  );
}

/** Feldman VSS check: share·B == Σ_k C_k · x^k (RFC 9591 Appendix C.2 vss_verify). */
export function verifyFeldmanShare(
  x: PartyId,
  share: bigint,
  commitments: readonly EdwardsPoint[],
): boolean {
  let expected = Point.ZERO;
  let power = 1n;
  const xBig = BigInt(x);
  for (const commitment of commitments) {
    expected = expected.add(commitment.multiplyUnsafe(power));
    power = mod(power * xBig);
  }
  const actual = share === 0n ? Point.ZERO : Point.BASE.multiply(share);
  return actual.equals(expected);
}
