/**
 * A ban burns the pair; a pairwise refresh brings it back (security review M1), with real
 * signer processes on a real NATS server:
 * - signer 0 records a ban of signer 1 (written to its ban file while stopped, as a failed
 *   DKLs23 check would have; the ban file's format is the signer's own);
 * - with only signers 0 and 1 up, secp256k1 signing is refused with ERROR_INCOMPATIBLE_PEER_IDS
 *   and a reason naming the burned pair, for every wallet (Ed25519 is unaffected);
 * - `refreshPairAndWait` (the SDK behind `mpc refresh-pair`) reruns the pair's setup: exactly one
 *   success result with the unchanged key; that wallet signs again and the signature verifies;
 *   the other wallet stays burned until it is refreshed too;
 * - a corrupt ban file stops a signer at start, naming the file.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MpcClient } from '../../signer/client/index.ts';
import { PEER_BANS_FILE } from '../../signer/service/peer-bans.ts';
import { RawClient, keygenBody, signBody, type ResultWatcher } from '../harness/raw-client.ts';
import { startTestCluster, type TestCluster } from '../harness/signer-cluster.ts';

const fromB64 = (text: unknown): Uint8Array => new Uint8Array(Buffer.from(String(text), 'base64'));

const PREFIX = `pr${Math.random().toString(36).slice(2, 6)}-`;
const NODES = [0, 1, 2].map((index) => `${PREFIX}${index}`);
const [NODE0, NODE1, NODE2] = NODES as [string, string, string];

describe('burned DKLs23 pairs and the pairwise refresh (real signers)', () => {
  let test: TestCluster;
  let nc: NatsConnection;
  let client: RawClient;
  let sdk: MpcClient;
  let keygens: ResultWatcher;
  let signings: ResultWatcher;
  const ecdsaKeys = new Map<string, Uint8Array>();

  beforeAll(async () => {
    test = await startTestCluster(inject('natsUrl'), {
      size: 3,
      threshold: 1,
      nodeIdPrefix: PREFIX,
      configFor: () => ({
        // Generous bounds: the shared 2-core CI box runs base OTs for seconds under load.
        sessions: {
          max_deliver: 10,
          ack_wait_ms: 10_000,
          direct_send_timeout_ms: 2000,
          round_timeout_ms: 15_000,
        },
        membership: { heartbeat_interval_ms: 250, peer_timeout_ms: 1500 },
      }),
    });
    nc = await connect({ servers: inject('natsUrl') });
    client = new RawClient(nc);
    keygens = client.watchResults('mpc.mpc_keygen_result.*');
    signings = client.watchResults('mpc.mpc_signing_result.complete');
    sdk = await MpcClient.create({
      nc,
      signer: {
        algorithm: 'ed25519',
        publicKey: test.initiator.publicKeyHex,
        sign: (bytes) => test.initiator.sign(bytes),
      },
      clientId: 'pair-refresh-admin',
    });
  });

  afterAll(async () => {
    keygens?.stop();
    signings?.stop();
    await sdk?.close();
    await nc?.close();
    await test?.stop();
  });

  async function createWallet(): Promise<string> {
    const walletId = `wallet-${randomUUID()}`;
    await client.publishKeygen(keygenBody(test.initiator, walletId), walletId);
    const result = await keygens.waitFor((r) => r['wallet_id'] === walletId, 120_000);
    // Compared with the reason so a failure says why.
    expect([result['result_type'], result['error_reason']]).toEqual(['success', '']);
    const xy = fromB64(result['ecdsa_pub_key']);
    ecdsaKeys.set(walletId, secp256k1.Point.fromBytes(new Uint8Array([4, ...xy])).toBytes(true));
    return walletId;
  }

  async function sign(
    walletId: string,
    keyType: 'ed25519' | 'secp256k1' = 'secp256k1',
  ): Promise<Record<string, unknown>> {
    const txId = randomUUID();
    const message = new TextEncoder().encode(`pay ${txId}`);
    const tx = keyType === 'ed25519' ? message : sha256(message);
    await client.publishSign(
      signBody(test.initiator, { keyType, walletId, networkInternalCode: 'test', txId, tx }),
      txId,
    );
    const result = await signings.waitFor((r) => r['tx_id'] === txId, 60_000);
    if (result['result_type'] === 'success' && keyType === 'secp256k1') {
      const compact = new Uint8Array([...fromB64(result['r']), ...fromB64(result['s'])]);
      const key = ecdsaKeys.get(walletId) as Uint8Array;
      expect(secp256k1.verify(compact, tx, key, { prehash: false, lowS: true })).toBe(true);
    }
    return result;
  }

  function expectBurned(result: Record<string, unknown>): void {
    expect(result['result_type']).toBe('error');
    expect(result['error_code']).toBe('ERROR_INCOMPATIBLE_PEER_IDS');
    expect(String(result['error_reason'])).toMatch(/burned/);
    expect(String(result['error_reason'])).toContain(NODE1);
  }

  let refreshedWallet: string;
  let otherWallet: string;

  it('a recorded ban burns the pair in every wallet: secp256k1 signing with it is refused', async () => {
    refreshedWallet = await createWallet();
    otherWallet = await createWallet();
    expect((await sign(refreshedWallet))['result_type']).toBe('success');

    // Signer 0 records a ban of signer 1 (what a failed OT-extension check does), then only the
    // pair (0, 1) can sign: signer 2 is stopped.
    await test.cluster.signal(NODE0, 'SIGTERM');
    await test.cluster.signal(NODE2, 'SIGTERM');
    writeFileSync(
      join(test.cluster.signer(NODE0).dataDir, PEER_BANS_FILE),
      JSON.stringify({
        version: 2,
        bans: {
          [NODE1]: {
            epoch: 1,
            since: new Date().toISOString(),
            reason: 'ERROR_DKLS23_OTE_CHECK',
          },
        },
      }),
    );
    await test.cluster.start(NODE0);
    await test.cluster.waitForReady(2);

    // Whichever of the two coordinates, the answer names the burned pair.
    for (let attempt = 0; attempt < 3; attempt++) expectBurned(await sign(refreshedWallet));
    expectBurned(await sign(otherWallet));
    // Only DKLs23 pair state is burned: FROST (Ed25519) signs with the same pair.
    expect((await sign(refreshedWallet, 'ed25519'))['result_type']).toBe('success');
  }, 400_000);

  it('a pairwise refresh (SDK / mpc refresh-pair) makes that wallet sign again; others stay burned', async () => {
    const result = await sdk.refreshPairAndWait(
      { walletId: refreshedWallet, node: NODE0, peer: NODE1 },
      { timeoutMs: 120_000 },
    );
    expect(result.result_type).toBe('success');
    expect(result.error_code).toBe('');
    expect(result.key_type).toBe('secp256k1');
    expect(result.new_threshold).toBe(1);
    const xy = fromB64(result.pub_key);
    expect(secp256k1.Point.fromBytes(new Uint8Array([4, ...xy])).toBytes(true)).toEqual(
      ecdsaKeys.get(refreshedWallet),
    );
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await sign(refreshedWallet))['result_type']).toBe('success');
    }
    expectBurned(await sign(otherWallet));
    // One refresh operation ran, on the signer the request named.
    expect(
      await test.cluster.metric(NODE0, 'mpc_sessions_total', {
        kind: 'refresh-pair',
        result: 'success',
      }),
    ).toBe(1);
  }, 300_000);

  it('a refresh request naming a signer outside the pair or committee gets one error result', async () => {
    const result = await sdk.refreshPairAndWait(
      { walletId: refreshedWallet, node: NODE0, peer: 'not-a-member' },
      { timeoutMs: 60_000 },
    );
    expect(result.result_type).toBe('error');
    expect(result.error_code).toBe('ERROR_INCOMPATIBLE_PEER_IDS');
  }, 120_000);

  it('a corrupt ban file stops the signer at start, naming the file', async () => {
    const file = join(test.cluster.signer(NODE2).dataDir, PEER_BANS_FILE);
    writeFileSync(file, '{"version":2,"bans":{');
    await expect(test.cluster.start(NODE2)).rejects.toThrow(/exited before starting/);
    const log = readFileSync(test.cluster.logFile(NODE2), 'utf8');
    expect(log).toContain('PeerBansFileError');
    expect(log).toContain(file);
  }, 60_000);
});
