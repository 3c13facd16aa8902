/** FROST(Ed25519, SHA-512) threshold key generation and signing (RFC 9591). */
export { FrostError, FrostErrorCode } from './errors.ts';
export {
  MAX_FROST_PARTICIPANTS,
  MAX_PARTY_ID,
  decodeFrostKeyShare,
  encodeFrostKeyShare,
  validateFrostKeyShare,
  wipeFrostKeyShare,
  type FrostKeyShare,
} from './key-share.ts';
export { createFrostKeygenProtocol, type FrostKeygenOptions } from './keygen-protocol.ts';
export {
  MAX_SESSION_ID_BYTES,
  MAX_SIGNING_MESSAGE_BYTES,
  createFrostSigningProtocol,
  type FrostSignature,
  type FrostSigningOptions,
} from './signing-protocol.ts';
