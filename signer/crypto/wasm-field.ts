/**
 * What the two generated field modules (frost/edwards-wasm.ts for 2^255 − 19,
 * dkls23/secp256k1-wasm.ts for 2^256 − 2^32 − 977) have in common, written once:
 *   - `fieldMemory`: BigInt ↔ limb conversion over the module's memory, growth, wiping;
 *   - `addSubtractBody`: limb-wise a ± b followed by the module's own carry chain;
 *   - `constantTimeSelectBody`: the masked table selection used with secret digits;
 *   - `fixedPowerBody`: exponentiation by a fixed public exponent (width-4 sliding window).
 * Each module keeps what differs: its limb layout, its reduction, its point formulas.
 *
 * Generated function conventions (WebAssembly): field elements are 10 i64 limbs (80 bytes) at
 * i32 addresses; a function's parameters are its out address first, then its inputs.
 */
import {
  callWith,
  copyBytes,
  op,
  storeLimbs,
  unsignedLeb,
  type Address,
  type WasmExports,
} from './wasm-emitter.ts';

export const FIELD_LIMBS = 10;
export const FIELD_BYTES = 8 * FIELD_LIMBS;

/** The BigInt side of a field module's memory. Addresses are byte offsets. */
export interface FieldMemory {
  /** Makes sure bytes [0, end) exist. */
  reserve(end: number): void;
  /** Writes `value` (any integer; reduced mod p first) as canonical limbs. */
  writeField(address: number, value: bigint): void;
  /** The canonical residue in [0, p) of the element at `address`. */
  readField(address: number): bigint;
  /** Writes limbs as given (tests: extreme carried inputs). */
  writeLimbs(address: number, limbs: readonly bigint[]): void;
  /** Zeroes bytes [start, end). */
  wipe(start: number, end: number): void;
  /** Whether bytes [start, end) are all zero (tests: nothing of a secret remains). */
  isClear(start: number, end: number): boolean;
}

/**
 * Conversions for limbs i at bit positions `shifts[i]` and widths `widths[i]` (value =
 * Σ limbᵢ·2^shiftsᵢ, signed limbs allowed on reading) modulo `modulus`.
 */
export function fieldMemory(
  memory: WasmExports['memory'],
  modulus: bigint,
  shifts: readonly number[],
  widths: readonly number[],
): FieldMemory {
  const shift = shifts.map(BigInt);
  const mask = widths.map((width) => (1n << BigInt(width)) - 1n);
  let view = new BigInt64Array(memory.buffer);
  const limbs = (): BigInt64Array => {
    if (view.buffer !== memory.buffer) view = new BigInt64Array(memory.buffer);
    return view;
  };
  return {
    reserve(end: number): void {
      const missing = end - memory.buffer.byteLength;
      if (missing > 0) memory.grow(Math.ceil(missing / 65536));
    },
    writeField(address: number, value: bigint): void {
      let canonical = value % modulus;
      if (canonical < 0n) canonical += modulus;
      const target = limbs();
      const base = address / 8;
      for (let limb = 0; limb < FIELD_LIMBS; limb++) {
        target[base + limb] = (canonical >> (shift[limb] as bigint)) & (mask[limb] as bigint);
      }
    },
    readField(address: number): bigint {
      const source = limbs();
      const base = address / 8;
      let value = 0n;
      for (let limb = 0; limb < FIELD_LIMBS; limb++) {
        value += (source[base + limb] as bigint) << (shift[limb] as bigint);
      }
      const reduced = value % modulus;
      return reduced < 0n ? reduced + modulus : reduced;
    },
    writeLimbs(address: number, values: readonly bigint[]): void {
      if (values.length !== FIELD_LIMBS) throw new RangeError('expected 10 limbs');
      limbs().set(values, address / 8);
    },
    wipe(start: number, end: number): void {
      new Uint8Array(memory.buffer, start, end - start).fill(0);
    },
    isClear(start: number, end: number): boolean {
      return new Uint8Array(memory.buffer, start, end - start).every((byte) => byte === 0);
    },
  };
}

/** Appends a module's carry chain over locals h(0 … 9), using local `carry`. */
export type CarryChain = (code: number[], h: (limb: number) => number, carry: number) => void;

/** Locals of `addSubtractBody`: 11 i64 (h₀ … h₉, carry). */
export const ADD_SUBTRACT_I64_LOCALS = FIELD_LIMBS + 1;

/** fe_add / fe_sub(out, a, b): out = a ± b limb-wise, then `carry` (out may alias an input). */
export function addSubtractBody(subtract: boolean, carryChain: CarryChain): number[] {
  const h = (k: number): number => 3 + k;
  const carry = 3 + FIELD_LIMBS;
  const code: number[] = [];
  for (let limb = 0; limb < FIELD_LIMBS; limb++) {
    code.push(op.localGet, 1, op.i64Load, op.align8, ...unsignedLeb(8 * limb));
    code.push(op.localGet, 2, op.i64Load, op.align8, ...unsignedLeb(8 * limb));
    code.push(subtract ? op.i64Sub : op.i64Add, op.localSet, h(limb));
  }
  carryChain(code, h, carry);
  storeLimbs(code, 0, h, FIELD_LIMBS);
  code.push(op.end);
  return code;
}

/** The entry layout of a masked table for `constantTimeSelectBody`. */
export interface SelectLayout {
  /** Field elements per entry (limbs per entry = 10 × this). */
  readonly elements: number;
  /** Limb indices (into the entry) that are 1 in the identity entry; all others are 0. */
  readonly identityOnes: readonly number[];
  /**
   * Appends the conditional negation of the selected entry: the entry's limbs are locals
   * `entry(k)`, the all-ones-if-negative mask is local `mask`, and `spare` is a free i64 local.
   * Must be straight-line (masks, no branch).
   */
  readonly negate: (
    code: number[],
    entry: (k: number) => number,
    mask: number,
    spare: number,
  ) => void;
}

/** Locals of `constantTimeSelectBody`: i64 (entry limbs, mask, spare) and 2 i32. */
export function selectLocals(layout: SelectLayout): [number, number][] {
  return [
    [layout.elements * FIELD_LIMBS + 2, 0x7e],
    [2, 0x7f],
  ];
}

/**
 * select(out, table, digit): out = digit·Q from the entries 1Q … 8Q at `table` (entry size
 * 80·elements bytes), digit ∈ [−8, 8]. Constant time in the digit: every entry is read and
 * merged under a mask (no branch, no digit-dependent address), the identity entry stands for
 * 0, and a negative digit applies `negate` under a mask.
 */
export function constantTimeSelectBody(layout: SelectLayout): number[] {
  const limbs = layout.elements * FIELD_LIMBS;
  const entryBytes = 8 * limbs;
  const entry = (k: number): number => 3 + k;
  const mask = 3 + limbs;
  const spare = 4 + limbs;
  const negative = 5 + limbs; // i32
  const absolute = 6 + limbs; // i32
  const code: number[] = [];
  const get = (index: number): number[] => [op.localGet, ...unsignedLeb(index)];
  const set = (index: number): number[] => [op.localSet, ...unsignedLeb(index)];
  // negative = digit >>> 31; absolute = digit − ((−negative & digit) << 1)
  code.push(...get(2), op.i32Const, 31, op.i32ShrU, ...set(negative));
  code.push(...get(2), op.i32Const, 0, ...get(negative), op.i32Sub, ...get(2), op.i32And);
  code.push(op.i32Const, 1, op.i32Shl, op.i32Sub, ...set(absolute));
  // The identity entry (locals start at zero).
  for (const k of layout.identityOnes) code.push(op.i64Const, 1, ...set(entry(k)));
  for (let multiple = 1; multiple <= 8; multiple++) {
    // mask = −(((absolute ^ multiple) − 1) >>> 31): all ones iff absolute = multiple.
    code.push(op.i64Const, 0, ...get(absolute), op.i32Const, multiple, op.i32Xor);
    code.push(op.i32Const, 1, op.i32Sub, op.i32Const, 31, op.i32ShrU, op.i64ExtendI32U);
    code.push(op.i64Sub, ...set(mask));
    for (let k = 0; k < limbs; k++) {
      // entry ^= mask & (entry ^ table[multiple − 1][k])
      code.push(...get(entry(k)), ...get(mask), ...get(entry(k)), op.localGet, 1);
      code.push(op.i64Load, op.align8, ...unsignedLeb((multiple - 1) * entryBytes + 8 * k));
      code.push(op.i64Xor, op.i64And, op.i64Xor, ...set(entry(k)));
    }
  }
  code.push(op.i64Const, 0, ...get(negative), op.i64ExtendI32U, op.i64Sub, ...set(mask));
  layout.negate(code, entry, mask, spare);
  storeLimbs(code, 0, entry, limbs);
  code.push(op.end);
  return code;
}

/** Appends `limb ← −limb` under `mask` (limb-wise negation is a valid representation). */
export function negateUnderMask(code: number[], limb: number, mask: number): void {
  const get = (index: number): number[] => [op.localGet, ...unsignedLeb(index)];
  code.push(...get(limb), ...get(mask), ...get(limb), op.i64Const, 0, ...get(limb));
  code.push(op.i64Sub, op.i64Xor, op.i64And, op.i64Xor, op.localSet, ...unsignedLeb(limb));
}

/** Where `fixedPowerBody` computes: its field functions and its scratch elements. */
export interface PowerLayout {
  readonly multiply: number;
  readonly square: number;
  /** Nine scratch elements for in¹, in³, …, in¹⁵ and in²; one for the accumulator. */
  readonly oddPower: (power: number) => number;
  readonly squared: number;
  readonly accumulator: number;
}

/**
 * power(out, in): out = in^exponent for a fixed public exponent, by a width-4 sliding window
 * over its bits: ~bits squarings and ~bits/5 multiplications. The sequence depends on the
 * exponent only, never on the input (constant time). Out may alias in.
 */
export function fixedPowerBody(exponent: bigint, layout: PowerLayout): number[] {
  const input: Address = [1, 0];
  const { oddPower, squared, accumulator } = layout;
  const multiply = (out: Address, a: Address, b: Address): void =>
    callWith(code, layout.multiply, out, a, b);
  const square = (out: Address, a: Address): void => callWith(code, layout.square, out, a);
  const code: number[] = [];
  copyBytes(code, oddPower(1), input, FIELD_BYTES);
  square(squared, oddPower(1));
  for (let power = 3; power <= 15; power += 2)
    multiply(oddPower(power), oddPower(power - 2), squared);
  const bits = exponent.toString(2);
  let started = false;
  let index = 0;
  while (index < bits.length) {
    if (bits[index] === '0') {
      square(accumulator, accumulator);
      index++;
      continue;
    }
    // The longest window of at most 4 bits starting here that ends in a 1.
    let end = Math.min(index + 4, bits.length);
    while (bits[end - 1] === '0') end--;
    const window = Number.parseInt(bits.slice(index, end), 2);
    if (started) {
      for (let step = index; step < end; step++) square(accumulator, accumulator);
      multiply(accumulator, accumulator, oddPower(window));
    } else {
      copyBytes(code, accumulator, oddPower(window), FIELD_BYTES);
      started = true;
    }
    index = end;
  }
  copyBytes(code, [0, 0], accumulator, FIELD_BYTES);
  code.push(op.end);
  return code;
}
