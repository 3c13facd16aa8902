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
  encodeKeygenResult,
  encodeResharingResult,
  encodeSigningResult,
  salvageRawId,
  salvageRequestIds,
  type GenerateKeyMessage,
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
import type { InviteParticipant } from '../transport/control-messages.ts';
import {
  KeyNotFoundError,
  NotCommitteeMemberError,
  keygenCommittee,
  type JobFactory,
  type SignatureOutcome,
} from './jobs.ts';
import { planReshare } from './reshare-plan.ts';
import { operationKey, type OperationLedger } from './operation-ledger.ts';
import type { RequestAuthenticator } from './request-authenticator.ts';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { wipeBytes } from '../crypto/wipe.ts';

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
  /** Peers this signer has banned for DKLs23 (kept out of secp256k1 signing sets). */
  readonly isBanned?: (peer: string) => boolean;
  /**
   * A request for a wallet this signer holds no share of (a committee smaller than the
   * cluster, or a key resharing moved away) is handed back to JetStream (nak) for another
   * signer while its delivery count is below this; after that the error is the answer.
   * 0 or absent: never pass on.
   */
  readonly passOnDeliveries?: number;
}

export class RequestCoordinator {
  constructor(private readonly options: RequestCoordinatorOptions) {}

  /** Handles one signing request; never throws; always acks (or naks when publishing failed). */
  async handleSigning(msg: JsMsg): Promise<void> {
    const started = performance.now();
    const clientId = this.clientIdOrTerminate('sign', msg, started);
    if (clientId === undefined) return;
    const stopWorking = this.keepWorking(msg);
    let keyType = 'unknown';
    let ids = { walletId: '', txId: '', networkInternalCode: '' };
    try {
      const salvaged = salvageRequestIds(msg.data);
      ids = {
        walletId: salvaged.walletId,
        txId: salvaged.txId,
        networkInternalCode: salvaged.networkInternalCode,
      };
      const { message, raw } = this.options.authenticator.sign(msg.data);
      keyType = message.keyType;
      ids = {
        walletId: message.walletId,
        txId: message.txId,
        networkInternalCode: message.networkInternalCode,
      };
      const key = operationKey('sign', clientId, `${message.walletId}\n${message.txId}`);
      const digest = requestDigest(raw, message.derivationPath);
      const subject = signingResultSubject(clientId);
      const messageId = `${signingResultMessageId(clientId, message.txId, String(msg.seq))}`;
      const replay = await this.claim(key, digest, msg.seq);
      if (replay !== undefined) {
        await this.deliver(msg, replay.subject, replay.result, messageId, undefined);
        return;
      }
      let body: Uint8Array;
      try {
        const outcome = await this.sign(message, msg.data, clientId);
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
      } catch (error) {
        await this.options.ledger.release(key).catch(() => undefined);
        throw error;
      }
      this.count('sign', keyType, undefined, started);
      await this.deliver(msg, subject, body, messageId, () =>
        this.options.ledger.complete(key, digest, subject, body),
      );
    } catch (error) {
      await this.reject('sign', keyType, error, started, msg, async (failure) => {
        const body = encodeSigningResult({
          resultType: 'error',
          walletId: ids.walletId === '' ? salvageRawId(msg.data, 'wallet_id') : ids.walletId,
          txId: ids.txId === '' ? salvageRawId(msg.data, 'tx_id') : ids.txId,
          networkInternalCode: ids.networkInternalCode,
          errorCode: failure.code,
          errorReason: failure.message,
        });
        await this.options.publisher.publish(
          signingResultSubject(clientId),
          body,
          signingResultMessageId(clientId, resultIdToken(ids.txId), String(msg.seq)),
        );
      });
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
    try {
      const message = this.options.authenticator.keygen(msg.data);
      walletId = message.walletId;
      const key = operationKey('keygen', clientId, message.walletId);
      const digest = createHash('sha256').update(message.walletId).digest('hex');
      const subject = keygenResultSubject(clientId, message.walletId);
      const messageId = keygenResultMessageId(clientId, message.walletId, String(msg.seq));
      const replay = await this.claim(key, digest, msg.seq);
      if (replay !== undefined) {
        await this.deliver(msg, replay.subject, replay.result, messageId, undefined);
        return;
      }
      let body: Uint8Array;
      try {
        const keys = await this.keygen(message, msg.data, clientId);
        body = encodeKeygenResult({
          resultType: 'success',
          walletId: message.walletId,
          // mpcium encodes the ECDSA key as 64 bytes X‖Y (uncompressed without the 0x04 prefix).
          ecdsaPublicKey: secp256k1.Point.fromBytes(keys.ecdsa).toBytes(false).slice(1),
          eddsaPublicKey: keys.eddsa,
        });
      } catch (error) {
        await this.options.ledger.release(key).catch(() => undefined);
        throw error;
      }
      this.count('keygen', 'all', undefined, started);
      await this.deliver(msg, subject, body, messageId, () =>
        this.options.ledger.complete(key, digest, subject, body),
      );
    } catch (error) {
      await this.reject('keygen', 'all', error, started, msg, async (failure) => {
        // An unreadable wallet id is answered on the `_invalid` token (README, failure
        // semantics), echoing the raw id when it was a string.
        const token = resultIdToken(walletId);
        const body = encodeKeygenResult({
          resultType: 'error',
          walletId: walletId === '' ? salvageRawId(msg.data, 'wallet_id') : walletId,
          errorCode: failure.code,
          errorReason: failure.message,
        });
        await this.options.publisher.publish(
          keygenResultSubject(clientId, token),
          body,
          keygenResultMessageId(clientId, token, String(msg.seq)),
        );
      });
    } finally {
      stopWorking();
    }
  }

  /**
   * Handles one resharing request (from `mpc:reshare` via our intake stream); never throws.
   * The coordinator must be an old committee member holding a share; other signers pass the
   * request on. A request whose session id cannot be read is answered on the `_invalid`
   * token (mpcium drops it).
   */
  async handleReshare(msg: JsMsg): Promise<void> {
    const started = performance.now();
    const clientId = this.clientIdOrTerminate('reshare', msg, started);
    if (clientId === undefined) return;
    const stopWorking = this.keepWorking(msg);
    const salvaged = salvageRequestIds(msg.data);
    let keyType = salvaged.keyType === '' ? 'unknown' : salvaged.keyType;
    let walletId = salvaged.walletId;
    let newThreshold = 0;
    // An unreadable session id is answered on the `_invalid` token (README, failure semantics).
    const sessionId = resultIdToken(salvaged.sessionId);
    try {
      const subject = reshareResultSubject(clientId, sessionId);
      const messageId = reshareResultMessageId(clientId, `${sessionId}:${msg.seq}`);
      try {
        const { message, raw } = this.options.authenticator.reshare(msg.data);
        keyType = message.keyType;
        walletId = message.walletId;
        newThreshold = message.newThreshold;
        const key = operationKey('reshare', clientId, message.sessionId);
        const digest = createHash('sha256').update(raw).digest('hex');
        const replay = await this.claim(key, digest, msg.seq);
        if (replay !== undefined) {
          await this.deliver(msg, replay.subject, replay.result, messageId, undefined);
          return;
        }
        let body: Uint8Array;
        try {
          const publicKey = await this.reshare(message, msg.data, clientId);
          body = encodeResharingResult({
            resultType: 'success',
            walletId: message.walletId,
            newThreshold: message.newThreshold,
            keyType: message.keyType,
            publicKey:
              message.keyType === 'secp256k1'
                ? secp256k1.Point.fromBytes(publicKey).toBytes(false).slice(1)
                : publicKey,
          });
        } catch (error) {
          await this.options.ledger.release(key).catch(() => undefined);
          throw error;
        }
        this.count('reshare', keyType, undefined, started);
        await this.deliver(msg, subject, body, messageId, () =>
          this.options.ledger.complete(key, digest, subject, body),
        );
      } catch (error) {
        await this.reject('reshare', keyType, error, started, msg, async (failure) => {
          const body = encodeResharingResult({
            resultType: 'error',
            walletId: walletId === '' ? salvageRawId(msg.data, 'wallet_id') : walletId,
            newThreshold,
            keyType,
            errorCode: failure.code,
            errorReason: failure.message,
          });
          await this.options.publisher.publish(subject, body, messageId);
        });
      }
    } finally {
      stopWorking();
    }
  }

  /** Runs the resharing session; returns the (unchanged) public key once committed. */
  private async reshare(
    message: ResharingMessage,
    body: Uint8Array,
    clientId: string,
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
      clientId: clientId === '' ? null : clientId,
      job,
      awaitAllDone: true,
      reshare: plan.context,
    });
    return new Uint8Array(Buffer.from(metadata.publicKey, 'hex'));
  }

  /**
   * Publishes a success (or replayed) result and acks. From here on the operation never turns
   * into an error result: a ledger write that fails only costs idempotency for a later re-send,
   * and a publish that fails naks the request so its redelivery replays or redoes it.
   */
  private async deliver(
    msg: JsMsg,
    subject: string,
    body: Uint8Array,
    messageId: string,
    record: (() => Promise<void>) | undefined,
  ): Promise<void> {
    const { publisher, log } = this.options;
    const [, published] = await Promise.all([
      record?.().catch((error: unknown) =>
        log.warn({ err: error }, 'result not recorded in ledger'),
      ),
      publisher.publish(subject, body, messageId).then(
        () => true,
        (error: unknown) => {
          log.warn({ err: error }, 'result not published; the request will be redelivered');
          return false;
        },
      ),
    ]);
    if (published) msg.ack();
    else msg.nak(1000);
  }

  /** Returns a stored result to replay, or undefined when this signer now owns the operation. */
  private async claim(
    key: string,
    digest: string,
    seq: number,
  ): Promise<{ subject: string; result: Uint8Array } | undefined> {
    const { ledger, membership, selfNodeId, duplicateWaitMs } = this.options;
    // A claim released by a failed concurrent attempt may be claimed again (bounded).
    for (let attempt = 0; attempt < 3; attempt++) {
      const outcome = await ledger.claim(key, selfNodeId, digest, seq, (node) =>
        membership.isReady(node),
      );
      switch (outcome.kind) {
        case 'claimed':
          return undefined;
        case 'done':
          return { subject: outcome.subject, result: outcome.result };
        case 'conflict':
          throw new DuplicateOperationError('operation id already used for a different request');
        case 'running': {
          const waited = await ledger.waitForDone(key, duplicateWaitMs);
          if (waited.kind === 'done') return waited;
          if (waited.kind === 'timeout') {
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
  ): Promise<SignatureOutcome> {
    const excluded = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.signOnce(message, body, clientId, excluded);
      } catch (error) {
        const retry =
          this.options.retryWithFreshSigners &&
          attempt === 0 &&
          error instanceof MpcError &&
          error.code === ErrorCode.PeerUnavailable &&
          !(error instanceof QuorumUnavailableError);
        if (!retry) throw error;
        const peer = (error as { peer?: unknown }).peer;
        if (typeof peer === 'string') excluded.add(peer);
        this.options.log.info({ peer, txId: message.txId }, 'retrying with a fresh signing set');
      }
    }
  }

  private async signOnce(
    message: SignTxMessage,
    body: Uint8Array,
    clientId: string,
    excluded: ReadonlySet<string>,
  ): Promise<SignatureOutcome> {
    const { jobs, host, membership, selfNodeId } = this.options;
    const record = await jobs.loadForSigning(message, undefined);
    const { metadata } = record;
    const quorum = metadata.threshold + 1;
    const committee = metadata.committee.map((member) => member.nodeId);
    const banned = (node: string): boolean =>
      message.keyType === 'secp256k1' && this.options.isBanned?.(node) === true;
    const ready = membership
      .readyNodes(committee)
      .filter((node) => !excluded.has(node) && !banned(node));
    if (ready.length < quorum || !ready.includes(selfNodeId)) wipeBytes(record.share);
    if (ready.length < quorum) throw new QuorumUnavailableError(ready.length, quorum);
    if (!ready.includes(selfNodeId)) {
      if (!committee.includes(selfNodeId)) throw new NotCommitteeMemberError(message.walletId);
      throw new MpcError(ErrorCode.ParticipantNotFound, 'coordinator is not ready');
    }
    const others = rotate(
      ready.filter((node) => node !== selfNodeId),
      message.txId,
    ).slice(0, quorum - 1);
    const participants: InviteParticipant[] = metadata.committee.filter(
      (member) => member.nodeId === selfNodeId || others.includes(member.nodeId),
    );
    const sessionId = randomUUID();
    const job = await jobs.sign(sessionId, message, participants, record);
    const outcome = await host.coordinate({
      sessionId,
      kind: 'sign',
      participants,
      request: body,
      clientId: clientId === '' ? null : clientId,
      job,
      awaitAllDone: false,
    });
    if (!verifyIndependently(outcome, message.tx)) {
      throw new MpcError(
        ErrorCode.SignatureVerification,
        'assembled signature failed verification',
      );
    }
    return outcome;
  }

  private async keygen(
    message: GenerateKeyMessage,
    body: Uint8Array,
    clientId: string,
  ): Promise<{ eddsa: Uint8Array; ecdsa: Uint8Array }> {
    const { jobs, host, membership, clusterNodes } = this.options;
    const ready = membership.readyNodes(clusterNodes);
    if (ready.length < clusterNodes.length) {
      throw new QuorumUnavailableError(ready.length, clusterNodes.length);
    }
    const participants = keygenCommittee(clusterNodes);
    const sessionId = randomUUID();
    const job = await jobs.keygen(sessionId, message, participants);
    const keys = await host.coordinate({
      sessionId,
      kind: 'keygen',
      participants,
      request: body,
      clientId: clientId === '' ? null : clientId,
      job,
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

  private async reject(
    kind: string,
    keyType: string,
    error: unknown,
    started: number,
    msg: JsMsg,
    publishError: (failure: MpcError) => Promise<void>,
  ): Promise<void> {
    const passOn = this.options.passOnDeliveries ?? 0;
    if (
      (error instanceof NotCommitteeMemberError || error instanceof KeyNotFoundError) &&
      msg.info.deliveryCount < passOn
    ) {
      this.options.log.debug({ kind }, 'no share of this wallet here: passing the request on');
      msg.nak(0);
      return;
    }
    const failure =
      error instanceof MpcError
        ? error
        : new MpcError(errorCodeOf(error), error instanceof Error ? error.message : 'failure');
    this.count(kind, keyType, failure, started);
    this.options.log.info({ kind, code: failure.code, reason: failure.message }, 'request failed');
    try {
      await publishError(failure);
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

/** Spreads load: start the list at a position derived from the operation id. */
function rotate(nodes: readonly string[], seed: string): string[] {
  if (nodes.length === 0) return [];
  const offset = createHash('sha256').update(seed).digest().readUInt32BE(0) % nodes.length;
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
