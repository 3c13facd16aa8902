/** Non-hardened HD child-key derivation compatible with mpcium (secp256k1 and Ed25519). */
export {
  CHAIN_CODE_BYTES,
  deriveEd25519Child,
  deriveSecp256k1Child,
  type ChildKey,
} from './child-key-derivation.ts';
export {
  HARDENED_OFFSET,
  MAX_DERIVATION_DEPTH,
  validateDerivationPath,
} from './derivation-path.ts';
export { HdDerivationError, HdErrorCode } from './errors.ts';
