import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { verifySignature } from './verify.ts';

describe('verifySignature', () => {
  it('verifies Ed25519 signatures made by node:crypto and rejects tampering', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const message = new TextEncoder().encode('hello');
    const signature = nodeSign(null, message, privateKey);
    expect(verifySignature({ keyType: 'ed25519', publicKey: raw, message, signature })).toBe(true);
    const tampered = Uint8Array.from(signature);
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    expect(
      verifySignature({ keyType: 'ed25519', publicKey: raw, message, signature: tampered }),
    ).toBe(false);
    expect(() =>
      verifySignature({ keyType: 'ed25519', publicKey: raw.subarray(1), message, signature }),
    ).toThrow(RangeError);
  });

  it('verifies secp256k1 r/s over a digest with a 64-byte X||Y key, low-S only', () => {
    const secretKey = secp256k1.utils.randomSecretKey();
    const publicKey = secp256k1.getPublicKey(secretKey, false).subarray(1);
    const digest = new Uint8Array(32).fill(0xab);
    const compact = secp256k1.sign(digest, secretKey, { prehash: false, lowS: true });
    expect(verifySignature({ keyType: 'secp256k1', publicKey, digest, signature: compact })).toBe(
      true,
    );
    expect(
      verifySignature({
        keyType: 'secp256k1',
        publicKey,
        digest,
        r: compact.subarray(0, 32),
        s: compact.subarray(32),
      }),
    ).toBe(true);
    const recovered = secp256k1.sign(digest, secretKey, { prehash: false, format: 'recovered' });
    const recoveryId = recovered[0] ?? 0;
    expect(
      verifySignature({ keyType: 'secp256k1', publicKey, digest, signature: compact, recoveryId }),
    ).toBe(true);
    expect(
      verifySignature({
        keyType: 'secp256k1',
        publicKey,
        digest,
        signature: compact,
        recoveryId: recoveryId ^ 1,
      }),
    ).toBe(false);
    expect(() =>
      verifySignature({
        keyType: 'secp256k1',
        publicKey,
        digest,
        signature: compact,
        recoveryId: 4,
      }),
    ).toThrow(RangeError);
    const otherDigest = new Uint8Array(32).fill(0xac);
    expect(
      verifySignature({ keyType: 'secp256k1', publicKey, digest: otherDigest, signature: compact }),
    ).toBe(false);
    // The high-S twin is mathematically valid but refused.
    const s = BigInt(`0x${Buffer.from(compact.subarray(32)).toString('hex')}`);
    const highS = Buffer.from((secp256k1.Point.Fn.ORDER - s).toString(16).padStart(64, '0'), 'hex');
    expect(
      verifySignature({
        keyType: 'secp256k1',
        publicKey,
        digest,
        r: compact.subarray(0, 32),
        s: highS,
      }),
    ).toBe(false);
    expect(() =>
      verifySignature({
        keyType: 'secp256k1',
        publicKey,
        digest: digest.subarray(1),
        signature: compact,
      }),
    ).toThrow(RangeError);
  });
});
