/**
 * Signing batches end to end (issue 15, item 2): one request that a participant refuses does
 * not fail the requests it shares a batch with. Three real signers on a real NATS server; only
 * signer 0 coordinates (test-only fault injection), and signer 2 alone requires signed
 * derivation paths (`authorization.require_signed_derivation_path`), so it refuses every
 * request without a path signature while signers 0 and 1 accept it. A burst of requests, half
 * with and half without a path signature, then gives signer 0 batches for the set {0, 2} that
 * mix requests signer 2 accepts with requests it refuses. Every signature is verified with
 * node:crypto and noble.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RawClient, keygenBody, type ResultWatcher } from '../harness/raw-client.ts';
import { startTestCluster, type TestCluster } from '../harness/signer-cluster.ts';
import { verifiesEd25519 } from '../harness/wallet-driver.ts';

describe('signing batches: one refused request does not fail the others', () => {
  let test: TestCluster;
  let nc: NatsConnection;
  let client: RawClient;
  let keygenResults: ResultWatcher;
  let signingResults: ResultWatcher;

  beforeAll(async () => {
    test = await startTestCluster(inject('natsUrl'), {
      env: { MPC_ENABLE_FAULT_INJECTION: '1' },
      configFor: (nodeId) => ({
        fault_injection: { refuse_coordination: !nodeId.endsWith('-0') },
        // Small batches: a set's queue is full at 4, so the burst spreads over both sets.
        sessions: { max_signing_batch: 4 },
        ...(nodeId.endsWith('-2')
          ? { authorization: { require_signed_derivation_path: true } }
          : {}),
      }),
    });
    nc = await connect({ servers: inject('natsUrl') });
    client = new RawClient(nc);
    keygenResults = client.watchResults('mpc.mpc_keygen_result.*');
    signingResults = client.watchResults('mpc.mpc_signing_result.complete');
  });

  afterAll(async () => {
    keygenResults?.stop();
    signingResults?.stop();
    await nc?.close();
    await test?.stop();
  });

  it('signs every request a participant accepts, and answers each refused one on its own', async () => {
    const walletId = `wallet-${randomUUID()}`;
    await client.publishKeygen(keygenBody(test.initiator, walletId), walletId);
    const keygen = await keygenResults.waitFor((r) => r['wallet_id'] === walletId, 90_000);
    expect(keygen).toMatchObject({ result_type: 'success' });
    const publicKey = new Uint8Array(Buffer.from(keygen['eddsa_pub_key'] as string, 'base64'));

    const requests = Array.from({ length: 48 }, (_, index) => ({
      txId: randomUUID(),
      tx: new TextEncoder().encode(`batch member ${index}`),
      signPath: index % 2 === 0,
    }));
    await client.publishSignBurst(
      test.initiator,
      { keyType: 'ed25519', walletId, networkInternalCode: 'n' },
      requests,
    );
    const refused: string[] = [];
    for (const { txId, tx, signPath } of requests) {
      const result = await signingResults.waitFor((r) => r['tx_id'] === txId, 60_000);
      expect(signingResults.received.filter((r) => r['tx_id'] === txId)).toHaveLength(1);
      if (signPath || result['result_type'] === 'success') {
        // Every request signer 2 accepts is signed, whoever it was batched with; one without
        // a path signature is signed too when its set was {0, 1}.
        expect(result).toMatchObject({ result_type: 'success', error_code: '' });
        const signature = result['signature'] as string;
        expect(verifiesEd25519(publicKey, tx, signature)).toBe(true);
        expect(ed25519.verify(Buffer.from(signature, 'base64'), tx, publicKey)).toBe(true);
      } else {
        // Refused by signer 2 for itself alone, with signer 2's precise reason.
        expect(result).toMatchObject({
          result_type: 'error',
          error_code: 'ERROR_INVALID_INITIATOR_SIGNATURE',
        });
        refused.push(txId);
      }
    }
    // The burst did mix refused and accepted requests in batches to signer 2: the coordinator
    // logged signing such a batch one by one (the refusals above came from those retries or
    // from lone sessions).
    expect(refused.length).toBeGreaterThan(0);
    const coordinatorLog = readFileSync(
      test.cluster.logFile(test.cluster.signers[0]!.nodeId),
      'utf8',
    );
    expect(coordinatorLog).toContain('signing batch not started; signing its requests one by one');
  });
});
