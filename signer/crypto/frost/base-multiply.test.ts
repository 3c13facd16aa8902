/**
 * The constant-time fixed-base multiplication (base-multiply.ts) against noble: random scalars,
 * the digit-recoding edges (every nibble 8 or 15, so every digit carries; 0; ℓ and its
 * neighbours; the largest accepted scalar 2^255 − 1), the point and its encoding, and that no
 * state of the secret scalar is left in the module's scratch memory.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { multiplyBase } from './base-multiply.ts';
import { FIELD_BYTES, NIELS_ADDRESS, SECRET_SCRATCH_END, edwardsWasm } from './edwards-wasm.ts';

const Point = ed25519.Point;
const ELL = Point.Fn.ORDER;

function littleEndian(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let rest = value;
  for (let index = 0; index < 32; index++) {
    out[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

function expected(value: bigint): InstanceType<typeof Point> {
  const reduced = value % ELL;
  return reduced === 0n ? Point.ZERO : Point.BASE.multiply(reduced);
}

function check(value: bigint): void {
  const { point, bytes } = multiplyBase(littleEndian(value));
  const reference = expected(value);
  expect(point.equals(reference)).toBe(true);
  expect(Buffer.from(bytes).toString('hex')).toBe(Buffer.from(reference.toBytes()).toString('hex'));
  // The point's T is valid: noble's own arithmetic on it agrees.
  expect(point.add(Point.BASE).equals(reference.add(Point.BASE))).toBe(true);
}

describe('multiplyBase', () => {
  it('matches noble on random scalars below ℓ and below 2^255', () => {
    for (let trial = 0; trial < 100; trial++) {
      const random = crypto.getRandomValues(new Uint8Array(32));
      random[31] = (random[31] as number) & 0x7f;
      const value = random.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
      check(value % ELL);
      check(value);
    }
  });

  it('matches noble on the recoding edges', () => {
    const nibbles = (nibble: bigint): bigint => {
      let value = 0n;
      for (let index = 0; index < 63; index++) value = (value << 4n) | nibble;
      return value;
    };
    const edges = [
      0n,
      1n,
      2n,
      7n,
      8n,
      9n,
      15n,
      16n,
      17n,
      ELL - 1n,
      ELL,
      ELL + 1n,
      2n ** 252n,
      2n ** 255n - 1n,
      nibbles(8n),
      nibbles(15n),
      nibbles(7n),
    ];
    for (const value of edges) check(value);
  });

  it('refuses scalars of the wrong length or at or above 2^255', () => {
    expect(() => multiplyBase(new Uint8Array(31))).toThrow(RangeError);
    const high = new Uint8Array(32);
    high[31] = 0x80;
    expect(() => multiplyBase(high)).toThrow(RangeError);
  });

  it('leaves no state of the scalar in the module scratch', () => {
    multiplyBase(littleEndian(2n ** 200n + 12345n));
    const wasm = edwardsWasm();
    expect(wasm.isClear(0, 16 * FIELD_BYTES)).toBe(true);
    expect(wasm.isClear(NIELS_ADDRESS, SECRET_SCRATCH_END)).toBe(true);
  });
});
