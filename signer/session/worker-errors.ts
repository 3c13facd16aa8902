/**
 * Errors of the protocol worker pool (worker-pool.ts).
 *
 * `PartyWorkerError` re-creates, on the calling thread, a protocol error thrown inside a
 * worker. It is deliberately NOT an `MpcError`: the session runner turns it into a protocol
 * violation and maps `counterparty` to the offending peer, exactly as it does for a protocol
 * running on the calling thread. Only vetted protocol errors (DKLs23, FROST) keep their name
 * and message; anything else crosses the thread boundary as a generic internal error, because
 * library messages may quote the values they rejected.
 *
 * The other classes are `MpcError`s: they describe this process, not a peer, so the runner
 * passes them through unchanged.
 */
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import type { PartyId } from '../crypto/round-protocol.ts';

/** Plain, structured-clone-able form of an error thrown by a hosted party. */
export interface SerializedPartyError {
  /** Class name of the original error (e.g. `Dkls23GammaCheckError`). */
  readonly name: string;
  /** Party numbers and field names only; never secret material. */
  readonly message: string;
  /** Stable machine-readable code (e.g. `DKLS23_GAMMA_CHECK_FAILED`). */
  readonly code: string;
  /** The party whose message failed a check, when one can be named. */
  readonly counterparty?: PartyId;
  /** The offending argument or payload field, when it applies. */
  readonly field?: string;
  /** DKLs23 only: the pair must never run another session (crypto.md §1.4 item 1). */
  readonly banPair?: boolean;
}

/** Code of a failure inside the worker that is not a vetted protocol error (a bug). */
export const PARTY_WORKER_INTERNAL_CODE = 'PARTY_WORKER_INTERNAL';
/** Code of a call for a party the worker does not host (never created, wiped or failed). */
export const PARTY_WORKER_STATE_CODE = 'PARTY_WORKER_STATE';

/** A protocol error thrown by a party hosted in a worker thread. */
export class PartyWorkerError extends Error {
  readonly code: string;
  readonly counterparty: PartyId | undefined;
  readonly field: string | undefined;
  /** True when the DKLs23 pair (self, counterparty) must be banned; false otherwise. */
  readonly banPair: boolean;

  constructor(serialized: SerializedPartyError) {
    super(serialized.message);
    this.name = serialized.name;
    this.code = serialized.code;
    this.counterparty = serialized.counterparty;
    this.field = serialized.field;
    this.banPair = serialized.banPair === true;
  }
}

/** The worker thread hosting a party exited (crash, out of memory, terminated). */
export class PartyWorkerCrashedError extends MpcError {
  constructor(detail: string) {
    super(ErrorCode.Unknown, `protocol worker thread failed: ${detail}`);
  }
}

/** A call on a party that was wiped, already finished or failed, or whose pool is closed. */
export class PartyReleasedError extends MpcError {
  constructor(detail: string) {
    super(ErrorCode.OperationAborted, `protocol party released: ${detail}`);
  }
}

/** A `PartySpec` or pool option is malformed (a programming error); `field` names it. */
export class InvalidPartySpecError extends MpcError {
  readonly field: string;

  constructor(field: string, message: string) {
    super(ErrorCode.InvalidConfiguration, `party spec: ${field}: ${message}`);
    this.field = field;
  }
}
