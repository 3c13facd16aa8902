/**
 * secp256k1 field and projective point arithmetic in generated WebAssembly, constant time:
 * the multiplications by secret scalars of DKLs23 signing and of the base OTs
 * (scalar-multiply.ts), and the square roots of point decoding and hash-to-curve
 * (point-decoding.ts, hash-to-curve.ts; public inputs). Every function is straight-line code over
 * its inputs (no branch, no input-dependent address), so its running time does not depend on the
 * values it computes with.
 *
 * Field elements (GF(p), p = 2^256 − 2^32 − 977) are 10 signed 64-bit limbs in radix 2^26
 * (value = Σ fᵢ·2^(26i), 260 bits of room). Outputs are "carried": every |fᵢ| ≤ 2^25 + 4.
 * Values are congruent, not equal, to their canonical residue; readers reduce (`readField`).
 *
 * Reduction, and why nothing overflows: inputs are carried outputs (≤ 2^25 + 4) or canonical
 * limbs from JS (< 2^26), so a product's 19 column sums hₖ are below 10·2^52 < 2^55.4.
 *   1. A rounding carry chain over h₀ … h₁₈ (into a new h₁₉) leaves |hₖ| ≤ 2^25 for k ≤ 18
 *      and |h₁₉| < 2^29.5.
 *   2. 2^260 ≡ 2^36 + 15632 = 2^10·2^26 + 15632 (mod p), so for m = 19 down to 10:
 *      h_(m−10) += 15632·h_m and h_(m−9) += 2^10·h_m (m = 19 feeds h₁₀ before h₁₀ is folded).
 *      The largest results: h₁₀ < 2^39.5 after m = 19, hence h₀ < 2^53.5, h₁ < 2^49.5.
 *   3. A carry chain over h₀ … h₉ whose top carry c re-enters as h₀ += 15632·c,
 *      h₁ += 2^10·c (c < 2^18), then h₀ → h₁ → h₂ once more: every |hᵢ| ≤ 2^25 + 4.
 * `fe_add`/`fe_sub` run step 3 on limb-wise sums (< 2^27). Checked against BigInt on random,
 * extreme and largest-carried inputs (secp256k1-wasm.test.ts).
 *
 * Points: homogeneous projective (X : Y : Z) on y² = x³ + 7, identity (0 : 1 : 0), with the
 * complete formulas of Renes–Costello–Batina ("Complete addition formulas for prime order
 * elliptic curves", EUROCRYPT 2016) for a = 0: Algorithm 7 (addition, any two points,
 * identity and equal points included) and Algorithm 9 (doubling), b₃ = 3·7 = 21.
 *
 * Memory (one instance per thread; the layout is fixed):
 *   [0, 1280)      16 scratch field elements;  [1280, 1440) unused;
 *   [1440, 1680)   SELECTED (a point);         [1680, 1920) ACCUMULATOR (a point);
 *   [2048, 3968)   VARIABLE_TABLE: 1P … 8P;    [4096, …)    BASE_TABLE: 65 × (1 … 8)·16^i·G.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  callWith,
  copyBytes,
  encodeModule,
  instantiate,
  loadLimb,
  op,
  signedLeb,
  storeLimbs,
  unsignedLeb,
  valueType,
  type Address,
  type WasmExports,
} from '../wasm-emitter.ts';
import {
  ADD_SUBTRACT_I64_LOCALS,
  FIELD_BYTES,
  FIELD_LIMBS,
  addSubtractBody,
  constantTimeSelectBody,
  fieldMemory,
  fixedPowerBody,
  negateUnderMask,
  selectLocals,
  type FieldMemory,
  type SelectLayout,
} from '../wasm-field.ts';

/** p = 2^256 − 2^32 − 977. */
export const P: bigint = secp256k1.Point.Fp.ORDER;
const LIMBS = FIELD_LIMBS;
const RADIX = 26;
export { FIELD_BYTES };
export const POINT_BYTES = 3 * FIELD_BYTES;
/** 2^260 ≡ 2^10·2^26 + FOLD_LOW (mod p). */
const FOLD_LOW = 15632;
const FOLD_SHIFT = 10;

const scratch = (index: number): number => index * FIELD_BYTES;
export const SELECTED = scratch(18);
export const ACCUMULATOR = SELECTED + POINT_BYTES;
/** End of the state a secret multiplication leaves behind (wiped after each). */
export const SECRET_STATE_END = ACCUMULATOR + POINT_BYTES;
export const VARIABLE_TABLE = 2048;
export const VARIABLE_TABLE_END = VARIABLE_TABLE + 8 * POINT_BYTES;
export const BASE_TABLE = 4096;
export const BASE_POSITIONS = 65;
const MEMORY_PAGES = Math.ceil((BASE_TABLE + BASE_POSITIONS * 8 * POINT_BYTES) / 65536);

const X = 0;
const Y = FIELD_BYTES;
const Z = 2 * FIELD_BYTES;

const FN_MUL = 0;
const FN_ADD = 1;
const FN_SUB = 2;
const FN_ADD_POINT = 3;
const FN_DOUBLE = 4;
const FN_SELECT = 5;
const FN_INVERT = 6;
const FN_POW_SQRT_RATIO = 7;
const FN_SQUARE = 8;
const FN_TIMES_B3 = 9;
const FN_POW_SQRT = 10;

/** Appends one rounding carry from limb `from` into limb `to`: carry = (h + 2^25) >> 26. */
function carryStep(code: number[], from: number, to: number, carry: number): void {
  code.push(op.localGet, from, op.i64Const, ...signedLeb(1 << (RADIX - 1)), op.i64Add);
  code.push(op.i64Const, RADIX, op.i64ShrS, op.localSet, carry);
  code.push(op.localGet, from, op.localGet, carry, op.i64Const, RADIX, op.i64Shl, op.i64Sub);
  code.push(op.localSet, from, op.localGet, to, op.localGet, carry, op.i64Add, op.localSet, to);
}

/** Appends `h[low] += 15632·v; h[low + 1] += v << 10` for the value on local `value`. */
function fold(code: number[], value: number, low: number, high: number): void {
  code.push(op.localGet, low, op.localGet, value, op.i64Const, ...signedLeb(FOLD_LOW));
  code.push(op.i64Mul, op.i64Add, op.localSet, low);
  code.push(op.localGet, high, op.localGet, value, op.i64Const, FOLD_SHIFT, op.i64Shl);
  code.push(op.i64Add, op.localSet, high);
}

/** Step 3 of the reduction over locals h(0 … 9). */
function narrowCarry(code: number[], h: (limb: number) => number, carry: number): void {
  for (let limb = 0; limb < LIMBS - 1; limb++) carryStep(code, h(limb), h(limb + 1), carry);
  // Top: carry = (h₉ + 2^25) >> 26; h₉ −= carry << 26; fold carry·2^260.
  const top = h(LIMBS - 1);
  code.push(op.localGet, top, op.i64Const, ...signedLeb(1 << (RADIX - 1)), op.i64Add);
  code.push(op.i64Const, RADIX, op.i64ShrS, op.localSet, carry);
  code.push(op.localGet, top, op.localGet, carry, op.i64Const, RADIX, op.i64Shl, op.i64Sub);
  code.push(op.localSet, top);
  fold(code, carry, h(0), h(1));
  carryStep(code, h(0), h(1), carry);
  carryStep(code, h(1), h(2), carry);
}

/** Steps 1–3 of the reduction over the 19 column sums on locals h(0 … 18), h(19) scratch. */
function reduceWide(code: number[], h: (limb: number) => number, carry: number): void {
  code.push(op.i64Const, 0, op.localSet, h(2 * LIMBS - 1));
  for (let k = 0; k < 2 * LIMBS - 1; k++) carryStep(code, h(k), h(k + 1), carry);
  for (let m = 2 * LIMBS - 1; m >= LIMBS; m--) fold(code, h(m), h(m - LIMBS), h(m - LIMBS + 1));
  narrowCarry(code, h, carry);
}

/** fe_mul(out, a, b): out = a·b (out may alias an input). */
function multiplyBody(): number[] {
  const f = (i: number): number => 3 + i;
  const g = (j: number): number => 13 + j;
  const h = (k: number): number => 23 + k; // h(0 … 19)
  const carry = 43;
  const code: number[] = [];
  for (let limb = 0; limb < LIMBS; limb++) {
    loadLimb(code, 1, limb, f(limb));
    loadLimb(code, 2, limb, g(limb));
  }
  for (let k = 0; k < 2 * LIMBS - 1; k++) {
    let first = true;
    for (let i = Math.max(0, k - LIMBS + 1); i <= Math.min(k, LIMBS - 1); i++) {
      code.push(op.localGet, f(i), op.localGet, g(k - i), op.i64Mul);
      if (!first) code.push(op.i64Add);
      first = false;
    }
    code.push(op.localSet, h(k));
  }
  reduceWide(code, h, carry);
  storeLimbs(code, 0, h, LIMBS);
  code.push(op.end);
  return code;
}

/** fe_square(out, a): out = a², the 55 distinct products of fe_mul's columns (same bounds). */
function squareBody(): number[] {
  const f = (i: number): number => 2 + i;
  const f2 = (i: number): number => 12 + i;
  const h = (k: number): number => 22 + k; // h(0 … 19)
  const carry = 42;
  const code: number[] = [];
  for (let limb = 0; limb < LIMBS; limb++) loadLimb(code, 1, limb, f(limb));
  for (let i = 0; i < LIMBS; i++) {
    code.push(op.localGet, f(i), op.i64Const, 1, op.i64Shl, op.localSet, f2(i));
  }
  for (let k = 0; k < 2 * LIMBS - 1; k++) {
    let first = true;
    for (let i = Math.max(0, k - LIMBS + 1); 2 * i <= k; i++) {
      const j = k - i;
      code.push(op.localGet, i < j ? f2(i) : f(i), op.localGet, f(j), op.i64Mul);
      if (!first) code.push(op.i64Add);
      first = false;
    }
    code.push(op.localSet, h(k));
  }
  reduceWide(code, h, carry);
  storeLimbs(code, 0, h, LIMBS);
  code.push(op.end);
  return code;
}

/** fe_times_b3(out, a): out = 21·a (limbs below 21·2^26 < 2^31 before the carry). */
function timesB3Body(): number[] {
  const h = (k: number): number => 2 + k;
  const carry = 12;
  const code: number[] = [];
  for (let limb = 0; limb < LIMBS; limb++) {
    code.push(op.localGet, 1, op.i64Load, op.align8, ...unsignedLeb(8 * limb));
    code.push(op.i64Const, 21, op.i64Mul, op.localSet, h(limb));
  }
  narrowCarry(code, h, carry);
  storeLimbs(code, 0, h, LIMBS);
  code.push(op.end);
  return code;
}

const mul = (code: number[], out: Address, a: Address, b: Address): void =>
  callWith(code, FN_MUL, out, a, b);
const add = (code: number[], out: Address, a: Address, b: Address): void =>
  callWith(code, FN_ADD, out, a, b);
const sub = (code: number[], out: Address, a: Address, b: Address): void =>
  callWith(code, FN_SUB, out, a, b);
const square = (code: number[], out: Address, a: Address): void =>
  callWith(code, FN_SQUARE, out, a);
const timesB3 = (code: number[], out: Address, a: Address): void =>
  callWith(code, FN_TIMES_B3, out, a);

/** Results go to scratch 5–7 (X₃, Y₃, Z₃), then to `out`: out may alias an input. */
const [T0, T1, T2, T3, T4, X3, Y3, Z3] = [0, 1, 2, 3, 4, 5, 6, 7].map(scratch) as [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];

/** addPoint(out, p, q): RCB16 Algorithm 7 (a = 0), complete. */
function addPointBody(): number[] {
  const x1: Address = [1, X];
  const y1: Address = [1, Y];
  const z1: Address = [1, Z];
  const x2: Address = [2, X];
  const y2: Address = [2, Y];
  const z2: Address = [2, Z];
  const code: number[] = [];
  mul(code, T0, x1, x2); // 1
  mul(code, T1, y1, y2); // 2
  mul(code, T2, z1, z2); // 3
  add(code, T3, x1, y1); // 4
  add(code, T4, x2, y2); // 5
  mul(code, T3, T3, T4); // 6
  add(code, T4, T0, T1); // 7
  sub(code, T3, T3, T4); // 8
  add(code, T4, y1, z1); // 9
  add(code, X3, y2, z2); // 10
  mul(code, T4, T4, X3); // 11
  add(code, X3, T1, T2); // 12
  sub(code, T4, T4, X3); // 13
  add(code, X3, x1, z1); // 14
  add(code, Y3, x2, z2); // 15
  mul(code, X3, X3, Y3); // 16
  add(code, Y3, T0, T2); // 17
  sub(code, Y3, X3, Y3); // 18
  add(code, X3, T0, T0); // 19
  add(code, T0, X3, T0); // 20
  timesB3(code, T2, T2); // 21
  add(code, Z3, T1, T2); // 22
  sub(code, T1, T1, T2); // 23
  timesB3(code, Y3, Y3); // 24
  mul(code, X3, T4, Y3); // 25
  mul(code, T2, T3, T1); // 26
  sub(code, X3, T2, X3); // 27
  mul(code, Y3, Y3, T0); // 28
  mul(code, T1, T1, Z3); // 29
  add(code, Y3, T1, Y3); // 30
  mul(code, T0, T0, T3); // 31
  mul(code, Z3, Z3, T4); // 32
  add(code, Z3, Z3, T0); // 33
  copyBytes(code, [0, 0], X3, POINT_BYTES);
  code.push(op.end);
  return code;
}

/** double(out, p): RCB16 Algorithm 9 (a = 0). */
function doubleBody(): number[] {
  const x: Address = [1, X];
  const y: Address = [1, Y];
  const z: Address = [1, Z];
  const code: number[] = [];
  square(code, T0, y); // 1
  add(code, Z3, T0, T0); // 2
  add(code, Z3, Z3, Z3); // 3
  add(code, Z3, Z3, Z3); // 4
  mul(code, T1, y, z); // 5
  square(code, T2, z); // 6
  timesB3(code, T2, T2); // 7
  mul(code, X3, T2, Z3); // 8
  add(code, Y3, T0, T2); // 9
  mul(code, Z3, T1, Z3); // 10
  add(code, T1, T2, T2); // 11
  add(code, T2, T1, T2); // 12
  sub(code, T0, T0, T2); // 13
  mul(code, Y3, T0, Y3); // 14
  add(code, Y3, X3, Y3); // 15
  mul(code, T1, x, y); // 16
  mul(code, X3, T0, T1); // 17
  add(code, X3, X3, X3); // 18
  copyBytes(code, [0, 0], X3, POINT_BYTES);
  code.push(op.end);
  return code;
}

/**
 * select(out, table, digit): out = digit·Q from 1Q … 8Q (wasm-field.ts, constant time). The
 * identity is (0 : 1 : 0); −Q negates Y.
 */
const POINT_SELECT: SelectLayout = {
  elements: 3,
  identityOnes: [LIMBS],
  negate(code, entry, mask) {
    for (let k = 0; k < LIMBS; k++) negateUnderMask(code, entry(LIMBS + k), mask);
  },
};

/**
 * The fixed exponentiations (wasm-field.ts): in² and the odd powers in scratch 0–8, the
 * accumulator in scratch 10, so scratch 11–15 stay free for callers' operands.
 */
const POWER_LAYOUT = {
  multiply: FN_MUL,
  square: FN_SQUARE,
  oddPower: (power: number): number => scratch((power - 1) >> 1),
  squared: scratch(8),
  accumulator: scratch(10),
};

function moduleBytes(): Uint8Array {
  const { i32, i64 } = valueType;
  return encodeModule({
    types: [
      { params: [i32, i32, i32], results: [] },
      { params: [i32, i32], results: [] },
    ],
    functions: [
      { type: 0, locals: [[41, i64]], code: multiplyBody() },
      {
        type: 0,
        locals: [[ADD_SUBTRACT_I64_LOCALS, i64]],
        code: addSubtractBody(false, narrowCarry),
      },
      {
        type: 0,
        locals: [[ADD_SUBTRACT_I64_LOCALS, i64]],
        code: addSubtractBody(true, narrowCarry),
      },
      { type: 0, locals: [], code: addPointBody() },
      { type: 1, locals: [], code: doubleBody() },
      { type: 0, locals: selectLocals(POINT_SELECT), code: constantTimeSelectBody(POINT_SELECT) },
      // invert: in^(p − 2) = 1/in (0 for 0)
      { type: 1, locals: [], code: fixedPowerBody(P - 2n, POWER_LAYOUT) },
      // powSqrtRatio: in^((p − 3)/4), RFC 9380 sqrt_ratio for p ≡ 3 (mod 4)
      { type: 1, locals: [], code: fixedPowerBody((P - 3n) / 4n, POWER_LAYOUT) },
      { type: 1, locals: [[41, i64]], code: squareBody() },
      { type: 1, locals: [[11, i64]], code: timesB3Body() },
      // powSqrt: in^((p + 1)/4), a square root of in when one exists (p ≡ 3 mod 4)
      { type: 1, locals: [], code: fixedPowerBody((P + 1n) / 4n, POWER_LAYOUT) },
    ],
    memoryPages: MEMORY_PAGES,
    exports: {
      multiply: FN_MUL,
      add: FN_ADD,
      subtract: FN_SUB,
      addPoint: FN_ADD_POINT,
      double: FN_DOUBLE,
      select: FN_SELECT,
      invert: FN_INVERT,
      powSqrtRatio: FN_POW_SQRT_RATIO,
      square: FN_SQUARE,
      powSqrt: FN_POW_SQRT,
    },
  });
}

/** The instantiated module, with BigInt conversions. Addresses are byte offsets. */
export interface Secp256k1Wasm extends FieldMemory {
  multiply(out: number, a: number, b: number): void;
  add(out: number, a: number, b: number): void;
  subtract(out: number, a: number, b: number): void;
  /** out = p + q (complete; out may alias either). */
  addPoint(out: number, p: number, q: number): void;
  /** out = 2·p. */
  double(out: number, p: number): void;
  /** out = digit·Q from 1Q … 8Q at `table`, digit ∈ [−8, 8] (constant time). */
  select(out: number, table: number, digit: number): void;
  /** out = in^(p − 2), and out = in^((p − 3)/4) (fixed chains). */
  invert(out: number, element: number): void;
  powSqrtRatio(out: number, element: number): void;
  /** out = in^((p + 1)/4): √in when in is a square. */
  powSqrt(out: number, element: number): void;
  /** out = a² (the value of multiply(out, a, a)). */
  square(out: number, a: number): void;
}

let shared: Secp256k1Wasm | undefined;

/** The thread's instance (created on first use). */
export function secp256k1Wasm(): Secp256k1Wasm {
  if (shared !== undefined) return shared;
  const exports: WasmExports = instantiate(moduleBytes());
  const instance: Secp256k1Wasm = {
    ...fieldMemory(
      exports.memory,
      P,
      Array.from({ length: LIMBS }, (_, index) => RADIX * index),
      Array.from({ length: LIMBS }, () => RADIX),
    ),
    multiply: exports['multiply'] as Secp256k1Wasm['multiply'],
    add: exports['add'] as Secp256k1Wasm['add'],
    subtract: exports['subtract'] as Secp256k1Wasm['subtract'],
    addPoint: exports['addPoint'] as Secp256k1Wasm['addPoint'],
    double: exports['double'] as Secp256k1Wasm['double'],
    select: exports['select'] as Secp256k1Wasm['select'],
    invert: exports['invert'] as Secp256k1Wasm['invert'],
    powSqrtRatio: exports['powSqrtRatio'] as Secp256k1Wasm['powSqrtRatio'],
    square: exports['square'] as Secp256k1Wasm['square'],
    powSqrt: exports['powSqrt'] as Secp256k1Wasm['powSqrt'],
  };
  shared = instance;
  return instance;
}
