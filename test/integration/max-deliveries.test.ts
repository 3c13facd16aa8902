/**
 * The safety net still works behind the advisory double-check (issue 12 item 4): a request
 * that genuinely exhausts its deliveries still gets its ERROR_MAX_DELIVERY_ATTEMPTS result.
 * No signer coordinates here (test-only fault injection `refuse_coordination`); the test
 * plays a coordinator that keeps failing: it pulls the request from the shared durable and
 * naks it until JetStream gives up and emits the max-deliveries advisory itself.
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  SigningPublisherStream,
  SigningRequestConsumerName,
} from '../../signer/protocol/subjects.ts';
import { RawClient, signBody } from '../harness/raw-client.ts';
import {
  natsConnectOptions,
  startTestCluster,
  type TestCluster,
} from '../harness/signer-cluster.ts';

const MAX_DELIVER = 2;

describe('max deliveries', () => {
  let test: TestCluster;
  let admin: NatsConnection;

  beforeAll(async () => {
    test = await startTestCluster(inject('natsUrl'), {
      env: { MPC_ENABLE_FAULT_INJECTION: '1' },
      configFor: () => ({
        sessions: { max_deliver: MAX_DELIVER },
        fault_injection: { refuse_coordination: true },
      }),
    });
    admin = await connect({
      servers: inject('natsUrl'),
      ...natsConnectOptions(inject('natsCredentials').admin),
    });
  });

  afterAll(async () => {
    await admin?.close();
    await test?.stop();
  });

  it('a request JetStream gives up on gets an ERROR_MAX_DELIVERY_ATTEMPTS result', async () => {
    const watcher = new RawClient(admin).watchResults('mpc.mpc_signing_result.>');
    try {
      const txId = randomUUID();
      const js = jetstream(admin);
      const ack = await js.publish(
        `mpc.signing_request.${txId}`,
        signBody(test.initiator, {
          keyType: 'ed25519',
          walletId: `w-${txId}`,
          networkInternalCode: 'n',
          txId,
          tx: new TextEncoder().encode('x'),
        }),
      );
      const consumer = await js.consumers.get(SigningPublisherStream, SigningRequestConsumerName);
      let deliveries = 0;
      const deadline = Date.now() + 60_000;
      while (deliveries < MAX_DELIVER && Date.now() < deadline) {
        const msg = await consumer.next({ expires: 2000 });
        if (msg === null) continue;
        if (msg.seq !== ack.seq) {
          msg.ack(); // a leftover of an earlier suite: nobody waits for it
          continue;
        }
        deliveries += 1;
        msg.nak();
      }
      expect(deliveries).toBe(MAX_DELIVER);
      // The server notices the exhausted message when it next tries to deliver.
      await consumer.next({ expires: 1000 });

      const result = await watcher.waitFor((r) => r['tx_id'] === txId, 60_000);
      expect(result).toMatchObject({
        result_type: 'error',
        error_code: 'ERROR_MAX_DELIVERY_ATTEMPTS',
        is_timeout: true,
      });
    } finally {
      watcher.stop();
    }
  });
});
