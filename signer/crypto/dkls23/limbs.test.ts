/**
 * The masked limb arithmetic of the RVOLE (finding L3) against BigInt as the reference: random
 * values plus the edges (0, 1, q − 1, values ≥ q before reduction, 2^256 − 1), and masked
 * selection for both bits. The RVOLE's outputs are pinned by golden.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ORDER } from './group.ts';
import {
  ModQ,
  lessThanQ,
  limbsFromBigint,
  limbsFromBytes,
  limbsToBytes,
  maskOf,
  newLimbs,
  selectLimbs,
} from './limbs.ts';

const TOP = (1n << 256n) - 1n;
const mod = (value: bigint): bigint => ((value % ORDER) + ORDER) % ORDER;
const edges = [0n, 1n, 2n, ORDER - 2n, ORDER - 1n, (1n << 255n) + 12345n];
const reduced = fc.oneof(fc.constantFrom(...edges), fc.bigInt({ min: 0n, max: ORDER - 1n }));
const anyWord = fc.oneof(
  fc.constantFrom(0n, ORDER - 1n, ORDER, ORDER + 1n, TOP),
  fc.bigInt({ min: 0n, max: TOP }),
);

describe('masked limb arithmetic modulo q', () => {
  it('round-trips bigints and big-endian bytes', () => {
    const m = new ModQ();
    fc.assert(
      fc.property(anyWord, (value) => {
        const limbs = limbsFromBigint(value);
        expect(m.toBigint(limbs)).toBe(value);
        const bytes = new Uint8Array(40);
        limbsToBytes(limbs, bytes, 5);
        expect(bytes.subarray(5, 37)).toEqual(
          Uint8Array.from(Buffer.from(value.toString(16).padStart(64, '0'), 'hex')),
        );
        expect(m.toBigint(limbsFromBytes(bytes, 5, newLimbs()))).toBe(value);
        expect(lessThanQ(limbs)).toBe(value < ORDER);
      }),
      { numRuns: 500 },
    );
  });

  it('reduces any 256-bit value, adds and subtracts like BigInt mod q', () => {
    const m = new ModQ();
    const out = newLimbs();
    fc.assert(
      fc.property(anyWord, reduced, reduced, (word, a, b) => {
        expect(m.toBigint(m.reduceLimbs(limbsFromBigint(word), out))).toBe(word % ORDER);
        const left = limbsFromBigint(a);
        const right = limbsFromBigint(b);
        expect(m.toBigint(m.addModQ(left, right, out))).toBe(mod(a + b));
        expect(m.toBigint(m.subModQ(left, right, out))).toBe(mod(a - b));
        expect(m.toBigint(m.subModQ(newLimbs(), right, out))).toBe(mod(-b));
        // out may alias an input.
        m.addModQ(left, right, left);
        expect(m.toBigint(left)).toBe(mod(a + b));
      }),
      { numRuns: 2000 },
    );
  });

  it('selects by mask without a branch: bit 0 keeps the first, bit 1 the second', () => {
    const m = new ModQ();
    fc.assert(
      fc.property(anyWord, anyWord, fc.integer({ min: 0, max: 255 }), (a, b, byte) => {
        const out = newLimbs();
        const bit = byte & 1;
        selectLimbs(maskOf(byte), limbsFromBigint(a), limbsFromBigint(b), out);
        expect(m.toBigint(out)).toBe(bit === 1 ? b : a);
      }),
      { numRuns: 500 },
    );
    expect(maskOf(1)).toBe(-1);
    expect(maskOf(2)).toBe(0);
  });

  it('wipe zeroes the scratch that held intermediate values', () => {
    const m = new ModQ();
    m.addModQ(limbsFromBigint(ORDER - 1n), limbsFromBigint(5n), newLimbs());
    m.toBigint(limbsFromBigint(TOP));
    m.wipe();
    const fields = m as unknown as { scratch: Uint32Array; bytes: Uint8Array };
    expect(fields.scratch.every((limb) => limb === 0)).toBe(true);
    expect(fields.bytes.every((byte) => byte === 0)).toBe(true);
  });
});
