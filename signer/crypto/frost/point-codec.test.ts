/**
 * Strict RFC 8032 point decoding (point-codec.ts) against noble's `fromBytes(bytes, false)`:
 * encodings of random points, random 32-byte strings (about half are not on the curve), every
 * non-canonical y (p … 2^255 − 1) with both sign bits, "negative zero" for the points with
 * x = 0, the small-order points, and points whose root needs the √−1 correction. Accept or
 * reject must agree, and accepted encodings must give the same coordinates.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { P } from './edwards-wasm.ts';
import { decodeAffine, encodeAffine } from './point-codec.ts';
import { fieldReference } from '../field-test-helpers.ts';

const { power } = fieldReference(P);

const Point = ed25519.Point;

function nobleDecode(bytes: Uint8Array): { x: bigint; y: bigint } | undefined {
  try {
    return Point.fromBytes(bytes, false).toAffine();
  } catch {
    return undefined;
  }
}

function littleEndian(value: bigint, sign: number): Uint8Array {
  const out = new Uint8Array(32);
  let rest = value;
  for (let index = 0; index < 32; index++) {
    out[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  out[31] = (out[31] as number) | (sign << 7);
  return out;
}

function agree(bytes: Uint8Array): boolean {
  const ours = decodeAffine(bytes);
  const theirs = nobleDecode(bytes);
  expect(ours).toEqual(theirs);
  if (ours !== undefined) {
    expect(Buffer.from(encodeAffine(ours.x, ours.y))).toEqual(Buffer.from(bytes));
  }
  return ours !== undefined;
}

describe('decodeAffine', () => {
  it('decodes encodings of random points exactly as noble', () => {
    for (let trial = 0; trial < 200; trial++) {
      const scalar = crypto
        .getRandomValues(new Uint8Array(32))
        .reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
      const point = Point.BASE.multiply((scalar % (Point.Fn.ORDER - 1n)) + 1n);
      expect(agree(point.toBytes())).toBe(true);
    }
  });

  it('accepts and rejects random byte strings exactly as noble', () => {
    let accepted = 0;
    for (let trial = 0; trial < 400; trial++) {
      if (agree(crypto.getRandomValues(new Uint8Array(32)))) accepted++;
    }
    // About half of all y are on the curve: both branches were exercised.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(300);
  });

  it('rejects every non-canonical y and negative zero, accepts the small-order points', () => {
    for (let y = P; y < 2n ** 255n; y++) {
      for (const sign of [0, 1]) expect(agree(littleEndian(y, sign))).toBe(false);
    }
    // x = 0 for y = ±1: the sign bit must be 0.
    expect(agree(littleEndian(1n, 1))).toBe(false);
    expect(agree(littleEndian(P - 1n, 1))).toBe(false);
    expect(agree(littleEndian(1n, 0))).toBe(true);
    expect(agree(littleEndian(P - 1n, 0))).toBe(true);
    // The 8-torsion generator and its multiples (√−1 branch included for some of them).
    const generator = Point.fromHex(
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    );
    let torsion = generator;
    for (let index = 1; index < 8; index++) {
      expect(agree(torsion.toBytes())).toBe(true);
      torsion = torsion.add(generator);
    }
  });

  it('takes the √−1 branch for some points and agrees there', () => {
    let corrected = 0;
    for (let trial = 0; trial < 100; trial++) {
      const point = Point.BASE.multiply(BigInt(trial + 1));
      const bytes = point.toBytes();
      const { x } = decodeAffine(bytes) as { x: bigint; y: bigint };
      const y = point.toAffine().y;
      const u = (((y * y - 1n) % P) + P) % P;
      const v = (Point.CURVE().d * y * y + 1n) % P;
      // The candidate root without correction squares to u/v only on one branch.
      const candidate = (((u * v ** 3n) % P) * power((u * v ** 7n) % P, (P - 5n) / 8n)) % P;
      if ((((v * candidate * candidate) % P) + P) % P !== u) corrected++;
      expect(x).toBe(point.toAffine().x);
    }
    expect(corrected).toBeGreaterThan(0);
  });

  it('rejects other lengths', () => {
    expect(decodeAffine(new Uint8Array(31))).toBeUndefined();
    expect(decodeAffine(new Uint8Array(33))).toBeUndefined();
  });
});
