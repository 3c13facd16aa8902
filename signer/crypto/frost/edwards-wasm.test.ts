/**
 * The WebAssembly field arithmetic (edwards-wasm.ts) against BigInt mod p: random elements,
 * the canonical extremes (0, 1, p − 1, p − 19 …), chains of operations that feed carried
 * outputs back in (the bound the overflow argument rests on), and limbs at the largest
 * magnitudes a carried element can have, negative and positive. The point functions are
 * checked against noble in extended-coordinates.test.ts and subgroup-check.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { expectFieldOperations, fieldReference } from '../field-test-helpers.ts';
import { ARENA_START, FIELD_BYTES, P, edwardsWasm } from './edwards-wasm.ts';

const wasm = edwardsWasm();
const A = ARENA_START;
const B = A + FIELD_BYTES;
const OUT = B + FIELD_BYTES;

const { mod: modP, power, randomElement } = fieldReference(P);
const ADDRESSES = { a: A, b: B, out: OUT };

const EXTREMES = [
  0n,
  1n,
  2n,
  19n,
  P - 1n,
  P - 2n,
  P - 19n,
  (P + 1n) / 2n,
  2n ** 254n,
  2n ** 255n - 20n,
];

function check(a: bigint, b: bigint): void {
  wasm.writeField(A, a);
  wasm.writeField(B, b);
  expectFieldOperations(wasm, P, ADDRESSES, a, b);
}

describe('edwards-wasm field arithmetic', () => {
  it('matches BigInt mod p on random and extreme elements', () => {
    for (const a of EXTREMES) for (const b of EXTREMES) check(a, b);
    for (let trial = 0; trial < 500; trial++) check(randomElement(), randomElement());
  });

  it('writes any integer reduced mod p, and output may alias an input', () => {
    wasm.writeField(A, -5n);
    expect(wasm.readField(A)).toBe(P - 5n);
    wasm.writeField(A, P + 7n);
    expect(wasm.readField(A)).toBe(7n);
    const a = randomElement();
    wasm.writeField(A, a);
    wasm.multiply(A, A, A);
    expect(wasm.readField(A)).toBe(modP(a * a));
  });

  it('stays exact over long chains that feed carried outputs back in', () => {
    let expected = randomElement();
    const other = randomElement();
    wasm.writeField(A, expected);
    wasm.writeField(B, other);
    for (let step = 0; step < 2000; step++) {
      switch (step % 4) {
        case 0:
          if (step % 8 === 0) wasm.multiply(A, A, A);
          else wasm.square(A, A);
          expected = modP(expected * expected);
          break;
        case 1:
          wasm.subtract(A, A, B);
          expected = modP(expected - other);
          break;
        case 2:
          wasm.add(A, A, A);
          expected = modP(expected + expected);
          break;
        default:
          wasm.multiply(A, A, B);
          expected = modP(expected * other);
      }
    }
    expect(wasm.readField(A)).toBe(expected);
  });

  it('is exact on limbs at the carried bounds, both signs', () => {
    // Carried limbs: |even| ≤ 2^25, |odd| ≤ 2^24 (limb 1 up to 2^24 + 2^17); canonical limbs
    // written from JS reach 2^26 − 1 and 2^25 − 1. Try every sign pattern's extremes.
    const patterns: bigint[][] = [
      Array.from({ length: 10 }, (_, index) => (index % 2 === 0 ? 2n ** 26n - 1n : 2n ** 25n - 1n)),
      Array.from({ length: 10 }, (_, index) => (index % 2 === 0 ? -(2n ** 25n) : -(2n ** 24n))),
      Array.from({ length: 10 }, (_, index) =>
        index === 1 ? 2n ** 24n + 2n ** 17n : index % 2 === 0 ? 2n ** 25n : -(2n ** 24n),
      ),
    ];
    const valueOf = (limbs: readonly bigint[]): bigint =>
      modP(limbs.reduce((sum, limb, index) => sum + (limb << BigInt(Math.ceil(25.5 * index))), 0n));
    for (const left of patterns) {
      for (const right of patterns) {
        wasm.writeLimbs(A, left);
        wasm.writeLimbs(B, right);
        expectFieldOperations(wasm, P, ADDRESSES, valueOf(left), valueOf(right));
      }
    }
  });

  it('grows its memory on demand', () => {
    const far = 5 * 65536;
    wasm.reserve(far + FIELD_BYTES);
    wasm.writeField(far, 12345n);
    wasm.multiply(far, far, far);
    expect(wasm.readField(far)).toBe(12345n * 12345n);
  });
});

describe('edwards-wasm exponentiation chains', () => {
  it('invert is x^(p − 2) and pow22523 is x^((p − 5)/8)', () => {
    for (const value of [0n, 1n, 2n, P - 1n, ...Array.from({ length: 20 }, randomElement)]) {
      wasm.writeField(A, value);
      wasm.invert(OUT, A);
      expect(wasm.readField(OUT)).toBe(power(value, P - 2n));
      if (value !== 0n) expect(modP(wasm.readField(OUT) * value)).toBe(1n);
      wasm.pow22523(OUT, A);
      expect(wasm.readField(OUT)).toBe(power(value, (P - 5n) / 8n));
    }
  });
});
