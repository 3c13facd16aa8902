/**
 * NATS restarted during load (issue 3): in-flight sessions end with error results, later
 * requests succeed, and no signer has to be restarted. Uses its own nats-server so the
 * restart does not disturb other suites.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../signer/local/nats-server.ts';
import { startTestCluster, type TestCluster } from '../harness/signer-cluster.ts';
import { FAULT_ERROR_CODES } from '../harness/fault-error-codes.ts';
import { WalletDriver, verifiesEd25519, waitUntil } from '../harness/wallet-driver.ts';

describe('NATS server restart under load', () => {
  let nats: NatsServerHandle;
  let test: TestCluster;
  let nc: NatsConnection;
  let driver: WalletDriver;

  beforeAll(async () => {
    nats = await startNatsServer();
    // The handle carries the server's users: the signers get the signer user.
    test = await startTestCluster(nats, {
      configFor: () => ({
        sessions: {
          ack_wait_ms: 3000,
          round_timeout_ms: 2000,
          direct_send_timeout_ms: 500,
          direct_send_attempts: 2,
        },
        membership: { heartbeat_interval_ms: 250, peer_timeout_ms: 1000 },
      }),
    });
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  });

  afterAll(async () => {
    driver?.stop();
    await nc?.close();
    await test?.stop();
    await nats?.stop();
  });

  it('every request gets one result and signing works afterwards without restarting signers', async () => {
    driver = await WalletDriver.create(nc, test.initiator);
    const wallet = await driver.createWallet();
    const pids = test.cluster.signers.map((signer) => signer.process?.pid);

    const before: { txId: string; message: Uint8Array }[] = [];
    for (let index = 0; index < 20; index++)
      before.push(await driver.requestSignature(wallet.walletId));
    await nats.kill(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await nats.restart();

    // The test's own watchers are ordered consumers; recreate them on the restarted server.
    driver.stop();
    driver = await WalletDriver.create(nc, test.initiator);
    await test.cluster.waitForReady(3, 30_000);

    // Later requests succeed. Right after the restart a signer's subscriptions may still be
    // re-registering, so a request may fail fast with an error result; a client retries (a
    // bounded number of fresh requests, each answered exactly once).
    let success: { result: Record<string, unknown>; message: Uint8Array } | undefined;
    for (let attempt = 0; attempt < 5 && success === undefined; attempt++) {
      const after = await driver.requestSignature(wallet.walletId, 30_000);
      const result = await driver.waitForResult(after.txId, 60_000);
      if (result['result_type'] === 'success') success = { result, message: after.message };
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(success, 'a signing request succeeded after the restart').toBeDefined();
    expect(
      verifiesEd25519(wallet.publicKey, success!.message, success!.result['signature'] as string),
    ).toBe(true);
    expect(test.cluster.signers.map((signer) => signer.process?.pid)).toEqual(pids);
    // Requests published before the restart were persisted by JetStream: each got exactly one
    // result, a signature that verifies or an error for a session the restart cut short.
    const stored = (): Promise<Record<string, unknown>[]> =>
      driver.client.storedResults('mpc.mpc_signing_result.complete');
    await waitUntil(
      async () => {
        const results = await stored();
        return before.every((request) => results.some((r) => r['tx_id'] === request.txId));
      },
      'a result for every request sent before the restart',
      60_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const results = await stored();
    for (const request of before) {
      const mine = results.filter((r) => r['tx_id'] === request.txId);
      expect(mine).toHaveLength(1);
      const [only] = mine as [Record<string, unknown>];
      if (only['result_type'] === 'success') {
        expect(
          verifiesEd25519(wallet.publicKey, request.message, only['signature'] as string),
        ).toBe(true);
      } else {
        // A session the restart cut short, or one a participant stopped because a redelivery
        // of the same request started a newer one (README "Failure semantics").
        expect(FAULT_ERROR_CODES).toContain(only['error_code']);
      }
    }
  });
});
