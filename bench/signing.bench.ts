/**
 * Cluster benchmark (design §13): 3 local signer processes, threshold 1 (2-of-3), loopback
 * NATS. Prints JSON lines:
 *   {"bench":"ed25519.sign.latency", "p50_ms", "p95_ms", "samples"}   one request at a time
 *   {"bench":"ed25519.sign.throughput", "per_second", "requests", "concurrency"}
 *   {"bench":"secp256k1.sign.latency" …} and {"bench":"secp256k1.sign.throughput" …}
 *   {"bench":"keygen.latency", "p50_ms", "samples"}  (both key types in one session)
 * Progress goes to stderr. Every signature is verified with node:crypto before it counts.
 */
import { createPublicKey, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import {
  decodeKeygenResultEvent,
  decodeSigningResultEvent,
  encodeGenerateKeyMessage,
  encodeSignTxMessage,
  generateKeyRaw,
  signTxRaw,
  type KeygenResultEvent,
  type SigningResultEvent,
} from '../signer/protocol/messages.ts';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { startBenchCluster } from './bench-cluster.ts';

const SIGN_LATENCY_SAMPLES = Number(process.env['BENCH_SIGN_SAMPLES'] ?? 50);
const THROUGHPUT_REQUESTS = Number(process.env['BENCH_THROUGHPUT_REQUESTS'] ?? 400);
const THROUGHPUT_CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 32);
const KEYGEN_SAMPLES = Number(process.env['BENCH_KEYGEN_SAMPLES'] ?? 3);
const ECDSA_SIGN_SAMPLES = Number(process.env['BENCH_ECDSA_SIGN_SAMPLES'] ?? 30);
const ECDSA_THROUGHPUT_REQUESTS = Number(process.env['BENCH_ECDSA_THROUGHPUT_REQUESTS'] ?? 150);

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Resolves each result by id as it arrives on one result subject (core NATS subscription). */
function resultRouter<T>(
  nc: NatsConnection,
  subject: string,
  decode: (body: Uint8Array) => T,
  idOf: (value: T) => string,
) {
  const waiting = new Map<string, (value: T) => void>();
  const subscription = nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error !== null) return;
      const value = decode(msg.data);
      const resolveWaiter = waiting.get(idOf(value));
      waiting.delete(idOf(value));
      resolveWaiter?.(value);
    },
  });
  return {
    expect(id: string, timeoutMs = 60_000): Promise<T> {
      return new Promise<T>((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`no result for ${id}`)), timeoutMs);
        waiting.set(id, (value) => {
          clearTimeout(timer);
          resolvePromise(value);
        });
      });
    },
    stop: () => subscription.unsubscribe(),
  };
}

async function main(): Promise<void> {
  const bench = await startBenchCluster('mpc-bench-', { configFor: () => ({ log_level: 'warn' }) });
  const { nats, cluster, initiatorKey: privateKey } = bench;
  let nc: NatsConnection | undefined;
  try {
    await cluster.startAll();
    await cluster.waitForReady(3);
    nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const keygens = resultRouter<KeygenResultEvent>(
      nc,
      'mpc.mpc_keygen_result.*',
      decodeKeygenResultEvent,
      (r) => r.wallet_id,
    );
    const signings = resultRouter<SigningResultEvent>(
      nc,
      'mpc.mpc_signing_result.complete',
      decodeSigningResultEvent,
      (r) => r.tx_id,
    );

    const keygenTimes: number[] = [];
    let walletId = '';
    let walletKey: KeyObject | undefined;
    let ecdsaKey: Uint8Array | undefined;
    for (let index = 0; index < KEYGEN_SAMPLES; index++) {
      walletId = `bench-${randomUUID()}`;
      const started = performance.now();
      const pending = keygens.expect(walletId);
      await js.publish(
        `mpc.keygen_request.${walletId}`,
        encodeGenerateKeyMessage({
          walletId,
          signature: new Uint8Array(sign(null, generateKeyRaw({ walletId }), privateKey)),
          authorizerSignatures: [],
        }),
      );
      const result = await pending;
      if (result.result_type !== 'success' || result.eddsa_pub_key === null) {
        throw new Error(`keygen failed: ${result.error_code} ${result.error_reason}`);
      }
      keygenTimes.push(performance.now() - started);
      if (result.ecdsa_pub_key === null) throw new Error('keygen returned no ECDSA key');
      ecdsaKey = Uint8Array.of(4, ...Buffer.from(result.ecdsa_pub_key, 'base64'));
      walletKey = createPublicKey({
        key: {
          kty: 'OKP',
          crv: 'Ed25519',
          x: Buffer.from(result.eddsa_pub_key, 'base64').toString('base64url'),
        },
        format: 'jwk',
      });
    }
    keygenTimes.sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        bench: 'keygen.latency',
        key_types: ['ed25519', 'secp256k1'],
        p50_ms: round(percentile(keygenTimes, 50)),
        samples: keygenTimes.length,
      }),
    );

    const signOnce = async (keyType: 'ed25519' | 'secp256k1' = 'ed25519'): Promise<number> => {
      const txId = randomUUID();
      const message = new TextEncoder().encode(`bench message ${txId}`);
      const tx = keyType === 'ed25519' ? message : sha256(message);
      const request = { keyType, walletId, networkInternalCode: 'bench', txId, tx };
      const started = performance.now();
      const pending = signings.expect(txId);
      await js.publish(
        `mpc.signing_request.${txId}`,
        encodeSignTxMessage({
          ...request,
          signature: new Uint8Array(sign(null, signTxRaw(request), privateKey)),
          derivationPath: null,
          authorizerSignatures: [],
        }),
      );
      const result = await pending;
      const elapsed = performance.now() - started;
      if (result.result_type !== 'success') {
        throw new Error(`signing failed: ${result.error_code} ${result.error_reason}`);
      }
      const valid =
        keyType === 'ed25519'
          ? verify(null, tx, walletKey as KeyObject, Buffer.from(result.signature ?? '', 'base64'))
          : secp256k1.verify(
              Uint8Array.of(
                ...Buffer.from(result.r ?? '', 'base64'),
                ...Buffer.from(result.s ?? '', 'base64'),
              ),
              tx,
              ecdsaKey as Uint8Array,
              { prehash: false, lowS: true },
            );
      if (!valid) throw new Error(`${keyType} signature did not verify`);
      return elapsed;
    };

    for (let index = 0; index < 10; index++) await signOnce(); // warm-up
    const latencies: number[] = [];
    for (let index = 0; index < SIGN_LATENCY_SAMPLES; index++) latencies.push(await signOnce());
    latencies.sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        bench: 'ed25519.sign.latency',
        p50_ms: round(percentile(latencies, 50)),
        p95_ms: round(percentile(latencies, 95)),
        samples: latencies.length,
        signers: 3,
        threshold: 1,
      }),
    );

    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: THROUGHPUT_CONCURRENCY }, async () => {
        while (next < THROUGHPUT_REQUESTS) {
          next += 1;
          await signOnce();
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      JSON.stringify({
        bench: 'ed25519.sign.throughput',
        per_second: round(THROUGHPUT_REQUESTS / seconds),
        requests: THROUGHPUT_REQUESTS,
        concurrency: THROUGHPUT_CONCURRENCY,
      }),
    );
    for (let index = 0; index < 5; index++) await signOnce('secp256k1'); // warm-up
    const ecdsaLatencies: number[] = [];
    for (let index = 0; index < ECDSA_SIGN_SAMPLES; index++) {
      ecdsaLatencies.push(await signOnce('secp256k1'));
    }
    ecdsaLatencies.sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        bench: 'secp256k1.sign.latency',
        p50_ms: round(percentile(ecdsaLatencies, 50)),
        p95_ms: round(percentile(ecdsaLatencies, 95)),
        samples: ecdsaLatencies.length,
        signers: 3,
        threshold: 1,
      }),
    );
    let nextEcdsa = 0;
    const ecdsaStarted = performance.now();
    await Promise.all(
      Array.from({ length: THROUGHPUT_CONCURRENCY }, async () => {
        while (nextEcdsa < ECDSA_THROUGHPUT_REQUESTS) {
          nextEcdsa += 1;
          await signOnce('secp256k1');
        }
      }),
    );
    console.log(
      JSON.stringify({
        bench: 'secp256k1.sign.throughput',
        per_second: round(ECDSA_THROUGHPUT_REQUESTS / ((performance.now() - ecdsaStarted) / 1000)),
        requests: ECDSA_THROUGHPUT_REQUESTS,
        concurrency: THROUGHPUT_CONCURRENCY,
      }),
    );
    keygens.stop();
    signings.stop();
  } finally {
    await nc?.close();
    await bench.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
