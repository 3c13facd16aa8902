/**
 * Typed errors of the DKLs23 key generation and signing protocols.
 *
 * Like the FROST errors these are not `MpcError`s: the session runner turns any thrown
 * protocol error into a protocol violation naming `counterparty`. `code` is stable. `banPair`
 * is true for the failures that leak correlation bits when retried (crypto.md §1.4 item 1):
 * OT-extension check, RVOLE check and Γ check. The caller MUST then refuse every further
 * session with that counterparty and discard the pairwise OT state (re-run the pairwise setup
 * only after investigation). Messages carry party numbers and field names, never secrets.
 */
import type { PartyId } from '../round-protocol.ts';

export const Dkls23ErrorCode = {
  InvalidArgument: 'DKLS23_INVALID_ARGUMENT',
  ProtocolState: 'DKLS23_PROTOCOL_STATE',
  UnexpectedSender: 'DKLS23_UNEXPECTED_SENDER',
  MalformedMessage: 'DKLS23_MALFORMED_MESSAGE',
  ContextMismatch: 'DKLS23_CONTEXT_MISMATCH',
  InvalidPoint: 'DKLS23_INVALID_POINT',
  InvalidProofOfKnowledge: 'DKLS23_INVALID_PROOF_OF_KNOWLEDGE',
  InvalidDkgShare: 'DKLS23_INVALID_DKG_SHARE',
  TranscriptMismatch: 'DKLS23_TRANSCRIPT_MISMATCH',
  OtExtensionCheck: 'DKLS23_OT_EXTENSION_CHECK_FAILED',
  RvoleCheck: 'DKLS23_RVOLE_CHECK_FAILED',
  GammaCheck: 'DKLS23_GAMMA_CHECK_FAILED',
  CommitmentMismatch: 'DKLS23_COMMITMENT_MISMATCH',
  PublicKeyMismatch: 'DKLS23_PUBLIC_KEY_MISMATCH',
  DegenerateNonce: 'DKLS23_DEGENERATE_NONCE',
  InvalidSignature: 'DKLS23_INVALID_SIGNATURE',
  InvalidKeyShare: 'DKLS23_INVALID_KEY_SHARE',
  PairBanned: 'DKLS23_PAIR_BANNED',
} as const;
export type Dkls23ErrorCode = (typeof Dkls23ErrorCode)[keyof typeof Dkls23ErrorCode];

export interface Dkls23ErrorDetails {
  readonly counterparty?: PartyId;
  readonly field?: string;
  readonly cause?: unknown;
}

/** Base class of every DKLs23 failure. */
export class Dkls23Error extends Error {
  readonly code: Dkls23ErrorCode;
  readonly counterparty: PartyId | undefined;
  readonly field: string | undefined;
  /** The pair (self, counterparty) must never run another session; see module comment. */
  readonly banPair: boolean;

  constructor(
    code: Dkls23ErrorCode,
    message: string,
    details: Dkls23ErrorDetails = {},
    banPair = false,
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.counterparty = details.counterparty;
    this.field = details.field;
    this.banPair = banPair;
  }
}

type Details = Dkls23ErrorDetails;

/** A caller-supplied argument is invalid; `field` names it. */
export class Dkls23InvalidArgumentError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.InvalidArgument, message, details);
  }
}
/** `round`/`finish` called out of order, twice, or after `wipe`. */
export class Dkls23ProtocolStateError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.ProtocolState, message, details);
  }
}
/** A message is missing, from outside the run, duplicated, misaddressed or on the wrong channel. */
export class Dkls23UnexpectedSenderError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.UnexpectedSender, message, details);
  }
}
/** Wrong version, kind, length, or a non-canonical scalar. */
export class Dkls23MalformedMessageError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.MalformedMessage, message, details);
  }
}
/** A message built for another session (replay) or parameter set. */
export class Dkls23ContextMismatchError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.ContextMismatch, message, details);
  }
}
/** A point that does not decode, is off the curve, or is the identity. */
export class Dkls23InvalidPointError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.InvalidPoint, message, details);
  }
}
/** DKG: a Schnorr proof of knowledge of a constant term fails. */
export class Dkls23InvalidProofOfKnowledgeError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.InvalidProofOfKnowledge, message, details);
  }
}
/** DKG: a dealer's share to us does not match its Feldman commitments. */
export class Dkls23InvalidDkgShareError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.InvalidDkgShare, message, details);
  }
}
/** DKG: the echo of the round-0 broadcasts differs (equivocation). */
export class Dkls23TranscriptMismatchError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.TranscriptMismatch, message, details);
  }
}
/** Signing: the KOS consistency check on the counterparty's OT-extension message fails. Ban. */
export class Dkls23OtExtensionCheckError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.OtExtensionCheck, message, details, true);
  }
}
/** Signing: the RVOLE (DKLs23 Protocol 5.2) check value μ does not match. Ban. */
export class Dkls23RvoleCheckError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.RvoleCheck, message, details, true);
  }
}
/** Signing: χ·R_j ≠ d_u·G + Γu or χ·pk_j ≠ d_v·G + Γv. Ban. */
export class Dkls23GammaCheckError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.GammaCheck, message, details, true);
  }
}
/** Signing: the opening of R_j does not match its round-0 commitment. */
export class Dkls23CommitmentMismatchError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.CommitmentMismatch, message, details);
  }
}
/** Signing: Σ pk_j differs from the (tweaked) public key. */
export class Dkls23PublicKeyMismatchError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.PublicKeyMismatch, message, details);
  }
}
/** Signing: R = O, r = 0 or Σu = 0. */
export class Dkls23DegenerateNonceError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.DegenerateNonce, message, details);
  }
}
/** Signing: the assembled signature does not verify; nothing is released. */
export class Dkls23InvalidSignatureError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.InvalidSignature, message, details);
  }
}
/** A stored key share does not decode or is inconsistent. */
export class Dkls23InvalidKeyShareError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.InvalidKeyShare, message, details);
  }
}
/** A session would involve a counterparty this node has banned after a failed check. */
export class Dkls23PairBannedError extends Dkls23Error {
  constructor(message: string, details: Details = {}) {
    super(Dkls23ErrorCode.PairBanned, message, details);
  }
}
