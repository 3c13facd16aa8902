/**
 * Typed errors of the resharing protocols (FROST/Ed25519 and DKLs23/secp256k1 alike).
 *
 * Like the FROST and DKLs23 errors these are not `MpcError`s: the session runner turns any
 * error thrown by a `RoundProtocol` into a protocol violation naming `counterparty` (the
 * offending dealer or party). `code` is stable and machine-readable; messages carry only
 * party numbers and field names, never secret material. The DKLs23 pairwise setup of the new
 * committee (base OTs) can also throw the DKLs23 errors it throws during keygen
 * (`Dkls23InvalidPointError`, `Dkls23MalformedMessageError`), with `counterparty` set.
 */
import type { PartyId } from '../round-protocol.ts';

export const ReshareErrorCode = {
  /** A caller-supplied option is invalid; `field` names it. */
  InvalidArgument: 'RESHARE_INVALID_ARGUMENT',
  /** `round`/`finish` called out of order, twice, or after `wipe`. */
  ProtocolState: 'RESHARE_PROTOCOL_STATE',
  /** A message is missing, from a party outside the run, or on the wrong channel. */
  UnexpectedSender: 'RESHARE_UNEXPECTED_SENDER',
  /** Wrong version, kind or length, or a non-canonical scalar. */
  MalformedMessage: 'RESHARE_MALFORMED_MESSAGE',
  /** The message was built for another session or parameter set (replay, misconfiguration). */
  ContextMismatch: 'RESHARE_CONTEXT_MISMATCH',
  /** A point does not decode, is the identity or (Ed25519) lies outside the prime-order subgroup. */
  InvalidPoint: 'RESHARE_INVALID_POINT',
  /**
   * A dealer announced old verifying shares that differ from ours (for a party without an old
   * share: from the set a strict majority of the dealers announced) or that do not lie on one
   * degree-t_old polynomial through the expected public key. Without `counterparty` when the
   * announcements differ but the evidence names no dealer.
   */
  OldKeyMismatch: 'RESHARE_OLD_KEY_MISMATCH',
  /** Per-dealer check: the dealer's constant-term commitment C_{i,0} differs from λ_i·Y_i. */
  WrongConstantTerm: 'RESHARE_WRONG_CONSTANT_TERM',
  /** The dealer's sub-share to us does not match its Feldman commitments. */
  InvalidSubShare: 'RESHARE_INVALID_SUB_SHARE',
  /** Σ C_{i,0} differs from the unchanged public key (cannot happen when every dealer passed). */
  PublicKeyMismatch: 'RESHARE_PUBLIC_KEY_MISMATCH',
  /** A party saw different dealer broadcasts than we did (equivocation). */
  TranscriptMismatch: 'RESHARE_TRANSCRIPT_MISMATCH',
  /** The assembled new share is inconsistent with the new verifying shares. */
  InconsistentResult: 'RESHARE_INCONSISTENT_RESULT',
} as const;
export type ReshareErrorCode = (typeof ReshareErrorCode)[keyof typeof ReshareErrorCode];

/** Any failure of a resharing run. */
export class ReshareError extends Error {
  readonly code: ReshareErrorCode;
  /** The dealer or party whose message failed a check, when one can be named. */
  readonly counterparty: PartyId | undefined;
  /** The offending option or payload field, when it applies. */
  readonly field: string | undefined;

  constructor(
    code: ReshareErrorCode,
    message: string,
    details: { counterparty?: PartyId; field?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ReshareError';
    this.code = code;
    this.counterparty = details.counterparty;
    this.field = details.field;
  }
}

/** Shorthand for an invalid caller-supplied option. */
export function invalidOption(field: string, message: string): ReshareError {
  return new ReshareError(ReshareErrorCode.InvalidArgument, `${field}: ${message}`, { field });
}
