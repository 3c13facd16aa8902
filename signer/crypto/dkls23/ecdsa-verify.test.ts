/**
 * The protocol's own ECDSA check (ecdsa-verify.ts) against noble's verify with
 * { prehash: false, lowS: true }: valid signatures, each component tampered, the high-S twin,
 * out-of-range r and s, another key and another digest must get the same answer.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { verifyPrehashed } from './ecdsa-verify.ts';

const Point = secp256k1.Point;
const ORDER = Point.Fn.ORDER;

function toCompact(r: bigint, s: bigint): Uint8Array {
  return Buffer.from(r.toString(16).padStart(64, '0') + s.toString(16).padStart(64, '0'), 'hex');
}

function agree(digest: Uint8Array, r: bigint, s: bigint, key: Uint8Array): boolean {
  const ours = verifyPrehashed(digest, r, s, Point.fromBytes(key));
  let theirs: boolean;
  try {
    theirs =
      r < 2n ** 256n && s < 2n ** 256n && r >= 0n && s >= 0n
        ? secp256k1.verify(toCompact(r, s), digest, key, { prehash: false, lowS: true })
        : false;
  } catch {
    theirs = false;
  }
  expect(ours).toBe(theirs);
  return ours;
}

describe('verifyPrehashed', () => {
  it('agrees with noble on valid and tampered signatures', () => {
    for (let trial = 0; trial < 25; trial++) {
      const secret = secp256k1.utils.randomSecretKey();
      const key = secp256k1.getPublicKey(secret, true);
      const digest = crypto.getRandomValues(new Uint8Array(32));
      const compact = secp256k1.sign(digest, secret, { prehash: false, lowS: true });
      const hex = Buffer.from(compact).toString('hex');
      const r = BigInt('0x' + hex.slice(0, 64));
      const s = BigInt('0x' + hex.slice(64));
      expect(agree(digest, r, s, key)).toBe(true);
      expect(agree(digest, r + 1n, s, key)).toBe(false);
      expect(agree(digest, r, s + 1n, key)).toBe(false);
      expect(agree(digest, r, ORDER - s, key)).toBe(false); // high S
      const other = digest.slice();
      other[0] = (other[0] as number) ^ 1;
      expect(agree(other, r, s, key)).toBe(false);
      const otherKey = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true);
      expect(agree(digest, r, s, otherKey)).toBe(false);
      for (const [badR, badS] of [
        [0n, s],
        [r, 0n],
        [ORDER, s],
        [r + ORDER, s],
      ] as const) {
        expect(agree(digest, badR, badS, key)).toBe(false);
      }
    }
  });

  it('handles a digest that reduces to zero', () => {
    const secret = secp256k1.utils.randomSecretKey();
    const key = secp256k1.getPublicKey(secret, true);
    for (const digest of [new Uint8Array(32), Buffer.from(ORDER.toString(16), 'hex')]) {
      const compact = secp256k1.sign(digest, secret, { prehash: false, lowS: true });
      const hex = Buffer.from(compact).toString('hex');
      expect(
        agree(digest, BigInt('0x' + hex.slice(0, 64)), BigInt('0x' + hex.slice(64)), key),
      ).toBe(true);
    }
  });
});
