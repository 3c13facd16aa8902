/**
 * Why a session ended without a result. Each class fixes the client-facing error code
 * (design §6.3): transport failures are `ERROR_PEER_UNAVAILABLE`, a stalled round is
 * `ERROR_SESSION_TIMEOUT`, a failed protocol check is `ERROR_MESSAGE_VERIFICATION`, an abort
 * announced by another participant keeps the code that participant reported.
 */
import { ErrorCode, MpcError } from '../protocol/errors.ts';

/** A participant could not be reached: NATS "no responders", or no ack within the budget. */
export class PeerUnavailableError extends MpcError {
  readonly peer: string;
  readonly sessionId: string;

  constructor(peer: string, sessionId: string, detail: string) {
    super(
      ErrorCode.PeerUnavailable,
      `failed to send direct message to ${peer} in session ${sessionId}: ${detail}`,
    );
    this.peer = peer;
    this.sessionId = sessionId;
  }
}

/** A round's messages did not all arrive before the round deadline. */
export class SessionTimeoutError extends MpcError {
  readonly round: number;
  readonly missingPeers: readonly string[];

  constructor(
    sessionId: string,
    round: number,
    missingPeers: readonly string[],
    timeoutMs: number,
  ) {
    super(
      ErrorCode.SessionTimeout,
      `session ${sessionId} round ${round} timed out after ${timeoutMs} ms waiting for ${missingPeers.join(', ')}`,
    );
    this.round = round;
    this.missingPeers = missingPeers;
  }
}

/** A protocol check failed (bad share, bad proof, bad signature, malformed payload). */
export class ProtocolViolationError extends MpcError {
  readonly peer: string | undefined;

  constructor(message: string, peer?: string, options?: { cause?: unknown }) {
    super(ErrorCode.MessageVerification, message, options);
    this.peer = peer;
  }
}

/**
 * The two ends of a DKLs23 pair hold OT state from different sessions (an interrupted reshare
 * or pairwise refresh committed on one side only). Found from the signed hellos before any OT
 * state is used, so it is never a ban verdict; a pairwise refresh of the pair repairs it.
 */
export class PairStateMismatchError extends MpcError {
  readonly peer: string;

  constructor(sessionId: string, peer: string) {
    super(
      ErrorCode.IncompatiblePeerIds,
      `session ${sessionId}: the DKLs23 pair state with ${peer} differs between the two signers ` +
        `(an interrupted reshare or pairwise refresh); run a pairwise refresh of that pair`,
    );
    this.peer = peer;
  }
}

/** Another participant aborted the session and told us why; we report the same code. */
export class SessionAbortedError extends MpcError {
  readonly abortedBy: string;
  readonly peer: string | undefined;

  constructor(abortedBy: string, code: ErrorCode, reason: string, peer?: string) {
    super(code, reason);
    this.abortedBy = abortedBy;
    this.peer = peer;
  }
}

/**
 * A participant answered the invite with a refusal: nothing of the session's protocol ran
 * anywhere, so the requests it carried may be tried again in other sessions.
 */
export class InviteRefusedError extends SessionAbortedError {}

/**
 * A session serving several operations (a signing batch) could not take every one of their
 * participation records at once here; it took none and nothing ran. Its requests may be tried
 * again one by one, where an operation still running is waited for or superseded.
 */
export class BatchNotAdmittedError extends MpcError {
  constructor(cause: MpcError) {
    super(cause.code, `signing batch not admitted: ${cause.message}`, { cause });
  }
}

/** The local process is shutting down or the session was cancelled locally. */
export class SessionCancelledError extends MpcError {
  constructor(sessionId: string, why: string) {
    super(ErrorCode.OperationAborted, `session ${sessionId} cancelled: ${why}`);
  }
}

/**
 * The session uses pairwise DKLs23 OT state with a peer that is banned (a failed consistency
 * check here or in a concurrent session): stopped before its next round or send.
 */
export class PeerBannedError extends MpcError {
  readonly peer: string;

  constructor(peer: string, sessionId: string) {
    super(
      ErrorCode.IncompatiblePeerIds,
      `session ${sessionId} stopped: peer ${peer} is banned for ECDSA sessions`,
    );
    this.peer = peer;
  }
}
