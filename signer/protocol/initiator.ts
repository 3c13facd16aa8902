/**
 * Initiator signature verification (reference `mpcium-contract.md` §3.1–3.3): every request
 * carries a signature by the cluster's configured initiator key over the Go-compatible `Raw()`
 * bytes (`messages.ts`). Ed25519 (hex 32-byte key, 64-byte signature) or P-256 (PKIX DER key as
 * hex with optional `0x` or base64; ASN.1 DER ECDSA signature over SHA-256(raw)).
 *
 * Every failure — empty, malformed or wrong signature, either algorithm — is
 * `InvalidInitiatorSignatureError` (`ERROR_INVALID_INITIATOR_SIGNATURE`). mpcium reports
 * P-256 failures and empty signatures as `ERROR_UNKNOWN`; we are precise.
 */
import { ErrorCode, MpcError } from './errors.ts';
import { createSignatureCheck, type SignatureAlgorithm } from './public-keys.ts';

export type InitiatorAlgorithm = SignatureAlgorithm;

/** The request's initiator signature is missing or does not verify. */
export class InvalidInitiatorSignatureError extends MpcError {
  constructor(message = 'invalid signature from initiator') {
    super(ErrorCode.InvalidInitiatorSignature, message);
  }
}

export interface InitiatorVerifierConfig {
  readonly algorithm: InitiatorAlgorithm;
  /** Ed25519: hex of the 32-byte key. P-256: hex (optional `0x`) or base64 of PKIX DER. */
  readonly publicKey: string;
}

export interface InitiatorVerifier {
  /** Throws `InvalidInitiatorSignatureError` unless `signature` is valid over `raw`. */
  verify(raw: Uint8Array, signature: Uint8Array): void;
}

/**
 * Builds the verifier once at startup. Throws `PublicKeyConfigError`
 * (`ERROR_INVALID_CONFIGURATION`, field `initiator.public_key` / `initiator.algorithm`) when the
 * key or algorithm is unusable.
 */
export function createInitiatorVerifier(config: InitiatorVerifierConfig): InitiatorVerifier {
  const check = createSignatureCheck(config.algorithm, config.publicKey, 'initiator.public_key', {
    allowBase64P256: true,
  });
  return {
    verify(raw, signature) {
      if (signature.length === 0) {
        throw new InvalidInitiatorSignatureError('initiator signature is empty');
      }
      if (!check(raw, signature)) throw new InvalidInitiatorSignatureError();
    },
  };
}
