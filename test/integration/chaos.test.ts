/**
 * Chaos (issue 12, item 6): a bounded, randomised mix of Ed25519 and secp256k1 signing
 * requests and a keygen against 3 real signers (threshold 1) on a real nats-server, while
 * every fault class is injected at random moments: SIGKILL of a signer and restart, SIGSTOP /
 * SIGCONT of a signer for a few seconds, SIGKILL of nats-server and restart on the same store.
 *
 * Faults do not overlap: each strikes a fresh batch of requests once the previous fault's
 * requests are all answered and acked (README "Exactly once" names what two overlapping
 * crashes can repeat).
 *
 * Asserted: every request is answered exactly once (distinct messages in stream `mpc`, read
 * through durable consumers that ack like a client), every success verifies with code
 * independent of the signers (node:crypto for Ed25519, @noble/curves for secp256k1), and
 * every error carries one of the codes documented for these faults (`FAULT_ERROR_CODES`).
 *
 * The run is reproducible from its printed seed: `MPC_CHAOS_SEED=<seed>`; `MPC_CHAOS_REQUESTS`
 * changes the number of signing requests (default 200).
 */
import { createPublicKey, verify } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../signer/local/nats-server.ts';
import {
  KeygenBrokerStream,
  KeygenRequestConsumerName,
  KeygenResultConsumerBase,
  SigningPublisherStream,
  SigningRequestConsumerName,
  SigningResultConsumerBase,
  resultConsumerDurableName,
} from '../../signer/protocol/subjects.ts';
import { RawClient, keygenBody, signBody } from '../harness/raw-client.ts';
import { ResultCollector, requestsSettled } from '../harness/result-collector.ts';
import {
  startTestCluster,
  type TestCluster,
  natsConnectOptions,
} from '../harness/signer-cluster.ts';
import { waitUntil } from '../harness/wallet-driver.ts';
import { FAULT_ERROR_CODES } from '../harness/fault-error-codes.ts';

type Fault = 'kill-signer' | 'stop-signer' | 'kill-nats';

/** mulberry32: a small seeded PRNG, enough for test schedules. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const b64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface SignRequest {
  readonly txId: string;
  readonly keyType: 'ed25519' | 'secp256k1';
  readonly tx: Uint8Array;
}

describe('chaos: every fault class, every request answered exactly once', () => {
  const seed = Number(process.env['MPC_CHAOS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  const requestCount = Number(process.env['MPC_CHAOS_REQUESTS'] ?? 200);
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const between = (min: number, max: number): number => Math.floor(min + random() * (max - min));
  const hex = (bytes: number): string =>
    Array.from({ length: bytes }, () => between(0, 256).toString(16).padStart(2, '0')).join('');

  let nats: NatsServerHandle;
  let test: TestCluster;
  let nc: NatsConnection;
  let client: RawClient;
  const collectors: ResultCollector[] = [];

  beforeAll(async () => {
    console.log(`chaos seed ${seed} (reproduce with MPC_CHAOS_SEED=${seed})`);
    nats = await startNatsServer();
    test = await startTestCluster(nats, {
      configFor: () => ({
        sessions: {
          ack_wait_ms: 4000,
          max_deliver: 6,
          round_timeout_ms: 5000,
          direct_send_timeout_ms: 1000,
          direct_send_attempts: 3,
        },
        membership: { heartbeat_interval_ms: 250, peer_timeout_ms: 1500 },
      }),
    });
    // Admin: the test inspects the request durables as well as the results.
    nc = await connect({
      servers: nats.url,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
      ...natsConnectOptions(nats.credentials!.admin),
    });
    client = new RawClient(nc);
  });

  afterAll(async () => {
    for (const collector of collectors) await collector.stop();
    await nc?.close();
    for (const signer of test?.cluster.signers ?? []) signer.process?.kill('SIGCONT');
    await test?.stop();
    await nats?.stop();
  });

  it('answers every request once, with verifying signatures or documented error codes', async () => {
    const signings = new ResultCollector(
      nc,
      resultConsumerDurableName(SigningResultConsumerBase, ''),
    );
    const keygens = new ResultCollector(
      nc,
      resultConsumerDurableName(KeygenResultConsumerBase, ''),
    );
    collectors.push(signings, keygens);
    signings.start();
    keygens.start();

    const keygen = async (walletId: string): Promise<void> => {
      await client.publishKeygen(keygenBody(test.initiator, walletId), walletId);
    };
    // The wallet everything signs with, created before the faults (retried: a keygen needs
    // all signers, and a loaded machine may time one out).
    let walletId = '';
    let ecdsaKey: Uint8Array = new Uint8Array();
    let eddsaKey: Uint8Array = new Uint8Array();
    for (let attempt = 0; attempt < 3 && walletId === ''; attempt++) {
      const id = `chaos-${seed}-${attempt}`;
      await keygen(id);
      await waitUntil(() => keygens.matching('wallet_id', id).length > 0, 'the keygen', 120_000);
      const [result] = keygens.matching('wallet_id', id);
      if (result?.body['result_type'] !== 'success') continue;
      walletId = id;
      const xy = b64(result.body['ecdsa_pub_key'] as string);
      ecdsaKey = secp256k1.Point.fromBytes(Uint8Array.of(4, ...xy)).toBytes(true);
      eddsaKey = b64(result.body['eddsa_pub_key'] as string);
    }
    expect(walletId, 'a wallet was created before the chaos').not.toBe('');

    // The fault schedule: every class at least once, then random ones, in random order.
    const faults: Fault[] = ['kill-signer', 'stop-signer', 'kill-nats'];
    for (let extra = 0; extra < 3; extra++) faults.push(pick(faults.slice(0, 3)));
    for (let index = faults.length - 1; index > 0; index--) {
      const other = between(0, index + 1);
      [faults[index], faults[other]] = [faults[other] as Fault, faults[index] as Fault];
    }
    console.log(`chaos schedule: ${faults.join(', ')}`);

    const requests: SignRequest[] = [];
    const keygenIds: string[] = [];
    const batch = Math.ceil(requestCount / (faults.length + 1));
    const publishBatch = async (size: number): Promise<void> => {
      for (let index = 0; index < size && requests.length < requestCount; index++) {
        const keyType = random() < 0.5 ? 'ed25519' : 'secp256k1';
        const txId = `tx-${seed}-${requests.length}-${hex(4)}`;
        // secp256k1 signs a 32-byte digest as sent; Ed25519 signs the message bytes.
        const tx = new Uint8Array(
          Buffer.from(keyType === 'secp256k1' ? hex(32) : hex(between(1, 200)), 'hex'),
        );
        requests.push({ txId, keyType, tx });
        await client.publishSign(
          signBody(test.initiator, { keyType, walletId, networkInternalCode: 'chaos', txId, tx }),
          txId,
          60_000,
        );
      }
    };

    const signerIds = test.cluster.nodeIds;
    for (const [index, fault] of faults.entries()) {
      // One fault at a time: the previous fault's requests are all answered and acked (their
      // redeliveries done) before the next batch goes out and the next fault strikes it.
      // Overlapping a coordinator crash between a result's confirmation and its ledger mark
      // with a nats-server crash before that request's redelivery can repeat the result
      // (README "Exactly once", not covered); each fault alone must not.
      await waitUntil(
        async () =>
          (await requestsSettled(nc, SigningPublisherStream, SigningRequestConsumerName)) &&
          (await requestsSettled(nc, KeygenBrokerStream, KeygenRequestConsumerName)),
        'the previous fault to be recovered from',
        120_000,
      );
      await publishBatch(batch);
      if (index === 1) {
        // A keygen in the middle of the chaos: it must be answered exactly once too.
        const id = `chaos-${seed}-mid`;
        keygenIds.push(id);
        await keygen(id);
      }
      await sleep(between(0, 1500));
      if (fault === 'kill-signer') {
        const node = pick(signerIds);
        await test.cluster.kill(node); // waits for 'exit': the process is reaped
        await sleep(between(300, 2000));
        await test.cluster.start(node);
      } else if (fault === 'stop-signer') {
        const node = pick(signerIds);
        await test.cluster.signal(node, 'SIGSTOP');
        await sleep(between(2000, 6000));
        await test.cluster.signal(node, 'SIGCONT');
      } else {
        await nats.kill(true);
        await sleep(between(300, 1500));
        await nats.restart();
      }
      console.log(`chaos: ${fault} done after ${requests.length} requests`);
    }
    await publishBatch(requestCount);

    // Every request answered; then both request durables and both result durables settled,
    // so every result that will ever be published for them has been collected.
    await waitUntil(
      () => requests.every((request) => signings.matching('tx_id', request.txId).length > 0),
      'a result for every signing request',
      150_000,
    );
    await waitUntil(
      () => keygenIds.every((id) => keygens.matching('wallet_id', id).length > 0),
      'a result for the keygen',
      120_000,
    );
    await waitUntil(
      async () =>
        (await requestsSettled(nc, SigningPublisherStream, SigningRequestConsumerName)) &&
        (await requestsSettled(nc, KeygenBrokerStream, KeygenRequestConsumerName)) &&
        (await signings.settled()) &&
        (await keygens.settled()),
      'every request acked and every result consumed',
      60_000,
    );

    const codes = new Map<string, number>();
    let successes = 0;
    const eddsa = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(eddsaKey).toString('base64url') },
      format: 'jwk',
    });
    for (const request of requests) {
      const results = signings.matching('tx_id', request.txId);
      const seen = results.map((result) => ({
        seq: result.streamSeq,
        id: result.messageId,
        type: result.body['result_type'],
        code: result.body['error_code'],
      }));
      expect(results, `results of ${request.txId}: ${JSON.stringify(seen)}`).toHaveLength(1);
      const body = (results[0] as (typeof results)[number]).body;
      if (body['result_type'] === 'success') {
        successes += 1;
        const verified =
          request.keyType === 'ed25519'
            ? verify(null, request.tx, eddsa, b64(body['signature'] as string))
            : secp256k1.verify(
                Uint8Array.of(...b64(body['r'] as string), ...b64(body['s'] as string)),
                request.tx,
                ecdsaKey,
                { prehash: false, lowS: true },
              );
        expect(verified, `signature of ${request.txId} (${request.keyType})`).toBe(true);
      } else {
        const code = String(body['error_code']);
        codes.set(code, (codes.get(code) ?? 0) + 1);
        expect(FAULT_ERROR_CODES, `${request.txId}: ${String(body['error_reason'])}`).toContain(
          code,
        );
      }
    }
    for (const id of keygenIds) {
      const results = keygens.matching('wallet_id', id);
      expect(results, `results of keygen ${id}`).toHaveLength(1);
      const body = (results[0] as (typeof results)[number]).body;
      if (body['result_type'] !== 'success') {
        expect(FAULT_ERROR_CODES).toContain(String(body['error_code']));
      }
    }
    console.log(
      `chaos seed ${seed}: ${requests.length} signing requests, ${successes} verified ` +
        `successes, errors ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    // The cluster kept working through the faults (not merely answering with errors).
    expect(successes).toBeGreaterThan(requests.length / 3);
  }, 300_000);
});
