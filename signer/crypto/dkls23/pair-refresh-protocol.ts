/**
 * DKLs23 pairwise refresh: two holders of shares of one key rerun the pairwise setup of the
 * DKG (keygen-protocol.ts Phase 4) between themselves, so a pair whose OT state was burned
 * after a failed consistency check (selective abort, crypto.md §1.4 item 1) gets state that
 * shares nothing with the old one: κ fresh base OTs in each direction (new Δ and seeds for
 * both OT-extension roles) and a fresh zero-share seed from both parties' fresh contributions.
 * The secret share, the public key, the public shares, the keyId and every other pair are
 * unchanged. Two rounds:
 *
 * Round 0 — direct to the peer: a fresh zero-seed contribution and the base-OT receiver
 *   message whose choice bits are this party's fresh Δ (this party as OT-extension sender).
 * Round 1 — direct: the base-OT sender answer to the peer's round-0 OTs (validated points).
 * Finish — complete the base OTs; zero seed = H(context, ids, both contributions); return the
 *   share with the new pair and a transcript digest both parties must report equal (the
 *   service's two-phase commit switches to the new share only then).
 *
 * Binding: context = H(keyId, publicKey, {self, peer}, sessionId) heads every message (the
 * wire header checks it), so a message from another key, pair or session is rejected
 * (`Dkls23ContextMismatchError`); the base-OT session ids hash the context and the ordered
 * pair. The sessionId must be fresh per run (the service uses a random UUID per session).
 *
 * Message layouts (after the common 38-byte header, see wire.ts):
 *   0x30 direct: zeroSeedContribution[32] ‖ baseOtReceiver[κ][2][33]
 *   0x31 direct: baseOtSender[κ][33]
 */
import type { PartyId, RoundInput, RoundOutput, RoundProtocol } from '../round-protocol.ts';
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
import { Dkls23InvalidArgumentError } from './errors.ts';
import type { RandomSource } from './group.ts';
import {
  copyDkls23KeyShare,
  type Dkls23KeyShare,
  type Dkls23PairSetup,
  wipeDkls23KeyShare,
} from './key-share.ts';
import { KAPPA } from './params.ts';
import { checkedRandom, encodePartyList, expectMessages, RoundSequencer } from './round-input.ts';
import { HEADER_BYTES, Reader, Writer } from './wire.ts';

export interface Dkls23PairRefreshOptions {
  /** This party's current share (copied; the caller keeps and wipes its own). */
  readonly share: Dkls23KeyShare;
  /** The other share holder of the pair. */
  readonly peer: PartyId;
  /** Fresh per run (16..1024 bytes); both parties pass the same bytes. */
  readonly sessionId: Uint8Array;
  readonly random?: RandomSource;
}

export interface Dkls23PairRefreshResult {
  /** The share with the new pair state (secret; the caller wipes it). */
  readonly share: Dkls23KeyShare;
  /** Public: equal at both parties iff they saw the same messages and the same zero seed. */
  readonly transcriptDigest: Uint8Array;
}

const KIND_START = 0x30;
const KIND_ANSWER = 0x31;
const START_LENGTH = HEADER_BYTES + 32 + BASE_OT_RECEIVER_MESSAGE_BYTES;
const ANSWER_LENGTH = HEADER_BYTES + BASE_OT_SENDER_MESSAGE_BYTES;

/** Context hash of every message of one pair refresh. */
export function pairRefreshContext(
  share: Pick<Dkls23KeyShare, 'keyId' | 'publicKey'>,
  pair: readonly [PartyId, PartyId],
  sessionId: Uint8Array,
): Uint8Array {
  const low = Math.min(pair[0], pair[1]);
  const high = Math.max(pair[0], pair[1]);
  return taggedHash(
    'DKLs23/v1/pair-refresh/context',
    share.keyId,
    share.publicKey,
    encodePartyList([low, high]),
    sessionId,
  );
}

function baseOtSessionId(context: Uint8Array, otSender: PartyId, otReceiver: PartyId): Uint8Array {
  return taggedHash('DKLs23/v1/pair-refresh/base-ot', context, otSender, otReceiver);
}

export function createDkls23PairRefreshProtocol(
  options: Dkls23PairRefreshOptions,
): RoundProtocol<Dkls23PairRefreshResult> {
  return new PairRefreshParty(options);
}

class PairRefreshParty implements RoundProtocol<Dkls23PairRefreshResult> {
  readonly rounds = 2;
  readonly self: PartyId;
  readonly participants: readonly PartyId[];
  private readonly peer: PartyId;
  private readonly context: Uint8Array;
  private readonly random: RandomSource;
  private readonly sequencer = new RoundSequencer(2);
  private readonly share: Dkls23KeyShare;
  private contribution: Uint8Array = new Uint8Array(0);
  private zeroSeed: Uint8Array = new Uint8Array(0);
  private delta: Uint8Array = new Uint8Array(0);
  private baseOtState: BaseOtReceiverState | undefined;
  private receiverSeeds: { seeds0: Uint8Array; seeds1: Uint8Array } | undefined;
  /** Hashes of the public base-OT messages, by (kind, sender). */
  private readonly messageHashes = new Map<string, Uint8Array>();

  constructor(options: Dkls23PairRefreshOptions) {
    const { share, peer, sessionId } = options;
    if (!Number.isInteger(peer) || peer === share.self || !share.participants.includes(peer)) {
      throw new Dkls23InvalidArgumentError('peer must be another participant of the share', {
        field: 'peer',
      });
    }
    if (!(sessionId instanceof Uint8Array) || sessionId.length < 16 || sessionId.length > 1024) {
      throw new Dkls23InvalidArgumentError('sessionId must be 16..1024 bytes', {
        field: 'sessionId',
      });
    }
    this.self = share.self;
    this.peer = peer;
    this.participants = Object.freeze([share.self, peer].sort((a, b) => a - b));
    this.context = pairRefreshContext(share, [share.self, peer], sessionId);
    this.random = checkedRandom(options.random);
    this.share = copyDkls23KeyShare(share);
  }

  round(index: number, input: RoundInput): RoundOutput {
    this.sequencer.enter(index);
    return index === 0 ? this.round0() : this.round1(input);
  }

  private noteMessage(kind: number, sender: PartyId, body: Uint8Array): void {
    this.messageHashes.set(
      `${kind}:${sender}`,
      taggedHash('DKLs23/v1/pair-refresh/message', this.context, kind, sender, body),
    );
  }

  private round0(): RoundOutput {
    this.contribution = this.random(32).slice();
    this.delta = this.random(KAPPA / 8).slice();
    const started = baseOtReceiverStart(
      baseOtSessionId(this.context, this.self, this.peer),
      this.delta,
      this.random,
    );
    this.baseOtState = started.state;
    this.noteMessage(KIND_START, this.self, started.message);
    const payload = new Writer(START_LENGTH)
      .header(KIND_START, this.self, this.peer, this.context)
      .raw(this.contribution)
      .raw(started.message)
      .finish();
    return { direct: new Map([[this.peer, payload]]) };
  }

  private round1(input: RoundInput): RoundOutput {
    const directs = expectMessages(input, 'direct', [this.peer], 'pair refresh round 0');
    const reader = new Reader(directs.get(this.peer) as Uint8Array, 'pairRefresh.start', this.peer);
    reader.header(KIND_START, this.peer, this.self, this.context, START_LENGTH);
    const theirs = reader.raw(32, 'zeroSeedContribution');
    const baseOtMessage = reader.raw(BASE_OT_RECEIVER_MESSAGE_BYTES, 'baseOtReceiver');
    reader.end();
    this.noteMessage(KIND_START, this.peer, baseOtMessage);
    const low = Math.min(this.self, this.peer);
    const high = Math.max(this.self, this.peer);
    const [lowPart, highPart] =
      this.self < this.peer ? [this.contribution, theirs] : [theirs, this.contribution];
    this.zeroSeed = taggedHash(
      'DKLs23/v1/pair-refresh/zero-seed',
      this.context,
      low,
      high,
      lowPart,
      highPart,
    );
    this.contribution.fill(0);
    const answer = baseOtSenderRespond(
      baseOtSessionId(this.context, this.peer, this.self),
      baseOtMessage,
      this.random,
      this.peer,
    );
    this.receiverSeeds = { seeds0: answer.seeds0, seeds1: answer.seeds1 };
    this.noteMessage(KIND_ANSWER, this.self, answer.message);
    const payload = new Writer(ANSWER_LENGTH)
      .header(KIND_ANSWER, this.self, this.peer, this.context)
      .raw(answer.message)
      .finish();
    return { direct: new Map([[this.peer, payload]]) };
  }

  finish(input: RoundInput): Dkls23PairRefreshResult {
    this.sequencer.enterFinish();
    const directs = expectMessages(input, 'direct', [this.peer], 'pair refresh round 1');
    const reader = new Reader(
      directs.get(this.peer) as Uint8Array,
      'pairRefresh.answer',
      this.peer,
    );
    reader.header(KIND_ANSWER, this.peer, this.self, this.context, ANSWER_LENGTH);
    const message = reader.raw(BASE_OT_SENDER_MESSAGE_BYTES, 'baseOtSender');
    reader.end();
    this.noteMessage(KIND_ANSWER, this.peer, message);
    const senderSeeds = baseOtReceiverFinish(
      baseOtSessionId(this.context, this.self, this.peer),
      this.baseOtState as BaseOtReceiverState,
      message,
      this.peer,
    );
    const receiver = this.receiverSeeds as { seeds0: Uint8Array; seeds1: Uint8Array };
    const fresh: Dkls23PairSetup = {
      zeroSeed: this.zeroSeed.slice(),
      otSender: { delta: this.delta.slice(), seeds: senderSeeds },
      otReceiver: { seeds0: receiver.seeds0.slice(), seeds1: receiver.seeds1.slice() },
    };
    const result = copyDkls23KeyShare(this.share);
    const old = result.pairs.get(this.peer) as Dkls23PairSetup;
    wipePair(old);
    const pairs = new Map(result.pairs);
    pairs.set(this.peer, fresh);
    const low = Math.min(this.self, this.peer);
    const high = Math.max(this.self, this.peer);
    const transcriptDigest = taggedHash(
      'DKLs23/v1/pair-refresh/transcript',
      this.context,
      this.messageHashes.get(`${KIND_START}:${low}`) as Uint8Array,
      this.messageHashes.get(`${KIND_START}:${high}`) as Uint8Array,
      this.messageHashes.get(`${KIND_ANSWER}:${low}`) as Uint8Array,
      this.messageHashes.get(`${KIND_ANSWER}:${high}`) as Uint8Array,
      taggedHash('DKLs23/v1/pair-refresh/zero-seed-confirmation', this.zeroSeed),
    );
    return { share: { ...result, pairs }, transcriptDigest };
  }

  wipe(): void {
    this.sequencer.markWiped();
    wipeDkls23KeyShare(this.share);
    for (const bytes of [this.contribution, this.zeroSeed, this.delta]) bytes.fill(0);
    if (this.receiverSeeds !== undefined) {
      this.receiverSeeds.seeds0.fill(0);
      this.receiverSeeds.seeds1.fill(0);
    }
    if (this.baseOtState !== undefined) wipeBaseOtReceiverState(this.baseOtState);
  }
}

function wipePair(pair: Dkls23PairSetup): void {
  pair.zeroSeed.fill(0);
  pair.otSender.delta.fill(0);
  pair.otSender.seeds.fill(0);
  pair.otReceiver.seeds0.fill(0);
  pair.otReceiver.seeds1.fill(0);
}
