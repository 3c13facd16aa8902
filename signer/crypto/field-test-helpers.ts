/**
 * Test-only helpers shared by the WebAssembly field tests (frost/edwards-wasm.test.ts,
 * dkls23/secp256k1-wasm.test.ts) and the decoding tests: BigInt references for arithmetic
 * mod p, and one check of a module's four field operations against them.
 */
import { expect } from 'vitest';
import type { FieldMemory } from './wasm-field.ts';

/** The field operations every generated module exports. */
export interface FieldOperations extends FieldMemory {
  multiply(out: number, a: number, b: number): void;
  square(out: number, a: number): void;
  add(out: number, a: number, b: number): void;
  subtract(out: number, a: number, b: number): void;
}

/** BigInt references mod `modulus`. */
export function fieldReference(modulus: bigint): {
  mod(value: bigint): bigint;
  power(base: bigint, exponent: bigint): bigint;
  randomElement(): bigint;
} {
  const mod = (value: bigint): bigint => ((value % modulus) + modulus) % modulus;
  return {
    mod,
    power(base: bigint, exponent: bigint): bigint {
      let result = 1n;
      let square = mod(base);
      for (let rest = exponent; rest > 0n; rest >>= 1n) {
        if ((rest & 1n) === 1n) result = (result * square) % modulus;
        square = (square * square) % modulus;
      }
      return result;
    },
    randomElement(): bigint {
      const bytes = crypto.getRandomValues(new Uint8Array(40));
      return bytes.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n) % modulus;
    },
  };
}

/**
 * Checks multiply, square, add and subtract of the elements already at `a` and `b` (whose
 * values are `left` and `right`) against BigInt, writing to `out`.
 */
export function expectFieldOperations(
  field: FieldOperations,
  modulus: bigint,
  addresses: { readonly a: number; readonly b: number; readonly out: number },
  left: bigint,
  right: bigint,
): void {
  const { mod } = fieldReference(modulus);
  const { a, b, out } = addresses;
  field.multiply(out, a, b);
  expect(field.readField(out)).toBe(mod(left * right));
  field.square(out, a);
  expect(field.readField(out)).toBe(mod(left * left));
  field.add(out, a, b);
  expect(field.readField(out)).toBe(mod(left + right));
  field.subtract(out, a, b);
  expect(field.readField(out)).toBe(mod(left - right));
}
