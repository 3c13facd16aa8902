/**
 * Test-only (excluded from the build): a roster identity with a fresh real Ed25519 key, in
 * the shape sessions and the messenger sign with (`ControlSigner`), and a trivial job.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import type { SessionJob } from './session-host.ts';

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

/** A job of one round that broadcasts one byte and finishes with 'done' (digest 'digest'). */
export function oneRoundJob(operations?: readonly string[]): SessionJob<unknown> {
  return {
    party: {
      rounds: 1,
      round: async () => ({ broadcast: Uint8Array.of(1) }),
      finish: async () => 'done',
      wipe: () => undefined,
    },
    complete: async () => 'digest',
    dispose: () => undefined,
    ...(operations === undefined ? {} : { operations }),
  };
}
