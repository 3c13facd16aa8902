/**
 * DKLs23 (secp256k1) resharing as a `RoundProtocol` (crypto.md §4.1 and §4.2; protocol, id
 * space and ACK duty in `reshare-core.ts`). Run by the dealers and the new committee (see reshare-core.ts). Besides
 * the Shamir redistribution, every ordered pair of NEW members runs the same fresh pairwise
 * setup as keygen (`dkls23/keygen-protocol.ts`): κ base OTs in each direction (OT-extension
 * sender Δ and seeds, receiver seed pairs) and a zero-share seed from both parties'
 * contributions. No pairwise state of the old key is reused. A new member returns
 * `{ share, transcriptDigest }` with a `Dkls23KeyShare` in keygen's format, ready for
 * `createDkls23SigningProtocol`; an old-only party returns `undefined`. The old share is read,
 * never modified.
 *
 * The new share's `keyId` is H("DKLs23/v1/reshare/key-id", context), so signing sessions of
 * the new committee never share a context with the old committee's.
 *
 * Direct messages (after the core's part, which carries its own header and context):
 *   round 0, new → new: core part ‖ zeroSeedContribution[32] ‖ baseOtReceiver[κ][2][33]
 *   round 1, new → new: 0x01 ‖ 0x26 ‖ context[32] ‖ baseOtSender[κ][33]
 *   round 1, otherwise: 0x01 ‖ 0x27 ‖ context[32] (empty marker)
 * Broadcasts are the core's (compressed 33-byte points, 32-byte big-endian scalars).
 */
import type { PartyId, RoundInput, RoundOutput } from '../round-protocol.ts';
import { taggedHash } from '../transcript.ts';
import {
  BASE_OT_RECEIVER_MESSAGE_BYTES,
  BASE_OT_SENDER_MESSAGE_BYTES,
  baseOtReceiverFinish,
  baseOtReceiverStart,
  baseOtSenderRespond,
  wipeBaseOtReceiverState,
  type BaseOtReceiverState,
} from '../dkls23/base-ot.ts';
import {
  Point,
  decodePoint,
  decodeScalar,
  pointToBytes,
  randomScalar,
  scalarToBytes,
  type Point as SecpPoint,
} from '../dkls23/group.ts';
import type { Dkls23KeyShare, Dkls23PairSetup } from '../dkls23/key-share.ts';
import { KAPPA } from '../dkls23/params.ts';
import { ReshareError, ReshareErrorCode, invalidOption } from './errors.ts';
import {
  checkedRandom,
  type NewShareResult,
  type ReshareOptions,
  type ReshareProtocol,
} from './options.ts';
import {
  ReshareCore,
  ReshareSequencer,
  equalBytes,
  expectFrom,
  frame,
  unframe,
  validateReshareParameters,
  type OldKeyMaterial,
  type ReshareSuite,
} from './reshare-core.ts';

export const secp256k1ReshareSuite: ReshareSuite<SecpPoint> = {
  name: 'dkls23-secp256k1',
  group: Point,
  pointBytes: 33,
  encodePoint: (point) => pointToBytes(point),
  decodePoint: (bytes) => decodePoint(bytes, { field: 'point' }),
  encodeScalar: (value) => scalarToBytes(value),
  decodeScalar: (bytes) => decodeScalar(bytes, { field: 'scalar' }),
  randomScalar: (random) => randomScalar(random),
};

const KIND_PAIR_OT = 0x26;
const KIND_NO_PAIR = 0x27;
const PAIR_ROUND0_BYTES = 32 + BASE_OT_RECEIVER_MESSAGE_BYTES;

function pairSessionId(keyId: Uint8Array, otSender: PartyId, otReceiver: PartyId): Uint8Array {
  return taggedHash('DKLs23/v1/reshare/pair', keyId, otSender, otReceiver);
}

function oldMaterial(
  share: Dkls23KeyShare,
  self: PartyId,
  oldCommittee: readonly PartyId[],
  oldThreshold: number,
  publicKey: Uint8Array,
): OldKeyMaterial {
  if (typeof share !== 'object' || share === null) throw invalidOption('oldShare', 'not a share');
  if (share.self !== self) throw invalidOption('oldShare', 'belongs to another party');
  if (share.threshold !== oldThreshold) throw invalidOption('oldShare', 'other threshold');
  if (
    share.participants.length !== oldCommittee.length ||
    share.participants.some((party, index) => party !== oldCommittee[index])
  ) {
    throw invalidOption('oldShare', 'other committee than oldCommittee');
  }
  if (!(share.publicKey instanceof Uint8Array) || !equalBytes(share.publicKey, publicKey)) {
    throw invalidOption('oldShare', 'other public key than publicKey');
  }
  let secret: bigint;
  try {
    secret = decodeScalar(share.secretShare, { field: 'oldShare.secretShare' }, true);
  } catch (cause) {
    throw new ReshareError(ReshareErrorCode.InvalidArgument, 'oldShare: invalid secret share', {
      field: 'oldShare',
      cause,
    });
  }
  const own = share.publicShares.get(self);
  if (own === undefined || !equalBytes(pointToBytes(Point.BASE.multiply(secret)), own)) {
    throw invalidOption('oldShare', 'secret share does not match its public share');
  }
  for (const party of oldCommittee) {
    if (!(share.publicShares.get(party) instanceof Uint8Array)) {
      throw invalidOption('oldShare', `public share of party ${party} missing`);
    }
  }
  return { secret, verifyingShares: share.publicShares };
}

export function createDkls23ReshareProtocol(
  options: ReshareOptions<Dkls23KeyShare>,
): ReshareProtocol<Dkls23KeyShare> {
  const parameters = validateReshareParameters(options);
  if (parameters.sessionId.length < 16) throw invalidOption('sessionId', 'must be 16..1024 bytes');
  try {
    decodePoint(parameters.publicKey, { field: 'publicKey' });
  } catch (cause) {
    throw new ReshareError(ReshareErrorCode.InvalidArgument, 'publicKey: not a valid key', {
      field: 'publicKey',
      cause,
    });
  }
  if (options.oldShare !== undefined && !parameters.oldCommittee.includes(parameters.self)) {
    throw invalidOption('oldShare', 'self is not in the old committee');
  }
  const old =
    options.oldShare === undefined
      ? undefined
      : oldMaterial(
          options.oldShare,
          parameters.self,
          parameters.oldCommittee,
          parameters.oldThreshold,
          parameters.publicKey,
        );
  return new Dkls23ReshareParty(
    new ReshareCore(secp256k1ReshareSuite, parameters, old, checkedRandom(options.random)),
    checkedRandom(options.random),
  );
}

class Dkls23ReshareParty implements ReshareProtocol<Dkls23KeyShare> {
  readonly rounds = 2;
  readonly self: PartyId;
  readonly participants: readonly PartyId[];
  private readonly others: readonly PartyId[];
  /** Other new members when this party is one, else empty: the pairs to set up. */
  private readonly peers: readonly PartyId[];
  private readonly keyId: Uint8Array;
  private readonly sequencer = new ReshareSequencer(2);
  private readonly zeroContributions = new Map<PartyId, Uint8Array>();
  private readonly deltas = new Map<PartyId, Uint8Array>();
  private readonly baseOtStates = new Map<PartyId, BaseOtReceiverState>();
  private readonly zeroSeeds = new Map<PartyId, Uint8Array>();
  private readonly receiverSetups = new Map<PartyId, { seeds0: Uint8Array; seeds1: Uint8Array }>();
  private readonly senderSeeds = new Map<PartyId, Uint8Array>();

  constructor(
    private readonly core: ReshareCore<SecpPoint>,
    private readonly random: (length: number) => Uint8Array,
  ) {
    const { self, participants, newCommittee } = core.parameters;
    this.self = self;
    this.participants = participants;
    this.others = participants.filter((party) => party !== self);
    this.peers = core.isNewMember ? newCommittee.filter((party) => party !== self) : [];
    this.keyId = taggedHash('DKLs23/v1/reshare/key-id', core.context);
  }

  round(index: number, input: RoundInput): RoundOutput {
    this.sequencer.enterRound(index);
    return index === 0 ? this.round0() : this.round1(input);
  }

  private round0(): RoundOutput {
    const output = this.core.round0();
    const direct = new Map(output.direct ?? []);
    for (const peer of this.peers) {
      const contribution = this.random(32).slice();
      this.zeroContributions.set(peer, contribution);
      const delta = this.random(KAPPA / 8).slice();
      this.deltas.set(peer, delta);
      const started = baseOtReceiverStart(
        pairSessionId(this.keyId, this.self, peer),
        delta,
        this.random,
      );
      this.baseOtStates.set(peer, started.state);
      const corePart = direct.get(peer) as Uint8Array;
      const payload = new Uint8Array(corePart.length + PAIR_ROUND0_BYTES);
      payload.set(corePart);
      payload.set(contribution, corePart.length);
      payload.set(started.message, corePart.length + 32);
      corePart.fill(0);
      direct.set(peer, payload);
    }
    return output.broadcast === undefined ? { direct } : { broadcast: output.broadcast, direct };
  }

  private round1(input: RoundInput): RoundOutput {
    expectFrom(input.direct, this.others, 'reshare round 0 direct');
    const coreDirect = new Map<PartyId, Uint8Array>();
    const pairParts = new Map<PartyId, Uint8Array>();
    for (const [sender, payload] of input.direct) {
      if (this.peers.includes(sender)) {
        if (payload.length < PAIR_ROUND0_BYTES) {
          throw new ReshareError(
            ReshareErrorCode.MalformedMessage,
            `reshare round 0 direct from party ${sender}: too short`,
            { counterparty: sender },
          );
        }
        const split = payload.length - PAIR_ROUND0_BYTES;
        coreDirect.set(sender, payload.subarray(0, split));
        pairParts.set(sender, payload.subarray(split));
      } else {
        coreDirect.set(sender, payload);
      }
    }
    const output = this.core.round1({ broadcast: input.broadcast, direct: coreDirect });
    const direct = new Map<PartyId, Uint8Array>();
    for (const other of this.others) {
      if (!this.peers.includes(other)) {
        direct.set(other, frame(KIND_NO_PAIR, this.core.context));
        continue;
      }
      const part = pairParts.get(other) as Uint8Array;
      const contribution = part.subarray(0, 32);
      const mine = this.zeroContributions.get(other) as Uint8Array;
      const [low, high] = this.self < other ? [mine, contribution] : [contribution, mine];
      this.zeroSeeds.set(
        other,
        taggedHash(
          'DKLs23/v1/reshare/zero-seed',
          this.keyId,
          Math.min(this.self, other),
          Math.max(this.self, other),
          low,
          high,
        ),
      );
      mine.fill(0);
      const answer = baseOtSenderRespond(
        pairSessionId(this.keyId, other, this.self),
        part.subarray(32),
        this.random,
        other,
      );
      this.receiverSetups.set(other, { seeds0: answer.seeds0, seeds1: answer.seeds1 });
      direct.set(other, frame(KIND_PAIR_OT, this.core.context, answer.message));
    }
    return output.broadcast === undefined ? { direct } : { broadcast: output.broadcast, direct };
  }

  finish(input: RoundInput): NewShareResult<Dkls23KeyShare> | undefined {
    this.sequencer.enterFinish();
    expectFrom(input.direct, this.others, 'reshare round 1 direct');
    const result = this.core.finish(input.broadcast);
    for (const other of this.others) {
      const payload = input.direct.get(other) as Uint8Array;
      if (!this.peers.includes(other)) {
        unframe(payload, KIND_NO_PAIR, 0, this.core.context, other, 'empty direct message');
        continue;
      }
      const body = unframe(
        payload,
        KIND_PAIR_OT,
        BASE_OT_SENDER_MESSAGE_BYTES,
        this.core.context,
        other,
        'base OT answer',
      );
      this.senderSeeds.set(
        other,
        baseOtReceiverFinish(
          pairSessionId(this.keyId, this.self, other),
          this.baseOtStates.get(other) as BaseOtReceiverState,
          body,
          other,
        ),
      );
    }
    if (result === undefined) return undefined;
    const { parameters } = this.core;
    const pairs = new Map<PartyId, Dkls23PairSetup>();
    for (const peer of this.peers) {
      const receiver = this.receiverSetups.get(peer) as { seeds0: Uint8Array; seeds1: Uint8Array };
      pairs.set(peer, {
        zeroSeed: (this.zeroSeeds.get(peer) as Uint8Array).slice(),
        otSender: {
          delta: (this.deltas.get(peer) as Uint8Array).slice(),
          seeds: (this.senderSeeds.get(peer) as Uint8Array).slice(),
        },
        otReceiver: { seeds0: receiver.seeds0.slice(), seeds1: receiver.seeds1.slice() },
      });
    }
    const share: Dkls23KeyShare = {
      keyId: this.keyId.slice(),
      self: this.self,
      threshold: parameters.newThreshold,
      participants: [...parameters.newCommittee],
      publicKey: parameters.publicKey.slice(),
      secretShare: scalarToBytes(result.secret),
      publicShares: new Map(result.verifyingShares),
      pairs,
    };
    return { share, transcriptDigest: result.transcriptDigest };
  }

  confirmedTranscript(): Uint8Array | undefined {
    return this.core.confirmedTranscript;
  }

  wipe(): void {
    this.core.wipe();
    this.sequencer.close();
    for (const map of [this.zeroContributions, this.deltas, this.zeroSeeds, this.senderSeeds]) {
      for (const bytes of map.values()) bytes.fill(0);
      map.clear();
    }
    for (const setup of this.receiverSetups.values()) {
      setup.seeds0.fill(0);
      setup.seeds1.fill(0);
    }
    this.receiverSetups.clear();
    for (const state of this.baseOtStates.values()) wipeBaseOtReceiverState(state);
    this.baseOtStates.clear();
  }
}
