/** Options and result shared by the FROST and DKLs23 resharing protocols. */
import type { PartyId, RoundProtocol } from '../round-protocol.ts';
import { invalidOption } from './errors.ts';

/** Options of one party in a resharing run (FROST and DKLs23 alike, with their share type). */
export interface ReshareOptions<Share> {
  /**
   * This party: a dealer or a new committee member (others do not take part). One id space
   * for old and new committee; the id is the Shamir x-coordinate in both (reshare-core.ts).
   */
  readonly self: PartyId;
  /** The key's current committee, ascending. */
  readonly oldCommittee: readonly PartyId[];
  /** Current t (t+1 sign). */
  readonly oldThreshold: number;
  /** The committee that will hold the key, ascending. */
  readonly newCommittee: readonly PartyId[];
  /** New t: t+1 of the new committee will sign (1 ≤ t < |new|). */
  readonly newThreshold: number;
  /**
   * The t_old+1 old members that deal, ascending; default the lowest ids of `oldCommittee`.
   * Identical at every party (bound into every message). Pick reachable old members here to
   * move a key away from a node that is down.
   */
  readonly dealers?: readonly PartyId[];
  /** This party's current share; required on dealers, optional (cross-check) on other old members. */
  readonly oldShare?: Share;
  /** The unchanged group key every party expects (the wallet's public key). */
  readonly publicKey: Uint8Array;
  /** Unique per run, identical at every party (1..1024 bytes; DKLs23: 16..1024). */
  readonly sessionId: Uint8Array;
  /** Randomness source (tests only); defaults to the platform CSPRNG. */
  readonly random?: (length: number) => Uint8Array;
}

/** What a new member gets; old-only parties get `undefined`. */
export interface NewShareResult<Share> {
  readonly share: Share;
  /**
   * Digest of the dealer broadcasts this party accepted. The caller's ACK round: every new
   * member confirms this digest; only when all confirmations match does the service activate
   * the new shares and let the old members delete theirs.
   */
  readonly transcriptDigest: Uint8Array;
}

/**
 * A resharing party: a `RoundProtocol` whose result is the new share (new members) or
 * `undefined` (old-only dealers), plus the digest of the transcript all participants confirmed
 * in `finish` — available to every participant, so old-only dealers join the ACK round too.
 */
export interface ReshareProtocol<Share> extends RoundProtocol<NewShareResult<Share> | undefined> {
  /** Undefined until `finish` succeeded. */
  confirmedTranscript(): Uint8Array | undefined;
}

const defaultRandom = (length: number): Uint8Array =>
  crypto.getRandomValues(new Uint8Array(length));

export function checkedRandom(random: unknown): (length: number) => Uint8Array {
  if (random === undefined) return defaultRandom;
  if (typeof random !== 'function') throw invalidOption('random', 'must be a function');
  return (length) => {
    const bytes = (random as (length: number) => unknown)(length);
    if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
      throw invalidOption('random', 'returned the wrong length');
    }
    return bytes;
  };
}
