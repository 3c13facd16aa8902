/**
 * Exactly one result per operation across a nats-server crash between the result store and
 * the ack (issue 12, item 1). Real nats-server (SIGKILLed and restarted on the same store),
 * real signer processes. A test-only hook holds the coordinator after it has published the
 * success result and before it acks; the client consumes and acks that result (JetStream
 * deletes it from the WorkQueue stream `mpc`); then nats-server and the held coordinator are
 * SIGKILLed and restarted. JetStream redelivers the request after the ack wait, which the
 * test makes longer than the result stream's duplicate window: the ledger, not the window,
 * must stop a second result.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../signer/local/nats-server.ts';
import {
  ResultStreamName,
  SigningPublisherStream,
  SigningRequestConsumerName,
  SigningResultConsumerBase,
  resultConsumerDurableName,
} from '../../signer/protocol/subjects.ts';
import {
  startTestCluster,
  type TestCluster,
  natsConnectOptions,
} from '../harness/signer-cluster.ts';
import { WalletDriver, verifiesEd25519, waitUntil } from '../harness/wallet-driver.ts';
import { ResultCollector, requestsSettled } from '../harness/result-collector.ts';
import { signBody } from '../harness/raw-client.ts';

describe('exactly one result when nats-server dies between result store and ack', () => {
  let nats: NatsServerHandle;
  let test: TestCluster;
  let nc: NatsConnection;
  let driver: WalletDriver | undefined;
  let collector: ResultCollector | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'mpc-hold-'));
  const holdFile = join(dir, 'hold');

  beforeAll(async () => {
    nats = await startNatsServer();
    test = await startTestCluster(nats, {
      env: { MPC_ENABLE_FAULT_INJECTION: '1' },
      configFor: () => ({
        // Short ack wait (the redelivery is what is tested); generous session bounds, since
        // this machine may be loaded and no session failure is being tested here.
        sessions: {
          ack_wait_ms: 3000,
          round_timeout_ms: 15_000,
          direct_send_timeout_ms: 2000,
          direct_send_attempts: 3,
        },
        membership: { heartbeat_interval_ms: 250, peer_timeout_ms: 1000 },
        fault_injection: { hold_before_ack_file: holdFile },
      }),
    });
    // Admin: the test inspects and reconfigures streams as well as reading results.
    nc = await connect({
      servers: nats.url,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
      ...natsConnectOptions(nats.credentials!.admin),
    });
  });

  afterAll(async () => {
    driver?.stop();
    await collector?.stop();
    await nc?.close();
    await test?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a redelivered request gets no second result and is never signed again', async () => {
    driver = await WalletDriver.create(nc, test.initiator);
    const wallet = await driver.createWallet();
    // The client reads results from the legacy durable (created by the signers) and acks them.
    collector = new ResultCollector(nc, resultConsumerDurableName(SigningResultConsumerBase, ''));
    collector.start();
    // The redelivery must not depend on JetStream's duplicate window: shrink it far below the
    // ack wait, as if the redelivery came after a long outage (the window is 2 minutes).
    const jsm = await jetstreamManager(nc);
    await jsm.streams.update(ResultStreamName, { duplicate_window: 500 * 1_000_000 });

    writeFileSync(holdFile, '');
    const txId = randomUUID();
    const message = new TextEncoder().encode(`message ${txId}`);
    await driver.client.publishSign(
      signBody(test.initiator, {
        keyType: 'ed25519',
        walletId: wallet.walletId,
        networkInternalCode: 'test',
        txId,
        tx: message,
      }),
      txId,
    );
    await waitUntil(() => existsSync(`${holdFile}.held`), 'the coordinator to hold before its ack');
    const coordinator = readFileSync(`${holdFile}.held`, 'utf8');
    // The client has the result and has acked it: the stream no longer holds it.
    await waitUntil(() => collector!.matching('tx_id', txId).length === 1, 'the first result');
    await waitUntil(() => collector!.settled(), 'the client to ack the first result');

    await nats.kill(true);
    await test.cluster.kill(coordinator);
    rmSync(holdFile);
    await nats.restart();
    await test.cluster.start(coordinator);
    await test.cluster.waitForReady(3, 30_000);

    // The request (never acked) is redelivered after the ack wait and acked this time. A
    // result is published before its request is acked, so once the request durable is
    // settled and the result durable too, every result there will be is in the collector.
    await waitUntil(
      () => requestsSettled(nc, SigningPublisherStream, SigningRequestConsumerName),
      'the redelivered request to be acked',
      60_000,
    );
    await waitUntil(() => collector!.settled(), 'every result to be consumed', 30_000);

    const results = collector.matching('tx_id', txId);
    expect(results.map((result) => result.streamSeq)).toHaveLength(1);
    const [only] = results as [(typeof results)[number]];
    expect(only.body['result_type']).toBe('success');
    expect(verifiesEd25519(wallet.publicKey, message, only.body['signature'] as string)).toBe(true);
  });
});
