/**
 * Signed radix-16 recoding of a secret scalar for the constant-time fixed-sequence
 * multiplications (frost/base-multiply.ts, dkls23/scalar-multiply.ts): k = Σ eᵢ·16^i with
 * eᵢ ∈ [−8, 8), the last digit absorbing the final carry. Bit operations on small numbers only,
 * no branch on the scalar (Bernstein et al., "High-speed high-security signatures", §4).
 */

/**
 * Writes the digits of the 32-byte little-endian `scalar` into `digits` (64 or 65 slots):
 * 64 nibbles, then carries from each digit into the next over all but the last slot. With 64
 * slots the scalar must be below 2^255 (the last digit then ends in [−8, 8]); with 65, any
 * 256-bit scalar (the 65th digit is the carry, 0 or 1).
 */
export function signedRadix16(scalar: Uint8Array, digits: Int8Array): void {
  if (scalar.length !== 32 || (digits.length !== 64 && digits.length !== 65)) {
    throw new RangeError('expected a 32-byte scalar and 64 or 65 digit slots');
  }
  digits.fill(0);
  for (let index = 0; index < 32; index++) {
    const byte = scalar[index] as number;
    digits[2 * index] = byte & 15;
    digits[2 * index + 1] = (byte >> 4) & 15;
  }
  let carry = 0;
  const last = digits.length - 1;
  for (let index = 0; index < last; index++) {
    const value = (digits[index] as number) + carry;
    carry = (value + 8) >> 4;
    digits[index] = value - (carry << 4);
  }
  digits[last] = (digits[last] as number) + carry;
}
