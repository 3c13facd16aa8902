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
import { RawClient, keygenBody } from '../harness/raw-client.ts';
import { Kvm } from '@nats-io/kv';
import { LEDGER_BUCKET, operationKey } from '../../signer/service/operation-ledger.ts';

describe('exactly one result when nats-server dies between result store and ack', () => {
  let nats: NatsServerHandle;
  let test: TestCluster;
  let nc: NatsConnection;
  let driver: WalletDriver | undefined;
  let collector: ResultCollector | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'mpc-hold-'));
  const holdFile = join(dir, 'hold');
  const markFile = join(dir, 'hold-mark');

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
        fault_injection: { hold_before_ack_file: holdFile, hold_before_mark_file: markFile },
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
    for (const signer of test?.cluster.signers ?? []) signer.process?.kill('SIGCONT');
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
    const { txId, message } = await driver.requestSignature(wallet.walletId);
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
  it('a redelivery waits for the mark of a result another coordinator confirmed before nats-server died', async () => {
    // The coordinator holds after JetStream confirmed its result and before marking it
    // published; the client consumes the result (deleted from the WorkQueue stream). Then the
    // coordinator stalls (SIGSTOP, so it sends no `working`) and nats-server crashes and
    // restarts: it no longer knows the result's Nats-Msg-Id, and the request goes to another
    // signer after the ack wait. That signer must wait for the mark, not publish again.
    driver ??= await WalletDriver.create(nc, test.initiator);
    const wallet = await driver.createWallet();
    if (collector === undefined) {
      collector = new ResultCollector(nc, resultConsumerDurableName(SigningResultConsumerBase, ''));
      collector.start();
    }
    const jsm = await jetstreamManager(nc);
    const consumerInfo = () =>
      jsm.consumers.info(SigningPublisherStream, SigningRequestConsumerName).catch(() => undefined);
    const deliveries = async (): Promise<number> =>
      (await consumerInfo())?.delivered.consumer_seq ?? 0;
    /** When the consumer last delivered a message (ms since epoch; NaN when unknown). */
    const lastDelivery = async (): Promise<number> => {
      const at: unknown = (await consumerInfo())?.delivered.last_active;
      return typeof at === 'string' ? Date.parse(at) : Number.NaN;
    };

    writeFileSync(markFile, '');
    const { txId, message } = await driver.requestSignature(wallet.walletId);
    await waitUntil(
      () => existsSync(`${markFile}.held`),
      'the coordinator to hold before its mark',
    );
    const coordinator = readFileSync(`${markFile}.held`, 'utf8');
    await waitUntil(() => collector!.matching('tx_id', txId).length === 1, 'the first result');
    await waitUntil(() => collector!.settled(), 'the client to ack the first result');

    const deliveredBefore = await deliveries();
    await test.cluster.signal(coordinator, 'SIGSTOP');
    try {
      await nats.kill(true);
      await nats.restart();
      const restartedAt = Date.now();
      // A SIGKILLed nats-server may restore the consumer's delivered count from a little
      // before the kill, so the count alone need not pass the one read before; a delivery
      // after the restart is the redelivery too (the stopped coordinator pulls nothing).
      const deliveredAfterRestart = await deliveries();
      // Another signer gets the request once the ack wait has passed.
      await waitUntil(
        async () => {
          const delivered = await deliveries();
          return (
            delivered > deliveredBefore ||
            delivered > deliveredAfterRestart ||
            (await lastDelivery()) >= restartedAt
          );
        },
        'the request to be redelivered',
        30_000,
      ).catch(async (error: unknown) => {
        process.stderr.write(
          `request consumer when the redelivery was not seen (delivered before: ${deliveredBefore}, after the restart: ${deliveredAfterRestart}): ${JSON.stringify(await consumerInfo())}\n`,
        );
        throw error;
      });
    } finally {
      // Never leave the coordinator stopped for the next test, pass or fail.
      rmSync(markFile, { force: true });
      await test.cluster.signal(coordinator, 'SIGCONT');
    }

    await waitUntil(
      () => requestsSettled(nc, SigningPublisherStream, SigningRequestConsumerName),
      'the request to be acked',
      60_000,
    );
    await waitUntil(() => collector!.settled(), 'every result to be consumed', 30_000);
    const results = collector.matching('tx_id', txId);
    expect(results.map((result) => result.streamSeq)).toHaveLength(1);
    const [only] = results as [(typeof results)[number]];
    expect(verifiesEd25519(wallet.publicKey, message, only.body['signature'] as string)).toBe(true);
  });
  it('a keygen whose result was lost is answered with the keys it created, to its own client only', async () => {
    // The keygen's session completed on every signer, but its coordinator crashed before the
    // ledger took the result: the request is redelivered to a signer that finds no answer.
    // Simulated by removing the ledger entry of a completed keygen and sending it again.
    driver ??= await WalletDriver.create(nc, test.initiator);
    const watcher = new RawClient(nc);
    const keygens = watcher.watchResults('mpc.mpc_keygen_result.>');
    try {
      const wallet = await driver.createWallet();
      const ledger = await new Kvm(nc).open(LEDGER_BUCKET);
      await ledger.purge(operationKey('keygen', '', wallet.walletId));

      await driver.client.publishKeygen(
        keygenBody(test.initiator, wallet.walletId),
        wallet.walletId,
      );
      const forWallet = (): Record<string, unknown>[] =>
        keygens.received.filter((r) => r['wallet_id'] === wallet.walletId);
      await waitUntil(() => forWallet().length >= 2, 'the second keygen result', 90_000);
      const again = forWallet()[1] as Record<string, unknown>;
      expect(again['result_type'], String(again['error_reason'])).toBe('success');
      expect(new Uint8Array(Buffer.from(again['eddsa_pub_key'] as string, 'base64'))).toEqual(
        wallet.publicKey,
      );

      // Another client naming the same wallet id learns nothing but that it exists.
      await new RawClient(nc, 'another-client').publishKeygen(
        keygenBody(test.initiator, wallet.walletId),
        wallet.walletId,
      );
      const other = await keygens.waitFor(
        (r) =>
          r['wallet_id'] === wallet.walletId &&
          (r as { __subject?: string }).__subject ===
            `mpc.mpc_keygen_result.another-client.${wallet.walletId}`,
        90_000,
      );
      expect(other['result_type']).toBe('error');
      expect(other['error_code']).toBe('ERROR_KEY_ALREADY_EXISTS');
    } finally {
      keygens.stop();
    }
  });
});
