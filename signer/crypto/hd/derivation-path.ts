/**
 * Validation of client-supplied derivation paths (mpcium `SignTxMessage.DerivationPath
 * []uint32`, non-hardened only: threshold keys have no single holder of the private key, so
 * hardened derivation is impossible; mpcium-contract.md §6).
 */
import { HdDerivationError, HdErrorCode } from './errors.ts';

/** First hardened index (2^31); every accepted index is below it. */
export const HARDENED_OFFSET = 0x80000000;
/**
 * Longest accepted path: 255, BIP32's depth limit (its depth is one byte), which mpcium's
 * clients may use. Real wallet paths are 3..6 levels (m/44'/60'/0'/0/i); the work is one
 * HMAC-SHA512 and one base-point multiplication per level (~0.4 s in all at 255 levels on
 * the 2-core test machine).
 */
export const MAX_DERIVATION_DEPTH = 255;

/**
 * Returns a frozen copy of `path` if every element is an integer in [0, 2^31) and there are at
 * most `MAX_DERIVATION_DEPTH` of them; otherwise throws `HD_INVALID_PATH` naming the index.
 */
export function validateDerivationPath(path: unknown): readonly number[] {
  if (!Array.isArray(path)) {
    throw new HdDerivationError(HdErrorCode.InvalidPath, 'path', 'must be an array of integers');
  }
  if (path.length > MAX_DERIVATION_DEPTH) {
    throw new HdDerivationError(
      HdErrorCode.InvalidPath,
      'path',
      `at most ${MAX_DERIVATION_DEPTH} levels allowed, got ${path.length}`,
    );
  }
  const copy: number[] = [];
  path.forEach((value: unknown, index) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new HdDerivationError(HdErrorCode.InvalidPath, 'path', 'not an integer', index);
    }
    if (value < 0) {
      throw new HdDerivationError(HdErrorCode.InvalidPath, 'path', 'negative index', index);
    }
    if (value >= HARDENED_OFFSET) {
      throw new HdDerivationError(
        HdErrorCode.InvalidPath,
        'path',
        'hardened indices (≥ 2^31) cannot be derived from a threshold public key',
        index,
      );
    }
    copy.push(value);
  });
  return Object.freeze(copy);
}
