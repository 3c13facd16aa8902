/**
 * Every bad request gets exactly one error result with its precise code within a bounded
 * wait, and the cluster keeps serving (issue 2 §8). Also: ClientID routing with two clients.
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  RawClient,
  signBody,
  signRaw,
  newEd25519Initiator,
  type ResultWatcher,
} from '../harness/raw-client.ts';
import { startTestCluster, type TestCluster } from '../harness/signer-cluster.ts';
import { WalletDriver, verifiesEd25519 } from '../harness/wallet-driver.ts';

const encoder = new TextEncoder();

describe('bad input and result routing', () => {
  let test: TestCluster;
  let nc: NatsConnection;
  let driver: WalletDriver;
  let wallet: { walletId: string; publicKey: Uint8Array };

  beforeAll(async () => {
    test = await startTestCluster(inject('natsUrl'));
    nc = await connect({ servers: inject('natsUrl') });
    driver = await WalletDriver.create(nc, test.initiator);
    wallet = await driver.createWallet();
  });

  afterAll(async () => {
    driver?.stop();
    await nc?.close();
    await test?.stop();
  });

  async function expectOneError(txId: string, code: string): Promise<Record<string, unknown>> {
    const result = await driver.waitForResult(txId);
    expect(result).toMatchObject({
      result_type: 'error',
      error_code: code,
      tx_id: txId,
      signature: null,
    });
    return result;
  }

  function body(fields: Record<string, unknown>): Uint8Array {
    return encoder.encode(JSON.stringify(fields));
  }

  it('malformed JSON → ERROR_UNMARSHAL_FAILURE', async () => {
    // Not JSON at all: no tx id can be salvaged, so the result has an empty tx_id.
    const before = driver.signingResults.received.length;
    await driver.client.publishSign(encoder.encode('{"tx_id": "broken", '));
    const result = await driver.signingResults.waitFor(
      (r) =>
        driver.signingResults.received.indexOf(r) >= before &&
        r['error_code'] === 'ERROR_UNMARSHAL_FAILURE',
    );
    expect(result['result_type']).toBe('error');
  });

  it('missing or wrong initiator signature → ERROR_INVALID_INITIATOR_SIGNATURE', async () => {
    const txId = randomUUID();
    const fields = {
      keyType: 'ed25519' as const,
      walletId: wallet.walletId,
      networkInternalCode: 'n',
      txId,
      tx: encoder.encode('x'),
    };
    const unsigned = JSON.parse(
      new TextDecoder().decode(signBody(test.initiator, fields)),
    ) as Record<string, unknown>;
    delete unsigned['signature'];
    await driver.client.publishSign(body(unsigned));
    await expectOneError(txId, 'ERROR_INVALID_INITIATOR_SIGNATURE');

    const otherTx = randomUUID();
    const stranger = newEd25519Initiator();
    await driver.client.publishSign(signBody(stranger, { ...fields, txId: otherTx }));
    await expectOneError(otherTx, 'ERROR_INVALID_INITIATOR_SIGNATURE');
  });

  it('unknown wallet → ERROR_KEY_NOT_FOUND', async () => {
    const txId = randomUUID();
    await driver.client.publishSign(
      signBody(test.initiator, {
        keyType: 'ed25519',
        walletId: `missing-${txId}`,
        networkInternalCode: 'n',
        txId,
        tx: encoder.encode('x'),
      }),
    );
    await expectOneError(txId, 'ERROR_KEY_NOT_FOUND');
  });

  it('unsupported key type → ERROR_MSG_VALIDATION', async () => {
    const txId = randomUUID();
    const raw = JSON.parse(
      new TextDecoder().decode(
        signRaw({
          keyType: 'ed25519',
          walletId: wallet.walletId,
          networkInternalCode: 'n',
          txId,
          tx: encoder.encode('x'),
        }),
      ),
    ) as Record<string, unknown>;
    raw['key_type'] = 'rsa';
    const signature = test.initiator.sign(encoder.encode(JSON.stringify(raw)));
    await driver.client.publishSign(
      body({ ...raw, signature: Buffer.from(signature).toString('base64') }),
    );
    const result = await expectOneError(txId, 'ERROR_MSG_VALIDATION');
    expect(String(result['error_reason'])).toContain('key_type');
  });

  it('oversized tx → ERROR_MSG_VALIDATION naming tx', async () => {
    const txId = randomUUID();
    await driver.client.publishSign(
      signBody(test.initiator, {
        keyType: 'ed25519',
        walletId: wallet.walletId,
        networkInternalCode: 'n',
        txId,
        tx: new Uint8Array(20_000),
      }),
    );
    const result = await expectOneError(txId, 'ERROR_MSG_VALIDATION');
    expect(String(result['error_reason'])).toContain('tx');
  });

  it('duplicate tx_id with a different request → ERROR_SESSION_DUPLICATE; the first stands', async () => {
    const txId = randomUUID();
    const first = {
      keyType: 'ed25519' as const,
      walletId: wallet.walletId,
      networkInternalCode: 'n',
      txId,
      tx: encoder.encode('first'),
    };
    await driver.client.publishSign(signBody(test.initiator, first));
    const firstResult = await driver.waitForResult(txId);
    expect(firstResult['result_type']).toBe('success');
    await driver.client.publishSign(
      signBody(test.initiator, { ...first, tx: encoder.encode('second') }),
    );
    await driver.signingResults.waitFor((r) => r['tx_id'] === txId && r['result_type'] === 'error');
    const results = driver.resultsFor(txId);
    expect(results).toHaveLength(2);
    expect(results[1]).toMatchObject({ error_code: 'ERROR_SESSION_DUPLICATE' });
  });

  it('keeps serving after all of the above', async () => {
    const { txId, message } = await driver.requestSignature(wallet.walletId);
    const result = await driver.waitForResult(txId);
    expect(result['result_type']).toBe('success');
    expect(verifiesEd25519(wallet.publicKey, message, result['signature'] as string)).toBe(true);
  });

  it('two clients with different ClientIDs each receive only their own results', async () => {
    const alice = new RawClient(nc, 'alice-svc');
    const bob = new RawClient(nc, 'bob-svc');
    const aliceResults: ResultWatcher = alice.watchResults(
      'mpc.mpc_signing_result.alice-svc.complete',
    );
    const bobResults: ResultWatcher = bob.watchResults('mpc.mpc_signing_result.bob-svc.complete');
    try {
      const sends = Array.from({ length: 6 }, (_, index) => {
        const txId = `${index % 2 === 0 ? 'alice' : 'bob'}-${randomUUID()}`;
        const client = index % 2 === 0 ? alice : bob;
        return {
          txId,
          client,
          done: client.publishSign(
            signBody(test.initiator, {
              keyType: 'ed25519',
              walletId: wallet.walletId,
              networkInternalCode: 'n',
              txId,
              tx: encoder.encode(txId),
            }),
          ),
        };
      });
      await Promise.all(sends.map((send) => send.done));
      for (const send of sends) {
        const watcher = send.client === alice ? aliceResults : bobResults;
        const result = await watcher.waitFor((r) => r['tx_id'] === send.txId);
        expect(result['result_type']).toBe('success');
      }
      expect(aliceResults.received.every((r) => String(r['tx_id']).startsWith('alice-'))).toBe(
        true,
      );
      expect(bobResults.received.every((r) => String(r['tx_id']).startsWith('bob-'))).toBe(true);
      expect(aliceResults.received).toHaveLength(3);
      expect(bobResults.received).toHaveLength(3);
    } finally {
      aliceResults.stop();
      bobResults.stop();
    }
  });
});
