/**
 * DKLs23 distributed key generation for t+1-of-n, two rounds:
 *
 * Round 0 — broadcast: Feldman commitments C_{i,0..t} of a random degree-t polynomial f_i and a
 *   Schnorr proof of knowledge of f_i(0) bound to (keyId, i). Direct to each j: f_i(j), i's
 *   zero-seed contribution for the pair, and i's base-OT receiver message with fresh choice
 *   bits Δ_ij (i will be the OT-extension sender towards j).
 * Round 1 — every round-0 input is validated (points, proofs, f_j(i) against C_j). Broadcast:
 *   echo = H(all round-0 broadcasts, in party order). Direct to each j: the base-OT sender
 *   answer for the OTs j started (j's extension sender role towards i).
 * Finish — all echoes must equal ours (consistent broadcast, crypto.md §1.4 item 10); the base
 *   OTs are completed; the share, public key Σ C_{j,0} and public shares p(k)·G are assembled.
 *
 * Message layouts (after the common 38-byte header, see wire.ts):
 *   0x10 broadcast: C[t+1][33] ‖ proof R[33] ‖ proof z[32]
 *   0x11 direct:    share[32] ‖ zeroSeedContribution[32] ‖ baseOtReceiver[κ][2][33]
 *   0x12 broadcast: echo[32]
 *   0x13 direct:    baseOtSender[κ][33]
 */
import type { PartyId, RoundInput, RoundOutput, RoundProtocol } from '../round-protocol.ts';
import { evaluatePolynomial, feldmanEvaluate } from '../shamir.ts';
import { proveSchnorr, verifySchnorr } from '../schnorr-proof.ts';
import { taggedHash } from '../transcript.ts';
import {
  BASE_OT_RECEIVER_MESSAGE_BYTES,
  BASE_OT_SENDER_MESSAGE_BYTES,
  baseOtReceiverFinish,
  baseOtReceiverStart,
  baseOtSenderRespond,
  type BaseOtReceiverState,
  wipeBaseOtReceiverState,
} from './base-ot.ts';
import {
  Dkls23InvalidArgumentError,
  Dkls23InvalidDkgShareError,
  Dkls23InvalidPointError,
  Dkls23InvalidProofOfKnowledgeError,
  Dkls23TranscriptMismatchError,
} from './errors.ts';
import {
  Fn,
  Point,
  pointToBytes,
  randomScalar,
  type RandomSource,
  scalarToBytes,
} from './group.ts';
import { checkParticipants, type Dkls23KeyShare, type Dkls23PairSetup } from './key-share.ts';
import { KAPPA, POINT_BYTES } from './params.ts';
import { checkedRandom, encodePartyList, expectMessages, RoundSequencer } from './round-input.ts';
import { bytesEqual, HEADER_BYTES, Reader, Writer } from './wire.ts';
import { Dkls23Error } from './errors.ts';

export interface Dkls23KeygenOptions {
  readonly self: PartyId;
  /** All share holders (any order; sorted internally). */
  readonly participants: readonly PartyId[];
  /** t: any t+1 participants can sign. */
  readonly threshold: number;
  /** Unique per key generation; all participants must pass the same bytes. */
  readonly sessionId: Uint8Array;
  readonly random?: RandomSource;
}

const KIND_COMMIT = 0x10;
const KIND_SHARE = 0x11;
const KIND_ECHO = 0x12;
const KIND_BASE_OT = 0x13;
const POK_DOMAIN = 'DKLs23/v1/keygen/pok';

/** Identifier of the key and context hash of every keygen message. */
export function keygenContext(
  sessionId: Uint8Array,
  threshold: number,
  participants: readonly PartyId[],
): Uint8Array {
  return taggedHash(
    'DKLs23/v1/keygen/context',
    sessionId,
    threshold,
    encodePartyList(participants),
  );
}

/** Session id of the base OTs for the ordered pair (extension sender, extension receiver). */
export function keygenPairSessionId(
  keyId: Uint8Array,
  otSender: PartyId,
  otReceiver: PartyId,
): Uint8Array {
  return taggedHash('DKLs23/v1/keygen/pair', keyId, otSender, otReceiver);
}

function commitLength(threshold: number): number {
  return HEADER_BYTES + (threshold + 1) * POINT_BYTES + POINT_BYTES + 32;
}
const SHARE_LENGTH = HEADER_BYTES + 32 + 32 + BASE_OT_RECEIVER_MESSAGE_BYTES;
const ECHO_LENGTH = HEADER_BYTES + 32;
const BASE_OT_LENGTH = HEADER_BYTES + BASE_OT_SENDER_MESSAGE_BYTES;

export function createDkls23KeygenProtocol(
  options: Dkls23KeygenOptions,
): RoundProtocol<Dkls23KeyShare> {
  return new KeygenParty(options);
}

class KeygenParty implements RoundProtocol<Dkls23KeyShare> {
  readonly rounds = 2;
  readonly self: PartyId;
  readonly participants: readonly PartyId[];
  private readonly others: readonly PartyId[];
  private readonly threshold: number;
  private readonly keyId: Uint8Array;
  private readonly random: RandomSource;
  private readonly sequencer = new RoundSequencer(2);

  private coefficients: bigint[] = [];
  private readonly zeroContributions = new Map<PartyId, Uint8Array>();
  private readonly deltas = new Map<PartyId, Uint8Array>();
  private readonly baseOtStates = new Map<PartyId, BaseOtReceiverState>();
  private readonly zeroSeeds = new Map<PartyId, Uint8Array>();
  private readonly receiverSetups = new Map<PartyId, { seeds0: Uint8Array; seeds1: Uint8Array }>();
  private echo: Uint8Array | undefined;
  private secretShare = 0n;
  private publicKey: Uint8Array | undefined;
  private publicShares = new Map<PartyId, Uint8Array>();

  constructor(options: Dkls23KeygenOptions) {
    const participants = [...options.participants].sort((a, b) => a - b);
    try {
      checkParticipants(participants, options.self, options.threshold);
    } catch (error) {
      const field = error instanceof Dkls23Error ? error.field : undefined;
      throw new Dkls23InvalidArgumentError(
        (error as Error).message,
        field === undefined ? {} : { field },
      );
    }
    if (
      !(options.sessionId instanceof Uint8Array) ||
      options.sessionId.length < 16 ||
      options.sessionId.length > 1024
    ) {
      throw new Dkls23InvalidArgumentError('sessionId must be 16..1024 bytes', {
        field: 'sessionId',
      });
    }
    this.self = options.self;
    this.participants = Object.freeze(participants);
    this.others = participants.filter((id) => id !== options.self);
    this.threshold = options.threshold;
    this.keyId = keygenContext(options.sessionId, options.threshold, participants);
    this.random = checkedRandom(options.random);
  }

  round(index: number, input: RoundInput): RoundOutput {
    this.sequencer.enter(index);
    return index === 0 ? this.round0() : this.round1(input);
  }

  private round0(): RoundOutput {
    for (let k = 0; k <= this.threshold; k++) this.coefficients.push(randomScalar(this.random));
    const constant = this.coefficients[0] as bigint;
    const proof = proveSchnorr(
      Point,
      POK_DOMAIN,
      this.pokContext(this.self),
      constant,
      randomScalar(this.random),
    );
    const broadcast = new Writer(commitLength(this.threshold)).header(
      KIND_COMMIT,
      this.self,
      0,
      this.keyId,
    );
    for (const coefficient of this.coefficients) broadcast.point(Point.BASE.multiply(coefficient));
    broadcast.point(proof.commitment).scalar(proof.response);

    const direct = new Map<PartyId, Uint8Array>();
    for (const other of this.others) {
      const contribution = this.random(32).slice();
      this.zeroContributions.set(other, contribution);
      const delta = this.random(KAPPA / 8).slice();
      this.deltas.set(other, delta);
      const started = baseOtReceiverStart(
        keygenPairSessionId(this.keyId, this.self, other),
        delta,
        this.random,
      );
      this.baseOtStates.set(other, started.state);
      const share = evaluatePolynomial(Fn, this.coefficients, BigInt(other));
      direct.set(
        other,
        new Writer(SHARE_LENGTH)
          .header(KIND_SHARE, this.self, other, this.keyId)
          .scalar(share)
          .raw(contribution)
          .raw(started.message)
          .finish(),
      );
    }
    this.ownBroadcast = broadcast.finish();
    return { broadcast: this.ownBroadcast.slice(), direct };
  }

  private pokContext(prover: PartyId): Uint8Array {
    return taggedHash('DKLs23/v1/keygen/pok-context', this.keyId, prover);
  }

  private round1(input: RoundInput): RoundOutput {
    const broadcasts = new Map(
      expectMessages(
        { broadcast: input.broadcast, direct: new Map() },
        'broadcast',
        this.others,
        'keygen round 0',
      ),
    );
    const directs = expectMessages(
      { broadcast: new Map(), direct: input.direct },
      'direct',
      this.others,
      'keygen round 0',
    );

    const aggregate: InstanceType<typeof Point>[] = this.coefficients.map((c) =>
      Point.BASE.multiply(c),
    );
    let ownShare = evaluatePolynomial(Fn, this.coefficients, BigInt(this.self));
    for (const other of this.others) {
      const reader = new Reader(broadcasts.get(other) as Uint8Array, 'keygen.commit', other);
      reader.header(KIND_COMMIT, other, 0, this.keyId, commitLength(this.threshold));
      const commitments: InstanceType<typeof Point>[] = [];
      for (let k = 0; k <= this.threshold; k++) commitments.push(reader.point(`commitments[${k}]`));
      const proofCommitment = reader.point('proof.commitment');
      const response = reader.scalar('proof.response', true);
      reader.end();
      if (
        !verifySchnorr(
          Point,
          POK_DOMAIN,
          this.pokContext(other),
          commitments[0] as InstanceType<typeof Point>,
          { commitment: proofCommitment, response },
        )
      ) {
        throw new Dkls23InvalidProofOfKnowledgeError(`party ${other}: invalid proof of knowledge`, {
          counterparty: other,
          field: 'proof',
        });
      }
      const shareReader = new Reader(directs.get(other) as Uint8Array, 'keygen.share', other);
      shareReader.header(KIND_SHARE, other, this.self, this.keyId, SHARE_LENGTH);
      const share = shareReader.scalar('share');
      const contribution = shareReader.raw(32, 'zeroSeedContribution');
      const baseOtMessage = shareReader.raw(BASE_OT_RECEIVER_MESSAGE_BYTES, 'baseOtReceiver');
      shareReader.end();
      if (
        !Point.BASE.multiply(share).equals(feldmanEvaluate(Point, commitments, BigInt(this.self)))
      ) {
        throw new Dkls23InvalidDkgShareError(
          `party ${other}: share does not match its commitments`,
          { counterparty: other, field: 'share' },
        );
      }
      ownShare = Fn.add(ownShare, share);
      commitments.forEach(
        (c, k) => (aggregate[k] = (aggregate[k] as InstanceType<typeof Point>).add(c)),
      );
      const mine = this.zeroContributions.get(other) as Uint8Array;
      const low = this.self < other ? mine : contribution;
      const high = this.self < other ? contribution : mine;
      this.zeroSeeds.set(
        other,
        taggedHash(
          'DKLs23/v1/keygen/zero-seed',
          this.keyId,
          Math.min(this.self, other),
          Math.max(this.self, other),
          low,
          high,
        ),
      );
      mine.fill(0);
      const answer = baseOtSenderRespond(
        keygenPairSessionId(this.keyId, other, this.self),
        baseOtMessage,
        this.random,
        other,
      );
      this.receiverSetups.set(other, { seeds0: answer.seeds0, seeds1: answer.seeds1 });
      this.pendingBaseOt.set(other, answer.message);
    }
    const publicKeyPoint = aggregate[0] as InstanceType<typeof Point>;
    if (publicKeyPoint.is0())
      throw new Dkls23InvalidPointError('public key is the identity', { field: 'publicKey' });
    this.publicKey = pointToBytes(publicKeyPoint);
    for (const id of this.participants)
      this.publicShares.set(id, pointToBytes(feldmanEvaluate(Point, aggregate, BigInt(id))));
    this.secretShare = ownShare;
    if (
      ownShare === 0n ||
      !bytesEqual(
        pointToBytes(Point.BASE.multiply(ownShare)),
        this.publicShares.get(this.self) as Uint8Array,
      )
    ) {
      throw new Dkls23InvalidDkgShareError('own aggregated share is inconsistent', {
        field: 'share',
      });
    }

    broadcasts.set(this.self, this.ownBroadcast as Uint8Array);
    this.echo = taggedHash(
      'DKLs23/v1/keygen/echo',
      this.keyId,
      ...this.participants.map((id) => broadcasts.get(id) as Uint8Array),
    );
    const direct = new Map<PartyId, Uint8Array>();
    for (const other of this.others) {
      direct.set(
        other,
        new Writer(BASE_OT_LENGTH)
          .header(KIND_BASE_OT, this.self, other, this.keyId)
          .raw(this.pendingBaseOt.get(other) as Uint8Array)
          .finish(),
      );
    }
    this.pendingBaseOt.clear();
    return {
      broadcast: new Writer(ECHO_LENGTH)
        .header(KIND_ECHO, this.self, 0, this.keyId)
        .raw(this.echo)
        .finish(),
      direct,
    };
  }

  private readonly pendingBaseOt = new Map<PartyId, Uint8Array>();
  private ownBroadcast: Uint8Array | undefined;

  finish(input: RoundInput): Dkls23KeyShare {
    this.sequencer.enterFinish();
    const broadcasts = expectMessages(
      { broadcast: input.broadcast, direct: new Map() },
      'broadcast',
      this.others,
      'keygen round 1',
    );
    const directs = expectMessages(
      { broadcast: new Map(), direct: input.direct },
      'direct',
      this.others,
      'keygen round 1',
    );
    for (const other of this.others) {
      const reader = new Reader(broadcasts.get(other) as Uint8Array, 'keygen.echo', other);
      reader.header(KIND_ECHO, other, 0, this.keyId, ECHO_LENGTH);
      const echo = reader.raw(32, 'echo');
      reader.end();
      if (!bytesEqual(echo, this.echo as Uint8Array)) {
        throw new Dkls23TranscriptMismatchError(`party ${other} saw different round-0 broadcasts`, {
          counterparty: other,
          field: 'echo',
        });
      }
    }
    const pairs = new Map<PartyId, Dkls23PairSetup>();
    for (const other of this.others) {
      const reader = new Reader(directs.get(other) as Uint8Array, 'keygen.baseOt', other);
      reader.header(KIND_BASE_OT, other, this.self, this.keyId, BASE_OT_LENGTH);
      const message = reader.raw(BASE_OT_SENDER_MESSAGE_BYTES, 'baseOtSender');
      reader.end();
      const seeds = baseOtReceiverFinish(
        keygenPairSessionId(this.keyId, this.self, other),
        this.baseOtStates.get(other) as BaseOtReceiverState,
        message,
        other,
      );
      const receiver = this.receiverSetups.get(other) as { seeds0: Uint8Array; seeds1: Uint8Array };
      pairs.set(other, {
        zeroSeed: (this.zeroSeeds.get(other) as Uint8Array).slice(),
        otSender: { delta: (this.deltas.get(other) as Uint8Array).slice(), seeds },
        otReceiver: { seeds0: receiver.seeds0.slice(), seeds1: receiver.seeds1.slice() },
      });
    }
    return {
      keyId: this.keyId.slice(),
      self: this.self,
      threshold: this.threshold,
      participants: [...this.participants],
      publicKey: (this.publicKey as Uint8Array).slice(),
      secretShare: scalarToBytes(this.secretShare),
      publicShares: new Map([...this.publicShares].map(([id, bytes]) => [id, bytes.slice()])),
      pairs,
    };
  }

  wipe(): void {
    this.sequencer.markWiped();
    this.coefficients.fill(0n);
    this.coefficients = [];
    this.secretShare = 0n;
    for (const map of [this.zeroContributions, this.deltas, this.zeroSeeds]) {
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
