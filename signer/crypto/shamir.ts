/**
 * Shamir secret sharing and Feldman verifiable commitments over any prime-order group given as
 * a noble point constructor (`Point.BASE`, `Point.ZERO`, `Point.Fn`). Share x-coordinates are
 * the 1-based party ids. Polynomial coefficients are secrets: callers wipe what they can (bigints
 * cannot be wiped, see noble-curves "Memory dumping").
 */

/** The scalar field operations used here (a subset of noble's `IField<bigint>`). */
export interface ScalarField {
  readonly ORDER: bigint;
  create(value: bigint): bigint;
  add(left: bigint, right: bigint): bigint;
  sub(left: bigint, right: bigint): bigint;
  mul(left: bigint, right: bigint): bigint;
  inv(value: bigint): bigint;
}

/** The point operations used here (a subset of noble's projective points). */
export interface GroupPoint<P> {
  add(other: P): P;
  multiply(scalar: bigint): P;
  multiplyUnsafe(scalar: bigint): P;
  equals(other: P): boolean;
  is0(): boolean;
}

/** A prime-order group: generator, identity and scalar field. */
export interface PrimeGroup<P extends GroupPoint<P>> {
  readonly BASE: P;
  readonly ZERO: P;
  readonly Fn: ScalarField;
}

/** f(x) = Σ coefficients[k]·x^k (Horner), coefficients[0] is the secret. */
export function evaluatePolynomial(
  field: ScalarField,
  coefficients: readonly bigint[],
  x: bigint,
): bigint {
  let result = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) {
    result = field.add(field.mul(result, x), coefficients[k] as bigint);
  }
  return result;
}

/**
 * Lagrange coefficient of `self` for interpolating at `at` (default 0) from the distinct
 * non-zero x-coordinates `ids`. Throws if `self` is not among `ids` or ids repeat.
 */
export function lagrangeCoefficient(
  field: ScalarField,
  ids: readonly bigint[],
  self: bigint,
  at = 0n,
): bigint {
  if (new Set(ids).size !== ids.length) throw new RangeError('lagrange: duplicate x-coordinates');
  if (!ids.includes(self)) throw new RangeError('lagrange: self not among x-coordinates');
  let numerator = 1n;
  let denominator = 1n;
  for (const id of ids) {
    if (id === self) continue;
    numerator = field.mul(numerator, field.sub(field.create(id), field.create(at)));
    denominator = field.mul(denominator, field.sub(field.create(id), field.create(self)));
  }
  if (denominator === 0n) throw new RangeError('lagrange: x-coordinates collide modulo the order');
  return field.mul(numerator, field.inv(denominator));
}

/** Feldman commitments C_k = coefficients[k]·G (constant time multiplications). */
export function feldmanCommit<P extends GroupPoint<P>>(
  group: PrimeGroup<P>,
  coefficients: readonly bigint[],
): P[] {
  return coefficients.map((coefficient) => group.BASE.multiply(coefficient));
}

/** Σ C_k·x^k: the public image f(x)·G of the committed polynomial (public data only). */
export function feldmanEvaluate<P extends GroupPoint<P>>(
  group: PrimeGroup<P>,
  commitments: readonly P[],
  x: bigint,
): P {
  let result = group.ZERO;
  for (let k = commitments.length - 1; k >= 0; k--) {
    result = result.multiplyUnsafe(group.Fn.create(x)).add(commitments[k] as P);
  }
  return result;
}

/** Whether share·G equals the committed polynomial's image at x. */
export function feldmanVerify<P extends GroupPoint<P>>(
  group: PrimeGroup<P>,
  commitments: readonly P[],
  x: bigint,
  share: bigint,
): boolean {
  return group.BASE.multiply(share).equals(feldmanEvaluate(group, commitments, x));
}

/** Σ λ_i·points[i] at `at`: interpolation in the exponent (public data only). */
export function interpolatePoints<P extends GroupPoint<P>>(
  group: PrimeGroup<P>,
  points: ReadonlyMap<bigint, P>,
  at = 0n,
): P {
  const ids = [...points.keys()];
  let result = group.ZERO;
  for (const [id, point] of points) {
    const coefficient = lagrangeCoefficient(group.Fn, ids, id, at);
    result = result.add(point.multiplyUnsafe(coefficient));
  }
  return result;
}
