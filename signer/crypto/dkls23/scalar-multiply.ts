/**
 * k·G and k·P on secp256k1 for SECRET scalars k, in constant time on the WebAssembly
 * arithmetic of secp256k1-wasm.ts: DKLs23 signing's nonce, key-share and Γ points and its
 * Γ checks (eight multiplications per signing run: noble's BigInt ladder took ~0.43 ms for k·G
 * and ~2.5 ms for k·P, these ~0.11 and ~0.28 ms), the base OTs' α, β and s (base-ot.ts), the
 * protocol's own ECDSA check (ecdsa-verify.ts) and HD derivation's IL·G (public scalars).
 *
 * Both recode k ∈ [1, n) into 65 signed radix-16 digits eᵢ ∈ [−8, 8] (Σ eᵢ·16^i = k; bit
 * operations on bytes, no branch) and walk them in a fixed sequence:
 *   - k·G: Σ select(Tᵢ, eᵢ) over i = 0 … 64 with a table Tᵢ = (1 … 8)·16^i·G computed once
 *     per thread from noble's points (65 complete additions, no doubling);
 *   - k·P: a table 1P … 8P built with complete formulas, then for i = 64 … 0: four doublings
 *     and one complete addition of select(table, eᵢ).
 * `select` reads all eight entries and merges under masks; a digit 0 selects the identity,
 * which the complete formulas add like any point. The result leaves the module as affine
 * (x, y) through the fixed inversion chain, so its projective Z never reaches variable-time
 * code. The outputs are points the protocol sends or compares; the scalars never leave JS
 * bigints except as digits.
 *
 * Secrets: digits are wiped here, and the module's scratch, selection, accumulator and
 * variable-base table are zeroed before returning, also on the way out of an exception.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  ACCUMULATOR,
  BASE_POSITIONS,
  BASE_TABLE,
  FIELD_BYTES,
  POINT_BYTES,
  SECRET_STATE_END,
  SELECTED,
  VARIABLE_TABLE,
  VARIABLE_TABLE_END,
  secp256k1Wasm,
  type Secp256k1Wasm,
} from './secp256k1-wasm.ts';
import { scalarToBytes } from './group.ts';
import { signedRadix16 } from '../signed-radix16.ts';

const Point = secp256k1.Point;
type CurvePoint = InstanceType<typeof Point>;
const ORDER = Point.Fn.ORDER;
const DIGITS = 65;
/** Scratch 11–13 hold 1/Z, x and y on the way out (wiped with the rest). */
const INVERSE_Z = 11 * FIELD_BYTES;
const AFFINE_X = 12 * FIELD_BYTES;
const AFFINE_Y = 13 * FIELD_BYTES;

let tableOwner: Secp256k1Wasm | undefined;

/** Writes (1 … 8)·16^i·G for i < 65 once per module instance (public data). */
function withBaseTable(): Secp256k1Wasm {
  const wasm = secp256k1Wasm();
  if (tableOwner === wasm) return wasm;
  let position = Point.BASE;
  for (let index = 0; index < BASE_POSITIONS; index++) {
    let multiple = position;
    for (let j = 1; j <= 8; j++) {
      const { x, y } = multiple.toAffine();
      const entry = BASE_TABLE + (index * 8 + j - 1) * POINT_BYTES;
      wasm.writeField(entry, x);
      wasm.writeField(entry + FIELD_BYTES, y);
      wasm.writeField(entry + 2 * FIELD_BYTES, 1n);
      multiple = multiple.add(position);
    }
    for (let doubling = 0; doubling < 4; doubling++) position = position.double();
  }
  tableOwner = wasm;
  return wasm;
}

/** Signed radix-16 digits of k ∈ [0, 2^256): 65 digits in [−8, 8], Σ eᵢ·16^i = k. */
function signedDigits(scalar: bigint, digits: Int8Array): void {
  const littleEndian = scalarToBytes(scalar).reverse();
  try {
    signedRadix16(littleEndian, digits);
  } finally {
    littleEndian.fill(0);
  }
}

function checkScalar(scalar: bigint): void {
  if (typeof scalar !== 'bigint' || scalar <= 0n || scalar >= ORDER) {
    throw new RangeError('scalar must be in [1, n)');
  }
}

function setIdentity(wasm: Secp256k1Wasm, address: number): void {
  wasm.writeField(address, 0n);
  wasm.writeField(address + FIELD_BYTES, 1n);
  wasm.writeField(address + 2 * FIELD_BYTES, 0n);
}

/** The accumulator as a noble point, through the constant-time inversion. */
function accumulatorPoint(wasm: Secp256k1Wasm): CurvePoint {
  wasm.invert(INVERSE_Z, ACCUMULATOR + 2 * FIELD_BYTES);
  wasm.multiply(AFFINE_X, ACCUMULATOR, INVERSE_Z);
  wasm.multiply(AFFINE_Y, ACCUMULATOR + FIELD_BYTES, INVERSE_Z);
  const x = wasm.readField(AFFINE_X);
  const y = wasm.readField(AFFINE_Y);
  // Z = 0 (the identity) inverts to 0; no curve point has x = y = 0 (0 ≠ 0³ + 7).
  if (x === 0n && y === 0n) return Point.ZERO;
  return Point.fromAffine({ x, y });
}

function wipeState(wasm: Secp256k1Wasm, digits: Int8Array): void {
  digits.fill(0);
  wasm.wipe(0, 16 * FIELD_BYTES);
  wasm.wipe(SELECTED, SECRET_STATE_END);
  wasm.wipe(VARIABLE_TABLE, VARIABLE_TABLE_END);
}

/** k·G for a secret k ∈ [1, n), in constant time. */
export function multiplyBase(scalar: bigint): CurvePoint {
  checkScalar(scalar);
  const wasm = withBaseTable();
  const digits = new Int8Array(DIGITS);
  try {
    signedDigits(scalar, digits);
    setIdentity(wasm, ACCUMULATOR);
    for (let index = 0; index < DIGITS; index++) {
      wasm.select(SELECTED, BASE_TABLE + index * 8 * POINT_BYTES, digits[index] as number);
      wasm.addPoint(ACCUMULATOR, ACCUMULATOR, SELECTED);
    }
    return accumulatorPoint(wasm);
  } finally {
    wipeState(wasm, digits);
  }
}

/** k·P for a public point P and a secret k ∈ [1, n), in constant time in k. */
export function multiplyPoint(point: CurvePoint, scalar: bigint): CurvePoint {
  checkScalar(scalar);
  if (point.is0()) return Point.ZERO;
  const wasm = secp256k1Wasm();
  const digits = new Int8Array(DIGITS);
  try {
    signedDigits(scalar, digits);
    const { x, y } = point.toAffine();
    wasm.writeField(VARIABLE_TABLE, x);
    wasm.writeField(VARIABLE_TABLE + FIELD_BYTES, y);
    wasm.writeField(VARIABLE_TABLE + 2 * FIELD_BYTES, 1n);
    for (let multiple = 2; multiple <= 8; multiple++) {
      const entry = VARIABLE_TABLE + (multiple - 1) * POINT_BYTES;
      wasm.addPoint(entry, entry - POINT_BYTES, VARIABLE_TABLE);
    }
    wasm.select(ACCUMULATOR, VARIABLE_TABLE, digits[DIGITS - 1] as number);
    for (let index = DIGITS - 2; index >= 0; index--) {
      for (let doubling = 0; doubling < 4; doubling++) wasm.double(ACCUMULATOR, ACCUMULATOR);
      wasm.select(SELECTED, VARIABLE_TABLE, digits[index] as number);
      wasm.addPoint(ACCUMULATOR, ACCUMULATOR, SELECTED);
    }
    return accumulatorPoint(wasm);
  } finally {
    wipeState(wasm, digits);
  }
}
