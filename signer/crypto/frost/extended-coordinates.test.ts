/**
 * The public-input linear combination (extended-coordinates.ts) against noble's general
 * multiplier: random points and scalars, the scalar edge cases (0, 1, ℓ − 1, ℓ, 2^256 − 1),
 * points with torsion components and the identity (the formulas are complete, so every one
 * must agree exactly), the encoding made in the module, and the NAF recoding's invariants.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { linearCombinationEncoded, nafDigits } from './extended-coordinates.ts';

const Point = ed25519.Point;
type EdwardsPoint = InstanceType<typeof Point>;
const ELL = Point.Fn.ORDER;
const TORSION_8 = Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a');

function randomScalar(bits = 256): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(bits / 8));
  return bytes.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
}

/** Σ kᵢPᵢ by noble, on the full integers (k mod 8ℓ matters for torsion points). */
function reference(points: readonly EdwardsPoint[], scalars: readonly bigint[]): EdwardsPoint {
  let sum = Point.ZERO;
  points.forEach((point, index) => {
    const scalar = scalars[index] as bigint;
    // noble's multiplyUnsafe takes scalars below ℓ: split k = q·ℓ + r and add q·(ℓP) = q·[ℓ]P.
    const ellMultiple = point.multiplyUnsafe(ELL - 1n).add(point);
    const quotient = scalar / ELL;
    const remainder = scalar % ELL;
    let term = remainder === 0n ? Point.ZERO : point.multiplyUnsafe(remainder);
    if (quotient !== 0n) term = term.add(ellMultiple.multiplyUnsafe(quotient));
    sum = sum.add(term);
  });
  return sum;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** The combination's point, after checking the module's encoding against noble's of it. */
function linearCombination(
  points: readonly EdwardsPoint[],
  scalars: readonly bigint[],
): EdwardsPoint {
  const { point, bytes } = linearCombinationEncoded(points, scalars);
  expect(hex(bytes)).toBe(hex(point.toBytes()));
  return point;
}

function expectSame(actual: EdwardsPoint, expected: EdwardsPoint): void {
  expect(actual.equals(expected)).toBe(true);
  expect(Buffer.from(actual.toBytes()).toString('hex')).toBe(
    Buffer.from(expected.toBytes()).toString('hex'),
  );
  // T is valid: a further addition through noble still agrees.
  expect(actual.add(Point.BASE).equals(expected.add(Point.BASE))).toBe(true);
}

describe('nafDigits', () => {
  it('recodes exactly with odd digits below 16 in absolute value, spaced by ≥ 4 zeros', () => {
    const scalars = [0n, 1n, 2n, 31n, ELL - 1n, ELL, (1n << 256n) - 1n, 0x8000000000000000n];
    for (let trial = 0; trial < 50; trial++) scalars.push(randomScalar());
    for (const scalar of scalars) {
      const digits = nafDigits(scalar);
      let value = 0n;
      let lastNonZero = -10;
      digits.forEach((digit, position) => {
        value += BigInt(digit) << BigInt(position);
        if (digit === 0) return;
        expect(Math.abs(digit) % 2).toBe(1);
        expect(Math.abs(digit)).toBeLessThan(16);
        expect(position - lastNonZero).toBeGreaterThanOrEqual(5);
        lastNonZero = position;
      });
      expect(value).toBe(scalar);
    }
    expect(() => nafDigits(-1n)).toThrow(RangeError);
    expect(() => nafDigits(1n << 256n)).toThrow(RangeError);
  });
});

describe('linearCombinationEncoded', () => {
  it('matches noble on random points and scalars (1 to 4 terms)', () => {
    for (let terms = 1; terms <= 4; terms++) {
      for (let trial = 0; trial < 3; trial++) {
        const points = Array.from({ length: terms }, () =>
          Point.BASE.multiply((randomScalar() % (ELL - 1n)) + 1n),
        );
        const scalars = Array.from({ length: terms }, () => randomScalar() % ELL);
        expectSame(linearCombination(points, scalars), reference(points, scalars));
      }
    }
  });

  it('matches noble on edge scalars, torsion components and the identity', () => {
    const subgroup = Point.BASE.multiply(0x1234567890abcdefn);
    const points = [
      subgroup,
      subgroup.add(TORSION_8),
      TORSION_8,
      TORSION_8.double(),
      Point.ZERO,
      Point.BASE,
    ];
    const edges = [0n, 1n, 2n, 7n, 8n, ELL - 1n, ELL, ELL + 1n, (1n << 256n) - 1n];
    for (const point of points) {
      for (const scalar of edges) {
        expectSame(linearCombination([point], [scalar]), reference([point], [scalar]));
      }
    }
    // The group commitment's shape: hiding points with scalar 1 plus binding points.
    const hiding = [Point.BASE.multiply(11n), Point.BASE.multiply(13n)];
    const binding = [Point.BASE.multiply(17n), subgroup];
    const scalars = [1n, 1n, randomScalar() % ELL, randomScalar() % ELL];
    expectSame(
      linearCombination([...hiding, ...binding], scalars),
      reference([...hiding, ...binding], scalars),
    );
    expect(linearCombination([], []).is0()).toBe(true);
    expect(linearCombination([subgroup, TORSION_8], [0n, 0n]).is0()).toBe(true);
    // P + (−P) through the walk: the identity, with valid coordinates.
    expect(linearCombination([subgroup, subgroup.negate()], [5n, 5n]).is0()).toBe(true);
    expect(() => linearCombination([subgroup], [1n, 2n])).toThrow(RangeError);
  });
});
