/**
 * Safety net for "every request gets a result" (contract §1.7, §10.9): when JetStream gives
 * up on a request (max deliveries reached, e.g. coordinators kept crashing on it), one
 * signer turns the server's advisory into an error result with `is_timeout: true` and
 * `ERROR_MAX_DELIVERY_ATTEMPTS`. A queue group makes exactly one signer handle each advisory;
 * the result's Nats-Msg-Id is the one a coordinator would have used for that delivery, so a
 * late normal result and this one collapse into one.
 *
 * Advisories are trusted only from the server. NATS permissions (README, "NATS permissions")
 * keep clients and signers from publishing on `$JS.EVENT.>`; as a second line of defence a
 * signer double-checks before it answers, and publishes nothing when any check fails
 * (`checkAdvisory`):
 * - the advisory names one of our request durables and a positive stream sequence, and the
 *   message at that sequence still exists in the request stream;
 * - the durable has delivered that sequence (`delivered.stream_seq >= seq`) and has not
 *   acknowledged it (`ack_floor.stream_seq < seq`): an acked request was answered;
 * - the request carries a valid ClientID and readable operation ids (requests without are
 *   answered or terminated at once and never reach max deliveries);
 * - the operation ledger holds no result for the operation (`done`: never publish after a
 *   result exists) and no claim by a live signer (`running`: the request is in flight).
 * The error result is then written ahead into the ledger like every result
 * (`OperationLedger.recordUnclaimed`, a compare-and-set that repeats the ledger checks), and
 * published only when that write took it: a coordinator that was taken for dead but still
 * finishes later finds this answer and replays it rather than publishing a second result,
 * however long after JetStream's duplicate window.
 * Residual gap: the ack floor of a busy durable may move past a genuinely exhausted message
 * before the check runs; that advisory is then skipped (no result rather than a wrong one).
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.ts';
import { operationKey, type OperationLedger } from './operation-ledger.ts';
import {
  encodeKeygenResult,
  encodeResharingResult,
  encodeSigningResult,
  salvageRequestIds,
} from '../protocol/messages.ts';
import {
  KeygenBrokerStream,
  KeygenRequestConsumerName,
  ReshareRequestConsumerName,
  ReshareRequestStream,
  SigningPublisherStream,
  SigningRequestConsumerName,
  isSubjectToken,
  keygenResultMessageId,
  keygenResultSubject,
  readClientIdHeader,
  reshareResultMessageId,
  reshareResultSubject,
  signingResultMessageId,
  signingResultSubject,
} from '../protocol/subjects.ts';

interface MaxDeliveriesAdvisory {
  readonly stream?: unknown;
  readonly consumer?: unknown;
  readonly stream_seq?: unknown;
}

/** Why an advisory is not answered, by what the ledger holds (the same from peek and write). */
const LEDGER_REASONS = {
  answered: 'the request has a result',
  done: 'the operation has a result',
  running: 'the request is in flight',
} as const;

/** What the double-check needs; injected so tests can drive it without a signer. */
export interface AdvisoryCheckOptions {
  readonly jsm: JetStreamManager;
  readonly ledger: Pick<OperationLedger, 'peek'>;
  /** True when a signer is live (its ledger claim means the request is in flight). */
  readonly isLive: (node: string) => boolean;
}

export type AdvisoryVerdict =
  | {
      readonly kind: 'answer';
      readonly request: 'sign' | 'keygen' | 'reshare';
      readonly stream: string;
      readonly seq: number;
      readonly clientId: string;
      readonly ids: ReturnType<typeof salvageRequestIds>;
      /** The operation's ledger key. */
      readonly key: string;
    }
  | { readonly kind: 'ignore'; readonly reason: string };

/** The double-check of the module header; never throws for bad input, only for NATS errors. */
export async function checkAdvisory(
  advisory: MaxDeliveriesAdvisory,
  options: AdvisoryCheckOptions,
): Promise<AdvisoryVerdict> {
  const { stream, consumer, stream_seq: seq } = advisory;
  const ignore = (reason: string): AdvisoryVerdict => ({ kind: 'ignore', reason });
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= 0) {
    return ignore('no valid stream_seq');
  }
  let request: 'sign' | 'keygen' | 'reshare';
  if (stream === SigningPublisherStream && consumer === SigningRequestConsumerName) {
    request = 'sign';
  } else if (stream === KeygenBrokerStream && consumer === KeygenRequestConsumerName) {
    request = 'keygen';
  } else if (stream === ReshareRequestStream && consumer === ReshareRequestConsumerName) {
    request = 'reshare';
  } else return ignore('not one of our request durables');
  const { jsm, ledger, isLive } = options;
  const stored = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
  if (stored === null) return ignore('no such message');
  const info = await jsm.consumers.info(stream, consumer);
  if (info.delivered.stream_seq < seq) return ignore('never delivered');
  if (info.ack_floor.stream_seq >= seq) return ignore('already acknowledged');
  const client = readClientIdHeader(stored.header);
  if (client === undefined) return ignore('invalid ClientID');
  const { clientId } = client;
  const ids = salvageRequestIds(stored.data);
  const operation =
    request === 'sign'
      ? ids.walletId !== '' && ids.txId !== ''
        ? `${ids.walletId}\n${ids.txId}`
        : ''
      : request === 'keygen'
        ? ids.walletId
        : ids.sessionId;
  if (!isSubjectToken(request === 'sign' ? ids.txId : operation)) {
    return ignore('unreadable operation id');
  }
  const key = operationKey(request, clientId, operation);
  const state = await ledger.peek(key, seq);
  if (state.kind === 'answered' || state.kind === 'done') return ignore(LEDGER_REASONS[state.kind]);
  if (state.kind === 'running' && isLive(state.node)) return ignore(LEDGER_REASONS.running);
  return { kind: 'answer', request, stream, seq, clientId, ids, key };
}

/** The error result for an advisory the check let through, with its `Nats-Msg-Id`. */
function advisoryResult(verdict: Extract<AdvisoryVerdict, { kind: 'answer' }>): {
  readonly subject: string;
  readonly body: Uint8Array;
  readonly messageId: string;
} {
  const { request, seq, clientId, ids } = verdict;
  const reason = 'maximum delivery attempts exceeded';
  if (request === 'sign') {
    return {
      subject: signingResultSubject(clientId),
      body: encodeSigningResult({
        resultType: 'error',
        walletId: ids.walletId,
        txId: ids.txId,
        networkInternalCode: ids.networkInternalCode,
        errorCode: ErrorCode.MaxDeliveryAttempts,
        errorReason: `Signing failed: ${reason}`,
        isTimeout: true,
      }),
      messageId: signingResultMessageId(clientId, ids.txId, String(seq)),
    };
  }
  if (request === 'reshare') {
    return {
      subject: reshareResultSubject(clientId, ids.sessionId),
      body: encodeResharingResult({
        resultType: 'error',
        walletId: ids.walletId,
        newThreshold: 0,
        keyType: ids.keyType,
        errorCode: ErrorCode.MaxDeliveryAttempts,
        errorReason: `Resharing failed: ${reason}`,
      }),
      messageId: reshareResultMessageId(clientId, `${ids.sessionId}:${seq}`),
    };
  }
  return {
    subject: keygenResultSubject(clientId, ids.walletId),
    body: encodeKeygenResult({
      resultType: 'error',
      walletId: ids.walletId,
      errorCode: ErrorCode.MaxDeliveryAttempts,
      errorReason: `Key generation failed: ${reason}`,
    }),
    messageId: keygenResultMessageId(clientId, ids.walletId, String(seq)),
  };
}

export function watchMaxDeliveryAdvisories(options: {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  ledger: Pick<OperationLedger, 'peek' | 'recordUnclaimed' | 'markPublished'>;
  isLive: (node: string) => boolean;
  log: Logger;
}): Subscription {
  const { nc, js, log } = options;
  const handle = async (advisory: MaxDeliveriesAdvisory): Promise<void> => {
    const verdict = await checkAdvisory(advisory, options);
    if (verdict.kind === 'ignore') {
      log.info({ reason: verdict.reason }, 'max-delivery advisory ignored');
      return;
    }
    const result = advisoryResult(verdict);
    const { ledger, isLive } = options;
    const { stream, seq, key } = verdict;
    const stored = await ledger.recordUnclaimed(key, seq, result, isLive);
    if (stored.kind !== 'recorded') {
      log.info({ reason: LEDGER_REASONS[stored.kind] }, 'max-delivery advisory ignored');
      return;
    }
    await js.publish(result.subject, result.body, { msgID: result.messageId });
    await ledger.markPublished(key, seq).catch((error: unknown) => {
      log.warn({ err: error }, 'publication not marked in the ledger');
    });
    log.warn({ stream, seq }, 'request gave up after max deliveries; error result published');
  };
  return nc.subscribe('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>', {
    queue: 'mpc-signers-advisories',
    callback: (error, msg) => {
      if (error !== null) return;
      let advisory: MaxDeliveriesAdvisory;
      try {
        advisory = msg.json<MaxDeliveriesAdvisory>();
      } catch {
        return;
      }
      handle(advisory).catch((failure: unknown) =>
        log.warn({ err: failure }, 'max-delivery advisory not handled'),
      );
    },
  });
}
