/**
 * Real signers against clients that behave on the wire like mpcium's Go client (issue 13),
 * once on each pinned nats-server: the newest stable release and the oldest supported line
 * (2.10, the first with the multi-filter consumers the Go client creates). Each run has its
 * own nats-server and 3-signer cluster (threshold 1). The cluster runs one keygen at a time and
 * has generous per-message and per-round bounds, so a loaded 2-core machine slows the run
 * down instead of failing it; no assertion depends on timing.
 *
 * What is checked, in order:
 * 1. a Go client that starts before any signer creates the streams with the Go settings and
 *    its result durables with `filter_subjects`; the signers then start on those streams
 *    without reporting a shape conflict or an old server;
 * 2. after the signers, three Go clients at once (ClientIDs `go-early` again, `go-late`, and
 *    legacy ``) repeat `CreateOrUpdateStream` / `CreateOrUpdateConsumer`; a restarting signer's
 *    stream check then reports nothing either;
 * 3. a scoped and the legacy client create a wallet each (on the 2.10 run only the scoped one,
 *    to keep the run short); then all three sign at once, the others with `go-early`'s
 *    wallet: ECDSA with a 17-byte `tx` (signed as the integer it encodes), ECDSA 17-byte with
 *    a derivation path, Ed25519 with a path. ECDSA signatures verify with @noble/curves over the left-padded digest and with a textbook
 *    verifier over the integer, under child keys derived independently; Ed25519 with
 *    node:crypto;
 * 4. every request got exactly one result, through its own client's durable only, and the
 *    WorkQueue result stream is empty once they are acked.
 */
import { createPublicKey, randomUUID, verify as nodeVerify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveEd25519Child, deriveSecp256k1Child } from '../../signer/crypto/hd/index.ts';
import {
  NATS_SERVER_OLDEST_VERSION,
  NATS_SERVER_VERSION,
  pinnedNatsServerPath,
} from '../../signer/local/nats-server-binary.ts';
import { startNatsServer, type NatsServerHandle } from '../../signer/local/nats-server.ts';
import { ensureMpcStreams } from '../../signer/transport/streams.ts';
import {
  GoStyleClient,
  goRequestStreamConfig,
  goResultConsumers,
  goResultStreamConfig,
  type ReceivedResult,
} from '../harness/go-style-client.ts';
import {
  natsConnectOptions,
  startTestCluster,
  type TestCluster,
} from '../harness/signer-cluster.ts';
import {
  bytesToInteger,
  deriveChild,
  pointFromXY,
  verifyEcdsa,
} from '../harness/textbook-secp256k1.ts';

const b64 = (text: unknown): Uint8Array => new Uint8Array(Buffer.from(String(text), 'base64'));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** A 17-byte tx as mpcium's e2e suite sends (raw text, not a hash); the first byte is nonzero. */
const SHORT_TX = new TextEncoder().encode('Hello, MPC World!');
const ECDSA_PATH = [44, 60, 0, 0, 3];
const EDDSA_PATH = [44, 501, 0, 0];
/** Bounds for a loaded machine (see the header); a healthy keygen takes a few seconds. */
const SESSION_BOUNDS = {
  direct_send_timeout_ms: 2000,
  round_timeout_ms: 20_000,
  keygen_timeout_ms: 120_000,
  max_concurrent_keygen: 1,
};
const KEYGEN_WAIT_MS = 280_000;
const SLOW_TEST_MS = 300_000;

interface Wallet {
  readonly walletId: string;
  /** 64-byte X‖Y. */
  readonly ecdsaXY: Uint8Array;
  readonly eddsaKey: Uint8Array;
}

describe.each([NATS_SERVER_VERSION, NATS_SERVER_OLDEST_VERSION])(
  'an mpcium Go client on nats-server %s',
  (version) => {
    let nats: NatsServerHandle | undefined;
    let nc: NatsConnection;
    let test: TestCluster | undefined;
    const clients = new Map<string, GoStyleClient>();
    const wallets = new Map<string, Wallet>();
    const sent = new Map<string, { keygen: string[]; signing: string[] }>();

    beforeAll(async () => {
      const binary = pinnedNatsServerPath(version);
      if (!existsSync(binary)) {
        throw new Error(`${binary} is missing: run "bash scripts/ensure-deps.sh" (needs Go)`);
      }
      nats = await startNatsServer({ binary });
      // Admin: the test inspects streams and durables besides acting as the Go client.
      nc = await connect({ servers: nats.url, ...natsConnectOptions(nats.credentials!.admin) });
    });

    afterAll(async () => {
      for (const client of clients.values()) await client.stop();
      await nc?.close();
      await test?.stop();
      await nats?.stop();
    });

    function client(clientId: string): GoStyleClient {
      let existing = clients.get(clientId);
      if (existing === undefined) {
        existing = new GoStyleClient(nc, clientId);
        clients.set(clientId, existing);
        sent.set(clientId, { keygen: [], signing: [] });
      }
      return existing;
    }

    it('a Go client creates the streams and its multi-filter durables before the signers', async () => {
      expect(nc.info?.version).toBe(version.slice(1));
      await client('go-early').init();
      const jsm = await jetstreamManager(nc);
      const signing = (await jsm.streams.info('mpc-signing')).config;
      expect(signing).toMatchObject({
        subjects: ['mpc.signing_request.*'],
        retention: 'limits',
        max_bytes: 100_000_000,
        max_age: goRequestStreamConfig('mpc-signing')['max_age'],
      });
      expect((await jsm.streams.info('mpc')).config).toMatchObject({
        subjects: goResultStreamConfig()['subjects'],
        retention: 'workqueue',
      });
      for (const { durable, filter } of goResultConsumers('go-early')) {
        const { config } = await jsm.consumers.info('mpc', durable);
        expect(config.filter_subjects ?? [config.filter_subject]).toEqual([filter]);
      }

      test = await startTestCluster(nats!, {
        configFor: () => ({ sessions: SESSION_BOUNDS }),
      });
      for (const nodeId of test.cluster.nodeIds) {
        const log = readFileSync(test.cluster.logFile(nodeId), 'utf8');
        expect(log).not.toContain('JetStream shape differs');
        expect(log).not.toContain('too old for mpcium');
      }
    });

    it('Go clients starting after the signers, several ClientIDs at once, update what exists', async () => {
      const ids = ['go-early', 'go-late', ''];
      await Promise.all(ids.map((id) => client(id).init()));
      const jsm = await jetstreamManager(nc);
      for (const id of ids) {
        for (const { durable, filter } of goResultConsumers(id)) {
          const { config } = await jsm.consumers.info('mpc', durable);
          expect(config.filter_subjects ?? [config.filter_subject]).toEqual([filter]);
          expect(config).toMatchObject({ max_ack_pending: 1000, max_deliver: 3 });
        }
      }
      // A signer restarting now checks the same streams and legacy durables.
      const report = await ensureMpcStreams(jsm, {
        ackWaitMs: 30_000,
        maxDeliver: 4,
        maxAckPendingKeygen: SESSION_BOUNDS.max_concurrent_keygen,
        maxAckPendingSigning: 20,
      });
      expect(report.warnings).toEqual([]);
      for (const id of ids) await client(id).consumeResults();
    });

    /** Clients that create a wallet (keygen is the slow part of this file). */
    const keygenClients = version === NATS_SERVER_VERSION ? ['go-early', ''] : ['go-early'];

    it(
      'a scoped (and the legacy) client create wallets; results come through their durables',
      { timeout: SLOW_TEST_MS },
      async () => {
        const initiator = test!.initiator;
        await Promise.all(
          keygenClients.map(async (clientId) => {
            const go = client(clientId);
            const walletId = `go-${clientId || 'legacy'}-${randomUUID()}`;
            sent.get(clientId)!.keygen.push(walletId);
            await go.createWallet(initiator, walletId);
            const { body } = await go.waitFor(
              'keygen',
              (r) => r['wallet_id'] === walletId,
              KEYGEN_WAIT_MS,
            );
            expect(body, JSON.stringify(body)).toMatchObject({ result_type: 'success' });
            const ecdsaXY = b64(body['ecdsa_pub_key']);
            const eddsaKey = b64(body['eddsa_pub_key']);
            expect([ecdsaXY.length, eddsaKey.length]).toEqual([64, 32]);
            wallets.set(clientId, { walletId, ecdsaXY, eddsaKey });
          }),
        );
        // Wallets belong to the cluster, not to a client: the others sign with go-early's.
        for (const clientId of clients.keys()) {
          if (!wallets.has(clientId)) wallets.set(clientId, wallets.get('go-early')!);
        }
      },
    );

    it(
      'signs a 17-byte ECDSA tx (with and without a path) and Ed25519 with a path',
      { timeout: SLOW_TEST_MS },
      async () => {
        const initiator = test!.initiator;
        const chainCode = new Uint8Array(Buffer.from(test!.cluster.chainCodeHex, 'hex'));
        const padded = new Uint8Array(32);
        padded.set(SHORT_TX, 32 - SHORT_TX.length);
        // The wrong reading of a short digest (right-padded): must NOT verify, or padding is moot.
        const rightPadded = new Uint8Array(32);
        rightPadded.set(SHORT_TX, 0);

        await Promise.all(
          [...clients.values()].map(async (go) => {
            const wallet = wallets.get(go.clientId)!;
            const request = async (
              keyType: 'secp256k1' | 'ed25519',
              tx: Uint8Array,
              derivationPath?: number[],
            ): Promise<ReceivedResult> => {
              const txId = randomUUID();
              sent.get(go.clientId)!.signing.push(txId);
              await go.signTransaction(initiator, {
                keyType,
                walletId: wallet.walletId,
                networkInternalCode: 'go-wire',
                txId,
                tx,
                ...(derivationPath === undefined ? {} : { derivationPath }),
              });
              const result = await go.waitFor('signing', (r) => r['tx_id'] === txId, 120_000);
              expect(result.body, JSON.stringify(result.body)).toMatchObject({
                result_type: 'success',
                error_code: '',
                wallet_id: wallet.walletId,
                network_internal_code: 'go-wire',
              });
              return result;
            };

            for (const path of [undefined, ECDSA_PATH]) {
              const { body } = await request('secp256k1', SHORT_TX, path);
              const r = b64(body['r']);
              const s = b64(body['s']);
              const recovery = b64(body['signature_recovery']);
              expect([r.length, s.length, recovery.length]).toEqual([32, 32, 1]);
              const compact = new Uint8Array([...r, ...s]);
              const expected = deriveSecp256k1Child(
                wallet.ecdsaXY,
                chainCode,
                path ?? [],
              ).publicKey;
              // Independent derivation (node:crypto HMAC, textbook point arithmetic) agrees.
              const child = deriveChild(pointFromXY(wallet.ecdsaXY), chainCode, path ?? []);
              expect(hex(secp256k1.Point.fromBytes(expected).toBytes(false).subarray(1))).toBe(
                child!.x.toString(16).padStart(64, '0') + child!.y.toString(16).padStart(64, '0'),
              );
              const options = { prehash: false, lowS: true } as const;
              expect(secp256k1.verify(compact, padded, expected, options)).toBe(true);
              expect(
                verifyEcdsa(bytesToInteger(SHORT_TX), bytesToInteger(r), bytesToInteger(s), child),
              ).toBe(true);
              expect(secp256k1.verify(compact, rightPadded, expected, options)).toBe(false);
              const recovered = secp256k1.Signature.fromBytes(compact)
                .addRecoveryBit(recovery[0]!)
                .recoverPublicKey(padded)
                .toBytes(true);
              expect(hex(recovered)).toBe(hex(expected));
            }

            const message = new TextEncoder().encode(`ed25519 via ${go.clientId || 'legacy'}`);
            const { body } = await request('ed25519', message, EDDSA_PATH);
            const childKey = deriveEd25519Child(wallet.eddsaKey, chainCode, EDDSA_PATH).publicKey;
            const key = createPublicKey({
              key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(childKey).toString('base64url') },
              format: 'jwk',
            });
            expect(nodeVerify(null, message, key, b64(body['signature']))).toBe(true);
          }),
        );
      },
    );

    it('every request got exactly one result, through its own durable only', async () => {
      for (const [clientId, go] of clients) {
        const scope = clientId === '' ? '' : `${clientId}.`;
        const mine = sent.get(clientId)!;
        expect([mine.keygen.length, mine.signing.length]).toEqual([
          keygenClients.includes(clientId) ? 1 : 0,
          3,
        ]);
        expect(
          go.received.filter((r) => r.kind === 'keygen').map((r) => r.body['wallet_id']),
        ).toEqual(mine.keygen);
        expect(
          go.received
            .filter((r) => r.kind === 'signing')
            .map((r) => r.body['tx_id'])
            .sort(),
        ).toEqual([...mine.signing].sort());
        expect(go.received).toHaveLength(mine.keygen.length + mine.signing.length);
        for (const { kind, subject, body } of go.received) {
          const expected =
            kind === 'keygen'
              ? `mpc.mpc_keygen_result.${scope}${String(body['wallet_id'])}`
              : `mpc.mpc_signing_result.${scope}complete`;
          expect(subject).toBe(expected);
        }
      }
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info('mpc')).state.messages).toBe(0);
    });
  },
);
