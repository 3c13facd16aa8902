/**
 * Ed25519 field and extended-coordinate point arithmetic in generated WebAssembly.
 *
 * Every function of the module is straight-line code over its data: no branch and no memory
 * address depends on the values it computes with (the only branch, `withT`, is on a flag the
 * caller passes), so each runs in time independent of its inputs. What is NOT constant time is
 * the JS that drives them for public inputs: the NAF walks of extended-coordinates.ts branch on
 * scalar digits, and point-codec.ts decodes in BigInt. Secret scalars go only through
 * base-multiply.ts, which drives the constant-time `select`, `mixedAdd`, `double` and `invert`
 * with a fixed sequence.
 *
 * Why: in JS `BigInt` a multiplication mod p = 2^255 − 19 costs ~0.3 µs; here ~0.05 µs, and
 * an exact [ℓ]P check is ~2,000 of them.
 *
 * Field elements (GF(p), p = 2^255 − 19) are 10 signed 64-bit limbs in radix 2^25.5 (the
 * ref10 representation of Bernstein et al., "High-speed high-security signatures", §5): value
 * = Σ fᵢ·2^⌈25.5·i⌉, limbs alternately 26 and 25 bits wide. Every function leaves its output
 * "carried": |f₀| ≤ 2^25, |f₁| ≤ 2^24 + 2^17, and every other |fᵢ| ≤ 2^25 (even i) or
 * 2^24 (odd i). The value is then congruent, not equal, to its canonical residue; readers
 * reduce (`readField`).
 *
 * Overflow argument (the only way this arithmetic could be wrong): `fe_mul` computes
 * hₖ = Σ_{i+j≡k} fᵢ·gⱼ·2^[i,j odd]·19^[i+j≥10], ten terms of at most 2·19·|fᵢ|·|gⱼ|. Inputs
 * are carried outputs (≤ 2^25 per limb) or canonical limbs written from JS (< 2^26),
 * so a term is below 38·2^52 < 2^57.3 and hₖ below 2^60.7, inside i64. `fe_add`/`fe_sub` see
 * at most 2^27. The carry chain rounds (adds half the radix, then shifts arithmetically), so
 * each limb ends in [−2^(w−1), 2^(w−1)) of its width w; the top carry re-enters limb 0 times 19
 * (2^255 ≡ 19), at most 19·2^38 from a 2^63 limb, and one more carry from limb 0 into limb 1
 * leaves the bounds above. fe-level behaviour is checked against BigInt on random and extreme
 * inputs (edwards-wasm.test.ts); the point functions against noble (extended-coordinates.test.ts,
 * subgroup-check.test.ts).
 *
 * Memory (one instance per thread, created on first use; JS owns the layout):
 *   [0, 1280)         scratch field elements of the point functions and chains (16 × 80 bytes);
 *   [1280, 1360)      2·d, written at instantiation;
 *   [1360, 1440)      zero (never written);
 *   [1440, 2000)      NIELS_ADDRESS and BASE_ACCUMULATOR of base-multiply.ts (wiped after use);
 *   [2048, 63488)     the base table of base-multiply.ts (32 × 8 Niels entries, public);
 *   [ARENA_START, …)  points and tables placed by public-input callers, grown on demand.
 * A point is 4 field elements (X, Y, Z, T: 320 bytes); a table entry is (X, Y, Z, 2d·T); a
 * Niels entry is (y + x, y − x, 2d·x·y) of an affine point (240 bytes).
 *
 * Point formulas: RFC 8032 §5.1.4 doubling and addition in extended coordinates for a = −1,
 * complete on Ed25519 (see extended-coordinates.ts for the argument).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
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

/** p = 2^255 − 19. */
export const P: bigint = ed25519.Point.Fp.ORDER;
const D2 = (2n * ed25519.Point.CURVE().d) % P;

export { FIELD_BYTES };
export const POINT_BYTES = 4 * FIELD_BYTES;
const LIMBS = FIELD_LIMBS;
/** Bit position of limb i: ⌈25.5·i⌉; limbs alternately 26 and 25 bits wide. */
const LIMB_SHIFTS = Array.from({ length: LIMBS }, (_, index) => Math.ceil(25.5 * index));
const LIMB_WIDTHS = Array.from({ length: LIMBS }, (_, index) => (index % 2 === 0 ? 26 : 25));

const SCRATCH = 0;
const D2_ADDRESS = 16 * FIELD_BYTES;
const ZERO_ADDRESS = D2_ADDRESS + FIELD_BYTES;
/** A precomputed affine point (y + x, y − x, 2d·x·y), the form `madd` and `select` use. */
export const NIELS_BYTES = 3 * FIELD_BYTES;
/** Where `select` leaves its entry for the fixed-base multiplication. */
export const NIELS_ADDRESS = ZERO_ADDRESS + FIELD_BYTES;
/** The fixed-base multiplication's accumulator (a point). */
export const BASE_ACCUMULATOR = NIELS_ADDRESS + NIELS_BYTES;
/** Bytes [0, SECRET_SCRATCH_END) except the constants hold a secret multiplication's state. */
export const SECRET_SCRATCH_END = BASE_ACCUMULATOR + 4 * FIELD_BYTES;
/** 32 positions × 8 entries of the base table (base-multiply.ts writes it). */
export const BASE_TABLE_START = 2048;
export const BASE_TABLE_BYTES = 32 * 8 * NIELS_BYTES;
/** First byte callers may use for points and tables of their own. */
export const ARENA_START = 65536;

/** Coordinate offsets within a point or table entry. */
const X = 0;
const Y = FIELD_BYTES;
const Z = 2 * FIELD_BYTES;
const T = 3 * FIELD_BYTES;

const FN_MUL = 0;
const FN_ADD = 1;
const FN_SUB = 2;
const FN_DOUBLE = 3;
const FN_ADD_POINT = 4;
const FN_ENTRY = 5;
const FN_NEGATE_ENTRY = 6;
const FN_MIXED_ADD = 7;
const FN_SELECT = 8;
const FN_INVERT = 9;
const FN_POW22523 = 10;
const FN_SQUARE = 11;

/** Appends the carry chain over locals h₀..h₉ (indices `h(i)`) using local `carry`. */
function carryChain(code: number[], h: (limb: number) => number, carry: number): void {
  const steps = [...Array.from({ length: LIMBS }, (_, index) => index), 0];
  for (const limb of steps) {
    const width = limb % 2 === 0 ? 26 : 25;
    const next = (limb + 1) % LIMBS;
    // carry = (hᵢ + 2^(w−1)) >> w (arithmetic); hᵢ −= carry << w
    code.push(op.localGet, ...unsignedLeb(h(limb)), op.i64Const, ...signedLeb(1 << (width - 1)));
    code.push(op.i64Add, op.i64Const, width, op.i64ShrS, op.localSet, ...unsignedLeb(carry));
    code.push(op.localGet, ...unsignedLeb(h(limb)), op.localGet, ...unsignedLeb(carry));
    code.push(op.i64Const, width, op.i64Shl, op.i64Sub, op.localSet, ...unsignedLeb(h(limb)));
    // h_next += carry (·19 when wrapping from limb 9 into limb 0: 2^255 ≡ 19)
    code.push(op.localGet, ...unsignedLeb(h(next)), op.localGet, ...unsignedLeb(carry));
    if (limb === LIMBS - 1) code.push(op.i64Const, 19, op.i64Mul);
    code.push(op.i64Add, op.localSet, ...unsignedLeb(h(next)));
  }
}

/** fe_mul(out, a, b): out = a·b (params 0, 1, 2; out may alias an input). */
function multiplyBody(): number[] {
  const f = (i: number): number => 3 + i;
  const g = (j: number): number => 13 + j;
  const g19 = (j: number): number => 23 + j;
  const f2 = (i: number): number => 33 + i;
  const h = (k: number): number => 43 + k;
  const carry = 53;
  const code: number[] = [];
  for (let limb = 0; limb < LIMBS; limb++) {
    loadLimb(code, 1, limb, f(limb));
    loadLimb(code, 2, limb, g(limb));
  }
  for (let j = 1; j < LIMBS; j++) {
    code.push(op.localGet, g(j), op.i64Const, 19, op.i64Mul, op.localSet, g19(j));
  }
  for (let i = 1; i < LIMBS; i += 2) {
    code.push(op.localGet, f(i), op.i64Const, 1, op.i64Shl, op.localSet, f2(i));
  }
  for (let k = 0; k < LIMBS; k++) {
    for (let i = 0; i < LIMBS; i++) {
      const j = (k - i + LIMBS) % LIMBS;
      const bothOdd = i % 2 === 1 && j % 2 === 1;
      const wraps = i + j >= LIMBS;
      code.push(op.localGet, bothOdd ? f2(i) : f(i), op.localGet, wraps ? g19(j) : g(j));
      code.push(op.i64Mul);
      if (i > 0) code.push(op.i64Add);
    }
    code.push(op.localSet, h(k));
  }
  carryChain(code, h, carry);
  storeLimbs(code, 0, h, LIMBS);
  code.push(op.end);
  return code;
}

/**
 * fe_square(out, a): out = a² with the 55 distinct products of fe_mul's sum (fᵢfⱼ = fⱼfᵢ),
 * each pair taken once with its factor 2, so every hₖ equals fe_mul(a, a)'s and the same
 * bounds hold. Operands are chosen from fᵢ, 2fᵢ, 19fⱼ and 38fⱼ so that no product needs a
 * further constant multiplication.
 */
function squareBody(): number[] {
  const f = (i: number): number => 2 + i;
  const f2 = (i: number): number => 12 + i;
  const f19 = (j: number): number => 22 + j;
  const f38 = (j: number): number => 32 + j;
  const h = (k: number): number => 42 + k;
  const carry = 52;
  const code: number[] = [];
  for (let limb = 0; limb < LIMBS; limb++) loadLimb(code, 1, limb, f(limb));
  for (let i = 0; i < LIMBS; i++) {
    code.push(op.localGet, f(i), op.i64Const, 1, op.i64Shl, op.localSet, f2(i));
  }
  for (let j = LIMBS / 2; j < LIMBS; j++) {
    code.push(op.localGet, f(j), op.i64Const, 19, op.i64Mul, op.localSet, f19(j));
    code.push(op.localGet, f19(j), op.i64Const, 1, op.i64Shl, op.localSet, f38(j));
  }
  const terms: number[][] = Array.from({ length: LIMBS }, () => []);
  for (let i = 0; i < LIMBS; i++) {
    for (let j = i; j < LIMBS; j++) {
      const factor = (i < j ? 2 : 1) * (i % 2 === 1 && j % 2 === 1 ? 2 : 1);
      const wraps = i + j >= LIMBS;
      // factor·19^wraps as (left operand)·(right operand) from the precomputed multiples
      let left: number;
      let right: number;
      if (!wraps) {
        left = factor === 1 ? f(i) : f2(i);
        right = factor === 4 ? f2(j) : f(j);
      } else {
        left = factor === 1 ? f(i) : f2(i);
        right = factor === 4 ? f38(j) : f19(j);
      }
      (terms[(i + j) % LIMBS] as number[]).push(left, right);
    }
  }
  terms.forEach((operands, k) => {
    for (let index = 0; index < operands.length; index += 2) {
      code.push(op.localGet, operands[index] as number, op.localGet, operands[index + 1] as number);
      code.push(op.i64Mul);
      if (index > 0) code.push(op.i64Add);
    }
    code.push(op.localSet, h(k));
  });
  carryChain(code, h, carry);
  storeLimbs(code, 0, h, LIMBS);
  code.push(op.end);
  return code;
}

function callField(code: number[], fn: number, out: Address, a: Address, b: Address): void {
  callWith(code, fn, out, a, b);
}

function callSquare(code: number[], out: Address, a: Address): void {
  callWith(code, FN_SQUARE, out, a);
}

const scratch = (index: number): number => SCRATCH + index * FIELD_BYTES;
type Scratch8 = [number, number, number, number, number, number, number, number];

/** Ends with "if (withT) out.T = e·h", withT being parameter `flag`. */
function finishPoint(code: number[], flag: number, e: number, f: number, g: number, h: number) {
  callField(code, FN_MUL, [0, X], e, f);
  callField(code, FN_MUL, [0, Y], g, h);
  callField(code, FN_MUL, [0, Z], f, g);
  code.push(op.localGet, flag, op.if, op.voidBlock);
  callField(code, FN_MUL, [0, T], e, h);
  code.push(op.end, op.end);
}

/**
 * double(out, in, withT): RFC 8032 doubling. A = X², B = Y², C = 2Z², H = A + B,
 * E = H − (X + Y)², G = A − B, F = C + G; X₃ = EF, Y₃ = GH, Z₃ = FG, T₃ = EH (only if withT ≠ 0).
 * Every input is read before any output is written, so out may equal in.
 */
function doubleBody(): number[] {
  const [a, b, c, h, s, e, g, f] = [0, 1, 2, 3, 4, 5, 6, 7].map(scratch) as Scratch8;
  const code: number[] = [];
  callSquare(code, a, [1, X]);
  callSquare(code, b, [1, Y]);
  callSquare(code, c, [1, Z]);
  callField(code, FN_ADD, c, c, c);
  callField(code, FN_ADD, h, a, b);
  callField(code, FN_ADD, s, [1, X], [1, Y]);
  callSquare(code, s, s);
  callField(code, FN_SUB, e, h, s);
  callField(code, FN_SUB, g, a, b);
  callField(code, FN_ADD, f, c, g);
  finishPoint(code, 2, e, f, g, h);
  return code;
}

/**
 * add(out, p, q, withT): RFC 8032 addition of point p and table entry q = (X₂, Y₂, Z₂, 2d·T₂).
 * A = (Y₁ − X₁)(Y₂ − X₂), B = (Y₁ + X₁)(Y₂ + X₂), C = T₁·2dT₂, D = 2Z₁Z₂, E = B − A,
 * F = D − C, G = D + C, H = B + A; X₃ = EF, Y₃ = GH, Z₃ = FG, T₃ = EH (only if withT ≠ 0).
 * Inputs are read before outputs are written (out may equal p).
 */
function addBody(): number[] {
  const [a, b, c, d, e, f, g, h] = [0, 1, 2, 3, 4, 5, 6, 7].map(scratch) as Scratch8;
  const [t1, t2] = [scratch(8), scratch(9)];
  const code: number[] = [];
  callField(code, FN_SUB, t1, [1, Y], [1, X]);
  callField(code, FN_SUB, t2, [2, Y], [2, X]);
  callField(code, FN_MUL, a, t1, t2);
  callField(code, FN_ADD, t1, [1, Y], [1, X]);
  callField(code, FN_ADD, t2, [2, Y], [2, X]);
  callField(code, FN_MUL, b, t1, t2);
  callField(code, FN_MUL, c, [1, T], [2, T]);
  callField(code, FN_MUL, d, [1, Z], [2, Z]);
  callField(code, FN_ADD, d, d, d);
  callField(code, FN_SUB, e, b, a);
  callField(code, FN_SUB, f, d, c);
  callField(code, FN_ADD, g, d, c);
  callField(code, FN_ADD, h, b, a);
  finishPoint(code, 3, e, f, g, h);
  return code;
}

/** entry(out, in): the table entry (X, Y, Z, 2d·T) of point `in` (out may equal in). */
function entryBody(): number[] {
  const code: number[] = [];
  copyBytes(code, [0, 0], [1, 0], 3 * FIELD_BYTES);
  callField(code, FN_MUL, [0, T], [1, T], D2_ADDRESS);
  code.push(op.end);
  return code;
}

/** negateEntry(out, in): the entry of −P from the entry of P: (−X, Y, Z, −2d·T). */
function negateEntryBody(): number[] {
  const code: number[] = [];
  copyBytes(code, [0, Y], [1, Y], 2 * FIELD_BYTES);
  callField(code, FN_SUB, [0, X], ZERO_ADDRESS, [1, X]);
  callField(code, FN_SUB, [0, T], ZERO_ADDRESS, [1, T]);
  code.push(op.end);
  return code;
}

/**
 * madd(out, p, n): point p plus the affine point given as Niels entry n = (y + x, y − x,
 * 2d·x·y); the addition above with Z₂ = 1: A = (Y₁ − X₁)(y − x), B = (Y₁ + X₁)(y + x),
 * C = T₁·2dxy, D = 2Z₁. Always writes T₃. No branch: constant time.
 */
function mixedAddBody(): number[] {
  const [a, b, c, d, e, f, g, h] = [0, 1, 2, 3, 4, 5, 6, 7].map(scratch) as Scratch8;
  const t1 = scratch(8);
  const code: number[] = [];
  callField(code, FN_SUB, t1, [1, Y], [1, X]);
  callField(code, FN_MUL, a, t1, [2, FIELD_BYTES]);
  callField(code, FN_ADD, t1, [1, Y], [1, X]);
  callField(code, FN_MUL, b, t1, [2, 0]);
  callField(code, FN_MUL, c, [1, T], [2, 2 * FIELD_BYTES]);
  callField(code, FN_ADD, d, [1, Z], [1, Z]);
  callField(code, FN_SUB, e, b, a);
  callField(code, FN_SUB, f, d, c);
  callField(code, FN_ADD, g, d, c);
  callField(code, FN_ADD, h, b, a);
  callField(code, FN_MUL, [0, X], e, f);
  callField(code, FN_MUL, [0, Y], g, h);
  callField(code, FN_MUL, [0, Z], f, g);
  callField(code, FN_MUL, [0, T], e, h);
  code.push(op.end);
  return code;
}

/**
 * select(out, table, digit): out = digit·Q as a Niels entry from 1Q … 8Q (wasm-field.ts,
 * constant time). The identity is (1, 1, 0); −Q swaps y + x with y − x and negates 2dxy.
 */
const NIELS_SELECT: SelectLayout = {
  elements: 3,
  identityOnes: [0, LIMBS],
  negate(code, entry, mask, spare) {
    for (let k = 0; k < LIMBS; k++) {
      // Swap y + x and y − x under the mask.
      code.push(op.localGet, mask, op.localGet, entry(k), op.localGet, entry(LIMBS + k));
      code.push(op.i64Xor, op.i64And, op.localSet, spare);
      code.push(op.localGet, entry(k), op.localGet, spare, op.i64Xor, op.localSet, entry(k));
      code.push(op.localGet, entry(LIMBS + k), op.localGet, spare, op.i64Xor);
      code.push(op.localSet, entry(LIMBS + k));
      negateUnderMask(code, entry(2 * LIMBS + k), mask);
    }
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
      { params: [i32, i32, i32, i32], results: [] },
      { params: [i32, i32], results: [] },
    ],
    functions: [
      { type: 0, locals: [[51, i64]], code: multiplyBody() },
      {
        type: 0,
        locals: [[ADD_SUBTRACT_I64_LOCALS, i64]],
        code: addSubtractBody(false, carryChain),
      },
      {
        type: 0,
        locals: [[ADD_SUBTRACT_I64_LOCALS, i64]],
        code: addSubtractBody(true, carryChain),
      },
      { type: 0, locals: [], code: doubleBody() },
      { type: 1, locals: [], code: addBody() },
      { type: 2, locals: [], code: entryBody() },
      { type: 2, locals: [], code: negateEntryBody() },
      { type: 0, locals: [], code: mixedAddBody() },
      { type: 0, locals: selectLocals(NIELS_SELECT), code: constantTimeSelectBody(NIELS_SELECT) },
      // invert: in^(p − 2) = 1/in (0 for 0)
      { type: 2, locals: [], code: fixedPowerBody(P - 2n, POWER_LAYOUT) },
      // pow22523: in^((p − 5)/8), for square roots (RFC 8032 §5.1.3)
      { type: 2, locals: [], code: fixedPowerBody((P - 5n) / 8n, POWER_LAYOUT) },
      { type: 2, locals: [[51, i64]], code: squareBody() },
    ],
    memoryPages: 2,
    exports: {
      multiply: FN_MUL,
      add: FN_ADD,
      subtract: FN_SUB,
      double: FN_DOUBLE,
      addPoint: FN_ADD_POINT,
      entry: FN_ENTRY,
      negateEntry: FN_NEGATE_ENTRY,
      mixedAdd: FN_MIXED_ADD,
      select: FN_SELECT,
      invert: FN_INVERT,
      pow22523: FN_POW22523,
      square: FN_SQUARE,
    },
  });
}

/** The instantiated module, with BigInt conversions (FieldMemory). Addresses are byte offsets. */
export interface EdwardsWasm extends FieldMemory {
  /** out = a·b, a + b, a − b (field elements). */
  multiply(out: number, a: number, b: number): void;
  add(out: number, a: number, b: number): void;
  subtract(out: number, a: number, b: number): void;
  /** out = 2·in; T written only if `withT` is 1. */
  double(out: number, point: number, withT: 0 | 1): void;
  /** out = p + entry; T written only if `withT` is 1. */
  addPoint(out: number, point: number, entry: number, withT: 0 | 1): void;
  /** The table entry of a point / of its negation (from its entry). */
  entry(out: number, point: number): void;
  negateEntry(out: number, entry: number): void;
  /** out = point + Niels entry (constant time). */
  mixedAdd(out: number, point: number, niels: number): void;
  /** out = digit·Q from the 8 Niels entries 1Q … 8Q at `table`, digit ∈ [−8, 8] (constant time). */
  select(out: number, table: number, digit: number): void;
  /** out = 1/in (0 for 0), and out = in^((p − 5)/8) (constant time: fixed chains). */
  invert(out: number, element: number): void;
  pow22523(out: number, element: number): void;
  /** out = a² (the same value as multiply(out, a, a), cheaper). */
  square(out: number, a: number): void;
}

let shared: EdwardsWasm | undefined;

/** The thread's instance (created on first use). */
export function edwardsWasm(): EdwardsWasm {
  if (shared !== undefined) return shared;
  const exports: WasmExports = instantiate(moduleBytes());
  const instance: EdwardsWasm = {
    ...fieldMemory(exports.memory, P, LIMB_SHIFTS, LIMB_WIDTHS),
    multiply: exports['multiply'] as EdwardsWasm['multiply'],
    add: exports['add'] as EdwardsWasm['add'],
    subtract: exports['subtract'] as EdwardsWasm['subtract'],
    double: exports['double'] as EdwardsWasm['double'],
    addPoint: exports['addPoint'] as EdwardsWasm['addPoint'],
    entry: exports['entry'] as EdwardsWasm['entry'],
    negateEntry: exports['negateEntry'] as EdwardsWasm['negateEntry'],
    mixedAdd: exports['mixedAdd'] as EdwardsWasm['mixedAdd'],
    select: exports['select'] as EdwardsWasm['select'],
    invert: exports['invert'] as EdwardsWasm['invert'],
    pow22523: exports['pow22523'] as EdwardsWasm['pow22523'],
    square: exports['square'] as EdwardsWasm['square'],
  };
  instance.writeField(D2_ADDRESS, D2);
  shared = instance;
  return instance;
}

/** Offsets of a point's coordinates, for callers laying out points. */
export const COORDINATE = { x: X, y: Y, z: Z, t: T } as const;
