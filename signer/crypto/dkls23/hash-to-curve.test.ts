/**
 * hash_to_curve for secp256k1_XMD:SHA-256_SSWU_RO_ (hash-to-curve.ts) against noble's
 * implementation (itself checked against the RFC 9380 vectors): expand_message_xmd byte for
 * byte over message and output lengths, and the points for random messages under the base
 * OT's DST and the RFC's test DST. Both SWU branches (gx₁ square or not) are taken.
 */
import { secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { expandMessageXmd, hashToCurve } from './hash-to-curve.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const DSTS = [
  'DKLs23-v1-base-ot-secp256k1_XMD:SHA-256_SSWU_RO_',
  'QUUX-V01-CS02-with-secp256k1_XMD:SHA-256_SSWU_RO_',
];

describe('expandMessageXmd', () => {
  it('matches noble for message lengths 0–200 and output lengths up to 8 blocks', () => {
    const dst = new TextEncoder().encode(DSTS[0]);
    for (const messageLength of [0, 1, 31, 32, 33, 64, 65, 136, 200]) {
      const message = crypto.getRandomValues(new Uint8Array(messageLength));
      for (const length of [1, 32, 48, 96, 97, 256]) {
        expect(hex(expandMessageXmd(message, dst, length))).toBe(
          hex(expand_message_xmd(message, dst, length, sha256)),
        );
      }
    }
    expect(() => expandMessageXmd(new Uint8Array(1), new Uint8Array(256), 32)).toThrow(RangeError);
  });
});

describe('hashToCurve', () => {
  it('matches noble on random messages under both DSTs', () => {
    for (const dst of DSTS) {
      for (let trial = 0; trial < 60; trial++) {
        const message = crypto.getRandomValues(new Uint8Array(trial % 70));
        const ours = hashToCurve(message, dst);
        const theirs = secp256k1_hasher.hashToCurve(message, { DST: dst });
        expect(hex(ours.toBytes(true))).toBe(hex(theirs.toBytes(true)));
      }
    }
  });

  it('matches the RFC 9380 J.8.1 vector for the empty message', () => {
    const point = hashToCurve(new Uint8Array(0), DSTS[1] as string).toAffine();
    expect(point.x.toString(16)).toBe(
      'c1cae290e291aee617ebaef1be6d73861479c48b841eaba9b7b5852ddfeb1346',
    );
    expect(point.y.toString(16)).toBe(
      '64fa678e07ae116126f08b022a94af6de15985c996c3a91b64c406a960e51067',
    );
  });
});
