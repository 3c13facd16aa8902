/**
 * Strict Ed25519 group element and scalar codecs shared by the FROST protocols and key-share
 * codec (RFC 9591 §3.1 / §6.1 SerializeElement, DeserializeElement, SerializeScalar,
 * DeserializeScalar).
 *
 * - Elements: 32-byte RFC 8032 encodings; decoding rejects non-canonical encodings
 *   (y ≥ p, "negative zero"), points off the curve, the identity and points with a torsion
 *   component (not in the prime-order subgroup).
 * - Scalars: 32-byte little-endian integers strictly below ℓ.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { FrostError, FrostErrorCode } from './errors.ts';
import { decodeAffine, encodeAffine } from './point-codec.ts';
import { hasPrimeOrder } from './subgroup-check.ts';
import type { PartyId } from '../round-protocol.ts';

export const Point = ed25519.Point;
export type EdwardsPoint = InstanceType<typeof Point>;

/** ℓ = 2^252 + 27742317777372353535851937790883648493, the prime group order. */
export const GROUP_ORDER: bigint = Point.Fn.ORDER;
export const ELEMENT_BYTES = 32;
export const SCALAR_BYTES = 32;

export function mod(value: bigint): bigint {
  const reduced = value % GROUP_ORDER;
  return reduced >= 0n ? reduced : reduced + GROUP_ORDER;
}

/** Little-endian integer of arbitrary length (used for hash outputs before reduction). */
export function bytesToIntegerLE(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let index = bytes.length - 1; index >= 0; index--) {
    value = (value << 8n) | BigInt(bytes[index] as number);
  }
  return value;
}

/** SerializeScalar: 32-byte little-endian of a value already in [0, ℓ). */
export function encodeScalar(value: bigint): Uint8Array {
  const out = new Uint8Array(SCALAR_BYTES);
  let rest = value;
  for (let index = 0; index < SCALAR_BYTES; index++) {
    out[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

function fail(
  code: FrostErrorCode,
  message: string,
  counterparty: PartyId | undefined,
  field: string,
): never {
  throw new FrostError(
    code,
    `${field}: ${message}`,
    counterparty === undefined ? { field } : { counterparty, field },
  );
}

/** DeserializeScalar: exactly 32 bytes, strictly below ℓ. `field` names the value in errors. */
export function decodeScalar(bytes: Uint8Array, field: string, counterparty?: PartyId): bigint {
  if (bytes.length !== SCALAR_BYTES) {
    fail(FrostErrorCode.MalformedMessage, 'expected 32 bytes', counterparty, field);
  }
  const value = bytesToIntegerLE(bytes);
  if (value >= GROUP_ORDER) {
    fail(FrostErrorCode.MalformedMessage, 'scalar not reduced mod ℓ', counterparty, field);
  }
  return value;
}

/** DeserializeElement with every RFC 9591 §3.1 check plus a canonical re-encoding check. */
export function decodeElement(
  bytes: Uint8Array,
  field: string,
  counterparty?: PartyId,
): EdwardsPoint {
  if (bytes.length !== ELEMENT_BYTES) {
    fail(FrostErrorCode.MalformedMessage, 'expected 32 bytes', counterparty, field);
  }
  // RFC 8032 strict decoding: canonical y < p, no "negative zero", on the curve.
  const affine = decodeAffine(bytes);
  if (affine === undefined) {
    fail(FrostErrorCode.InvalidPoint, 'not a canonical curve point', counterparty, field);
  }
  const point = Point.fromAffine(affine);
  if (point.is0()) fail(FrostErrorCode.InvalidPoint, 'identity element', counterparty, field);
  // [ℓ]P = I, computed exactly by a dedicated walk (subgroup-check.ts).
  if (!hasPrimeOrder(point)) {
    fail(FrostErrorCode.InvalidPoint, 'not in the prime-order subgroup', counterparty, field);
  }
  // Implied by the strict decoding; kept as a second, independent check (no inversion: Z = 1).
  if (!equalBytes(encodeAffine(affine.x, affine.y), bytes)) {
    fail(FrostErrorCode.InvalidPoint, 'non-canonical encoding', counterparty, field);
  }
  return point;
}

/** SerializeElement; refuses the identity, which has no valid wire form in FROST. */
export function encodeElement(point: EdwardsPoint, field: string): Uint8Array {
  if (point.is0()) fail(FrostErrorCode.InvalidPoint, 'identity element', undefined, field);
  return point.toBytes();
}

export function equalBytes(left: Uint8Array, right: Uint8Array): boolean {
  if (left.length !== right.length) return false;
  let difference = 0;
  for (let index = 0; index < left.length; index++) {
    difference |= (left[index] as number) ^ (right[index] as number);
  }
  return difference === 0;
}
