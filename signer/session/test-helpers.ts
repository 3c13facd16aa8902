/**
 * Test-only (excluded from the build): a roster identity with a fresh real Ed25519 key, in
 * the shape sessions and the messenger sign with (`ControlSigner`).
 */
import { generateKeyPairSync, sign } from 'node:crypto';

export function rosterIdentity(nodeId: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    nodeId,
    publicKey: new Uint8Array(
      Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url'),
    ),
    sign: (bytes: Uint8Array) => new Uint8Array(sign(null, bytes, privateKey)),
  };
}
