/**
 * The coordinator flow of design §5 for requests that JetStream handed to this signer:
 * validate → idempotency ledger → quorum guard → choose the signing set → run the session
 * → verify → publish exactly one result → ack. Every path publishes a result and acks, so
 * no client is left waiting and nothing that cannot succeed is redelivered.
 */
import { createHash, randomUUID, verify as nodeVerify, createPublicKey } from 'node:crypto';
import type { JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { ErrorCode, MpcError, errorCodeOf } from '../protocol/errors.ts';
import {
  ecdsaSigningDigest,
  encodeKeygenResult,
  encodeResharingResult,
  encodeSigningResult,
  salvageRawId,
  salvageRequestIds,
  type GenerateKeyMessage,
  type KeyType,
  type PairRefreshMessage,
  type ResharingMessage,
  type SignTxMessage,
} from '../protocol/messages.ts';
import {
  keygenResultMessageId,
  keygenResultSubject,
  reshareResultMessageId,
  reshareResultSubject,
  signingResultMessageId,
  readClientIdHeader,
  resultIdToken,
  signingResultSubject,
} from '../protocol/subjects.ts';
import type { Membership } from '../membership/membership.ts';
import type { SignerMetrics } from '../observability/metrics.ts';
import type { SessionHost } from '../session/session-host.ts';
import {
  BatchNotAdmittedError,
  InviteRefusedError,
  SessionAbortedError,
} from '../session/errors.ts';
import type { SessionJob } from '../session/session-host.ts';
import { MAX_SIGNING_BATCH, type InviteParticipant } from '../transport/control-messages.ts';
import { SigningBatcher, settleBatch } from './signing-batcher.ts';
import {
  KeyNotFoundError,
  discardLoaded,
  NotCommitteeMemberError,
  keygenCommittee,
  pairStateKey,
  type JobFactory,
  type SignatureOutcome,
} from './jobs.ts';
import { planReshare } from './reshare-plan.ts';
import { BannedPeerError } from './peer-bans.ts';
import type { WalletMetadata, WalletRecord } from './wallet-record.ts';
import {
  operationKey,
  retryPause,
  signingOperationKey,
  type LedgerAnswer,
  type LedgerClaim,
  type LedgerEntry,
  type OperationLedger,
} from './operation-ledger.ts';
import type { RequestAuthenticator } from './request-authenticator.ts';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { wipeBytes } from '../crypto/wipe.ts';

/** Fresh attempts after participants refused an invite for the pairwise OT cap. */
const PAIR_BUSY_RETRIES = 3;

/** Fewer ready signers than the operation needs (design §5.3). */
export class QuorumUnavailableError extends MpcError {
  constructor(ready: number, required: number) {
    super(
      ErrorCode.PeerUnavailable,
      `not enough ready signers: ready=${ready}, required=${required}`,
    );
  }
}

/** The operation id was used before with a different request, or is still running. */
export class DuplicateOperationError extends MpcError {
  constructor(message: string) {
    super(ErrorCode.SessionDuplicate, message);
  }
}

export interface ResultPublisher {
  publish(subject: string, body: Uint8Array, messageId: string): Promise<void>;
}

export interface RequestCoordinatorOptions {
  readonly selfNodeId: string;
  readonly clusterNodes: readonly string[];
  readonly threshold: number;
  readonly authenticator: RequestAuthenticator;
  readonly jobs: JobFactory;
  readonly host: SessionHost;
  readonly membership: Membership;
  readonly ledger: OperationLedger;
  readonly publisher: ResultPublisher;
  readonly metrics: SignerMetrics;
  readonly log: Logger;
  /** Bound on waiting for another coordinator's identical operation. */
  readonly duplicateWaitMs: number;
  /** How often to tell JetStream we are still working on a message. */
  readonly workingIntervalMs: number;
  /** Design §6, optional: retry a transport failure once with a fresh signing set. */
  readonly retryWithFreshSigners: boolean;
  /**
   * Whether this signer's DKLs23 pair state with `peer` in `record` is usable (not burned by a
   * ban, service/peer-bans.ts). Burned pairs are kept out of secp256k1 signing sets.
   */
  readonly isPairUsable?: (peer: string, record: WalletMetadata) => boolean;
  /**
   * A request for a wallet this signer holds no share of (a committee smaller than the
   * cluster, or a key resharing moved away) is handed back to JetStream (nak) for another
   * signer while its delivery count is below this; after that the error is the answer.
   * 0 or absent: never pass on.
   */
  readonly passOnDeliveries?: number;
  /**
   * Test-only fault injection: awaited after a success result is published and marked
   * published in the ledger, before the request is acked (a test kills NATS here).
   */
  readonly beforeAck?: () => Promise<void>;
  /**
   * Test-only fault injection: awaited after JetStream confirmed a success result, before it
   * is marked published in the ledger (a test kills NATS here).
   */
  readonly beforeMark?: () => Promise<void>;
  /**
   * How long a redelivery waits for the mark of another coordinator that membership says is
   * not ready (readiness lags behind a NATS outage by about a heartbeat): after that it takes
   * that coordinator for dead and republishes.
   */
  readonly notReadyGraceMs?: number;
  /**
   * Ed25519 signing batches (issue 15): requests for one signing set that arrive while
   * `maxInFlightPerGroup` sessions of that set run wait and share the next session, up to
   * `maxBatch` (≤ MAX_SIGNING_BATCH) requests. Absent or `maxBatch` < 2: one session each.
   */
  readonly signingBatch?: { readonly maxBatch: number; readonly maxInFlightPerGroup: number };
}

/**
 * Most client request bytes one signing batch carries: its invite (base64, ×4/3) then stays
 * well inside a control message's 256 KiB bound.
 */
const SIGNING_BATCH_MAX_BYTES = 96 * 1024;

/** Confirmed publications this process remembers until the ledger marks them (bounded). */
const MAX_UNMARKED_PUBLICATIONS = 10_000;

/** What differs between the requests answered with a `ResharingResultEvent`. */
interface ResharingKind<Message> {
  /** Ledger operation kind and metrics label. */
  readonly kind: 'reshare' | 'refresh-pair';
  /** Prefix of the result's `Nats-Msg-Id` id part (keeps the two kinds' ids apart). */
  readonly messageIdPrefix: string;
  readonly authenticate: (data: Uint8Array) => { message: Message; raw: Uint8Array };
  /** Result fields known once the request is authenticated (error results carry them). */
  readonly known: (message: Message) => { keyType: KeyType; newThreshold: number };
  /** Runs the session; the public key as stored: SEC1 for secp256k1, raw for Ed25519. */
  readonly run: (
    message: Message,
    clientId: string,
    requestSeq: number,
    operation: string,
  ) => Promise<{ newThreshold: number; publicKey: Uint8Array }>;
}

export class RequestCoordinator {
  /** This process's identity in ledger claims (a restarted signer takes its old claims over). */
  private readonly instance = randomUUID();
  /**
   * Answers JetStream confirmed whose ledger mark has not landed yet (`key\nseq`). A
   * redelivery that reaches this process never publishes them again, whatever the ledger
   * says (a restarted nats-server no longer deduplicates a result the client already
   * consumed).
   */
  private readonly unmarkedPublications = new Set<string>();

  /** Groups concurrent Ed25519 requests per signing set (absent: batching off). */
  private readonly batcher: SigningBatcher<SigningBatchItem, SignatureOutcome> | undefined;

  constructor(private readonly options: RequestCoordinatorOptions) {
    const batching = options.signingBatch;
    this.batcher =
      batching === undefined || batching.maxBatch < 2
        ? undefined
        : new SigningBatcher({
            maxBatch: Math.min(batching.maxBatch, MAX_SIGNING_BATCH),
            maxBatchBytes: SIGNING_BATCH_MAX_BYTES,
            maxInFlightPerGroup: batching.maxInFlightPerGroup,
            run: (_group, items) => this.runSigningBatch(items),
          });
  }

  /**
   * Registers this process in the ledger as its node's running coordinator; call before
   * taking requests. A signer that finds an unmarked answer of an earlier process of a node
   * then knows that process will never mark it.
   */
  async register(): Promise<void> {
    await this.options.ledger.registerInstance(this.options.selfNodeId, this.instance);
  }

  /** Handles one signing request; never throws; always acks (or naks when publishing failed). */
  async handleSigning(msg: JsMsg): Promise<void> {
    const started = performance.now();
    const clientId = this.clientIdOrTerminate('sign', msg, started);
    if (clientId === undefined) return;
    const stopWorking = this.keepWorking(msg);
    let keyType = 'unknown';
    // The ids an error result echoes: the request's once authenticated; before that, what
    // can be salvaged from it (read only when needed: it is a second parse).
    let ids: { walletId: string; txId: string; networkInternalCode: string } | undefined;
    let held: LedgerClaim | undefined;
    try {
      const { message, raw } = this.options.authenticator.sign(msg.data);
      keyType = message.keyType;
      ids = {
        walletId: message.walletId,
        txId: message.txId,
        networkInternalCode: message.networkInternalCode,
      };
      const key = signingOperationKey(clientId, message);
      const digest = requestDigest(raw, message.derivationPath);
      const subject = signingResultSubject(clientId);
      const messageId = signingResultMessageId(clientId, message.txId, String(msg.seq));
      // The share is read while the ledger claim is in flight (both take a round trip).
      const loading = this.options.jobs.loadForSigning(message, undefined);
      loading.catch(() => undefined); // observed by the first signing attempt
      let claimed: LedgerClaim | undefined;
      try {
        claimed = await this.claim(msg, key, digest, messageId);
      } finally {
        if (claimed === undefined) discardLoaded(loading);
      }
      if (claimed === undefined) return;
      held = claimed;
      let body: Uint8Array;
      {
        const outcome = await this.sign(message, msg.data, clientId, msg.seq, key, loading);
        const echo = {
          resultType: 'success' as const,
          walletId: message.walletId,
          txId: message.txId,
          networkInternalCode: message.networkInternalCode,
        };
        body =
          outcome.keyType === 'ed25519'
            ? encodeSigningResult({ ...echo, keyType: 'ed25519', signature: outcome.signature })
            : encodeSigningResult({
                ...echo,
                keyType: 'secp256k1',
                r: outcome.r,
                s: outcome.s,
                recoveryId: outcome.recovery,
              });
      }
      this.count('sign', keyType, undefined, started);
      await this.deliver(msg, held, { subject, body, messageId, success: true });
    } catch (error) {
      const known = ids ?? salvageRequestIds(msg.data);
      await this.reject('sign', keyType, error, started, msg, held, (failure) => ({
        subject: signingResultSubject(clientId),
        body: encodeSigningResult({
          resultType: 'error',
          walletId: known.walletId === '' ? salvageRawId(msg.data, 'wallet_id') : known.walletId,
          txId: known.txId === '' ? salvageRawId(msg.data, 'tx_id') : known.txId,
          networkInternalCode: known.networkInternalCode,
          errorCode: failure.code,
          errorReason: failure.message,
        }),
        messageId: signingResultMessageId(clientId, resultIdToken(known.txId), String(msg.seq)),
      }));
    } finally {
      stopWorking();
    }
  }

  /** Handles one keygen request; never throws. */
  async handleKeygen(msg: JsMsg): Promise<void> {
    const started = performance.now();
    const clientId = this.clientIdOrTerminate('keygen', msg, started);
    if (clientId === undefined) return;
    const stopWorking = this.keepWorking(msg);
    let walletId = salvageRequestIds(msg.data).walletId;
    let held: LedgerClaim | undefined;
    try {
      const message = this.options.authenticator.keygen(msg.data);
      walletId = message.walletId;
      const key = operationKey('keygen', clientId, message.walletId);
      const digest = createHash('sha256').update(message.walletId).digest('hex');
      const subject = keygenResultSubject(clientId, message.walletId);
      const messageId = keygenResultMessageId(clientId, message.walletId, String(msg.seq));
      const claimed = await this.claim(msg, key, digest, messageId);
      if (claimed === undefined) return;
      held = claimed;
      let body: Uint8Array;
      {
        const keys = await this.keygen(message, msg.data, clientId, msg.seq, key);
        body = encodeKeygenResult({
          resultType: 'success',
          walletId: message.walletId,
          // mpcium encodes the ECDSA key as 64 bytes X‖Y (uncompressed without the 0x04 prefix).
          ecdsaPublicKey: secp256k1.Point.fromBytes(keys.ecdsa).toBytes(false).slice(1),
          eddsaPublicKey: keys.eddsa,
        });
      }
      this.count('keygen', 'all', undefined, started);
      await this.deliver(msg, held, { subject, body, messageId, success: true });
    } catch (error) {
      // An unreadable wallet id is answered on the `_invalid` token (README, failure
      // semantics), echoing the raw id when it was a string.
      const token = resultIdToken(walletId);
      await this.reject('keygen', 'all', error, started, msg, held, (failure) => ({
        subject: keygenResultSubject(clientId, token),
        body: encodeKeygenResult({
          resultType: 'error',
          walletId: walletId === '' ? salvageRawId(msg.data, 'wallet_id') : walletId,
          errorCode: failure.code,
          errorReason: failure.message,
        }),
        messageId: keygenResultMessageId(clientId, token, String(msg.seq)),
      }));
    } finally {
      stopWorking();
    }
  }

  /**
   * Handles one resharing request (from `mpc:reshare` via our intake stream); never throws.
   * The coordinator must be an old committee member holding a share; other signers pass the
   * request on.
   */
  handleReshare(msg: JsMsg): Promise<void> {
    return this.handleResharingKind(msg, {
      kind: 'reshare',
      messageIdPrefix: '',
      authenticate: (data) => this.options.authenticator.reshare(data),
      known: (message) => ({ keyType: message.keyType, newThreshold: message.newThreshold }),
      run: async (message, clientId, seq, operation) => ({
        newThreshold: message.newThreshold,
        publicKey: await this.reshare(message, msg.data, clientId, seq, operation),
      }),
    });
  }

  /**
   * Handles one pairwise refresh request (our stream `mpc-refresh-pair`, this signer's own
   * subject); never throws. This signer must be one of the pair; the peer must be ready. The
   * one result is a `ResharingResultEvent` (same key, same threshold).
   */
  handleRefreshPair(msg: JsMsg): Promise<void> {
    return this.handleResharingKind(msg, {
      kind: 'refresh-pair',
      messageIdPrefix: 'refresh-pair:',
      authenticate: (data) => this.options.authenticator.refreshPair(data),
      known: () => ({ keyType: 'secp256k1', newThreshold: 0 }),
      run: async (message, clientId, seq, operation) => {
        const metadata = await this.refreshPair(message, msg.data, clientId, seq, operation);
        return {
          newThreshold: metadata.threshold,
          publicKey: new Uint8Array(Buffer.from(metadata.publicKey, 'hex')),
        };
      },
    });
  }

  /**
   * The shared flow of the two requests answered with a `ResharingResultEvent` on the
   * resharing result subject of the request's session id. A request whose session id cannot
   * be read is answered once on the `_invalid` token (README, failure semantics; mpcium drops
   * it), so no client waits and nothing is redelivered.
   */
  private async handleResharingKind<Message extends { walletId: string; sessionId: string }>(
    msg: JsMsg,
    request: ResharingKind<Message>,
  ): Promise<void> {
    const { kind } = request;
    const started = performance.now();
    const clientId = this.clientIdOrTerminate(kind, msg, started);
    if (clientId === undefined) return;
    const stopWorking = this.keepWorking(msg);
    const salvaged = salvageRequestIds(msg.data);
    let keyType: string =
      kind === 'refresh-pair'
        ? 'secp256k1'
        : salvaged.keyType === ''
          ? 'unknown'
          : salvaged.keyType;
    let walletId = salvaged.walletId;
    let newThreshold = 0;
    const sessionId = resultIdToken(salvaged.sessionId);
    let held: LedgerClaim | undefined;
    try {
      const subject = reshareResultSubject(clientId, sessionId);
      const messageId = reshareResultMessageId(
        clientId,
        `${request.messageIdPrefix}${sessionId}:${msg.seq}`,
      );
      try {
        const { message, raw } = request.authenticate(msg.data);
        walletId = message.walletId;
        const known = request.known(message);
        ({ keyType, newThreshold } = known);
        const key = operationKey(kind, clientId, message.sessionId);
        const digest = createHash('sha256').update(raw).digest('hex');
        const claimed = await this.claim(msg, key, digest, messageId);
        if (claimed === undefined) return;
        held = claimed;
        const outcome = await request.run(message, clientId, msg.seq, key);
        newThreshold = outcome.newThreshold;
        const body = encodeResharingResult({
          resultType: 'success',
          walletId: message.walletId,
          newThreshold: outcome.newThreshold,
          keyType: known.keyType,
          publicKey:
            known.keyType === 'secp256k1'
              ? secp256k1.Point.fromBytes(outcome.publicKey).toBytes(false).slice(1)
              : outcome.publicKey,
        });
        this.count(kind, keyType, undefined, started);
        await this.deliver(msg, held, { subject, body, messageId, success: true });
      } catch (error) {
        await this.reject(kind, keyType, error, started, msg, held, (failure) => ({
          subject,
          body: encodeResharingResult({
            resultType: 'error',
            walletId: walletId === '' ? salvageRawId(msg.data, 'wallet_id') : walletId,
            newThreshold,
            keyType,
            errorCode: failure.code,
            errorReason: failure.message,
          }),
          messageId,
        }));
      }
    } finally {
      stopWorking();
    }
  }

  /** Runs the pairwise refresh session; returns the wallet's metadata once both committed. */
  private async refreshPair(
    message: PairRefreshMessage,
    body: Uint8Array,
    clientId: string,
    requestSeq: number,
    operation: string,
  ): Promise<WalletMetadata> {
    const { jobs, host, membership, selfNodeId } = this.options;
    const record = await jobs.loadCurrent(message.walletId, 'secp256k1');
    if (record === undefined) throw new KeyNotFoundError(message.walletId, 'secp256k1');
    wipeBytes(record.share);
    const { metadata } = record;
    if (metadata.retired === true || !metadata.committee.some((m) => m.nodeId === selfNodeId)) {
      throw new NotCommitteeMemberError(message.walletId);
    }
    const participants = metadata.committee.filter((member) =>
      message.nodeIds.includes(member.nodeId),
    );
    const peer = participants.find((member) => member.nodeId !== selfNodeId);
    if (participants.length !== 2 || !message.nodeIds.includes(selfNodeId) || peer === undefined) {
      throw new MpcError(
        ErrorCode.IncompatiblePeerIds,
        `node_ids must name this signer and another member of wallet ${message.walletId}'s committee`,
      );
    }
    if (!membership.isReady(peer.nodeId)) throw new QuorumUnavailableError(1, 2);
    const sessionId = randomUUID();
    const job = await jobs.refreshPair(message, { sessionId, participants });
    await host.coordinate({
      sessionId,
      kind: 'refresh-pair',
      participants,
      request: body,
      requestSeq,
      clientId: clientId === '' ? null : clientId,
      job: { ...job, operations: [operation] },
      awaitAllDone: true,
    });
    return metadata;
  }

  /** Runs the resharing session; returns the (unchanged) public key once committed. */
  private async reshare(
    message: ResharingMessage,
    body: Uint8Array,
    clientId: string,
    requestSeq: number,
    operation: string,
  ): Promise<Uint8Array> {
    const { jobs, host, membership, selfNodeId, clusterNodes } = this.options;
    const record = await jobs.loadCurrent(message.walletId, message.keyType);
    if (record === undefined) throw new KeyNotFoundError(message.walletId, message.keyType);
    wipeBytes(record.share);
    const { metadata } = record;
    if (metadata.retired === true || !metadata.committee.some((m) => m.nodeId === selfNodeId)) {
      throw new NotCommitteeMemberError(message.walletId);
    }
    const ready = new Set(membership.readyNodes(clusterNodes));
    const plan = planReshare({
      metadata,
      request: message,
      clusterNodes,
      isReady: (node) => node === selfNodeId || ready.has(node),
      selfNodeId,
    });
    const sessionId = randomUUID();
    const invite = { sessionId, participants: plan.participants, reshare: plan.context };
    const job = await jobs.reshare(message, invite);
    await host.coordinate({
      sessionId,
      kind: 'reshare',
      participants: plan.participants,
      request: body,
      requestSeq,
      clientId: clientId === '' ? null : clientId,
      job: { ...job, operations: [operation] },
      awaitAllDone: true,
      reshare: plan.context,
    });
    return new Uint8Array(Buffer.from(metadata.publicKey, 'hex'));
  }

  /**
   * Answers the request message with `result` exactly once (design §5.6): write-ahead into
   * the ledger under our claim, then publish, then mark published, then ack. A result the
   * ledger did not take is never published: when another coordinator answered this request
   * message meanwhile its answer is replayed instead; when another coordinator holds the
   * operation now, nothing is published or acked (it answers); when the ledger cannot be
   * reached the request is handed back (nak) and its redelivery finds out what was stored.
   * A publish that fails naks the request; its redelivery republishes the recorded bytes
   * under the same `Nats-Msg-Id`. Never throws.
   */
  private async deliver(
    msg: JsMsg,
    claim: LedgerClaim,
    result: {
      readonly subject: string;
      readonly body: Uint8Array;
      readonly messageId: string;
      readonly success: boolean;
    },
  ): Promise<void> {
    const { ledger, log } = this.options;
    const recorded = await ledger.record(claim, result).catch((error: unknown) => {
      log.warn({ err: error }, 'ledger write failed');
      return { kind: 'unknown' } as const;
    });
    switch (recorded.kind) {
      case 'recorded':
        break;
      case 'superseded':
        await this.replay(msg, claim.key, recorded.answer);
        return;
      case 'lost':
        log.info('another coordinator holds this operation now; leaving the request to it');
        return;
      case 'unknown':
        log.warn('result not recorded in the ledger; not published, the request is handed back');
        msg.nak(1000);
        return;
    }
    try {
      await this.publishRecorded(result);
    } catch (error) {
      log.warn({ err: error }, 'result not published; the request will be redelivered');
      msg.nak(1000);
      return;
    }
    await this.acknowledge(msg, claim.key, claim.seq, result.success, recorded);
  }

  /**
   * Replays the answer recorded for this very request message (a redelivery): republished
   * byte for byte under its `Nats-Msg-Id` unless JetStream already confirmed it, then acked.
   */
  private async replay(msg: JsMsg, key: string, answer: LedgerAnswer): Promise<void> {
    if (answer.published) {
      msg.ack();
      return;
    }
    if (this.unmarkedPublications.has(publicationKey(key, answer.seq))) {
      await this.acknowledge(msg, key, answer.seq, false);
      return;
    }
    if (
      answer.instance !== undefined &&
      answer.node !== undefined &&
      answer.instance !== this.instance
    ) {
      // Another coordinator recorded it and may hold JetStream's confirmation, its mark still
      // on the way (a nats-server crash redelivers requests whose ack it had not yet stored).
      // Republishing now could repeat a result the client consumed, which a restarted server
      // no longer deduplicates; wait for the mark first, within the ledger's write budget,
      // while that very process still runs: its node has not registered a newer process,
      // and membership has it ready (or it has not been long enough to tell).
      const { ledger, membership } = this.options;
      const { node, instance } = answer;
      const waitingSince = Date.now();
      const grace = this.options.notReadyGraceMs ?? 5000;
      const waited = await ledger
        .waitForPublished(key, answer.seq, ledger.writeBudget + 1000, {
          keepWaiting: async () =>
            (await ledger.currentInstance(node)) === instance &&
            (membership.isReady(node) || Date.now() - waitingSince < grace),
        })
        .catch(() => 'timeout' as const);
      if (waited === 'published') {
        msg.ack();
        return;
      }
    }
    try {
      await this.publishRecorded(answer);
    } catch (error) {
      this.options.log.warn({ err: error }, 'replay not published; will be redelivered');
      msg.nak(1000);
      return;
    }
    await this.acknowledge(msg, key, answer.seq, false);
  }

  /**
   * Publishes a result the ledger recorded, retrying (same bytes, same `Nats-Msg-Id`) through
   * a NATS outage within the ledger's write budget: a signer handed the redelivery waits that
   * long for this coordinator's mark before it republishes itself. Throws when it runs out.
   */
  private async publishRecorded(result: {
    readonly subject: string;
    readonly body: Uint8Array;
    readonly messageId: string;
  }): Promise<void> {
    const deadline = Date.now() + this.options.ledger.writeBudget;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.options.publisher.publish(result.subject, result.body, result.messageId);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await retryPause(attempt);
      }
    }
  }

  /**
   * After a confirmed publish: mark it in the ledger, then ack. The mark is retried through a
   * NATS outage (the ledger's write budget), and until it lands this process remembers the
   * publication, so neither a redelivery here nor one after a nats-server restart publishes
   * it again. Should the budget run out, the request is acked all the same (README "Failure
   * semantics" names the one case left: this signer and nats-server both crash in between).
   */
  private async acknowledge(
    msg: JsMsg,
    key: string,
    seq: number,
    success: boolean,
    recorded?: { readonly entry: LedgerEntry; readonly revision: number },
  ): Promise<void> {
    const publication = publicationKey(key, seq);
    if (this.unmarkedPublications.size >= MAX_UNMARKED_PUBLICATIONS) {
      const oldest = this.unmarkedPublications.values().next();
      if (oldest.done !== true) this.unmarkedPublications.delete(oldest.value);
    }
    this.unmarkedPublications.add(publication);
    if (success) await this.options.beforeMark?.();
    try {
      await this.options.ledger.markPublished(key, seq, recorded);
      this.unmarkedPublications.delete(publication);
    } catch (error) {
      this.options.log.warn({ err: error }, 'publication not marked in the ledger');
    }
    if (success) await this.options.beforeAck?.();
    msg.ack();
  }

  /**
   * Claims the operation for this request message. Returns the claim, or undefined when the
   * message has been dealt with here: replayed (answered before, or a re-send of a completed
   * operation) or handed back because the ledger cannot be reached (no error result then:
   * the operation may well have a result already).
   */
  private async claim(
    msg: JsMsg,
    key: string,
    digest: string,
    messageId: string,
  ): Promise<LedgerClaim | undefined> {
    const { ledger, membership, selfNodeId, duplicateWaitMs, log } = this.options;
    // A claim released by a failed concurrent attempt may be claimed again (bounded).
    for (let attempt = 0; attempt < 3; attempt++) {
      let outcome;
      try {
        outcome = await ledger.claim(key, selfNodeId, this.instance, digest, msg.seq, (node) =>
          membership.isReady(node),
        );
      } catch (error) {
        log.warn({ err: error }, 'operation ledger unavailable; the request is handed back');
        msg.nak(1000);
        return undefined;
      }
      switch (outcome.kind) {
        case 'claimed':
          return outcome.claim;
        case 'answered':
          await this.replay(msg, key, outcome.answer);
          return undefined;
        case 'done':
          await this.deliver(msg, outcome.claim, {
            subject: outcome.subject,
            body: outcome.result,
            messageId,
            success: true,
          });
          return undefined;
        case 'conflict':
          throw new DuplicateOperationError('operation id already used for a different request');
        case 'running': {
          const waited = await ledger.waitForDone(key, duplicateWaitMs).catch(() => undefined);
          if (waited?.kind === 'timeout') {
            throw new DuplicateOperationError('an identical request is still being processed');
          }
        }
      }
    }
    throw new DuplicateOperationError('an identical request is still being processed');
  }

  /**
   * Signs with exactly t+1 ready signers. With `retryWithFreshSigners`, a transport failure
   * (ERROR_PEER_UNAVAILABLE) is retried once with a fresh session — fresh nonces, and a
   * signing set without the failed peer — when enough other signers are ready. Anything else
   * (timeouts, failed checks) is never retried.
   */
  private async sign(
    message: SignTxMessage,
    body: Uint8Array,
    clientId: string,
    requestSeq: number,
    operation: string,
    preloaded: Promise<WalletRecord>,
  ): Promise<SignatureOutcome> {
    const excluded = new Set<string>();
    let freshSignerRetries = this.options.retryWithFreshSigners ? 1 : 0;
    let busyRetries = PAIR_BUSY_RETRIES;
    // The first attempt uses the share read alongside the claim; a retry reads it afresh
    // (every attempt wipes the share it was given).
    for (let attempt = 0; ; attempt++) {
      const loading =
        attempt === 0 ? preloaded : this.options.jobs.loadForSigning(message, undefined);
      try {
        const request = { body, clientId, requestSeq, operation };
        return await this.signOnce(message, request, excluded, loading);
      } catch (error) {
        // A participant whose pair slots are taken refused the invite before any protocol
        // message: nothing was computed, so a fresh session after a short pause is safe.
        if (
          error instanceof MpcError &&
          error.code === ErrorCode.ConcurrencyLimit &&
          busyRetries > 0
        ) {
          busyRetries -= 1;
          await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
          continue;
        }
        const retry =
          freshSignerRetries > 0 &&
          error instanceof MpcError &&
          error.code === ErrorCode.PeerUnavailable &&
          !(error instanceof QuorumUnavailableError);
        if (!retry) throw error;
        freshSignerRetries -= 1;
        const peer = (error as { peer?: unknown }).peer;
        if (typeof peer === 'string') excluded.add(peer);
        this.options.log.info({ peer, txId: message.txId }, 'retrying with a fresh signing set');
      }
    }
  }

  private async signOnce(
    message: SignTxMessage,
    request: SigningRequestContext,
    excluded: ReadonlySet<string>,
    loading: Promise<WalletRecord>,
  ): Promise<SignatureOutcome> {
    const { host, membership, selfNodeId } = this.options;
    const record = await loading;
    const { metadata } = record;
    const quorum = metadata.threshold + 1;
    const committee = metadata.committee.map((member) => member.nodeId);
    const banned = (node: string): boolean =>
      message.keyType === 'secp256k1' &&
      node !== selfNodeId &&
      this.options.isPairUsable?.(node, metadata) === false;
    const live = membership.readyNodes(committee).filter((node) => !excluded.has(node));
    const ready = live.filter((node) => !banned(node));
    if (ready.length < quorum || !ready.includes(selfNodeId)) wipeBytes(record.share);
    if (ready.length < quorum) {
      // Say so when burned pairs, not dead peers, are what is missing: an administrator must
      // run a pairwise refresh (mpc refresh-pair).
      const burned = live.find((node) => banned(node));
      if (live.length >= quorum && burned !== undefined) {
        throw new BannedPeerError(burned, message.walletId);
      }
      throw new QuorumUnavailableError(ready.length, quorum);
    }
    if (!ready.includes(selfNodeId)) {
      if (!committee.includes(selfNodeId)) throw new NotCommitteeMemberError(message.walletId);
      throw new MpcError(ErrorCode.ParticipantNotFound, 'coordinator is not ready');
    }
    // Spread load by tx id; for ECDSA prefer peers towards which this signer has a free pair
    // slot (the per-pair cap would otherwise make the session wait).
    const candidates = rotate(
      ready.filter((node) => node !== selfNodeId),
      message.txId,
    );
    const pairState = message.keyType === 'secp256k1' ? pairStateKey(metadata) : undefined;
    const hasSlot = (node: string): boolean =>
      pairState === undefined || host.freeOwnPairSlots(pairState, node) > 0;
    const setOf = (others: readonly string[]): InviteParticipant[] =>
      metadata.committee.filter(
        (member) => member.nodeId === selfNodeId || others.includes(member.nodeId),
      );
    const others = [
      ...candidates.filter(hasSlot),
      ...candidates.filter((node) => !hasSlot(node)),
    ].slice(0, quorum - 1);
    let participants = setOf(others);
    const batcher = this.batcher;
    if (message.keyType === 'ed25519' && batcher !== undefined) {
      // Spread by tx id, but join a set whose requests are already waiting for a session and
      // whose next batch has room: there the request costs no session of its own.
      const sets = candidates.map((_, offset) =>
        setOf(rotateBy(candidates, offset).slice(0, quorum - 1)),
      );
      participants = sets.find((set) => batcher.joinable(batchGroup(set))) ?? participants;
      // Batching needs every peer of the set to take part in batches (signers that predate
      // them refuse the kind); a set with such a peer runs its requests one by one.
      const batching = participants.every(
        (member) => member.nodeId === selfNodeId || host.acceptsSigningBatches(member.nodeId),
      );
      if (batching) {
        return batcher.submit(
          batchGroup(participants),
          { message, request, record, participants },
          request.body.length,
        );
      }
    }
    return released(message, await this.coordinateSigning(message, request, participants, record));
  }

  /** One request in a session of its own (its signature is not verified here). */
  private async coordinateSigning(
    message: SignTxMessage,
    request: SigningRequestContext,
    participants: readonly InviteParticipant[],
    record: WalletRecord,
  ): Promise<SignatureOutcome> {
    const { jobs, host } = this.options;
    const sessionId = randomUUID();
    const job = await jobs.sign(sessionId, message, participants, record);
    return host.coordinate({
      sessionId,
      kind: 'sign',
      participants,
      request: request.body,
      requestSeq: request.requestSeq,
      clientId: request.clientId === '' ? null : request.clientId,
      job: { ...job, operations: [request.operation] },
      awaitAllDone: false,
    });
  }

  /**
   * Runs one session for requests of one signing set (`SigningBatcher`, `settleBatch`): a
   * lone request in a `sign` session as always, several in one `sign-batch` session. Each
   * signature is verified on its own before it is released. A batch that could not start (its
   * job could not be built, or a participant refused the invite, as it does when any one
   * request fails its checks there) runs each request in a session of its own.
   */
  private runSigningBatch(
    items: readonly SigningBatchItem[],
  ): Promise<PromiseSettledResult<SignatureOutcome>[]> {
    const { jobs, host, metrics, log } = this.options;
    return settleBatch(items, {
      runAlone: async (item) => {
        // A lone request uses the share read for it; in a batch that started nowhere the batch
        // job has wiped every share (settleBatch runs items alone only in those two cases).
        const record =
          items.length === 1 ? item.record : await jobs.loadForSigning(item.message, undefined);
        return this.coordinateSigning(item.message, item.request, item.participants, record);
      },
      release: (item, outcome) => released(item.message, outcome),
      startedNowhere: (error) => {
        const nowhere =
          error instanceof BatchNotBuiltError ||
          error instanceof BatchNotAdmittedError ||
          error instanceof InviteRefusedError;
        if (nowhere) {
          log.info(
            { requests: items.length, code: errorCodeOf(error) },
            'signing batch not started; signing its requests one by one',
          );
        }
        return nowhere;
      },
      runTogether: async (batch) => {
        const first = batch[0] as SigningBatchItem;
        const sessionId = randomUUID();
        let job: SessionJob<SignatureOutcome[]>;
        try {
          job = await jobs.signBatch(sessionId, batch, first.participants);
        } catch (error) {
          throw new BatchNotBuiltError(error);
        }
        metrics.signingBatchSize.observe(batch.length);
        return host.coordinate({
          sessionId,
          kind: 'sign-batch',
          participants: first.participants,
          request: first.request.body,
          requestSeq: first.request.requestSeq,
          clientId: first.request.clientId === '' ? null : first.request.clientId,
          requests: batch.map((item) => ({
            request: Buffer.from(item.request.body).toString('base64'),
            requestSeq: item.request.requestSeq,
            clientId: item.request.clientId === '' ? null : item.request.clientId,
          })),
          job: { ...job, operations: batch.map((item) => item.request.operation) },
          awaitAllDone: false,
        });
      },
    });
  }

  private async keygen(
    message: GenerateKeyMessage,
    body: Uint8Array,
    clientId: string,
    requestSeq: number,
    operation: string,
  ): Promise<{ eddsa: Uint8Array; ecdsa: Uint8Array }> {
    const { jobs, host, membership, clusterNodes } = this.options;
    // A redelivery of a keygen whose session completed here (its result lost to a crash)
    // is answered with the keys it created.
    const completed = await jobs.completedKeygen(message.walletId, operation);
    if (completed !== undefined) {
      this.options.log.info(
        { walletId: message.walletId },
        'keygen completed by an earlier session; answering with its keys',
      );
      return completed;
    }
    const ready = membership.readyNodes(clusterNodes);
    if (ready.length < clusterNodes.length) {
      throw new QuorumUnavailableError(ready.length, clusterNodes.length);
    }
    const participants = keygenCommittee(clusterNodes);
    const sessionId = randomUUID();
    const job = await jobs.keygen(sessionId, message, participants, operation);
    const keys = await host.coordinate({
      sessionId,
      kind: 'keygen',
      participants,
      request: body,
      requestSeq,
      clientId: clientId === '' ? null : clientId,
      job: { ...job, operations: [operation] },
      awaitAllDone: true,
    });
    return { eddsa: keys.eddsa.publicKey, ecdsa: keys.ecdsa.publicKey };
  }

  /**
   * The request's ClientID, or undefined after terminating a request whose ClientID header is
   * invalid: no subject reaches its client (its scoped subject is not a valid subject and the
   * legacy one belongs to other clients), and redelivery cannot fix it, so JetStream must not
   * redeliver it or count it against the in-flight limit (README, failure semantics).
   */
  private clientIdOrTerminate(kind: string, msg: JsMsg, started: number): string | undefined {
    const read = readClientIdHeader(msg.headers);
    if (read !== undefined) return read.clientId;
    const failure = new MpcError(ErrorCode.MsgValidation, 'invalid ClientID header');
    this.count(kind, 'unknown', failure, started);
    this.options.log.info({ kind, seq: msg.seq }, 'request with an invalid ClientID terminated');
    // No reason text: nats-server 2.9 only recognises a bare `+TERM` (with a reason it
    // ignores the ack and redelivers after the ack wait).
    msg.term();
    return undefined;
  }

  private keepWorking(msg: JsMsg): () => void {
    const timer = setInterval(() => msg.working(), this.options.workingIntervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private count(kind: string, keyType: string, error: MpcError | undefined, started: number): void {
    const result = error === undefined ? 'success' : 'error';
    const { metrics } = this.options;
    metrics.sessionsTotal.inc({ kind, key_type: keyType, result, error_code: error?.code ?? '' });
    metrics.sessionDuration.observe(
      { kind, key_type: keyType, result },
      (performance.now() - started) / 1000,
    );
  }

  /**
   * Answers a failed request with an error result. After a claim, the error goes through the
   * ledger like a success (`deliver`), so a redelivery replays it rather than running again;
   * before a claim (invalid request, conflict) it is published directly: the same bytes give
   * the same error. A request for a wallet we hold no share of is passed on (claim released).
   */
  private async reject(
    kind: string,
    keyType: string,
    error: unknown,
    started: number,
    msg: JsMsg,
    held: LedgerClaim | undefined,
    errorResult: (failure: MpcError) => { subject: string; body: Uint8Array; messageId: string },
  ): Promise<void> {
    const passOn = this.options.passOnDeliveries ?? 0;
    // A keygen a participant refuses because it holds the wallet already: an earlier session
    // of this keygen completed there but not here (this signer crashed first). A signer that
    // holds the keys answers with them (`completedKeygen`); let one of them have the request.
    const walletHeldElsewhere =
      kind === 'keygen' &&
      error instanceof SessionAbortedError &&
      error.code === ErrorCode.KeyAlreadyExists;
    if (
      (error instanceof NotCommitteeMemberError ||
        error instanceof KeyNotFoundError ||
        walletHeldElsewhere) &&
      msg.info.deliveryCount < passOn
    ) {
      this.options.log.debug({ kind }, 'no share of this wallet here: passing the request on');
      if (held !== undefined) await this.options.ledger.release(held).catch(() => undefined);
      msg.nak(0);
      return;
    }
    const failure =
      error instanceof MpcError
        ? error
        : new MpcError(errorCodeOf(error), error instanceof Error ? error.message : 'failure');
    this.count(kind, keyType, failure, started);
    this.options.log.info({ kind, code: failure.code, reason: failure.message }, 'request failed');
    const result = errorResult(failure);
    if (held !== undefined) {
      await this.deliver(msg, held, { ...result, success: false });
      return;
    }
    try {
      await this.options.publisher.publish(result.subject, result.body, result.messageId);
      msg.ack();
    } catch (publishFailure) {
      this.options.log.warn(
        { err: publishFailure },
        'could not publish error result; will be redelivered',
      );
      msg.nak(1000);
    }
  }
}

/** The request digest that identifies "the same request" for idempotency. */
function requestDigest(raw: Uint8Array, derivationPath: readonly number[] | null): string {
  return createHash('sha256')
    .update(raw)
    .update(JSON.stringify(derivationPath ?? []))
    .digest('hex');
}

/** The batch job could not be built here: nothing was sent, each request may run alone. */
class BatchNotBuiltError extends MpcError {
  constructor(cause: unknown) {
    super(errorCodeOf(cause), 'signing batch job not built', { cause });
  }
}

/** What a signing session needs of its client request besides the message. */
interface SigningRequestContext {
  readonly body: Uint8Array;
  readonly clientId: string;
  readonly requestSeq: number;
  readonly operation: string;
}

/** One request handed to the batcher: authenticated, claimed, its share loaded, its set chosen. */
interface SigningBatchItem {
  readonly message: SignTxMessage;
  readonly request: SigningRequestContext;
  readonly record: WalletRecord;
  readonly participants: readonly InviteParticipant[];
}

/** Requests batch together when they have exactly these signers, with these party ids. */
function batchGroup(participants: readonly InviteParticipant[]): string {
  return participants
    .map((member) => `${member.nodeId}=${member.partyId}`)
    .sort()
    .join(',');
}

/**
 * The product's guarantee: a signature leaves only once it verifies, with code independent of
 * the signing path, under the (derived) key the protocol signed for.
 */
function released(message: SignTxMessage, outcome: SignatureOutcome): SignatureOutcome {
  const signed = message.keyType === 'secp256k1' ? ecdsaSigningDigest(message.tx) : message.tx;
  if (!verifyIndependently(outcome, signed)) {
    throw new MpcError(ErrorCode.SignatureVerification, 'assembled signature failed verification');
  }
  return outcome;
}

/** Spreads load: start the list at a position derived from the operation id. */
function rotate(nodes: readonly string[], seed: string): string[] {
  if (nodes.length === 0) return [];
  return rotateBy(nodes, createHash('sha256').update(seed).digest().readUInt32BE(0) % nodes.length);
}

/** `nodes` starting at position `offset`, wrapping around. */
function rotateBy(nodes: readonly string[], offset: number): string[] {
  return [...nodes.slice(offset), ...nodes.slice(0, offset)];
}

/**
 * Verification independent of the signing path: Ed25519 with node:crypto (OpenSSL); ECDSA with
 * @noble/curves' verifier on the digest as sent (no hashing), low-S required.
 */
function verifyIndependently(outcome: SignatureOutcome, message: Uint8Array): boolean {
  try {
    if (outcome.keyType === 'secp256k1') {
      const compact = new Uint8Array(64);
      compact.set(outcome.r, 0);
      compact.set(outcome.s, 32);
      return secp256k1.verify(compact, message, outcome.publicKey, { prehash: false, lowS: true });
    }
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(outcome.publicKey).toString('base64url') },
      format: 'jwk',
    });
    return nodeVerify(null, message, key, outcome.signature);
  } catch {
    return false;
  }
}

/** The `unmarkedPublications` entry of the answer for request message `seq` of `key`. */
function publicationKey(key: string, seq: number): string {
  return `${key}\n${seq}`;
}
