/**
 * FROST(Ed25519) distributed key generation as a `RoundProtocol`: the Pedersen DKG with
 * proofs of knowledge from the FROST paper, in the frost-rs split-round form that noble
 * implements (`ed25519_FROST.DKG`, crypto.md §3.1).
 *
 * - round 0 (broadcast): Feldman commitments C_{i,0..t} and a Schnorr proof of knowledge of
 *   a_{i,0}, prefixed with the run's context digest (session id, t, committee).
 * - round 1 (direct): every received round-1 package is checked here, so a failure names its
 *   dealer (context, canonical prime-order points, proof of knowledge); then f_i(j) goes to each
 *   j, together with a digest of all round-1 packages as this party saw them (echo check).
 * - finish: each received echo must equal ours (otherwise some dealer equivocated:
 *   FROST_TRANSCRIPT_MISMATCH naming the party whose view differs); each share is checked
 *   against its dealer's commitments (FROST_INVALID_DKG_SHARE naming the dealer); noble's
 *   round3 then sums the shares and derives the group key and verifying shares, which are
 *   checked once more for consistency (key-share.ts).
 *
 * Note: noble's proof-of-knowledge challenge does not include the session id; replay across
 * sessions is prevented by the authenticated transport (which binds session and round) and the
 * context digest in every payload.
 */
import { ed25519_FROST } from '@noble/curves/ed25519.js';
import type { DKG_Round1, DKG_Round2, DKG_Secret } from '@noble/curves/abstract/frost.js';
import type { PartyId, RoundInput, RoundOutput, RoundProtocol } from '../round-protocol.ts';
import { wipeBytes } from '../wipe.ts';
import {
  Point,
  decodeElement,
  decodeScalar,
  equalBytes,
  type EdwardsPoint,
} from './ed25519-group.ts';
import { FrostError, FrostErrorCode, invalidArgument } from './errors.ts';
import { validateCommittee, validateFrostKeyShare, type FrostKeyShare } from './key-share.ts';
import { expectMessages, nobleRandom } from './round-input.ts';
import { proofOfKnowledgeChallenge, verifyFeldmanShare } from './signing-core.ts';
import { MAX_SESSION_ID_BYTES } from './signing-protocol.ts';
import {
  DIGEST_BYTES,
  TAG_DKG_ROUND1,
  TAG_DKG_ROUND2,
  dkgContextDigest,
  dkgTranscriptDigest,
  encodeMessage,
  openMessage,
} from './wire.ts';

export interface FrostKeygenOptions {
  /** This party. */
  readonly self: PartyId;
  /** Every party receiving a share, ascending (2..255 parties, ids 1..65535). */
  readonly participants: readonly PartyId[];
  /** t: t+1 parties will be needed to sign (1 ≤ t < n). */
  readonly threshold: number;
  /** Unique per keygen run, identical at every party (1..1024 bytes). */
  readonly sessionId: Uint8Array;
  /** Randomness source (tests only); defaults to the platform CSPRNG. */
  readonly random?: (length: number) => Uint8Array;
}

interface DealerPackage {
  readonly commitments: readonly EdwardsPoint[];
  readonly noblePackage: DKG_Round1;
}

export function createFrostKeygenProtocol(
  options: FrostKeygenOptions,
): RoundProtocol<FrostKeyShare> {
  const { self, threshold, sessionId, random } = options;
  validateCommittee(self, options.participants, threshold);
  if (!(sessionId instanceof Uint8Array) || sessionId.length < 1) {
    throw invalidArgument('sessionId', 'must be non-empty bytes');
  }
  if (sessionId.length > MAX_SESSION_ID_BYTES) throw invalidArgument('sessionId', 'too long');
  if (random !== undefined && typeof random !== 'function') {
    throw invalidArgument('random', 'must be a function');
  }
  const participants = Object.freeze([...options.participants]);
  const others = participants.filter((party) => party !== self);
  const signers = { min: threshold + 1, max: participants.length };
  const identifierOf = (party: PartyId): string => ed25519_FROST.Identifier.fromNumber(party);
  const partyOfIdentifier = new Map(participants.map((party) => [identifierOf(party), party]));
  const context = dkgContextDigest(sessionId, threshold, participants);
  const round1Body = 32 * (threshold + 1) + 64;

  let nextStep = 0;
  let secret: DKG_Secret | undefined;
  let transcript: Uint8Array | undefined;
  let ownRound1: Uint8Array | undefined;
  const dealers = new Map<PartyId, DealerPackage>();

  const step = (index: number, name: string): void => {
    if (index !== nextStep) {
      throw new FrostError(FrostErrorCode.ProtocolState, `${name} called out of order`);
    }
    nextStep++;
  };
  const cleanSecret = (): void => {
    if (secret !== undefined) ed25519_FROST.DKG.clean(secret);
    secret = undefined;
  };

  const round1 = (): RoundOutput => {
    const generated = ed25519_FROST.DKG.round1(
      identifierOf(self),
      signers,
      undefined,
      nobleRandom(random),
    );
    secret = generated.secret;
    const payload = encodeMessage(
      TAG_DKG_ROUND1,
      context,
      ...generated.public.commitment,
      generated.public.proofOfKnowledge,
    );
    ownRound1 = payload;
    return { broadcast: payload };
  };

  const parseRound1 = (party: PartyId, payload: Uint8Array): DealerPackage => {
    const body = openMessage(payload, TAG_DKG_ROUND1, round1Body, context, party, 'DKG round 1');
    const commitmentBytes: Uint8Array<ArrayBuffer>[] = [];
    const commitments: EdwardsPoint[] = [];
    for (let index = 0; index <= threshold; index++) {
      const bytes = body.slice(index * 32, index * 32 + 32);
      commitments.push(decodeElement(bytes, `DKG commitment ${index}`, party));
      commitmentBytes.push(bytes);
    }
    const proof = body.slice(32 * (threshold + 1));
    const nonceBytes = proof.subarray(0, 32);
    const nonceCommitment = decodeElement(nonceBytes, 'proof-of-knowledge R', party);
    const response = decodeScalar(proof.subarray(32), 'proof-of-knowledge z', party);
    const constant = commitments[0] as EdwardsPoint;
    const challenge = proofOfKnowledgeChallenge(
      party,
      commitmentBytes[0] as Uint8Array,
      nonceBytes,
    );
    const lhs = response === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(response);
    if (!lhs.equals(nonceCommitment.add(constant.multiplyUnsafe(challenge)))) {
      throw new FrostError(
        FrostErrorCode.InvalidProofOfKnowledge,
        `DKG round 1 from party ${party}: invalid proof of knowledge`,
        { counterparty: party },
      );
    }
    return {
      commitments,
      noblePackage: {
        identifier: identifierOf(party),
        commitment: commitmentBytes,
        proofOfKnowledge: proof,
      },
    };
  };

  const round2 = (input: RoundInput): RoundOutput => {
    const received = expectMessages(input, 'broadcast', others, 'DKG round 1');
    const all = new Map<PartyId, Uint8Array>([[self, ownRound1 as Uint8Array]]);
    for (const party of others) {
      const payload = received.get(party) as Uint8Array;
      dealers.set(party, parseRound1(party, payload));
      all.set(party, payload.slice());
    }
    transcript = dkgTranscriptDigest(context, all, participants);
    let outgoing: Record<string, DKG_Round2>;
    try {
      outgoing = ed25519_FROST.DKG.round2(
        secret as DKG_Secret,
        others.map((party) => (dealers.get(party) as DealerPackage).noblePackage),
      );
    } catch {
      throw new FrostError(FrostErrorCode.MalformedMessage, 'DKG round 1 packages rejected');
    }
    const direct = new Map<PartyId, Uint8Array>();
    for (const party of others) {
      const entry = outgoing[identifierOf(party)];
      if (entry === undefined) {
        throw new FrostError(FrostErrorCode.ProtocolState, `no DKG share for party ${party}`);
      }
      direct.set(party, encodeMessage(TAG_DKG_ROUND2, context, transcript, entry.signingShare));
      wipeBytes(entry.signingShare);
    }
    return { direct };
  };

  const round3 = (input: RoundInput): FrostKeyShare => {
    const received = expectMessages(input, 'direct', others, 'DKG round 2');
    const noblePackages: DKG_Round2[] = [];
    try {
      for (const party of others) {
        const body = openMessage(
          received.get(party) as Uint8Array,
          TAG_DKG_ROUND2,
          DIGEST_BYTES + 32,
          context,
          party,
          'DKG round 2',
        );
        if (!equalBytes(body.subarray(0, DIGEST_BYTES), transcript as Uint8Array)) {
          throw new FrostError(
            FrostErrorCode.TranscriptMismatch,
            `DKG round 2 from party ${party}: it saw different round-1 broadcasts`,
            { counterparty: party },
          );
        }
        const shareBytes = body.slice(DIGEST_BYTES);
        noblePackages.push({ identifier: identifierOf(party), signingShare: shareBytes });
        const share = decodeScalar(shareBytes, 'DKG share', party);
        const dealer = dealers.get(party) as DealerPackage;
        if (!verifyFeldmanShare(self, share, dealer.commitments)) {
          throw new FrostError(
            FrostErrorCode.InvalidDkgShare,
            `DKG share from party ${party} does not match its commitments`,
            { counterparty: party },
          );
        }
      }
      let key: ReturnType<typeof ed25519_FROST.DKG.round3>;
      try {
        key = ed25519_FROST.DKG.round3(
          secret as DKG_Secret,
          others.map((party) => (dealers.get(party) as DealerPackage).noblePackage),
          noblePackages,
        );
      } catch {
        throw new FrostError(FrostErrorCode.ProtocolState, 'DKG finalisation failed');
      }
      const verifyingShares = new Map<PartyId, Uint8Array>();
      for (const [identifier, bytes] of Object.entries(key.public.verifyingShares)) {
        const party = partyOfIdentifier.get(identifier);
        if (party === undefined) throw new FrostError(FrostErrorCode.ProtocolState, 'unknown id');
        verifyingShares.set(party, bytes);
      }
      const result: FrostKeyShare = {
        self,
        threshold,
        participants,
        publicKey: (key.public.commitments[0] as Uint8Array).slice(),
        verifyingShares,
        secretShare: key.secret.signingShare,
      };
      try {
        validateFrostKeyShare(result);
      } catch (error) {
        wipeBytes(result.secretShare);
        throw error;
      }
      return result;
    } finally {
      for (const entry of noblePackages) wipeBytes(entry.signingShare);
      cleanSecret();
    }
  };

  return {
    rounds: 2,
    self,
    participants,
    round(index: number, input: RoundInput): RoundOutput {
      step(index, `round(${index})`);
      return index === 0 ? round1() : round2(input);
    },
    finish(input: RoundInput): FrostKeyShare {
      step(2, 'finish');
      return round3(input);
    },
    wipe(): void {
      cleanSecret();
      nextStep = Number.POSITIVE_INFINITY;
    },
  };
}
