/**
 * Compressed secp256k1 point decoding (point-decoding.ts) against noble's `Point.fromBytes`:
 * encodings of random points, random x with both prefixes (about half are not on the curve),
 * x ≥ p, other prefixes and lengths. Accept or reject must agree, and the coordinates too.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { decompressPoint } from './point-decoding.ts';
import { P } from './secp256k1-wasm.ts';

const Point = secp256k1.Point;

function noble(bytes: Uint8Array): { x: bigint; y: bigint } | undefined {
  try {
    const point = Point.fromBytes(bytes);
    return point.is0() ? undefined : point.toAffine();
  } catch {
    return undefined;
  }
}

function encode(prefix: number, x: bigint): Uint8Array {
  const out = new Uint8Array(33);
  out[0] = prefix;
  out.set(Buffer.from(x.toString(16).padStart(64, '0'), 'hex'), 1);
  return out;
}

function agree(bytes: Uint8Array): boolean {
  const ours = decompressPoint(bytes);
  expect(ours).toEqual(noble(bytes));
  return ours !== undefined;
}

describe('decompressPoint', () => {
  it('decodes encodings of random points as noble does', () => {
    for (let trial = 0; trial < 100; trial++) {
      const scalar = BigInt(
        '0x' + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex'),
      );
      const point = Point.BASE.multiply((scalar % (Point.Fn.ORDER - 1n)) + 1n);
      expect(agree(point.toBytes(true))).toBe(true);
    }
  });

  it('accepts and rejects random x with both prefixes as noble does', () => {
    let accepted = 0;
    for (let trial = 0; trial < 200; trial++) {
      const x = BigInt(
        '0x' + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex'),
      );
      if (agree(encode(2 + (trial & 1), x % P))) accepted++;
    }
    expect(accepted).toBeGreaterThan(50);
    expect(accepted).toBeLessThan(150);
  });

  it('rejects x ≥ p, other prefixes and other lengths', () => {
    for (const x of [P, P + 1n, 2n ** 256n - 1n]) {
      expect(agree(encode(2, x))).toBe(false);
      expect(agree(encode(3, x))).toBe(false);
    }
    const valid = Point.BASE.toBytes(true);
    for (const prefix of [0, 1, 4, 5, 6, 7, 0xff]) {
      const bytes = valid.slice();
      bytes[0] = prefix;
      expect(decompressPoint(bytes)).toBeUndefined();
    }
    expect(decompressPoint(valid.subarray(0, 32))).toBeUndefined();
    expect(decompressPoint(Point.BASE.toBytes(false))).toBeUndefined();
    expect(decompressPoint(new Uint8Array([0]))).toBeUndefined();
  });
});
