/**
 * Ed25519 wallets end to end with three real signer processes (2-of-3) on a real NATS
 * server, driven by a raw mpcium-wire client; signatures checked with node:crypto and noble.
 */
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deriveEd25519Child } from '../../signer/crypto/hd/index.ts';
import { RawClient, keygenBody, signBody, type ResultWatcher } from '../harness/raw-client.ts';
import { startTestCluster, type TestCluster } from '../harness/signer-cluster.ts';

function verifyWithNode(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
    format: 'jwk',
  });
  return verify(null, message, key, signature);
}

/** Signing batch sessions the cluster's signers coordinated so far. */
async function batchSessions(test: TestCluster): Promise<number> {
  const counts = await Promise.all(
    test.cluster.signers.map((signer) =>
      test.cluster.metric(signer.nodeId, 'mpc_signing_batch_requests_count'),
    ),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

describe('Ed25519 wallet end to end (3 signers, threshold 1)', () => {
  let test: TestCluster;
  let nc: NatsConnection;
  let client: RawClient;
  let keygenResults: ResultWatcher;
  let signingResults: ResultWatcher;
  const walletId = `wallet-${randomUUID()}`;
  let publicKey: Uint8Array;

  beforeAll(async () => {
    test = await startTestCluster(inject('natsUrl'));
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

  it('creates a wallet with a DKG among all signers', async () => {
    await client.publishKeygen(keygenBody(test.initiator, walletId), walletId);
    const result = await keygenResults.waitFor((r) => r['wallet_id'] === walletId, 90_000);
    expect(result).toMatchObject({ result_type: 'success', error_code: '' });
    publicKey = new Uint8Array(Buffer.from(result['eddsa_pub_key'] as string, 'base64'));
    expect(publicKey).toHaveLength(32);
    expect(() => ed25519.Point.fromBytes(publicKey)).not.toThrow();
  });

  it('signs a message with 2 of 3 signers and the signature verifies independently', async () => {
    const message = new TextEncoder().encode('hello threshold world');
    const txId = randomUUID();
    const fields = {
      keyType: 'ed25519' as const,
      walletId,
      networkInternalCode: 'solana-devnet',
      txId,
      tx: message,
    };
    await client.publishSign(signBody(test.initiator, fields), txId);
    const result = await signingResults.waitFor((r) => r['tx_id'] === txId);
    expect(result).toMatchObject({
      result_type: 'success',
      wallet_id: walletId,
      network_internal_code: 'solana-devnet',
      r: null,
      s: null,
    });
    const signature = new Uint8Array(Buffer.from(result['signature'] as string, 'base64'));
    expect(verifyWithNode(publicKey, message, signature)).toBe(true);
    expect(ed25519.verify(signature, message, publicKey)).toBe(true);
  });

  it('signs messages with leading zero bytes as sent (mpcium strips them)', async () => {
    const message = Uint8Array.of(0, 0, 1, 2, 3);
    const txId = randomUUID();
    await client.publishSign(
      signBody(test.initiator, {
        keyType: 'ed25519',
        walletId,
        networkInternalCode: 'n',
        txId,
        tx: message,
      }),
      txId,
    );
    const result = await signingResults.waitFor((r) => r['tx_id'] === txId);
    expect(result['result_type']).toBe('success');
    const signature = new Uint8Array(Buffer.from(result['signature'] as string, 'base64'));
    expect(verifyWithNode(publicKey, message, signature)).toBe(true);
  });

  it('signs a burst of concurrent requests in shared sessions, each signature its own', async () => {
    // 60 requests at once outpace the sessions (2 per signing set per coordinator), so the
    // queued ones share sessions (issue 15 batching). Every request still gets exactly one
    // result, signed over its own message under its own (derived) key.
    const batchesBefore = await batchSessions(test);
    const chainCode = new Uint8Array(Buffer.from(test.cluster.chainCodeHex, 'hex'));
    const requests = Array.from({ length: 60 }, (_, index) => ({
      txId: randomUUID(),
      tx: new TextEncoder().encode(`burst ${index}`),
      ...(index % 3 === 0 ? { derivationPath: [44, 501, index] } : {}),
    }));
    await client.publishSignBurst(
      test.initiator,
      { keyType: 'ed25519', walletId, networkInternalCode: 'n' },
      requests,
    );
    for (const { txId, tx, derivationPath } of requests) {
      const result = await signingResults.waitFor((r) => r['tx_id'] === txId, 60_000);
      expect(result).toMatchObject({ result_type: 'success', error_code: '' });
      const key =
        derivationPath === undefined
          ? publicKey
          : deriveEd25519Child(publicKey, chainCode, derivationPath).publicKey;
      const signature = new Uint8Array(Buffer.from(result['signature'] as string, 'base64'));
      expect(verifyWithNode(key, tx, signature)).toBe(true);
      expect(ed25519.verify(signature, tx, key)).toBe(true);
    }
    for (const { txId } of requests) {
      expect(signingResults.received.filter((r) => r['tx_id'] === txId)).toHaveLength(1);
    }
    expect(await batchSessions(test)).toBeGreaterThan(batchesBefore);
  });

  it('never writes the KEK or the chain code to a signer log', () => {
    const secrets = [test.cluster.chainCodeHex];
    for (const signer of test.cluster.signers) {
      secrets.push(readFileSync(join(signer.dataDir, '..', `${signer.nodeId}.kek`), 'utf8').trim());
    }
    for (const signer of test.cluster.signers) {
      const log = readFileSync(test.cluster.logFile(signer.nodeId), 'utf8');
      expect(log.length).toBeGreaterThan(0);
      for (const secret of secrets) expect(log).not.toContain(secret);
    }
  });

  it('answers a re-sent identical request with the first result', async () => {
    const txId = randomUUID();
    const body = signBody(test.initiator, {
      keyType: 'ed25519',
      walletId,
      networkInternalCode: 'n',
      txId,
      tx: new TextEncoder().encode('idempotent'),
    });
    await client.publishSign(body, txId);
    const first = await signingResults.waitFor((r) => r['tx_id'] === txId);
    await client.publishSign(body, txId);
    await signingResults.waitFor(
      (r) =>
        r['tx_id'] === txId &&
        signingResults.received.filter((x) => x['tx_id'] === txId).length >= 2,
    );
    const all = signingResults.received.filter((x) => x['tx_id'] === txId);
    expect(all).toHaveLength(2);
    expect(all[1]).toEqual(first);
  });
});
