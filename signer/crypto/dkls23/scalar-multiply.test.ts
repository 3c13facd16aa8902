/**
 * Constant-time k·G and k·P (scalar-multiply.ts) against noble: random scalars, the
 * recoding edges (1, 2, 15, 16, n − 1, scalars whose every nibble is 8 or 15 so that every
 * digit carries, a top nibble of 15 that carries into the 65th digit), refusal of 0 and n,
 * the identity as P, and no secret state left in the module's memory.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { multiplyBase, multiplyPoint } from './scalar-multiply.ts';
import {
  FIELD_BYTES,
  SECRET_STATE_END,
  SELECTED,
  VARIABLE_TABLE,
  VARIABLE_TABLE_END,
  secp256k1Wasm,
} from './secp256k1-wasm.ts';

const Point = secp256k1.Point;
const ORDER = Point.Fn.ORDER;

function randomScalar(): bigint {
  const hex = Buffer.from(crypto.getRandomValues(new Uint8Array(40))).toString('hex');
  return (BigInt('0x' + hex) % (ORDER - 1n)) + 1n;
}

const nibbles = (nibble: bigint, count: number): bigint => {
  let value = 0n;
  for (let index = 0; index < count; index++) value = (value << 4n) | nibble;
  return value;
};

const EDGES = [
  1n,
  2n,
  7n,
  8n,
  9n,
  15n,
  16n,
  17n,
  ORDER - 1n,
  ORDER - 2n,
  ORDER >> 1n,
  2n ** 255n,
  nibbles(8n, 63),
  nibbles(15n, 63),
  nibbles(8n, 64),
  // Top nibble 15: the recoding carries into digit 64.
  ORDER - 2n ** 200n,
];

describe('multiplyBase / multiplyPoint', () => {
  it('match noble on random scalars', () => {
    const point = Point.BASE.multiply(randomScalar());
    for (let trial = 0; trial < 40; trial++) {
      const scalar = randomScalar();
      expect(multiplyBase(scalar).equals(Point.BASE.multiply(scalar))).toBe(true);
      expect(multiplyPoint(point, scalar).equals(point.multiply(scalar))).toBe(true);
    }
  });

  it('match noble on the recoding edges', () => {
    const point = Point.BASE.multiply(randomScalar());
    for (const scalar of EDGES) {
      expect(scalar > 0n && scalar < ORDER).toBe(true);
      expect(multiplyBase(scalar).equals(Point.BASE.multiply(scalar))).toBe(true);
      expect(multiplyPoint(point, scalar).equals(point.multiply(scalar))).toBe(true);
      expect(multiplyPoint(Point.BASE, scalar).equals(Point.BASE.multiply(scalar))).toBe(true);
    }
  });

  it('refuse scalars outside [1, n) and map the identity to itself', () => {
    for (const scalar of [0n, ORDER, ORDER + 1n, -1n]) {
      expect(() => multiplyBase(scalar)).toThrow(RangeError);
      expect(() => multiplyPoint(Point.BASE, scalar)).toThrow(RangeError);
    }
    expect(multiplyPoint(Point.ZERO, 5n).is0()).toBe(true);
  });

  it('leave no state of the scalar in the module memory', () => {
    multiplyBase(randomScalar());
    multiplyPoint(Point.BASE.multiply(3n), randomScalar());
    const wasm = secp256k1Wasm();
    expect(wasm.isClear(0, 16 * FIELD_BYTES)).toBe(true);
    expect(wasm.isClear(SELECTED, SECRET_STATE_END)).toBe(true);
    expect(wasm.isClear(VARIABLE_TABLE, VARIABLE_TABLE_END)).toBe(true);
  });
});
