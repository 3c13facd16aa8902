/** secp256k1 helpers: scalars, validated point decoding, randomness. */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { Dkls23InvalidPointError, Dkls23MalformedMessageError } from './errors.ts';
import { decompressPoint } from './point-decoding.ts';
import type { PartyId } from '../round-protocol.ts';

export const Point = secp256k1.Point;
export type Point = InstanceType<typeof secp256k1.Point>;
export const Fn = secp256k1.Point.Fn;
export const ORDER = Fn.ORDER;

/** Source of uniform random bytes (injected; defaults to the platform CSPRNG). */
export type RandomSource = (length: number) => Uint8Array;
export const defaultRandom: RandomSource = (length) => randomBytes(length);

/** Uniform non-zero scalar from 48 random bytes (bias < 2^-128). */
export function randomScalar(random: RandomSource): bigint {
  for (;;) {
    const bytes = random(48);
    if (bytes.length !== 48) throw new RangeError('random source returned the wrong length');
    const value = bytesToNumberBE(bytes) % ORDER;
    bytes.fill(0);
    if (value !== 0n) return value;
  }
}

export function scalarToBytes(value: bigint): Uint8Array {
  return numberToBytesBE(value, 32);
}

/** Uniform-enough scalar from 32 hash bytes (q > 2^256 − 2^129, so bias < 2^-127). */
export function scalarFromHash(bytes: Uint8Array, offset = 0): bigint {
  let value = 0n;
  for (let i = 0; i < 32; i += 8) {
    let word = 0;
    let high = 0;
    for (let k = 0; k < 4; k++) high = high * 256 + (bytes[offset + i + k] as number);
    for (let k = 4; k < 8; k++) word = word * 256 + (bytes[offset + i + k] as number);
    value = (value << 64n) | (BigInt(high) << 32n) | BigInt(word);
  }
  return value >= ORDER ? value - ORDER : value;
}

interface Where {
  readonly field: string;
  readonly counterparty?: PartyId;
}

/** Decodes a canonical 32-byte big-endian scalar in [0, q) (or [1, q) when `nonZero`). */
export function decodeScalar(bytes: Uint8Array, where: Where, nonZero = false): bigint {
  if (bytes.length !== 32)
    throw new Dkls23MalformedMessageError(`${where.field}: scalar must be 32 bytes`, where);
  const value = bytesToNumberBE(bytes);
  if (value >= ORDER)
    throw new Dkls23MalformedMessageError(`${where.field}: scalar is not reduced`, where);
  if (nonZero && value === 0n)
    throw new Dkls23MalformedMessageError(`${where.field}: scalar is zero`, where);
  return value;
}

/** Decodes a compressed 33-byte point; rejects off-curve encodings and the identity. */
export function decodePoint(bytes: Uint8Array, where: Where): Point {
  if (bytes.length !== 33)
    throw new Dkls23InvalidPointError(`${where.field}: point must be 33 bytes`, where);
  const affine = decompressPoint(bytes);
  if (affine === undefined)
    throw new Dkls23InvalidPointError(`${where.field}: not a valid curve point`, where);
  // A decoded affine point is never the identity (which has no compressed encoding).
  return Point.fromAffine(affine);
}

export function pointToBytes(point: Point): Uint8Array {
  return point.toBytes(true);
}
