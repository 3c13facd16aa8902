/**
 * The WebAssembly SHAKE256 against node:crypto (OpenSSL), byte for byte: every input length
 * 0..600 (absorbing 0 to 4 full blocks, padding on every position of a block, including the
 * last byte where 0x1F and 0x80 meet) with output lengths up to three blocks, the dispatch in
 * transcript.ts on both sides of its bound, the round constants against FIPS 202's table, and
 * that no input or state stays in the module's memory after a call. The `Into` forms write
 * exactly their output range of a caller's buffer, on both sides of the dispatch bound.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SHAKE256_RATE, keccakScratchIsClear, roundConstants, shake256WasmInto } from './keccak.ts';
import { shake256, shake256Into } from './transcript.ts';

function reference(input: Uint8Array, length: number): string {
  return createHash('shake256', { outputLength: length }).update(input).digest('hex');
}

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => (index * 131 + seed * 17 + 5) & 0xff);
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** The WebAssembly SHAKE256 into a fresh buffer. */
function shake256Wasm(input: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  shake256WasmInto(input, length, out, 0);
  return out;
}

describe('shake256Wasm', () => {
  it('matches node:crypto for every input length 0..600', () => {
    for (let length = 0; length <= 600; length++) {
      const input = pattern(length, length);
      expect(hex(shake256Wasm(input, 32))).toBe(reference(input, 32));
    }
  });

  it('matches node:crypto for output lengths across block boundaries', () => {
    for (const inputLength of [0, 1, 103, 135, 136, 137, 271, 272]) {
      const input = pattern(inputLength, 3);
      for (const outputLength of [0, 1, 80, 96, 135, 136, 137, 272, 408, 409]) {
        expect(hex(shake256Wasm(input, outputLength))).toBe(reference(input, outputLength));
      }
    }
  });

  it('uses the FIPS 202 round constants', () => {
    const constants = roundConstants();
    expect(constants).toHaveLength(24);
    expect(constants[0]).toBe(0x1n);
    expect(constants[1]).toBe(0x8082n);
    expect(constants[2]).toBe(0x800000000000808an);
    expect(constants[23]).toBe(0x8000000080008008n);
  });

  it('random inputs, and the transcript dispatch on both sides of its bound', () => {
    for (let trial = 0; trial < 200; trial++) {
      const input = crypto.getRandomValues(new Uint8Array(trial * 3));
      const length = 1 + ((trial * 37) % 700);
      expect(hex(shake256Wasm(input, length))).toBe(reference(input, length));
      expect(hex(shake256(input, length))).toBe(reference(input, length));
    }
    const bound = 2 * SHAKE256_RATE;
    for (const inputLength of [bound - 1, bound, bound + 1]) {
      for (const outputLength of [bound, bound + 1]) {
        const input = pattern(inputLength, 9);
        expect(hex(shake256(input, outputLength))).toBe(reference(input, outputLength));
      }
    }
  });

  it('leaves no input or state behind in the module memory', () => {
    for (const length of [0, 100, 135, 136, 300]) {
      shake256Wasm(new Uint8Array(length).fill(0xa5), 409);
      expect(keccakScratchIsClear()).toBe(true);
    }
  });

  it('writes into a caller buffer exactly the output range, nothing around it', () => {
    const bound = 2 * SHAKE256_RATE;
    const cases: [number, number][] = [
      [0, 96],
      [106, 96],
      [137, 80],
      [300, 409],
      [bound, 96], // transcript.ts: node:crypto side of the dispatch bound
      [bound + 5, bound + 1],
    ];
    for (const [inputLength, outputLength] of cases) {
      const input = pattern(inputLength, inputLength);
      for (const into of [shake256WasmInto, shake256Into]) {
        if (into === shake256WasmInto && inputLength >= bound) continue;
        const out = new Uint8Array(outputLength + 10).fill(0xee);
        into(input, outputLength, out, 7);
        expect(hex(out.subarray(7, 7 + outputLength))).toBe(reference(input, outputLength));
        expect([...out.subarray(0, 7), ...out.subarray(7 + outputLength)]).toEqual(
          Array<number>(10).fill(0xee),
        );
        expect(keccakScratchIsClear()).toBe(true);
      }
    }
    expect(() => shake256WasmInto(new Uint8Array(3), 32, new Uint8Array(40), 9)).toThrow(
      RangeError,
    );
    expect(() => shake256Into(new Uint8Array(bound), 32, new Uint8Array(40), 9)).toThrow(
      RangeError,
    );
  });
});
