/**
 * One party's FROST(Ed25519, SHA-512) key share and its canonical binary encoding.
 *
 * Encoding, version 1 (all integers big-endian, every field fixed-size, so every value has
 * exactly one encoding; total length 7 + 2n + 32 + 32n + 32 bytes, at most 8,487):
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 1 | version = 0x01 |
 * | 1 | 1 | kind = 0x46 ('F', FROST Ed25519) |
 * | 2 | 2 | self (PartyId) |
 * | 4 | 2 | threshold t (t+1 signers needed) |
 * | 6 | 1 | n = number of participants, 2..255 |
 * | 7 | 2n | participants, strictly ascending, each ≥ 1 |
 * | … | 32 | group public key (RFC 8032 encoding) |
 * | … | 32n | verifying shares Y_j = s_j·B, in participant order |
 * | … | 32 | secret share s_self (little-endian scalar < ℓ, non-zero) |
 *
 * Decoding checks every point (canonical, on the curve, not the identity, prime order), that
 * s_self·B = Y_self, and that the verifying shares and group key lie on one polynomial of degree
 * t (so any t+1 participants can sign).
 */
import { ValidationMemo } from '../validation-memo.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { PartyId } from '../round-protocol.ts';
import { wipeBytes } from '../wipe.ts';
import {
  ELEMENT_BYTES,
  Point,
  SCALAR_BYTES,
  decodeElement,
  decodeScalar,
  equalBytes,
  mod,
  type EdwardsPoint,
} from './ed25519-group.ts';
import { FrostError, FrostErrorCode, invalidArgument } from './errors.ts';

export const FROST_KEY_SHARE_VERSION = 1;
const KIND_FROST_ED25519 = 0x46;
/** Largest committee a key share (and the protocols) accept. */
export const MAX_FROST_PARTICIPANTS = 255;
/** Largest PartyId (encoded as u16). */
export const MAX_PARTY_ID = 0xffff;

export interface FrostKeyShare {
  /** This party (its Shamir x-coordinate). */
  readonly self: PartyId;
  /** t: any t+1 participants can sign, t or fewer learn nothing. 1 ≤ t < n. */
  readonly threshold: number;
  /** Every holder of a share, ascending. */
  readonly participants: readonly PartyId[];
  /** Group public key, 32-byte RFC 8032 encoding (the wallet's master Ed25519 key). */
  readonly publicKey: Uint8Array;
  /** Y_j = s_j·B for every participant j (32-byte encodings). */
  readonly verifyingShares: ReadonlyMap<PartyId, Uint8Array>;
  /** s_self, 32-byte little-endian scalar. Secret: wipe with `wipeFrostKeyShare`. */
  readonly secretShare: Uint8Array;
}

/** Decoded, validated public points of a key share; cached per share object. */
export interface ValidatedFrostKeyShare {
  readonly groupKey: EdwardsPoint;
  readonly verifyingShares: ReadonlyMap<PartyId, EdwardsPoint>;
}

const validatedShares = new WeakMap<FrostKeyShare, ValidatedFrostKeyShare>();

function keyShareError(message: string): FrostError {
  return new FrostError(FrostErrorCode.InvalidKeyShare, `key share: ${message}`);
}

/** Validates a committee description: t, ascending distinct ids, self among them. */
export function validateCommittee(
  self: PartyId,
  participants: readonly PartyId[],
  threshold: number,
  prefix = '',
): void {
  if (!Array.isArray(participants)) throw invalidArgument(`${prefix}participants`, 'not an array');
  const count = participants.length;
  if (count < 2 || count > MAX_FROST_PARTICIPANTS) {
    throw invalidArgument(`${prefix}participants`, `need 2..${MAX_FROST_PARTICIPANTS} parties`);
  }
  let previous = 0;
  for (const party of participants) {
    if (!Number.isSafeInteger(party) || party < 1 || party > MAX_PARTY_ID) {
      throw invalidArgument(`${prefix}participants`, `invalid PartyId ${String(party)}`);
    }
    if (party <= previous) {
      throw invalidArgument(`${prefix}participants`, 'must be strictly ascending');
    }
    previous = party;
  }
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold >= count) {
    throw invalidArgument(`${prefix}threshold`, `must satisfy 1 ≤ t < ${count}`);
  }
  if (!participants.includes(self)) {
    throw invalidArgument(`${prefix}self`, `party ${String(self)} is not a participant`);
  }
}

/** Lagrange coefficient at x = 0 of `party` over the set `parties` (all distinct, non-zero). */
export function lagrangeAtZero(party: PartyId, parties: readonly PartyId[]): bigint {
  let numerator = 1n;
  let denominator = 1n;
  const xi = BigInt(party);
  for (const other of parties) {
    if (other === party) continue;
    const xj = BigInt(other);
    numerator = mod(numerator * xj);
    denominator = mod(denominator * (xj - xi));
  }
  return mod(numerator * Point.Fn.inv(denominator));
}

/** Lagrange coefficient at `x` of `party` over `parties`. */
function lagrangeAt(x: bigint, party: PartyId, parties: readonly PartyId[]): bigint {
  let numerator = 1n;
  let denominator = 1n;
  const xi = BigInt(party);
  for (const other of parties) {
    if (other === party) continue;
    const xj = BigInt(other);
    numerator = mod(numerator * (x - xj));
    denominator = mod(denominator * (xi - xj));
  }
  return mod(numerator * Point.Fn.inv(denominator));
}

/**
 * Checks that the verifying shares of all n participants and the group key lie on one
 * degree-t polynomial in the exponent: interpolating the first t+1 shares reproduces the group
 * key at 0 and every other share at its x-coordinate.
 */
function assertConsistentPolynomial(
  threshold: number,
  participants: readonly PartyId[],
  groupKey: EdwardsPoint,
  verifyingShares: ReadonlyMap<PartyId, EdwardsPoint>,
): void {
  const basis = participants.slice(0, threshold + 1);
  const basisPoints = basis.map((party) => verifyingShares.get(party) as EdwardsPoint);
  const interpolate = (x: bigint): EdwardsPoint => {
    let sum = Point.ZERO;
    basis.forEach((party, index) => {
      sum = sum.add(
        (basisPoints[index] as EdwardsPoint).multiplyUnsafe(lagrangeAt(x, party, basis)),
      );
    });
    return sum;
  };
  if (!interpolate(0n).equals(groupKey)) {
    throw keyShareError('verifying shares do not interpolate to the group key');
  }
  for (const party of participants.slice(threshold + 1)) {
    if (!interpolate(BigInt(party)).equals(verifyingShares.get(party) as EdwardsPoint)) {
      throw keyShareError(`verifying share of party ${party} is off the share polynomial`);
    }
  }
}

/**
 * Memo of validated public key material, keyed by SHA-256 of (t, participants, group key,
 * verifying shares). Decoding the same wallet's share on every signing request then costs
 * only the point decoding and the secret-share check (≈ 0.5 ms) instead of the subgroup and
 * polynomial checks (≈ 3 ms for 2-of-3). Holds public data only; bounded, oldest evicted.
 */
const PUBLIC_MEMO_LIMIT = 1024;
const validatedPublicKeys = new Map<string, ValidatedFrostKeyShare>();
/** Secret shares already checked against their verifying share (validation-memo.ts). */
const validatedSecrets = new ValidationMemo(PUBLIC_MEMO_LIMIT);

function publicDigest(share: FrostKeyShare): string {
  const hash = sha256.create();
  hash.update(Uint8Array.of(share.threshold >> 8, share.threshold & 0xff));
  for (const party of share.participants) hash.update(Uint8Array.of(party >> 8, party & 0xff));
  hash.update(share.publicKey);
  for (const party of share.participants) {
    hash.update(share.verifyingShares.get(party) as Uint8Array);
  }
  return bytesToHex(hash.digest());
}

function validatePublicPart(share: FrostKeyShare, digest: string): ValidatedFrostKeyShare {
  const memo = validatedPublicKeys.get(digest);
  if (memo !== undefined) return memo;
  const decode = (bytes: Uint8Array, field: string): EdwardsPoint => {
    try {
      return decodeElement(bytes, field);
    } catch (error) {
      throw keyShareError((error as Error).message);
    }
  };
  const groupKey = decode(share.publicKey, 'publicKey');
  const verifyingShares = new Map<PartyId, EdwardsPoint>();
  for (const party of share.participants) {
    verifyingShares.set(
      party,
      decode(share.verifyingShares.get(party) as Uint8Array, `verifyingShares[${party}]`),
    );
  }
  assertConsistentPolynomial(share.threshold, share.participants, groupKey, verifyingShares);
  const validated: ValidatedFrostKeyShare = { groupKey, verifyingShares };
  if (validatedPublicKeys.size >= PUBLIC_MEMO_LIMIT) {
    const oldest = validatedPublicKeys.keys().next().value;
    if (oldest !== undefined) validatedPublicKeys.delete(oldest);
  }
  validatedPublicKeys.set(digest, validated);
  return validated;
}

/**
 * Validates a key share object completely (shape, points, secret/public consistency,
 * polynomial consistency) and returns its decoded points. Results are cached per object, so
 * shares built by the keygen protocol or `decodeFrostKeyShare` are not re-validated.
 */
export function validateFrostKeyShare(share: FrostKeyShare): ValidatedFrostKeyShare {
  const cached = validatedShares.get(share);
  if (cached !== undefined) return cached;
  try {
    validateCommittee(share.self, share.participants, share.threshold, 'share.');
  } catch (error) {
    throw keyShareError((error as Error).message);
  }
  if (!(share.publicKey instanceof Uint8Array)) throw keyShareError('group key missing');
  if (!(share.secretShare instanceof Uint8Array)) throw keyShareError('secret share missing');
  if (!(share.verifyingShares instanceof Map)) throw keyShareError('verifying shares missing');
  if (share.verifyingShares.size !== share.participants.length) {
    throw keyShareError('one verifying share per participant expected');
  }
  for (const party of share.participants) {
    const bytes = share.verifyingShares.get(party);
    if (!(bytes instanceof Uint8Array)) {
      throw keyShareError(`verifying share of party ${party} missing`);
    }
  }
  const digest = publicDigest(share);
  const validated = validatePublicPart(share, digest);
  // The memo is keyed by the public part's digest, this party and its secret share: exactly
  // what the check below reads (validation-memo.ts).
  const memoFields = [
    new TextEncoder().encode(digest),
    Uint8Array.of(share.self >> 8, share.self & 0xff),
    share.secretShare,
  ];
  if (validatedSecrets.has(memoFields)) {
    validatedShares.set(share, validated);
    return validated;
  }
  let secret: bigint;
  try {
    secret = decodeScalar(share.secretShare, 'secretShare');
  } catch {
    throw keyShareError('secret share is not a canonical scalar');
  }
  if (secret === 0n) throw keyShareError('secret share is zero');
  const ownShare = validated.verifyingShares.get(share.self) as EdwardsPoint;
  if (!Point.BASE.multiply(secret).equals(ownShare)) {
    throw keyShareError('secret share does not match its verifying share');
  }
  secret = 0n;
  validatedSecrets.remember(memoFields);
  validatedShares.set(share, validated);
  return validated;
}

/** Canonical version-1 encoding (layout in the module comment). The result holds the secret. */
export function encodeFrostKeyShare(share: FrostKeyShare): Uint8Array {
  validateFrostKeyShare(share);
  const count = share.participants.length;
  const out = new Uint8Array(7 + 2 * count + ELEMENT_BYTES * (count + 1) + SCALAR_BYTES);
  const view = new DataView(out.buffer);
  out[0] = FROST_KEY_SHARE_VERSION;
  out[1] = KIND_FROST_ED25519;
  view.setUint16(2, share.self);
  view.setUint16(4, share.threshold);
  out[6] = count;
  let offset = 7;
  for (const party of share.participants) {
    view.setUint16(offset, party);
    offset += 2;
  }
  out.set(share.publicKey, offset);
  offset += ELEMENT_BYTES;
  for (const party of share.participants) {
    out.set(share.verifyingShares.get(party) as Uint8Array, offset);
    offset += ELEMENT_BYTES;
  }
  out.set(share.secretShare, offset);
  return out;
}

/** Strict inverse of `encodeFrostKeyShare`; throws `FROST_INVALID_KEY_SHARE` on any defect. */
export function decodeFrostKeyShare(bytes: Uint8Array): FrostKeyShare {
  if (!(bytes instanceof Uint8Array) || bytes.length < 7) throw keyShareError('too short');
  if (bytes[0] !== FROST_KEY_SHARE_VERSION) throw keyShareError('unsupported version');
  if (bytes[1] !== KIND_FROST_ED25519) throw keyShareError('not a FROST Ed25519 share');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const self = view.getUint16(2);
  const threshold = view.getUint16(4);
  const count = bytes[6] as number;
  const expected = 7 + 2 * count + ELEMENT_BYTES * (count + 1) + SCALAR_BYTES;
  if (bytes.length !== expected) throw keyShareError('wrong length');
  const participants: PartyId[] = [];
  let offset = 7;
  for (let index = 0; index < count; index++) {
    participants.push(view.getUint16(offset));
    offset += 2;
  }
  const publicKey = bytes.slice(offset, offset + ELEMENT_BYTES);
  offset += ELEMENT_BYTES;
  const verifyingShares = new Map<PartyId, Uint8Array>();
  for (const party of participants) {
    verifyingShares.set(party, bytes.slice(offset, offset + ELEMENT_BYTES));
    offset += ELEMENT_BYTES;
  }
  const secretShare = bytes.slice(offset, offset + SCALAR_BYTES);
  const share: FrostKeyShare = {
    self,
    threshold,
    participants: Object.freeze(participants),
    publicKey,
    verifyingShares,
    secretShare,
  };
  try {
    validateFrostKeyShare(share);
  } catch (error) {
    wipeBytes(secretShare);
    throw error;
  }
  return share;
}

/** Overwrites the secret share. The share is unusable afterwards. */
export function wipeFrostKeyShare(share: FrostKeyShare): void {
  wipeBytes(share.secretShare);
  validatedShares.delete(share);
}

/** True when two shares describe the same key (same group key and verifying shares). */
export function sameFrostPublicKey(left: FrostKeyShare, right: FrostKeyShare): boolean {
  if (!equalBytes(left.publicKey, right.publicKey)) return false;
  if (left.participants.length !== right.participants.length) return false;
  return left.participants.every((party, index) => {
    const other = right.participants[index];
    const a = left.verifyingShares.get(party);
    const b = other === undefined ? undefined : right.verifyingShares.get(other);
    return other === party && a !== undefined && b !== undefined && equalBytes(a, b);
  });
}
