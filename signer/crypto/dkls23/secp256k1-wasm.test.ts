/**
 * The constant-time secp256k1 WebAssembly arithmetic (secp256k1-wasm.ts) against BigInt mod p
 * and against noble's points: field operations on random, extreme and largest-carried inputs
 * (both signs), long chains feeding carried outputs back in, the inversion by its definition,
 * and the complete addition and doubling on random points, equal points, inverse points and
 * the identity.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { expectFieldOperations, fieldReference } from '../field-test-helpers.ts';
import { FIELD_BYTES, P, POINT_BYTES, secp256k1Wasm } from './secp256k1-wasm.ts';

const Point = secp256k1.Point;
type CurvePoint = InstanceType<typeof Point>;
const wasm = secp256k1Wasm();
// Scratch 14 and 15 are not used by the point functions' temporaries (0–7, 10).
const A = 14 * FIELD_BYTES;
const B = 15 * FIELD_BYTES;
const OUT = 8 * FIELD_BYTES;
// Points in the variable-base table's area (free while no multiplication runs).
const P1 = 2048;
const P2 = P1 + POINT_BYTES;
const P3 = P2 + POINT_BYTES;

const { mod: modP, power, randomElement } = fieldReference(P);
const ADDRESSES = { a: A, b: B, out: OUT };

const EXTREMES = [
  0n,
  1n,
  2n,
  P - 1n,
  P - 2n,
  2n ** 32n + 977n,
  2n ** 255n,
  2n ** 256n - 2n ** 32n - 978n,
  2n ** 200n - 1n,
];

function check(a: bigint, b: bigint): void {
  wasm.writeField(A, a);
  wasm.writeField(B, b);
  expectFieldOperations(wasm, P, ADDRESSES, a, b);
}

describe('secp256k1-wasm field arithmetic', () => {
  it('matches BigInt mod p on random and extreme elements', () => {
    for (const a of EXTREMES) for (const b of EXTREMES) check(a, b);
    for (let trial = 0; trial < 500; trial++) check(randomElement(), randomElement());
  });

  it('stays exact over long chains that feed carried outputs back in', () => {
    let expected = randomElement();
    const other = randomElement();
    wasm.writeField(A, expected);
    wasm.writeField(B, other);
    for (let step = 0; step < 2000; step++) {
      if (step % 3 === 0) {
        if (step % 2 === 0) wasm.square(A, A);
        else wasm.multiply(A, A, A);
        expected = modP(expected * expected);
      } else if (step % 3 === 1) {
        wasm.subtract(A, A, B);
        expected = modP(expected - other);
      } else {
        wasm.add(A, A, A);
        wasm.multiply(A, A, B);
        expected = modP(2n * expected * other);
      }
    }
    expect(wasm.readField(A)).toBe(expected);
  });

  it('is exact on limbs at the carried and canonical bounds, both signs', () => {
    const patterns: bigint[][] = [
      Array.from({ length: 10 }, () => 2n ** 26n - 1n),
      Array.from({ length: 10 }, () => -(2n ** 25n) - 4n),
      Array.from({ length: 10 }, (_, index) =>
        index % 2 === 0 ? 2n ** 25n + 4n : -(2n ** 25n) - 4n,
      ),
    ];
    const valueOf = (limbs: readonly bigint[]): bigint =>
      modP(limbs.reduce((sum, limb, index) => sum + (limb << BigInt(26 * index)), 0n));
    for (const left of patterns) {
      for (const right of patterns) {
        wasm.writeLimbs(A, left);
        wasm.writeLimbs(B, right);
        expectFieldOperations(wasm, P, ADDRESSES, valueOf(left), valueOf(right));
      }
    }
  });

  it('powSqrtRatio is x^((p − 3)/4)', () => {
    for (const value of [0n, 1n, 2n, P - 1n, ...Array.from({ length: 10 }, randomElement)]) {
      wasm.writeField(A, value);
      wasm.powSqrtRatio(OUT, A);
      expect(wasm.readField(OUT)).toBe(power(value, (P - 3n) / 4n));
    }
  });

  it('inverts: a·invert(a) = 1, invert(0) = 0', () => {
    for (const value of [1n, 2n, P - 1n, ...Array.from({ length: 10 }, randomElement)]) {
      wasm.writeField(A, value);
      wasm.invert(OUT, A);
      expect(modP(wasm.readField(OUT) * value)).toBe(1n);
    }
    wasm.writeField(A, 0n);
    wasm.invert(OUT, A);
    expect(wasm.readField(OUT)).toBe(0n);
  });
});

function writePoint(address: number, point: CurvePoint, scale = 1n): void {
  // Any projective representative: (λx : λy : λ), or (0 : λ : 0) for the identity.
  if (point.is0()) {
    wasm.writeField(address, 0n);
    wasm.writeField(address + FIELD_BYTES, scale);
    wasm.writeField(address + 2 * FIELD_BYTES, 0n);
    return;
  }
  const { x, y } = point.toAffine();
  wasm.writeField(address, x * scale);
  wasm.writeField(address + FIELD_BYTES, y * scale);
  wasm.writeField(address + 2 * FIELD_BYTES, scale);
}

function readPoint(address: number): CurvePoint {
  const x = wasm.readField(address);
  const y = wasm.readField(address + FIELD_BYTES);
  const z = wasm.readField(address + 2 * FIELD_BYTES);
  return new Point(x, y, z);
}

describe('secp256k1-wasm complete point formulas', () => {
  const randomPoint = (): CurvePoint =>
    Point.BASE.multiply(
      (BigInt('0x' + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex')) %
        (Point.Fn.ORDER - 1n)) +
        1n,
    );

  it('add and double agree with noble on random points and projective scalings', () => {
    for (let trial = 0; trial < 30; trial++) {
      const left = randomPoint();
      const right = randomPoint();
      writePoint(P1, left, randomElement() || 1n);
      writePoint(P2, right, randomElement() || 1n);
      wasm.addPoint(P3, P1, P2);
      expect(readPoint(P3).equals(left.add(right))).toBe(true);
      wasm.double(P3, P1);
      expect(readPoint(P3).equals(left.double())).toBe(true);
      // Output aliasing an input.
      wasm.addPoint(P1, P1, P2);
      expect(readPoint(P1).equals(left.add(right))).toBe(true);
    }
  });

  it('is complete: equal points, inverse points and the identity', () => {
    const point = randomPoint();
    const cases: [CurvePoint, CurvePoint][] = [
      [point, point],
      [point, point.negate()],
      [point, Point.ZERO],
      [Point.ZERO, point],
      [Point.ZERO, Point.ZERO],
    ];
    for (const [left, right] of cases) {
      writePoint(P1, left, 7n);
      writePoint(P2, right, 11n);
      wasm.addPoint(P3, P1, P2);
      expect(readPoint(P3).equals(left.add(right))).toBe(true);
      wasm.double(P3, P1);
      expect(readPoint(P3).equals(left.double())).toBe(true);
    }
  });
});
