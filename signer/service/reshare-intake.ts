/**
 * Durable intake for `mpc:reshare` (contract §5.4). mpcium clients publish resharing requests
 * on core NATS, where a message nobody receives is lost and every node would act on it. Each
 * signer subscribes in one queue group, so exactly one of them receives each message and
 * persists it into our request stream `mpc-reshare` (with the client's `ClientID` header);
 * from there a coordinator takes it like any other request, with acks and redelivery.
 *
 * `Nats-Msg-Id` = hash of (ClientID, body): a client that re-sends the same request within
 * JetStream's duplicate window does not start a second session (later identical re-sends are
 * answered from the operation ledger).
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { MAX_REQUEST_BODY_BYTES } from '../protocol/messages.ts';
import {
  ClientIdHeader,
  MpcReshareEvent,
  ReshareIntakeQueue,
  reshareRequestMessageId,
  reshareRequestSubject,
} from '../protocol/subjects.ts';

export function forwardReshareRequests(options: {
  nc: NatsConnection;
  js: JetStreamClient;
  log: Logger;
}): Subscription {
  const { nc, js, log } = options;
  return nc.subscribe(MpcReshareEvent, {
    queue: ReshareIntakeQueue,
    callback: (error, msg) => {
      if (error !== null) return;
      if (msg.data.length > MAX_REQUEST_BODY_BYTES) {
        log.warn({ bytes: msg.data.length }, 'oversized resharing request dropped');
        return;
      }
      const clientId = msg.headers?.get(ClientIdHeader) ?? '';
      const messageId = reshareRequestMessageId(clientId, msg.data);
      const forwarded = headers();
      if (clientId !== '') forwarded.set(ClientIdHeader, clientId);
      js.publish(reshareRequestSubject(messageId.slice(-16)), msg.data, {
        msgID: messageId,
        headers: forwarded,
      }).catch((failure: unknown) => {
        log.error({ err: failure }, 'resharing request not persisted; it is lost');
      });
    },
  });
}
