/**
 * Resharing in the cluster (issue 5 §3–4) with real signer processes on a real NATS server:
 * requests arrive on core `mpc:reshare` exactly as mpcium clients send them; a wallet's keys
 * move 2-of-3 → 3-of-3, then to committees that include a fourth signer (one old member
 * leaving), and every signature afterwards verifies under the unchanged public keys with
 * independent code. A signer killed during a reshare leaves the old shares working and the
 * client gets exactly one error result; malformed requests get error results.
 */
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { MpcClient } from '../../signer/client/index.ts';
import { deriveSecp256k1Child } from '../../signer/crypto/hd/index.ts';
import {
  RawClient,
  keygenBody,
  signBody,
  type Ed25519Initiator,
  type ResultWatcher,
} from '../harness/raw-client.ts';
import { startTestCluster, type TestCluster } from '../harness/signer-cluster.ts';
import { waitUntil } from '../harness/wallet-driver.ts';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const fromB64 = (text: unknown): Uint8Array => new Uint8Array(Buffer.from(String(text), 'base64'));

interface ReshareFields {
  readonly sessionId: string;
  readonly walletId: string;
  readonly keyType: string;
  readonly nodeIds: readonly string[];
  readonly newThreshold: number;
}

/** A resharing request body as the mpcium TS client builds it (Raw() = JSON in Go's order). */
function reshareBody(initiator: Ed25519Initiator, fields: ReshareFields): Uint8Array {
  const raw = JSON.stringify({
    session_id: fields.sessionId,
    node_ids: fields.nodeIds,
    new_threshold: fields.newThreshold,
    key_type: fields.keyType,
    wallet_id: fields.walletId,
  });
  const signature = initiator.sign(new TextEncoder().encode(raw));
  return new TextEncoder().encode(
    JSON.stringify({
      session_id: fields.sessionId,
      wallet_id: fields.walletId,
      node_ids: fields.nodeIds,
      new_threshold: fields.newThreshold,
      key_type: fields.keyType,
      signature: b64(signature),
    }),
  );
}

function verifiesEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) {
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
    format: 'jwk',
  });
  return verify(null, message, key, signature);
}

const PREFIX = `rs${Math.random().toString(36).slice(2, 6)}-`;
const NODES = [0, 1, 2, 3].map((index) => `${PREFIX}${index}`);
const FIRST_THREE = NODES.slice(0, 3);
const [NODE0, NODE1, NODE2, NODE3] = NODES as [string, string, string, string];

describe('resharing (real signers, mpc:reshare)', () => {
  let test: TestCluster;
  let nc: NatsConnection;
  let client: RawClient;
  let keygens: ResultWatcher;
  let signings: ResultWatcher;
  let reshares: ResultWatcher;
  const keys = new Map<string, { eddsa: Uint8Array; ecdsa: Uint8Array }>();

  beforeAll(async () => {
    // Four signers exist, but the first three start with a three-node configuration (signer
    // 3 joins later, as when an MpcCluster grows). Signer 2 never coordinates, so the test
    // knows whom it may kill mid-session without waiting for a coordinator failover.
    test = await startTestCluster(inject('natsUrl'), {
      size: 4,
      threshold: 1,
      nodeIdPrefix: PREFIX,
      start: false,
      env: { MPC_ENABLE_FAULT_INJECTION: '1' },
      configFor: (nodeId) => ({
        peers: FIRST_THREE,
        sessions: { max_deliver: 10, ack_wait_ms: 10_000 },
        membership: { heartbeat_interval_ms: 250, peer_timeout_ms: 1500 },
        fault_injection: { refuse_coordination: nodeId === NODE2 },
      }),
    });
    await Promise.all(FIRST_THREE.map((nodeId) => test.cluster.start(nodeId)));
    await test.cluster.waitForReady(3);
    nc = await connect({ servers: inject('natsUrl') });
    client = new RawClient(nc);
    keygens = client.watchResults('mpc.mpc_keygen_result.*');
    signings = client.watchResults('mpc.mpc_signing_result.complete');
    reshares = client.watchResults('mpc.mpc_reshare_result.*');
  });

  afterAll(async () => {
    keygens?.stop();
    signings?.stop();
    reshares?.stop();
    await nc?.close();
    await test?.stop();
  });

  async function createWallet(): Promise<string> {
    const walletId = `wallet-${randomUUID()}`;
    await client.publishKeygen(keygenBody(test.initiator, walletId), walletId);
    const result = await keygens.waitFor((r) => r['wallet_id'] === walletId, 90_000);
    expect(result['result_type']).toBe('success');
    const xy = fromB64(result['ecdsa_pub_key']);
    keys.set(walletId, {
      eddsa: fromB64(result['eddsa_pub_key']),
      ecdsa: secp256k1.Point.fromBytes(new Uint8Array([4, ...xy])).toBytes(true),
    });
    return walletId;
  }

  async function sign(
    walletId: string,
    keyType: 'ed25519' | 'secp256k1',
    derivationPath?: number[],
  ): Promise<Record<string, unknown>> {
    const txId = randomUUID();
    const tx =
      keyType === 'ed25519'
        ? new TextEncoder().encode(`pay ${txId}`)
        : sha256(new TextEncoder().encode(`pay ${txId}`));
    await client.publishSign(
      signBody(test.initiator, {
        keyType,
        walletId,
        networkInternalCode: 'test',
        txId,
        tx,
        ...(derivationPath === undefined ? {} : { derivationPath }),
      }),
      txId,
    );
    const result = await signings.waitFor((r) => r['tx_id'] === txId, 60_000);
    if (result['result_type'] !== 'success') return result;
    const key = keys.get(walletId);
    if (key === undefined) throw new Error('unknown wallet');
    if (keyType === 'ed25519') {
      expect(verifiesEd25519(key.eddsa, tx, fromB64(result['signature']))).toBe(true);
    } else {
      const chainCode = new Uint8Array(Buffer.from(test.cluster.chainCodeHex, 'hex'));
      const publicKey =
        derivationPath === undefined
          ? key.ecdsa
          : deriveSecp256k1Child(key.ecdsa, chainCode, derivationPath).publicKey;
      const compact = new Uint8Array([...fromB64(result['r']), ...fromB64(result['s'])]);
      expect(secp256k1.verify(compact, tx, publicKey, { prehash: false, lowS: true })).toBe(true);
    }
    return result;
  }

  async function reshare(fields: Omit<ReshareFields, 'sessionId'> & { sessionId?: string }) {
    const sessionId = fields.sessionId ?? randomUUID();
    nc.publish('mpc:reshare', reshareBody(test.initiator, { ...fields, sessionId }));
    return {
      sessionId,
      result: await reshares.waitFor(
        (r) => r['wallet_id'] === fields.walletId && resultSession(r) === sessionId,
        90_000,
      ),
    };
  }

  // The result body has no session id (contract §2.2): the watcher records the subject tail.
  function resultSession(result: Record<string, unknown>): string | undefined {
    return (result as { __subject?: string }).__subject?.split('.').pop();
  }

  let wallet: string;

  it('reshares 2-of-3 → 3-of-3 for both key types; the keys do not change and all three sign', async () => {
    wallet = await createWallet();
    expect((await sign(wallet, 'ed25519'))['result_type']).toBe('success');
    // Ed25519 as mpcium clients send it (core mpc:reshare); secp256k1 through our SDK, which
    // persists the request in the mpc-reshare stream (ClientID-scoped result).
    const sdk = await MpcClient.create({
      nc,
      signer: {
        algorithm: 'ed25519',
        publicKey: test.initiator.publicKeyHex,
        sign: (bytes) => test.initiator.sign(bytes),
      },
      clientId: 'reshare-sdk',
    });
    const scoped = client.watchResults('mpc.mpc_reshare_result.reshare-sdk.*');
    for (const keyType of ['ed25519', 'secp256k1'] as const) {
      let result: Record<string, unknown>;
      if (keyType === 'ed25519') {
        ({ result } = await reshare({
          walletId: wallet,
          keyType,
          nodeIds: FIRST_THREE,
          newThreshold: 2,
        }));
      } else {
        const sessionId = await sdk.reshareKeys({
          walletId: wallet,
          keyType,
          nodeIds: FIRST_THREE,
          newThreshold: 2,
        });
        result = await scoped.waitFor((r) => resultSession(r) === sessionId, 90_000);
      }
      expect(result['result_type']).toBe('success');
      expect(result['new_threshold']).toBe(2);
      const key = keys.get(wallet);
      const expected =
        keyType === 'ed25519'
          ? key?.eddsa
          : secp256k1.Point.fromBytes(key?.ecdsa ?? new Uint8Array())
              .toBytes(false)
              .slice(1);
      expect(b64(fromB64(result['pub_key']))).toBe(b64(expected ?? new Uint8Array()));
    }
    scoped.stop();
    await sdk.close();
    expect((await sign(wallet, 'ed25519'))['result_type']).toBe('success');
    expect((await sign(wallet, 'secp256k1'))['result_type']).toBe('success');
    expect((await sign(wallet, 'secp256k1', [44, 60, 0, 0, 7]))['result_type']).toBe('success');
  });

  it('malformed, unauthenticated and impossible reshare requests each get one error result', async () => {
    const cases: { fields: Omit<ReshareFields, 'sessionId'>; code: string; forge?: boolean }[] = [
      {
        fields: {
          walletId: `missing-${randomUUID()}`,
          keyType: 'ed25519',
          nodeIds: FIRST_THREE,
          newThreshold: 1,
        },
        code: 'ERROR_KEY_NOT_FOUND',
      },
      {
        fields: {
          walletId: wallet,
          keyType: 'ed25519',
          nodeIds: [NODE0, 'nobody'],
          newThreshold: 1,
        },
        code: 'ERROR_INCOMPATIBLE_PEER_IDS',
      },
      {
        fields: { walletId: wallet, keyType: 'ed25519', nodeIds: FIRST_THREE, newThreshold: 3 },
        code: 'ERROR_MSG_VALIDATION',
      },
      {
        fields: { walletId: wallet, keyType: 'rsa', nodeIds: FIRST_THREE, newThreshold: 1 },
        code: 'ERROR_MSG_VALIDATION',
      },
      {
        fields: { walletId: wallet, keyType: 'ed25519', nodeIds: FIRST_THREE, newThreshold: 1 },
        code: 'ERROR_INVALID_INITIATOR_SIGNATURE',
        forge: true,
      },
    ];
    for (const { fields, code, forge } of cases) {
      const sessionId = randomUUID();
      let body = reshareBody(test.initiator, { ...fields, sessionId });
      if (forge === true) {
        const parsed = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
        parsed['signature'] = b64(new Uint8Array(64).fill(7));
        body = new TextEncoder().encode(JSON.stringify(parsed));
      }
      nc.publish('mpc:reshare', body);
      const result = await reshares.waitFor((r) => resultSession(r) === sessionId, 60_000);
      expect(result['result_type'], JSON.stringify(result)).toBe('error');
      expect(result['error_code'], JSON.stringify(result)).toBe(code);
    }
    // Not JSON at all: no session id to read, so the answer goes to the `_invalid` token
    // (README, failure semantics), and the signers keep serving.
    nc.publish('mpc:reshare', new TextEncoder().encode('{not json'));
    const unreadable = await reshares.waitFor((r) => resultSession(r) === '_invalid', 60_000);
    expect(unreadable['error_code']).toBe('ERROR_UNMARSHAL_FAILURE');
    expect((await sign(wallet, 'ed25519'))['result_type']).toBe('success');
  });

  it('a signer killed during a reshare: exactly one error result, and the old shares still sign', async () => {
    const second = await createWallet();
    const sessionId = randomUUID();
    nc.publish(
      'mpc:reshare',
      reshareBody(test.initiator, {
        sessionId,
        walletId: second,
        keyType: 'secp256k1',
        nodeIds: FIRST_THREE,
        newThreshold: 2,
      }),
    );
    // Signer 2 never coordinates: kill it once it has joined the session.
    await waitUntil(
      async () => (await test.cluster.metric(NODE2, 'mpc_active_sessions')) > 0,
      'signer 2 to join the reshare session',
      30_000,
    );
    await test.cluster.kill(NODE2);
    const result = await reshares.waitFor((r) => resultSession(r) === sessionId, 60_000);
    expect(result['result_type']).toBe('error');
    expect(result['error_code']).toBe('ERROR_PEER_UNAVAILABLE');
    // The old 2-of-3 shares are still current on the two survivors (once they see signer 2
    // gone: a signing set picked before that fails fast, by design, with no retry).
    await test.cluster.waitForReady(2);
    const after = await sign(second, 'secp256k1');
    expect(after['result_type'], JSON.stringify(after)).toBe('success');
    // The first wallet is 3-of-3 now: two signers are no longer enough.
    const refused = await sign(wallet, 'ed25519');
    expect(refused['result_type']).toBe('error');
    expect(refused['error_code']).toBe('ERROR_PEER_UNAVAILABLE');
    expect(reshares.received.filter((r) => resultSession(r) === sessionId)).toHaveLength(1);
    await test.cluster.start(NODE2);
    await test.cluster.waitForReady(3);
  });

  it('a fourth signer joins: keys move to committees including it (one old member leaving) and still sign', async () => {
    // Grow the cluster as the operator would: every signer restarts with four peers.
    await Promise.all(FIRST_THREE.map((nodeId) => test.cluster.signal(nodeId, 'SIGTERM')));
    for (const signer of test.cluster.signers) {
      const config = parse(readFileSync(signer.configFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(signer.configFile, stringify({ ...config, peers: NODES }));
    }
    await Promise.all(NODES.map((nodeId) => test.cluster.start(nodeId)));
    await test.cluster.waitForReady(4);

    // Ed25519: 3-of-3 {0,1,2} → 2-of-3 {1,2,3}: signer 0 leaves and keeps only a tombstone.
    const ed = await reshare({
      walletId: wallet,
      keyType: 'ed25519',
      nodeIds: [NODE1, NODE2, NODE3],
      newThreshold: 1,
    });
    expect(ed.result['result_type'], JSON.stringify(ed.result)).toBe('success');
    // secp256k1: 3-of-3 {0,1,2} → 3-of-4 {0,1,2,3}.
    const ec = await reshare({
      walletId: wallet,
      keyType: 'secp256k1',
      nodeIds: NODES,
      newThreshold: 2,
    });
    expect(ec.result['result_type'], JSON.stringify(ec.result)).toBe('success');
    // Several signatures, so requests also land on signer 0, which passes them on.
    for (let round = 0; round < 4; round++) {
      expect((await sign(wallet, 'ed25519'))['result_type']).toBe('success');
      expect((await sign(wallet, 'secp256k1', [1, round]))['result_type']).toBe('success');
    }
  });
});
