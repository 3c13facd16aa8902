/**
 * GF(2^128) = GF(2)[x]/(x^128 + x^7 + x^2 + x + 1), used by the KOS consistency check.
 * An element is 16 bytes: bit m of byte k is the coefficient of x^(8k+m) (little-endian bit
 * order, not GHASH's reflected order). Multiplication by a fixed element uses a 128-entry
 * table of b·x^i and a branch-free masked accumulation over the bits of the other factor.
 */

/** Table of b·x^i, i = 0..127, four little-endian 32-bit words each. */
export function gf128Table(b: Uint8Array, offset = 0): Uint32Array {
  const table = new Uint32Array(512);
  let w0 = readWord(b, offset);
  let w1 = readWord(b, offset + 4);
  let w2 = readWord(b, offset + 8);
  let w3 = readWord(b, offset + 12);
  for (let i = 0; i < 128; i++) {
    table[4 * i] = w0;
    table[4 * i + 1] = w1;
    table[4 * i + 2] = w2;
    table[4 * i + 3] = w3;
    // multiply by x: shift left one bit, reduce x^128 = x^7 + x^2 + x + 1.
    const carry = w3 >>> 31;
    w3 = ((w3 << 1) | (w2 >>> 31)) >>> 0;
    w2 = ((w2 << 1) | (w1 >>> 31)) >>> 0;
    w1 = ((w1 << 1) | (w0 >>> 31)) >>> 0;
    w0 = ((w0 << 1) ^ (-carry & 0x87)) >>> 0;
  }
  return table;
}

function readWord(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] as number) |
      ((bytes[offset + 1] as number) << 8) |
      ((bytes[offset + 2] as number) << 16) |
      ((bytes[offset + 3] as number) << 24)) >>>
    0
  );
}

/** accumulator ^= a·b where `table` = gf128Table(b) and a = bytes[offset .. offset+16). */
export function gf128MultiplyAccumulate(
  table: Uint32Array,
  a: Uint8Array,
  offset: number,
  accumulator: Uint32Array,
): void {
  let r0 = accumulator[0] as number;
  let r1 = accumulator[1] as number;
  let r2 = accumulator[2] as number;
  let r3 = accumulator[3] as number;
  for (let byte = 0; byte < 16; byte++) {
    const value = a[offset + byte] as number;
    for (let bit = 0; bit < 8; bit++) {
      const mask = -((value >>> bit) & 1);
      const base = (byte * 8 + bit) * 4;
      r0 ^= (table[base] as number) & mask;
      r1 ^= (table[base + 1] as number) & mask;
      r2 ^= (table[base + 2] as number) & mask;
      r3 ^= (table[base + 3] as number) & mask;
    }
  }
  accumulator[0] = r0;
  accumulator[1] = r1;
  accumulator[2] = r2;
  accumulator[3] = r3;
}

/** Writes a 4-word element as 16 bytes at `offset`. */
export function gf128WordsToBytes(words: Uint32Array, out: Uint8Array, offset = 0): void {
  for (let w = 0; w < 4; w++) {
    const value = words[w] as number;
    out[offset + 4 * w] = value & 0xff;
    out[offset + 4 * w + 1] = (value >>> 8) & 0xff;
    out[offset + 4 * w + 2] = (value >>> 16) & 0xff;
    out[offset + 4 * w + 3] = value >>> 24;
  }
}

/** a·b as 16 bytes (convenience for tests). */
export function gf128Multiply(a: Uint8Array, b: Uint8Array): Uint8Array {
  const accumulator = new Uint32Array(4);
  gf128MultiplyAccumulate(gf128Table(b), a, 0, accumulator);
  const out = new Uint8Array(16);
  gf128WordsToBytes(accumulator, out);
  return out;
}
