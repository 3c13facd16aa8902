/**
 * Resharing benchmark (issue 5): 3 local signer processes, one wallet, requests on core
 * `mpc:reshare` as mpcium clients send them. Each sample moves one key 2-of-3 → 3-of-3 and
 * back (two reshares per sample; the time is per reshare, request to result). Prints:
 *   {"bench":"reshare.ed25519.latency", "p50_ms", "max_ms", "samples"}
 *   {"bench":"reshare.secp256k1.latency", …}
 * A signature is checked against the unchanged key after the last reshare of each type.
 * Progress goes to stderr.
 */
import { createPublicKey, randomUUID, sign, verify } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  decodeKeygenResultEvent,
  decodeResharingResultEvent,
  decodeSigningResultEvent,
  encodeGenerateKeyMessage,
  encodeResharingMessage,
  encodeSignTxMessage,
  generateKeyRaw,
  resharingRaw,
  signTxRaw,
  type KeyType,
} from '../signer/protocol/messages.ts';
import { startBenchCluster } from './bench-cluster.ts';

const SAMPLES = Number(process.env['BENCH_RESHARE_SAMPLES'] ?? 2);

function once<T>(nc: NatsConnection, subject: string, decode: (body: Uint8Array) => T) {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message on ${subject}`)), 120_000);
    nc.subscribe(subject, {
      max: 1,
      callback: (error, msg) => {
        clearTimeout(timer);
        if (error !== null) reject(error);
        else resolve(decode(msg.data));
      },
    });
  });
}

async function main(): Promise<void> {
  const bench = await startBenchCluster('mpc-bench-reshare-', {
    configFor: () => ({ log_level: 'warn' }),
  });
  const { nats, cluster, initiatorKey } = bench;
  let nc: NatsConnection | undefined;
  try {
    await cluster.startAll();
    await cluster.waitForReady(3);
    nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const walletId = `bench-${randomUUID()}`;
    const keygen = once(nc, `mpc.mpc_keygen_result.${walletId}`, decodeKeygenResultEvent);
    await js.publish(
      `mpc.keygen_request.${walletId}`,
      encodeGenerateKeyMessage({
        walletId,
        signature: new Uint8Array(sign(null, generateKeyRaw({ walletId }), initiatorKey)),
        authorizerSignatures: [],
      }),
    );
    const keys = await keygen;
    if (
      keys.result_type !== 'success' ||
      keys.eddsa_pub_key === null ||
      keys.ecdsa_pub_key === null
    ) {
      throw new Error(`keygen failed: ${keys.error_code}`);
    }
    const nodes = cluster.nodeIds;
    for (const keyType of ['ed25519', 'secp256k1'] as const satisfies readonly KeyType[]) {
      const times: number[] = [];
      for (let sample = 0; sample < SAMPLES; sample++) {
        for (const newThreshold of [2, 1]) {
          const sessionId = randomUUID();
          const fields = { sessionId, nodeIds: nodes, newThreshold, keyType, walletId };
          const pending = once(
            nc,
            `mpc.mpc_reshare_result.${sessionId}`,
            decodeResharingResultEvent,
          );
          const started = performance.now();
          nc.publish(
            'mpc:reshare',
            encodeResharingMessage({
              ...fields,
              signature: new Uint8Array(sign(null, resharingRaw(fields), initiatorKey)),
              authorizerSignatures: [],
            }),
          );
          const result = await pending;
          if (result.result_type !== 'success') {
            throw new Error(`reshare failed: ${result.error_code} ${result.error_reason}`);
          }
          const expected = keyType === 'ed25519' ? keys.eddsa_pub_key : keys.ecdsa_pub_key;
          if (result.pub_key !== expected) throw new Error('reshare changed the public key');
          times.push(performance.now() - started);
          process.stderr.write(
            `reshare ${keyType} → t=${newThreshold}: ${Math.round(times.at(-1) ?? 0)} ms\n`,
          );
        }
      }
      await checkSignature(nc, keyType, walletId, keys, initiatorKey);
      times.sort((a, b) => a - b);
      console.log(
        JSON.stringify({
          bench: `reshare.${keyType}.latency`,
          p50_ms: Math.round(times[Math.floor((times.length - 1) / 2)] ?? Number.NaN),
          max_ms: Math.round(times.at(-1) ?? Number.NaN),
          samples: times.length,
        }),
      );
    }
  } finally {
    await nc?.close();
    await bench.stop();
  }
}

/** One signature under the (unchanged) key, verified with independent code. */
async function checkSignature(
  nc: NatsConnection,
  keyType: KeyType,
  walletId: string,
  keys: { eddsa_pub_key: string | null; ecdsa_pub_key: string | null },
  initiatorKey: Parameters<typeof sign>[2],
): Promise<void> {
  const txId = randomUUID();
  const tx =
    keyType === 'ed25519' ? new TextEncoder().encode(txId) : sha256(new TextEncoder().encode(txId));
  const fields = { keyType, walletId, networkInternalCode: 'bench', txId, tx };
  const pending = once(nc, 'mpc.mpc_signing_result.complete', decodeSigningResultEvent);
  await jetstream(nc).publish(
    `mpc.signing_request.${txId}`,
    encodeSignTxMessage({
      ...fields,
      derivationPath: null,
      signature: new Uint8Array(sign(null, signTxRaw(fields), initiatorKey)),
      authorizerSignatures: [],
    }),
  );
  const result = await pending;
  let valid = false;
  if (keyType === 'ed25519' && result.signature !== null && keys.eddsa_pub_key !== null) {
    const key = createPublicKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        x: Buffer.from(keys.eddsa_pub_key, 'base64').toString('base64url'),
      },
      format: 'jwk',
    });
    valid = verify(null, tx, key, Buffer.from(result.signature, 'base64'));
  } else if (result.r !== null && result.s !== null && keys.ecdsa_pub_key !== null) {
    const compact = new Uint8Array([
      ...Buffer.from(result.r, 'base64'),
      ...Buffer.from(result.s, 'base64'),
    ]);
    const publicKey = Uint8Array.of(4, ...Buffer.from(keys.ecdsa_pub_key, 'base64'));
    valid = secp256k1.verify(compact, tx, publicKey, { prehash: false, lowS: true });
  }
  if (!valid) throw new Error(`signature after resharing failed verification (${keyType})`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
