/**
 * The one shape every threshold protocol (FROST DKG and signing, DKLs23 DKG and signing,
 * resharing) takes, so that one session runner can drive any of them over the network and
 * run them in a worker thread.
 *
 * Parties are numbered `PartyId`s (1-based, the Shamir x-coordinate of the party's share).
 * Protocols are symmetric per round: when a party emits a broadcast in round `r`, every other
 * participant does too, and when it emits direct messages to every other participant, each of
 * them sends one back. The runner therefore knows what to wait for from what the party sent:
 * round `r`'s input holds exactly one broadcast from every other participant when this party
 * broadcast in round `r`, and exactly one direct message from every other participant when
 * this party sent direct messages in round `r`.
 *
 * Call order: `round(0, EMPTY_ROUND_INPUT)`, then `round(1, input0)`, …,
 * `round(rounds - 1, input_{rounds-2})`, then `finish(input_{rounds-1})`. Any call may throw a
 * typed protocol error; after a throw, or after `finish`, the runner calls `wipe()`, which must
 * overwrite every secret the party holds (shares, nonces, OT state). `wipe()` is idempotent.
 *
 * Buffer ownership: once a `round` or `finish` call returns, the runner overwrites the direct
 * payloads it passed in (they carry secrets), so a protocol copies any direct payload bytes it
 * keeps. Broadcast payloads are public and stay intact for the rest of the run.
 *
 * Payloads are the protocol's own canonical binary encodings; the transport authenticates,
 * encrypts (direct), binds them to (session, round, sender, recipient) and drops replays, so a
 * protocol never sees a message twice or from an unexpected sender.
 */

/** 1-based party number: the x-coordinate of the party's Shamir share. */
export type PartyId = number;

/** What a party sends at the end of one round. */
export interface RoundOutput {
  /** One payload for every other participant, signed by the transport. */
  readonly broadcast?: Uint8Array;
  /** One payload per other participant, encrypted by the transport; keys are recipients. */
  readonly direct?: ReadonlyMap<PartyId, Uint8Array>;
}

/** What a party received for one round; keys are senders. */
export interface RoundInput {
  readonly broadcast: ReadonlyMap<PartyId, Uint8Array>;
  readonly direct: ReadonlyMap<PartyId, Uint8Array>;
}

/** A party's local state machine for one run of one protocol. */
export interface RoundProtocol<Result> {
  /** Number of communication rounds (calls to `round`). */
  readonly rounds: number;
  /** This party. */
  readonly self: PartyId;
  /** All participants of this run, including `self`, ascending. */
  readonly participants: readonly PartyId[];
  /** Processes the previous round's input and returns this round's messages. */
  round(index: number, input: RoundInput): RoundOutput;
  /** Processes the last round's input and returns the result. */
  finish(input: RoundInput): Result;
  /** Overwrites all secret state. Idempotent. */
  wipe(): void;
}

export const EMPTY_ROUND_INPUT: RoundInput = Object.freeze({
  broadcast: new Map<PartyId, Uint8Array>(),
  direct: new Map<PartyId, Uint8Array>(),
});
