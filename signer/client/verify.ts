/**
 * Verification of wallet signatures with code independent of the signing path: node:crypto
 * (OpenSSL) for Ed25519 and `@noble/curves` secp256k1 for ECDSA. Used by `mpc verify` and by
 * tests that must not trust the signer's own verification.
 *
 * - Ed25519: `publicKey` 32 bytes (`eddsa_pub_key`); `signature` 64 bytes R‖S over `message`.
 * - secp256k1: `publicKey` 64-byte X‖Y (`ecdsa_pub_key`), or 33/65-byte SEC1; `digest` is the
 *   32-byte value that was signed (mpcium's `tx`); signature as 64-byte r‖s, or `r` and `s`.
 *   Only low-S signatures are accepted (the contract requires low-S results). When a recovery
 *   id (`signature_recovery`) is given, it must recover `publicKey`.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { KeyType } from '../protocol/messages.ts';

export type VerifyRequest =
  | {
      readonly keyType: 'ed25519';
      readonly publicKey: Uint8Array;
      readonly message: Uint8Array;
      readonly signature: Uint8Array;
    }
  | {
      readonly keyType: 'secp256k1';
      readonly publicKey: Uint8Array;
      readonly digest: Uint8Array;
      /** 64-byte r‖s; or give `r` and `s`. */
      readonly signature?: Uint8Array;
      readonly r?: Uint8Array;
      readonly s?: Uint8Array;
      /** Optional `signature_recovery` (0–3): must recover `publicKey` from the digest. */
      readonly recoveryId?: number;
    };

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function leftPad32(bytes: Uint8Array): Uint8Array {
  if (bytes.length > 32) throw new RangeError('r and s must be at most 32 bytes');
  const out = new Uint8Array(32);
  out.set(bytes, 32 - bytes.length);
  return out;
}

/** True when the signature is valid. Throws `RangeError` for inputs of the wrong shape. */
export function verifySignature(request: VerifyRequest): boolean {
  if (request.keyType === 'ed25519') {
    if (request.publicKey.length !== 32)
      throw new RangeError('Ed25519 public key must be 32 bytes');
    if (request.signature.length !== 64) throw new RangeError('Ed25519 signature must be 64 bytes');
    const key = createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, request.publicKey]),
      format: 'der',
      type: 'spki',
    });
    return nodeVerify(null, request.message, key, request.signature);
  }
  if (request.digest.length !== 32) throw new RangeError('secp256k1 digest must be 32 bytes');
  let compact: Uint8Array;
  if (request.signature !== undefined) {
    if (request.signature.length !== 64) throw new RangeError('signature must be 64 bytes r||s');
    compact = request.signature;
  } else if (request.r !== undefined && request.s !== undefined) {
    compact = new Uint8Array(64);
    compact.set(leftPad32(request.r), 0);
    compact.set(leftPad32(request.s), 32);
  } else {
    throw new RangeError('give signature or r and s');
  }
  let publicKey = request.publicKey;
  if (publicKey.length === 64) publicKey = Uint8Array.of(0x04, ...publicKey);
  if (publicKey.length !== 33 && publicKey.length !== 65) {
    throw new RangeError('secp256k1 public key must be 64 (X||Y), 33 or 65 bytes');
  }
  try {
    const valid = secp256k1.verify(compact, request.digest, publicKey, {
      prehash: false,
      lowS: true,
      format: 'compact',
    });
    if (!valid || request.recoveryId === undefined) return valid;
    if (!Number.isInteger(request.recoveryId) || request.recoveryId < 0 || request.recoveryId > 3) {
      throw new RangeError('recovery id must be 0..3');
    }
    const recovered = secp256k1.Signature.fromBytes(compact, 'compact')
      .addRecoveryBit(request.recoveryId)
      .recoverPublicKey(request.digest);
    const expected = secp256k1.Point.fromBytes(publicKey);
    return recovered.equals(expected);
  } catch (error) {
    if (error instanceof RangeError) throw error;
    return false;
  }
}

/** Key types `verifySignature` supports. */
export const VERIFIABLE_KEY_TYPES: readonly KeyType[] = ['ed25519', 'secp256k1'];
