/**
 * Typed errors of node identities and the peer roster. Messages name nodes and key
 * fingerprints, never private key material.
 */
import { ErrorCode, MpcError } from '../protocol/errors.ts';

/** A peer presented a public key that differs from the one pinned in the roster. */
export class IdentityMismatchError extends MpcError {
  readonly nodeId: string;

  constructor(nodeId: string, pinnedFingerprint: string, presentedFingerprint: string) {
    super(
      ErrorCode.MessageVerification,
      `identity mismatch for node ${nodeId}: pinned key ${pinnedFingerprint}, presented key ${presentedFingerprint}`,
    );
    this.nodeId = nodeId;
  }
}

/** A node that the roster does not list tried to take part. */
export class UnknownPeerError extends MpcError {
  readonly nodeId: string;

  constructor(nodeId: string) {
    super(
      ErrorCode.ParticipantNotFound,
      `node ${JSON.stringify(nodeId)} is not in the peer roster`,
    );
    this.nodeId = nodeId;
  }
}

/** The roster file or entries are unusable; `field` names the bad entry (`nodes.<id>`). */
export class RosterError extends MpcError {
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCode.InvalidConfiguration, `invalid peer roster: ${field}: ${message}`, options);
    this.field = field;
  }
}

/** The identity files in the data directory are unusable or belong to another node. */
export class IdentityFileError extends MpcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.StorageInit, `node identity: ${message}`, options);
  }
}

/**
 * A re-pin statement (repin.ts) is malformed or does not authorise the change at hand;
 * `field` names the statement field that failed (`signature`, `old_fingerprint`, …).
 */
export class RepinError extends MpcError {
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCode.MessageVerification, `repin statement: ${field}: ${message}`, options);
    this.field = field;
  }
}
