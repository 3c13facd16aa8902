/**
 * Ed25519 verification of peer signatures with node:crypto (native, ~20× faster than pure JS
 * here), caching one KeyObject per public key since peers are few and fixed.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

const keyCache = new Map<string, KeyObject>();

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const cacheKey = Buffer.from(publicKey).toString('hex');
  let key = keyCache.get(cacheKey);
  if (key === undefined) {
    key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
      format: 'jwk',
    });
    keyCache.set(cacheKey, key);
  }
  return key;
}

/** True when `signature` is a valid Ed25519 signature of `message` under the 32-byte key. */
export function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return verify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}
