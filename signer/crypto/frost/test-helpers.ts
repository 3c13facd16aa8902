/** Shared helpers for the FROST tests and benchmark (not used by production code). */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import type { PartyId } from '../round-protocol.ts';
import type { FrostKeyShare } from './key-share.ts';
import { createFrostKeygenProtocol } from './keygen-protocol.ts';
import { createFrostSigningProtocol, type FrostSignature } from './signing-protocol.ts';
import { runToCompletion, type DriverOptions } from './test-driver.ts';

export function range(count: number): PartyId[] {
  return Array.from({ length: count }, (_, index) => index + 1);
}

export function randomSessionId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}

/** Runs a complete DKG among `participants` and returns every party's share. */
export function generateKeyShares(
  participants: readonly PartyId[],
  threshold: number,
  sessionId: Uint8Array = randomSessionId(),
): Map<PartyId, FrostKeyShare> {
  return runToCompletion(
    participants.map((self) =>
      createFrostKeygenProtocol({ self, participants, threshold, sessionId }),
    ),
  );
}

/** Runs a signing run among `signers` and returns every signer's result. */
export function signWith(
  shares: ReadonlyMap<PartyId, FrostKeyShare>,
  signers: readonly PartyId[],
  message: Uint8Array,
  options: DriverOptions & { tweak?: bigint; sessionId?: Uint8Array } = {},
): Map<PartyId, FrostSignature> {
  const sessionId = options.sessionId ?? randomSessionId();
  return runToCompletion(
    signers.map((self) =>
      createFrostSigningProtocol({
        share: shares.get(self) as FrostKeyShare,
        signers,
        sessionId,
        message,
        ...(options.tweak === undefined ? {} : { tweak: options.tweak }),
      }),
    ),
    options,
  );
}

/** Verifies with noble (strict RFC 8032) and, independently, with node:crypto (OpenSSL). */
export function verifiesEverywhere(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  const noble = ed25519.verify(signature, message, publicKey, { zip215: false });
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
    format: 'jwk',
  });
  const openssl = nodeVerify(null, message, key, signature);
  return noble && openssl;
}
