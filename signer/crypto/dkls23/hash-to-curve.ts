/**
 * RFC 9380 hash_to_curve for the suite secp256k1_XMD:SHA-256_SSWU_RO_ (§8.7), the random
 * oracle of the DKLs23 base OTs (base-ot.ts), computing exactly what noble's
 * `secp256k1_hasher.hashToCurve` computes at ~1/2.7 of its cost (measured 236 vs 637 µs; three
 * calls per base OT made it ~40 % of a party's keygen CPU): SHA-256 from node:crypto instead of
 * pure JS, the two square-root exponentiations on the WebAssembly field (secp256k1-wasm.ts
 * `powSqrtRatio`), and one inversion per call.
 * Inputs and outputs are public (transcript data and the resulting points).
 *
 *   uniform = expand_message_xmd(msg, DST, 96)                               (§5.3.1)
 *   u₀, u₁  = the two 48-byte halves as integers mod p                        (§5.2)
 *   Qᵢ      = iso_map(map_to_curve_simple_swu(uᵢ)) on E′: y² = x³ + A′x + B′  (§6.6.2, §6.6.3)
 *   P       = Q₀ + Q₁ (the cofactor is 1)
 *
 * The SWU map is the straight-line version of RFC 9380 Appendix F.2 with sqrt_ratio for
 * p ≡ 3 (mod 4) (F.2.1.2). The 3-isogeny (Appendix E.1 constants) is evaluated homogeneously
 * on x = xₙ/x_d so that the four denominators of both maps share one inversion (Montgomery's
 * trick). Should a denominator be zero (probability ~2^-250 for hash outputs: the isogeny's
 * exceptional points), the call falls back to noble, which handles that case; outputs are
 * checked against noble on random inputs (hash-to-curve.test.ts).
 */
import { createHash } from 'node:crypto';
import { secp256k1, secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { FIELD_BYTES, P, secp256k1Wasm } from './secp256k1-wasm.ts';

const Point = secp256k1.Point;
type CurvePoint = InstanceType<typeof Point>;

/** E′ (isogenous to secp256k1) and the SWU constant Z (RFC 9380 §8.7). */
const A_PRIME = 0x3f8731abdd661adca08a5558f0f5d272e953d363cb6f0e5d405447c01a444533n;
const B_PRIME = 1771n;
const Z = P - 11n;

/** RFC 9380 Appendix E.1 3-isogeny coefficients, ascending degree (denominators monic). */
const X_NUMERATOR = [
  0x8e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38daaaaa8c7n,
  0x7d3d4c80bc321d5b9f315cea7fd44c5d595d2fc0bf63b92dfff1044f17c6581n,
  0x534c328d23f234e6e2a413deca25caece4506144037c40314ecbd0b53d9dd262n,
  0x8e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38daaaaa88cn,
] as const;
const X_DENOMINATOR = [
  0xd35771193d94918a9ca34ccbb7b640dd86cd409542f8487d9fe6b745781eb49bn,
  0xedadc6f64383dc1df7c4b2d51b54225406d36b641f5e41bbc52a56612a8c6d14n,
] as const;
const Y_NUMERATOR = [
  0x4bda12f684bda12f684bda12f684bda12f684bda12f684bda12f684b8e38e23cn,
  0xc75e0c32d5cb7c0fa9d0a54b12a0a6d5647ab046d686da6fdffc90fc201d71a3n,
  0x29a6194691f91a73715209ef6512e576722830a201be2018a765e85a9ecee931n,
  0x2f684bda12f684bda12f684bda12f684bda12f684bda12f684bda12f38e38d84n,
] as const;
const Y_DENOMINATOR = [
  0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffff93bn,
  0x7a06534bb8bdb49fd5e9e6632722c2989467c1bfc8e8d978dfb425d2685c2573n,
  0x6484aa716545ca2cf3a70c3fa8fe337e0a3d21162f0d6299a7bf8192bfd2a76fn,
] as const;

const mod = (value: bigint): bigint => {
  const reduced = value % P;
  return reduced < 0n ? reduced + P : reduced;
};

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let square = mod(base);
  for (let rest = exponent; rest > 0n; rest >>= 1n) {
    if ((rest & 1n) === 1n) result = (result * square) % P;
    square = (square * square) % P;
  }
  return result;
}

/** sqrt(−Z) = sqrt(11) (either root: the SWU map's sign step makes the output independent). */
const SQRT_MINUS_Z = power(11n, (P + 1n) / 4n);
if ((SQRT_MINUS_Z * SQRT_MINUS_Z) % P !== 11n) throw new Error('hash-to-curve: sqrt(11) is wrong');

/** tv^((p − 3)/4) on the WebAssembly field. */
function powSqrtRatio(value: bigint): bigint {
  const wasm = secp256k1Wasm();
  // Scratch elements 14 and 15 are free outside the point functions.
  const input = 14 * FIELD_BYTES;
  const output = 15 * FIELD_BYTES;
  wasm.writeField(input, value);
  wasm.powSqrtRatio(output, input);
  return wasm.readField(output);
}

/** RFC 9380 §5.3.1 expand_message_xmd with SHA-256, for a DST of at most 255 bytes. */
export function expandMessageXmd(message: Uint8Array, dst: Uint8Array, length: number): Uint8Array {
  if (dst.length > 255) throw new RangeError('DST longer than 255 bytes');
  const blocks = Math.ceil(length / 32);
  if (blocks > 255 || length > 65535) throw new RangeError('requested length too large');
  const dstPrime = new Uint8Array(dst.length + 1);
  dstPrime.set(dst);
  dstPrime[dst.length] = dst.length;
  const b0 = createHash('sha256')
    .update(new Uint8Array(64))
    .update(message)
    .update(Uint8Array.of(length >> 8, length & 0xff, 0))
    .update(dstPrime)
    .digest();
  const out = new Uint8Array(blocks * 32);
  let previous = createHash('sha256').update(b0).update(Uint8Array.of(1)).update(dstPrime).digest();
  out.set(previous, 0);
  for (let index = 2; index <= blocks; index++) {
    const mixed = new Uint8Array(32);
    for (let byte = 0; byte < 32; byte++) {
      mixed[byte] = (b0[byte] as number) ^ (previous[byte] as number);
    }
    previous = createHash('sha256')
      .update(mixed)
      .update(Uint8Array.of(index))
      .update(dstPrime)
      .digest();
    out.set(previous, (index - 1) * 32);
  }
  return out.subarray(0, length);
}

function bytesToInteger(bytes: Uint8Array): bigint {
  return BigInt('0x' + Buffer.from(bytes).toString('hex'));
}

/** A point of E′ as x = xNumerator/xDenominator, y (affine y). */
interface SwuOutput {
  readonly xNumerator: bigint;
  readonly xDenominator: bigint;
  readonly y: bigint;
}

/** RFC 9380 Appendix F.2 straight-line simplified SWU on E′, x left as a fraction. */
function mapToIsogenousCurve(u: bigint): SwuOutput {
  let tv1 = (u * u) % P; // 1
  tv1 = (Z * tv1) % P; // 2
  let tv2 = (tv1 * tv1) % P; // 3
  tv2 = (tv2 + tv1) % P; // 4
  let tv3 = (tv2 + 1n) % P; // 5
  tv3 = (B_PRIME * tv3) % P; // 6
  let tv4 = tv2 !== 0n ? mod(-tv2) : Z; // 7: CMOV(Z, −tv2, tv2 ≠ 0)
  tv4 = (A_PRIME * tv4) % P; // 8
  tv2 = (tv3 * tv3) % P; // 9
  let tv6 = (tv4 * tv4) % P; // 10
  let tv5 = (A_PRIME * tv6) % P; // 11
  tv2 = (tv2 + tv5) % P; // 12
  tv2 = (tv2 * tv3) % P; // 13
  tv6 = (tv6 * tv4) % P; // 14
  tv5 = (B_PRIME * tv6) % P; // 15
  tv2 = (tv2 + tv5) % P; // 16
  let x = (tv1 * tv3) % P; // 17
  // 18: sqrt_ratio(tv2, tv6) for p ≡ 3 (mod 4)
  const ratioV2 = (tv6 * tv6) % P;
  const ratioUV = (tv2 * tv6) % P;
  let y1 = powSqrtRatio((ratioV2 * ratioUV) % P);
  y1 = (y1 * ratioUV) % P;
  const y2 = (y1 * SQRT_MINUS_Z) % P;
  const isSquare = (((y1 * y1) % P) * tv6) % P === tv2;
  const root = isSquare ? y1 : y2;
  let y = (tv1 * u) % P; // 19
  y = (y * root) % P; // 20
  if (isSquare) {
    x = tv3; // 21
    y = root; // 22
  }
  if ((u & 1n) !== (y & 1n)) y = mod(-y); // 23, 24
  return { xNumerator: x, xDenominator: tv4, y }; // 25: x = x / tv4, left to the caller
}

/**
 * The isogeny's numerators and denominators evaluated on x = n/d, homogenised to degree 3:
 * x = Xn / (d·Xd′), y = y′·Yn / Yd, with Xn = Σ k₁ᵢ nⁱ d^(3−i), Xd′ = n² + k₂₁ n d + k₂₀ d²,
 * Yn = Σ k₃ᵢ nⁱ d^(3−i), Yd = n³ + k₄₂ n² d + k₄₁ n d² + k₄₀ d³.
 */
function isogenyTerms(point: SwuOutput): {
  xNumerator: bigint;
  xDenominator: bigint;
  yNumerator: bigint;
  yDenominator: bigint;
} {
  const n = point.xNumerator;
  const d = point.xDenominator;
  const n2 = (n * n) % P;
  const n3 = (n2 * n) % P;
  const d2 = (d * d) % P;
  const d3 = (d2 * d) % P;
  const n2d = (n2 * d) % P;
  const nd2 = (n * d2) % P;
  const cubic = (k: readonly [bigint, bigint, bigint, bigint]): bigint =>
    (k[3] * n3 + k[2] * n2d + k[1] * nd2 + k[0] * d3) % P;
  const xDenominatorPrime = (n2 + X_DENOMINATOR[1] * ((n * d) % P) + X_DENOMINATOR[0] * d2) % P;
  return {
    xNumerator: cubic(X_NUMERATOR),
    xDenominator: (d * xDenominatorPrime) % P,
    yNumerator: (point.y * cubic(Y_NUMERATOR)) % P,
    yDenominator:
      (n3 + Y_DENOMINATOR[2] * n2d + Y_DENOMINATOR[1] * nd2 + Y_DENOMINATOR[0] * d3) % P,
  };
}

/** hash_to_curve(message) for secp256k1_XMD:SHA-256_SSWU_RO_ with the given DST. */
export function hashToCurve(message: Uint8Array, dst: string): CurvePoint {
  const dstBytes = new TextEncoder().encode(dst);
  const uniform = expandMessageXmd(message, dstBytes, 96);
  const u0 = bytesToInteger(uniform.subarray(0, 48)) % P;
  const u1 = bytesToInteger(uniform.subarray(48, 96)) % P;
  const first = isogenyTerms(mapToIsogenousCurve(u0));
  const second = isogenyTerms(mapToIsogenousCurve(u1));
  const denominators = [
    first.xDenominator,
    first.yDenominator,
    second.xDenominator,
    second.yDenominator,
  ];
  if (denominators.some((value) => value === 0n)) {
    return secp256k1_hasher.hashToCurve(message, { DST: dst }) as CurvePoint;
  }
  // Montgomery's trick: one inversion for the four denominators.
  const prefix: bigint[] = [];
  let running = 1n;
  for (const value of denominators) {
    prefix.push(running);
    running = (running * value) % P;
  }
  let inverse = Point.Fp.inv(running);
  const inverses: bigint[] = new Array<bigint>(4);
  for (let index = 3; index >= 0; index--) {
    inverses[index] = (inverse * (prefix[index] as bigint)) % P;
    inverse = (inverse * (denominators[index] as bigint)) % P;
  }
  const q0 = Point.fromAffine({
    x: (first.xNumerator * (inverses[0] as bigint)) % P,
    y: (first.yNumerator * (inverses[1] as bigint)) % P,
  });
  const q1 = Point.fromAffine({
    x: (second.xNumerator * (inverses[2] as bigint)) % P,
    y: (second.yNumerator * (inverses[3] as bigint)) % P,
  });
  return q0.add(q1);
}
