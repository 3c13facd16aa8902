/**
 * The exact prime-order subgroup check against its definition ([ℓ]P = I, computed by noble's
 * general multiplier) on points with every torsion component: A + T for A in the subgroup
 * and T each of the 8 points of the 8-torsion group (T = I is the only one accepted), the
 * torsion points alone, and the identity.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { hasPrimeOrder } from './subgroup-check.ts';

const Point = ed25519.Point;

/** A generator of the 8-torsion subgroup (order exactly 8). */
const TORSION_8 = Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a');

function torsionPoints(): InstanceType<typeof Point>[] {
  const points = [Point.ZERO];
  for (let index = 1; index < 8; index++) {
    points.push((points[index - 1] as InstanceType<typeof Point>).add(TORSION_8));
  }
  return points;
}

describe('hasPrimeOrder', () => {
  it('the torsion generator has order exactly 8', () => {
    const torsion = torsionPoints();
    expect(torsion[4]?.is0()).toBe(false);
    expect(torsion[4]?.double().is0()).toBe(true);
  });

  it('accepts subgroup points and rejects every torsion component, like [ℓ]P = I', () => {
    const torsion = torsionPoints();
    const scalars = [1n, 2n, 7n, 2n ** 200n + 12345n, Point.Fn.ORDER - 1n, 0x1234567890abcdefn];
    for (const scalar of scalars) {
      const subgroupPoint = Point.BASE.multiply(scalar);
      for (let index = 0; index < 8; index++) {
        const candidate = subgroupPoint.add(torsion[index] as InstanceType<typeof Point>);
        const expected = candidate
          .multiplyUnsafe(Point.Fn.ORDER - 1n)
          .add(candidate)
          .is0();
        expect(expected).toBe(index === 0);
        expect(hasPrimeOrder(candidate)).toBe(expected);
        // A point round-tripped through its encoding (affine, Z = 1) gives the same answer.
        expect(hasPrimeOrder(Point.fromBytes(candidate.toBytes()))).toBe(expected);
      }
    }
  });

  it('accepts the identity and rejects the small-order points alone', () => {
    const torsion = torsionPoints();
    expect(hasPrimeOrder(Point.ZERO)).toBe(true);
    for (let index = 1; index < 8; index++) {
      expect(hasPrimeOrder(torsion[index] as InstanceType<typeof Point>)).toBe(false);
    }
  });
});
