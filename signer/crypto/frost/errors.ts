/**
 * Typed errors of the FROST(Ed25519, SHA-512) key generation and signing protocols.
 *
 * These are deliberately *not* `MpcError`s: the session runner (signer/session/round-runner.ts)
 * turns any non-`MpcError` thrown by a `RoundProtocol` into a `ProtocolViolationError` and uses
 * the numeric `counterparty` to name the offending node. `code` is stable and machine-readable;
 * `message` carries only party numbers, counts and field names, never secret material.
 */
import type { PartyId } from '../round-protocol.ts';

/** Stable machine-readable failure classes. */
export const FrostErrorCode = {
  /** A caller-supplied argument is invalid (programming or configuration error). `field` names it. */
  InvalidArgument: 'FROST_INVALID_ARGUMENT',
  /** `round`/`finish` called out of order, twice, or after `wipe`. */
  ProtocolState: 'FROST_PROTOCOL_STATE',
  /** A message is missing, comes from a party outside the run, or arrives on the wrong channel. */
  UnexpectedSender: 'FROST_UNEXPECTED_SENDER',
  /** A payload does not parse: wrong version, tag, length or a non-canonical scalar. */
  MalformedMessage: 'FROST_MALFORMED_MESSAGE',
  /** A payload was built for another session, parameter set, message or key. */
  ContextMismatch: 'FROST_CONTEXT_MISMATCH',
  /** A point is non-canonical, off the curve, the identity, or outside the prime-order subgroup. */
  InvalidPoint: 'FROST_INVALID_POINT',
  /** DKG: a dealer's Schnorr proof of knowledge of its constant term does not verify. */
  InvalidProofOfKnowledge: 'FROST_INVALID_PROOF_OF_KNOWLEDGE',
  /** DKG: a dealer's secret share to us does not match its Feldman commitments. */
  InvalidDkgShare: 'FROST_INVALID_DKG_SHARE',
  /** DKG: a party saw different round-1 broadcasts than we did (equivocation). */
  TranscriptMismatch: 'FROST_TRANSCRIPT_MISMATCH',
  /** Signing: a party's signature share fails RFC 9591 §5.4 share verification. */
  InvalidSignatureShare: 'FROST_INVALID_SIGNATURE_SHARE',
  /** Signing: the aggregate signature does not verify and no single share is to blame. */
  InvalidSignature: 'FROST_INVALID_SIGNATURE',
  /** A stored key share does not decode or is internally inconsistent. */
  InvalidKeyShare: 'FROST_INVALID_KEY_SHARE',
} as const;

export type FrostErrorCode = (typeof FrostErrorCode)[keyof typeof FrostErrorCode];

/** Any failure of the FROST protocols or codecs. */
export class FrostError extends Error {
  readonly code: FrostErrorCode;
  /** The party whose message failed a check, when one can be named. */
  readonly counterparty: PartyId | undefined;
  /** The offending argument or payload field, when it applies. */
  readonly field: string | undefined;

  constructor(
    code: FrostErrorCode,
    message: string,
    details: { counterparty?: PartyId; field?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'FrostError';
    this.code = code;
    this.counterparty = details.counterparty;
    this.field = details.field;
  }
}

/** Shorthand for an invalid caller-supplied argument. */
export function invalidArgument(field: string, message: string): FrostError {
  return new FrostError(FrostErrorCode.InvalidArgument, `${field}: ${message}`, { field });
}
