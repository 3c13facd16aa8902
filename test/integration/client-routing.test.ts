/**
 * The client SDK against a real nats-server with a stand-in signer: the stand-in consumes the
 * shared request durables, parses and verifies each request with the protocol module (as the
 * real signer does), and publishes one result into stream `mpc` on the subject chosen by the
 * request's ClientID header. Checks ClientID isolation, legacy routing, reshare routing, the
 * promise helpers and their timeout.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MpcClient,
  ResultTimeoutError,
  generateInitiatorKey,
  initiatorSignerFromKeyText,
  type InitiatorSigner,
  type SigningResultEvent,
  type KeygenResultEvent,
  type ResharingResultEvent,
} from '../../signer/client/index.ts';
import { runCli } from '../../signer/client/cli-commands.ts';
import { createInitiatorVerifier } from '../../signer/protocol/initiator.ts';
import { ErrorCode } from '../../signer/protocol/errors.ts';
import {
  encodeKeygenResult,
  encodeResharingResult,
  encodeSigningResult,
  generateKeyRaw,
  parseGenerateKeyMessage,
  parseResharingMessage,
  parseSignTxMessage,
  resharingRaw,
  signTxRaw,
} from '../../signer/protocol/messages.ts';
import {
  ClientIdHeader,
  KeygenBrokerStream,
  KeygenRequestConsumerName,
  MpcReshareEvent,
  NatsMsgIdHeader,
  SigningPublisherStream,
  SigningRequestConsumerName,
  keygenResultMessageId,
  keygenResultSubject,
  reshareResultMessageId,
  reshareResultSubject,
  signingResultMessageId,
  signingResultSubject,
} from '../../signer/protocol/subjects.ts';
import { startNatsServer, type NatsServerHandle } from '../../signer/local/nats-server.ts';
import { natsConnectOptions } from '../harness/signer-cluster.ts';
import { ensureMpcStreams } from '../../signer/transport/streams.ts';

let server: NatsServerHandle;
let nc: NatsConnection;
const stops: (() => Promise<void>)[] = [];

beforeEach(async () => {
  server = await startNatsServer();
  // These suites check stream shapes and routing, acting as signer and client at once:
  // they use the admin user (nats-auth.test.ts checks the per-role permissions).
  nc = await connect({ servers: server.url, ...natsConnectOptions(server.credentials!.admin) });
  await ensureMpcStreams(await jetstreamManager(nc), {
    ackWaitMs: 30_000,
    maxDeliver: 4,
    maxAckPendingKeygen: 10,
    maxAckPendingSigning: 50,
  });
});

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await nc.close();
  await server.stop();
});

/** The stand-in signer: verifies every request with `publicKeys` and answers it. */
async function startStandInSigner(publicKeys: readonly InitiatorSigner[]): Promise<void> {
  const verifiers = publicKeys.map((signer) =>
    createInitiatorVerifier({ algorithm: signer.algorithm, publicKey: signer.publicKey }),
  );
  const verify = (raw: Uint8Array, signature: Uint8Array): boolean =>
    verifiers.some((verifier) => {
      try {
        verifier.verify(raw, signature);
        return true;
      } catch {
        return false;
      }
    });
  const js = jetstream(nc);
  const publish = async (subject: string, messageId: string, body: Uint8Array): Promise<void> => {
    const resultHeaders = headers();
    resultHeaders.set(NatsMsgIdHeader, messageId);
    await js.publish(subject, body, { headers: resultHeaders });
  };
  const clientIdOf = (message: { headers?: { get(key: string): string } | undefined }): string =>
    message.headers?.get(ClientIdHeader) ?? '';

  const keygen = await (
    await js.consumers.get(KeygenBrokerStream, KeygenRequestConsumerName)
  ).consume();
  const signing = await (
    await js.consumers.get(SigningPublisherStream, SigningRequestConsumerName)
  ).consume();
  const handle = async (message: JsMsg, answer: () => Promise<void>): Promise<void> => {
    await answer();
    message.ack();
  };
  const keygenLoop = (async () => {
    for await (const message of keygen) {
      await handle(message, async () => {
        const request = parseGenerateKeyMessage(message.data);
        const clientId = clientIdOf(message);
        const ok = verify(generateKeyRaw(request), request.signature);
        const body = ok
          ? encodeKeygenResult({
              resultType: 'success',
              walletId: request.walletId,
              ecdsaPublicKey: null,
              eddsaPublicKey: new Uint8Array(32).fill(7),
            })
          : encodeKeygenResult({
              resultType: 'error',
              walletId: request.walletId,
              errorCode: ErrorCode.InvalidInitiatorSignature,
              errorReason: 'invalid signature from initiator',
            });
        await publish(
          keygenResultSubject(clientId, request.walletId),
          keygenResultMessageId(clientId, request.walletId),
          body,
        );
      });
    }
  })();
  const signingLoop = (async () => {
    for await (const message of signing) {
      await handle(message, async () => {
        const request = parseSignTxMessage(message.data);
        const clientId = clientIdOf(message);
        const ok = verify(signTxRaw(request), request.signature);
        const body = ok
          ? encodeSigningResult({
              resultType: 'success',
              keyType: 'ed25519',
              walletId: request.walletId,
              txId: request.txId,
              networkInternalCode: request.networkInternalCode,
              signature: new Uint8Array(64).fill(request.derivationPath?.length ?? 0),
            })
          : encodeSigningResult({
              resultType: 'error',
              walletId: request.walletId,
              txId: request.txId,
              networkInternalCode: request.networkInternalCode,
              errorCode: ErrorCode.InvalidInitiatorSignature,
              errorReason: 'invalid signature from initiator',
            });
        await publish(
          signingResultSubject(clientId),
          signingResultMessageId(clientId, request.txId),
          body,
        );
      });
    }
  })();
  const reshare = nc.subscribe(MpcReshareEvent, {
    callback: (error, message) => {
      if (error !== null) return;
      const request = parseResharingMessage(message.data);
      const clientId = message.headers?.get(ClientIdHeader) ?? '';
      if (!verify(resharingRaw(request), request.signature)) return;
      void publish(
        reshareResultSubject(clientId, request.sessionId),
        reshareResultMessageId(clientId, request.sessionId),
        encodeResharingResult({
          resultType: 'success',
          walletId: request.walletId,
          newThreshold: request.newThreshold,
          keyType: request.keyType,
          publicKey: new Uint8Array(32).fill(9),
        }),
      );
    },
  });
  stops.push(async () => {
    reshare.unsubscribe();
    await keygen.close();
    await signing.close();
    await Promise.all([keygenLoop, signingLoop]);
  });
}

function newSigner(algorithm: 'ed25519' | 'p256'): InitiatorSigner {
  return initiatorSignerFromKeyText(generateInitiatorKey(algorithm).keyFileText);
}

async function newClient(
  signer: InitiatorSigner,
  clientId?: string,
  onError: (error: unknown) => void = (error) => {
    throw error;
  },
): Promise<MpcClient> {
  const client = await MpcClient.create({
    nc,
    signer,
    onError,
    ...(clientId === undefined ? {} : { clientId }),
  });
  stops.push(() => client.close());
  expect(client.warnings).toEqual([]);
  return client;
}

function collect<T>(): {
  events: T[];
  callback: (event: T) => void;
  count: (n: number) => Promise<void>;
} {
  const events: T[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    events,
    callback: (event) => {
      events.push(event);
      for (const waiter of waiters) if (events.length >= waiter.n) waiter.resolve();
    },
    count: (n) =>
      events.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ n, resolve })),
  };
}

describe('MpcClient routing', () => {
  it('two clients with different ClientIDs each receive only their own signing results', async () => {
    const signerA = newSigner('ed25519');
    const signerB = newSigner('p256');
    await startStandInSigner([signerA, signerB]);
    const clientA = await newClient(signerA, 'svc-a');
    const clientB = await newClient(signerB, 'svc-b');
    const seenA = collect<SigningResultEvent>();
    const seenB = collect<SigningResultEvent>();
    stops.push(await clientA.onSignResult(seenA.callback));
    stops.push(await clientB.onSignResult(seenB.callback));

    const perClient = 5;
    const sends = async (client: MpcClient, prefix: string): Promise<string[]> =>
      Promise.all(
        Array.from({ length: perClient }, (_, index) =>
          client.signTransaction({
            walletId: 'w1',
            keyType: 'ed25519',
            tx: new TextEncoder().encode(`${prefix}-${index}`),
            txId: `${prefix}-${index}`,
            networkInternalCode: 'solana-devnet',
            derivationPath: [44, 501],
          }),
        ),
      );
    const [sentA, sentB] = await Promise.all([sends(clientA, 'a'), sends(clientB, 'b')]);
    await Promise.all([seenA.count(perClient), seenB.count(perClient)]);

    expect(seenA.events.map((event) => event.tx_id).sort()).toEqual(sentA.sort());
    expect(seenB.events.map((event) => event.tx_id).sort()).toEqual(sentB.sort());
    for (const event of [...seenA.events, ...seenB.events]) {
      expect(event.result_type).toBe('success');
      expect(event.network_internal_code).toBe('solana-devnet');
      // The stand-in encodes the received derivation path length into the signature bytes.
      expect(Buffer.from(event.signature ?? '', 'base64')[0]).toBe(2);
    }
  });

  it('keeps legacy routing (no ClientID) apart from scoped routing', async () => {
    const signer = newSigner('ed25519');
    await startStandInSigner([signer]);
    const legacy = await newClient(signer);
    const scoped = await newClient(signer, 'svc-a');
    const seenLegacy = collect<KeygenResultEvent>();
    const seenScoped = collect<KeygenResultEvent>();
    stops.push(await legacy.onWalletCreationResult(seenLegacy.callback));
    stops.push(await scoped.onWalletCreationResult(seenScoped.callback));

    await legacy.createWallet('legacy-wallet');
    await scoped.createWallet('scoped-wallet');
    await Promise.all([seenLegacy.count(1), seenScoped.count(1)]);
    expect(seenLegacy.events.map((event) => event.wallet_id)).toEqual(['legacy-wallet']);
    expect(seenScoped.events.map((event) => event.wallet_id)).toEqual(['scoped-wallet']);
    expect(seenLegacy.events[0]?.eddsa_pub_key).toBe(Buffer.alloc(32, 7).toString('base64'));
    expect(seenLegacy.events[0]?.ecdsa_pub_key).toBeNull();
  });

  it('routes resharing results by ClientID and session', async () => {
    const signer = newSigner('p256');
    await startStandInSigner([signer]);
    const client = await newClient(signer, 'svc-r');
    const seen = collect<ResharingResultEvent>();
    stops.push(await client.onResharingResult(seen.callback));
    // mpcium's transport (core mpc:reshare), which the stand-in signer listens on.
    const sessionId = await client.reshareKeys({
      walletId: 'w1',
      nodeIds: ['node-1', 'node-2', 'node-3'],
      newThreshold: 1,
      keyType: 'ed25519',
      transport: 'core',
    });
    await seen.count(1);
    expect(seen.events[0]).toMatchObject({
      wallet_id: 'w1',
      new_threshold: 1,
      key_type: 'ed25519',
      session_id: sessionId,
    });
  });
  it('drops undecodable results without calling back and keeps consuming', async () => {
    const signer = newSigner('ed25519');
    const errors: unknown[] = [];
    const client = await newClient(signer, 'svc-g', (error) => errors.push(error));
    const seen = collect<SigningResultEvent>();
    stops.push(await client.onSignResult(seen.callback));
    const js = jetstream(nc);
    await js.publish(signingResultSubject('svc-g'), 'not json');
    await js.publish(signingResultSubject('svc-g'), '{"result_type":"maybe"}');
    await js.publish(
      signingResultSubject('svc-g'),
      encodeSigningResult({
        resultType: 'error',
        walletId: 'w',
        txId: 'after-garbage',
        networkInternalCode: '',
        errorCode: ErrorCode.KeyNotFound,
        errorReason: 'wallet w not found',
      }),
    );
    await seen.count(1);
    expect(seen.events.map((event) => event.tx_id)).toEqual(['after-garbage']);
    expect(errors.map((error) => (error as { code?: string }).code)).toEqual([
      'ERROR_UNMARSHAL_FAILURE',
      'ERROR_MSG_VALIDATION',
    ]);
    // Terminated and acked messages leave the WorkQueue stream.
    const jsm = await jetstreamManager(nc);
    for (let attempt = 0; attempt < 50; attempt++) {
      if ((await jsm.streams.info('mpc')).state.messages === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await jsm.streams.info('mpc')).state.messages).toBe(0);
  });
});

describe('MpcClient promise helpers', () => {
  it('resolve with the result of their own wallet / tx, also when sent concurrently', async () => {
    const signer = newSigner('ed25519');
    await startStandInSigner([signer]);
    const client = await newClient(signer, 'svc-p');
    const keygen = await client.createWalletAndWait('wallet-p', { timeoutMs: 20_000 });
    expect(keygen).toMatchObject({ wallet_id: 'wallet-p', result_type: 'success' });

    const results = await Promise.all(
      ['t1', 't2', 't3'].map((txId) =>
        client.signAndWait(
          { walletId: 'wallet-p', keyType: 'ed25519', tx: 'aGVsbG8=', txId },
          { timeoutMs: 20_000 },
        ),
      ),
    );
    expect(results.map((result) => result.tx_id)).toEqual(['t1', 't2', 't3']);
    const generated = await client.signAndWait(
      { walletId: 'wallet-p', keyType: 'ed25519', tx: new Uint8Array([0, 1]) },
      { timeoutMs: 20_000 },
    );
    expect(generated.tx_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('resolve with error results too (a request signed by a foreign key)', async () => {
    await startStandInSigner([newSigner('ed25519')]);
    const client = await newClient(newSigner('ed25519'), 'svc-x');
    const result = await client.signAndWait(
      { walletId: 'w', keyType: 'ed25519', tx: 'AA==', txId: 'bad-1' },
      { timeoutMs: 20_000 },
    );
    expect(result).toMatchObject({
      result_type: 'error',
      error_code: 'ERROR_INVALID_INITIATOR_SIGNATURE',
      tx_id: 'bad-1',
    });
  });

  it('reject with ResultTimeoutError when no signer answers', async () => {
    const client = await newClient(newSigner('ed25519'), 'svc-t');
    const waiting = client.signAndWait(
      { walletId: 'w', keyType: 'ed25519', tx: 'AA==', txId: 'lonely' },
      { timeoutMs: 300 },
    );
    await expect(waiting).rejects.toBeInstanceOf(ResultTimeoutError);
    await expect(waiting).rejects.toMatchObject({ code: 'ERROR_NETWORK_TIMEOUT', id: 'lonely' });
    await expect(
      client.createWalletAndWait('lonely-wallet', { timeoutMs: 300 }),
    ).rejects.toBeInstanceOf(ResultTimeoutError);
  });

  it('refuse invalid requests before publishing', async () => {
    const client = await newClient(newSigner('ed25519'), 'svc-v');
    await expect(
      client.signTransaction({ walletId: 'w', keyType: 'secp256k1', tx: new Uint8Array(33) }),
    ).rejects.toMatchObject({ code: 'ERROR_MSG_VALIDATION', field: 'tx' });
    await expect(
      client.signTransaction({ walletId: 'w', keyType: 'secp256k1', tx: '' }),
    ).rejects.toMatchObject({ code: 'ERROR_MSG_VALIDATION', field: 'tx' });
    await expect(client.createWallet('bad.wallet')).rejects.toMatchObject({ field: 'wallet_id' });
    await expect(
      MpcClient.create({ nc, signer: newSigner('ed25519'), clientId: 'bad.client' }),
    ).rejects.toMatchObject({ field: 'ClientID' });
  });
});

describe('mpc CLI against the stand-in signer', () => {
  it('wallet create and sign print the result JSON and exit 0', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'mpc-cli-it-'));
    stops.push(async () => rmSync(directory, { recursive: true, force: true }));
    const generated = generateInitiatorKey('p256');
    const keyPath = join(directory, 'initiator.key');
    writeFileSync(keyPath, generated.keyFileText, { mode: 0o600 });
    await startStandInSigner([initiatorSignerFromKeyText(generated.keyFileText)]);

    const run = async (...args: string[]): Promise<{ code: number; stdout: string }> => {
      let stdout = '';
      const code = await runCli(args, { stdout: (text) => (stdout += text), stderr: () => {} });
      return { code, stdout };
    };
    const common = ['--nats', server.url, '--key', keyPath, '--client-id', 'cli-1'];
    const wallet = await run('wallet', 'create', ...common, '--wallet-id', 'cli-wallet');
    expect(wallet.code).toBe(0);
    expect(JSON.parse(wallet.stdout)).toMatchObject({
      wallet_id: 'cli-wallet',
      result_type: 'success',
    });

    const signed = await run(
      'sign',
      ...common,
      '--wallet-id',
      'cli-wallet',
      '--key-type',
      'ed25519',
      '--message',
      'hello',
      '--tx-id',
      'cli-tx',
      '--derivation-path',
      '44,501,0',
    );
    expect(signed.code).toBe(0);
    const event = JSON.parse(signed.stdout) as SigningResultEvent;
    expect(event).toMatchObject({
      tx_id: 'cli-tx',
      wallet_id: 'cli-wallet',
      result_type: 'success',
    });
    expect(Buffer.from(event.signature ?? '', 'base64')[0]).toBe(3);
  });
});
