/**
 * The signed radix-16 recoding (signed-radix16.ts): digits recombine to the scalar and stay in
 * range, for 64 slots (scalars below 2^255) and 65 slots (any 256-bit scalar), on random
 * scalars and on the carry edges (every nibble 8 or 15, all ones).
 */
import { describe, expect, it } from 'vitest';
import { signedRadix16 } from './signed-radix16.ts';

const littleEndian = (value: bigint): Uint8Array =>
  Uint8Array.from({ length: 32 }, (_, index) => Number((value >> BigInt(8 * index)) & 0xffn));

function recombine(digits: Int8Array): bigint {
  let value = 0n;
  for (let index = digits.length - 1; index >= 0; index--) {
    value = value * 16n + BigInt(digits[index] as number);
  }
  return value;
}

const repeated = (nibble: bigint, count: number): bigint => {
  let value = 0n;
  for (let index = 0; index < count; index++) value = (value << 4n) | nibble;
  return value;
};

describe('signedRadix16', () => {
  it('recombines to the scalar with digits in [−8, 8]', () => {
    const random = (): bigint =>
      BigInt('0x' + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex'));
    const wide = [0n, 1n, 8n, 15n, 2n ** 256n - 1n, repeated(8n, 64), repeated(15n, 64)];
    for (let trial = 0; trial < 100; trial++) wide.push(random());
    for (const [slots, scalars] of [
      [64, wide.map((value) => value >> 1n)],
      [65, wide],
    ] as const) {
      for (const scalar of scalars) {
        const digits = new Int8Array(slots);
        signedRadix16(littleEndian(scalar), digits);
        expect(recombine(digits)).toBe(scalar);
        for (const digit of digits) {
          expect(digit).toBeGreaterThanOrEqual(-8);
          expect(digit).toBeLessThanOrEqual(8);
        }
      }
    }
  });

  it('refuses other sizes', () => {
    expect(() => signedRadix16(new Uint8Array(31), new Int8Array(64))).toThrow(RangeError);
    expect(() => signedRadix16(new Uint8Array(32), new Int8Array(63))).toThrow(RangeError);
  });
});
