/**
 * Safety net for "every request gets a result" (contract §1.7, §10.9): when JetStream gives
 * up on a request (max deliveries reached, e.g. coordinators kept crashing on it), one
 * signer turns the server's advisory into an error result with `is_timeout: true` and
 * `ERROR_MAX_DELIVERY_ATTEMPTS`. A queue group makes exactly one signer handle each advisory;
 * the result's Nats-Msg-Id is the one a coordinator would have used for that delivery, so a
 * late normal result and this one collapse into one.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.ts';
import {
  encodeKeygenResult,
  encodeResharingResult,
  encodeSigningResult,
  salvageRequestIds,
} from '../protocol/messages.ts';
import {
  ClientIdHeader,
  KeygenBrokerStream,
  KeygenRequestConsumerName,
  ReshareRequestConsumerName,
  ReshareRequestStream,
  SigningPublisherStream,
  SigningRequestConsumerName,
  keygenResultMessageId,
  keygenResultSubject,
  reshareResultMessageId,
  reshareResultSubject,
  signingResultMessageId,
  signingResultSubject,
} from '../protocol/subjects.ts';

interface MaxDeliveriesAdvisory {
  readonly stream?: string;
  readonly consumer?: string;
  readonly stream_seq?: number;
}

export function watchMaxDeliveryAdvisories(options: {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  log: Logger;
}): Subscription {
  const { nc, js, jsm, log } = options;
  const handle = async (advisory: MaxDeliveriesAdvisory): Promise<void> => {
    const { stream, consumer, stream_seq: seq } = advisory;
    if (seq === undefined) return;
    const isSigning = stream === SigningPublisherStream && consumer === SigningRequestConsumerName;
    const isKeygen = stream === KeygenBrokerStream && consumer === KeygenRequestConsumerName;
    const isReshare = stream === ReshareRequestStream && consumer === ReshareRequestConsumerName;
    if (!isSigning && !isKeygen && !isReshare) return;
    const stored = await jsm.streams.getMessage(stream, { seq });
    if (stored === null) return;
    const clientId = stored.header?.get(ClientIdHeader) ?? '';
    const ids = salvageRequestIds(stored.data);
    const reason = 'maximum delivery attempts exceeded';
    if (isSigning) {
      const body = encodeSigningResult({
        resultType: 'error',
        walletId: ids.walletId,
        txId: ids.txId,
        networkInternalCode: ids.networkInternalCode,
        errorCode: ErrorCode.MaxDeliveryAttempts,
        errorReason: `Signing failed: ${reason}`,
        isTimeout: true,
      });
      await js.publish(signingResultSubject(clientId), body, {
        msgID: signingResultMessageId(clientId, ids.txId, String(seq)),
      });
    } else if (isReshare) {
      if (ids.sessionId === '') return; // no subject to answer on (mpcium drops these too)
      const body = encodeResharingResult({
        resultType: 'error',
        walletId: ids.walletId,
        newThreshold: 0,
        keyType: ids.keyType,
        errorCode: ErrorCode.MaxDeliveryAttempts,
        errorReason: `Resharing failed: ${reason}`,
      });
      await js.publish(reshareResultSubject(clientId, ids.sessionId), body, {
        msgID: reshareResultMessageId(clientId, `${ids.sessionId}:${seq}`),
      });
    } else {
      const body = encodeKeygenResult({
        resultType: 'error',
        walletId: ids.walletId,
        errorCode: ErrorCode.MaxDeliveryAttempts,
        errorReason: `Key generation failed: ${reason}`,
      });
      await js.publish(keygenResultSubject(clientId, ids.walletId), body, {
        msgID: keygenResultMessageId(clientId, ids.walletId, String(seq)),
      });
    }
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
