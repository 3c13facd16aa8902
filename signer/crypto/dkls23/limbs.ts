/**
 * 256-bit arithmetic modulo the secp256k1 group order q on eight 32-bit limbs (little-endian
 * limb order in a `Uint32Array(8)`), for the RVOLE's per-row additions and choice-bit
 * selections (security review finding L3). JS `BigInt` arithmetic branches internally on the
 * values (lengths, signs, zero), and `bit * τ` or `x < 0n ? …` branch on secrets; here every
 * operation runs the same instructions whatever the values: carries and borrows are computed
 * arithmetically, conditional subtractions of q and choice-bit selections use all-zero /
 * all-one masks. Small-integer arithmetic on JS numbers is the best a JIT offers; this is
 * best effort, not a constant-time guarantee (see README "Not constant time in JavaScript").
 *
 * Contracts: inputs of `addModQ`/`subModQ` are reduced (< q); `reduceLimbs` takes any value
 * < 2^256 (< 2q); every output is reduced. `out` may alias an input. A `ModQ` owns scratch
 * limbs that hold intermediate secrets: call `wipe()` when done. `lessThanQ` branches: use it on
 * public data (received τ) only. Conversions to and from bigint keep BigInt's own timing.
 */

export const LIMBS = 8;
const TWO_32 = 0x1_0000_0000;

/** q in limbs (little-endian limb order). */
const Q = Uint32Array.of(
  0xd0364141,
  0xbfd25e8c,
  0xaf48a03b,
  0xbaaedce6,
  0xfffffffe,
  0xffffffff,
  0xffffffff,
  0xffffffff,
);

/** A fresh zero value. */
export function newLimbs(): Uint32Array {
  return new Uint32Array(LIMBS);
}

/** Reads 32 big-endian bytes at `offset` into `out` (no reduction). */
export function limbsFromBytes(bytes: Uint8Array, offset: number, out: Uint32Array): Uint32Array {
  for (let i = 0; i < LIMBS; i++) {
    const at = offset + 28 - 4 * i;
    out[i] =
      (((bytes[at] as number) << 24) |
        ((bytes[at + 1] as number) << 16) |
        ((bytes[at + 2] as number) << 8) |
        (bytes[at + 3] as number)) >>>
      0;
  }
  return out;
}

/** Writes `value` as 32 big-endian bytes at `offset`. */
export function limbsToBytes(value: Uint32Array, out: Uint8Array, offset: number): void {
  for (let i = 0; i < LIMBS; i++) {
    const limb = value[i] as number;
    const at = offset + 28 - 4 * i;
    out[at] = limb >>> 24;
    out[at + 1] = limb >>> 16;
    out[at + 2] = limb >>> 8;
    out[at + 3] = limb;
  }
}

/** `value` in [0, 2^256) as limbs. */
export function limbsFromBigint(value: bigint, out: Uint32Array = newLimbs()): Uint32Array {
  for (let i = 0; i < LIMBS; i++) out[i] = Number(BigInt.asUintN(32, value >> BigInt(32 * i)));
  return out;
}

/** Public data only (branches): whether `value` < q, i.e. a canonical scalar. */
export function lessThanQ(value: Uint32Array): boolean {
  for (let i = LIMBS - 1; i >= 0; i--) {
    const limb = value[i] as number;
    const bound = Q[i] as number;
    if (limb !== bound) return limb < bound;
  }
  return false;
}

/** All-one mask (0xffffffff as int32: −1) for bit 1, zero mask for bit 0. */
export function maskOf(bit: number): number {
  return -(bit & 1) | 0;
}

/** out = mask ? ifOne : ifZero, limb by limb, without a branch. */
export function selectLimbs(
  mask: number,
  ifZero: Uint32Array,
  ifOne: Uint32Array,
  out: Uint32Array,
): Uint32Array {
  for (let i = 0; i < LIMBS; i++) {
    const zero = ifZero[i] as number;
    out[i] = zero ^ ((zero ^ (ifOne[i] as number)) & mask);
  }
  return out;
}

/** Arithmetic modulo q with its own scratch limbs (they hold secrets: `wipe` when done). */
export class ModQ {
  private readonly scratch = newLimbs();
  private readonly bytes = new Uint8Array(32);
  private readonly view = new DataView(this.bytes.buffer);

  /** The value as a bigint (through 64-bit words; the scratch bytes are wiped by `wipe`). */
  toBigint(value: Uint32Array): bigint {
    const view = this.view;
    for (let i = 0; i < LIMBS; i++) view.setUint32(28 - 4 * i, value[i] as number);
    return (
      (view.getBigUint64(0) << 192n) |
      (view.getBigUint64(8) << 128n) |
      (view.getBigUint64(16) << 64n) |
      view.getBigUint64(24)
    );
  }

  /**
   * out = (high·2^256 + x) − q when that is ≥ 0, else x; `high` ∈ {0, 1} is a carry out of x.
   * Valid whenever high·2^256 + x < 2q.
   */
  private subtractQIfAtLeast(x: Uint32Array, high: number, out: Uint32Array): Uint32Array {
    const difference = this.scratch;
    let borrow = 0;
    for (let i = 0; i < LIMBS; i++) {
      const d = (x[i] as number) - (Q[i] as number) - borrow;
      difference[i] = d;
      borrow = ((d >>> 0) - d) / TWO_32;
    }
    // x + high·2^256 < q exactly when the subtraction borrowed and there was no carry.
    const keep = maskOf(borrow & (high ^ 1));
    return selectLimbs(keep, difference, x, out);
  }

  /** out = value mod q for any value < 2^256. */
  reduceLimbs(value: Uint32Array, out: Uint32Array = value): Uint32Array {
    return this.subtractQIfAtLeast(value, 0, out);
  }

  /** out = (a + b) mod q for reduced a, b. */
  addModQ(a: Uint32Array, b: Uint32Array, out: Uint32Array): Uint32Array {
    let carry = 0;
    for (let i = 0; i < LIMBS; i++) {
      const s = (a[i] as number) + (b[i] as number) + carry;
      out[i] = s;
      carry = (s - (s >>> 0)) / TWO_32;
    }
    return this.subtractQIfAtLeast(out, carry, out);
  }

  /** out = (a − b) mod q for reduced a, b. */
  subModQ(a: Uint32Array, b: Uint32Array, out: Uint32Array): Uint32Array {
    let borrow = 0;
    for (let i = 0; i < LIMBS; i++) {
      const d = (a[i] as number) - (b[i] as number) - borrow;
      out[i] = d;
      borrow = ((d >>> 0) - d) / TWO_32;
    }
    // Add q back under the borrow mask (a < b).
    const mask = maskOf(borrow);
    let carry = 0;
    for (let i = 0; i < LIMBS; i++) {
      const s = (out[i] as number) + (((Q[i] as number) & mask) >>> 0) + carry;
      out[i] = s;
      carry = (s - (s >>> 0)) / TWO_32;
    }
    return out;
  }

  wipe(): void {
    this.scratch.fill(0);
    this.bytes.fill(0);
  }
}
