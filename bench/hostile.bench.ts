/**
 * Hostile-input benchmark (issue 12 item 2, design §13 "hostile flood"): one client floods the
 * request streams with N requests that can never succeed — malformed JSON, unreadable ids
 * (`.`, `*`, `>`, space, 300 bytes, a number, a 70 KiB body) and invalid ClientID headers —
 * then another client sends one valid request. The delay of that request over an unflooded
 * baseline is the bound README's failure semantics state. 3 local signers, threshold 1.
 * Prints one JSON line:
 *   {"bench":"hostile.flood_delay","flood","trials",
 *    "keygen_baseline_p50_ms","keygen_flooded_p50_ms","keygen_delay_ms",
 *    "sign_baseline_p50_ms","sign_flooded_p50_ms","sign_delay_ms"}
 * (`*_delay_ms` = flooded p50 − baseline p50). Env: BENCH_FLOOD_N (default 1000),
 * BENCH_FLOOD_TRIALS (3), BENCH_SIGN_SAMPLES_HOSTILE (10).
 */
import { randomUUID, sign } from 'node:crypto';
import { connect, headers, type MsgHdrs } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import {
  decodeKeygenResultEvent,
  decodeSigningResultEvent,
  encodeGenerateKeyMessage,
  encodeSignTxMessage,
  generateKeyRaw,
  signTxRaw,
} from '../signer/protocol/messages.ts';
import { startBenchCluster } from './bench-cluster.ts';

const FLOOD = Number(process.env['BENCH_FLOOD_N'] ?? 1000);
const TRIALS = Number(process.env['BENCH_FLOOD_TRIALS'] ?? 3);
const SIGN_SAMPLES = Number(process.env['BENCH_SIGN_SAMPLES_HOSTILE'] ?? 10);
const VICTIM = 'victim';
const encoder = new TextEncoder();

function p50(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length / 2) - 1] ?? Number.NaN;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function clientHeaders(clientId: string): MsgHdrs {
  const h = headers();
  h.set('ClientID', clientId);
  return h;
}

/** The i-th request of the flood: [subject, body, ClientID] cycling through every bad kind. */
function floodRequest(i: number, kind: 'keygen' | 'sign'): [string, Uint8Array, string] {
  const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
  const badIds = ['a.b', 'a*b', 'a>b', 'a b', 'w'.repeat(300), 42];
  const badClients = ['a b', 'tab\there', 'x.y', 'star*', 'gt>'];
  const subject = kind === 'keygen' ? `mpc.keygen_request.f${i}` : `mpc.signing_request.f${i}`;
  const idField = kind === 'keygen' ? 'wallet_id' : 'tx_id';
  switch (i % 4) {
    case 0:
      return [subject, encoder.encode(`{"${idField}": "trunc`), 'flood'];
    case 1:
      return [subject, json({ [idField]: badIds[i % badIds.length], signature: 'AA==' }), 'flood'];
    case 2:
      return [subject, json({ [idField]: 'w', padding: 'x'.repeat(70 * 1024) }), 'flood'];
    default:
      return [
        subject,
        json({ [idField]: `ok-${i}`, signature: 'AA==' }),
        badClients[i % badClients.length] ?? 'a b',
      ];
  }
}

async function flood(js: JetStreamClient, kind: 'keygen' | 'sign'): Promise<void> {
  const batch = 100;
  for (let start = 0; start < FLOOD; start += batch) {
    const publishes: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(FLOOD, start + batch); i++) {
      const [subject, body, clientId] = floodRequest(i, kind);
      publishes.push(js.publish(subject, body, { headers: clientHeaders(clientId) }));
    }
    await Promise.all(publishes);
  }
}

async function main(): Promise<void> {
  const bench = await startBenchCluster('mpc-bench-hostile-', {
    configFor: () => ({ log_level: process.env['BENCH_LOG_LEVEL'] ?? 'warn' }),
  });
  const { nats, cluster, initiatorKey: privateKey } = bench;
  // Anonymous connections are the client role (nats-permissions.ts).
  const nc = await connect({ servers: nats.url });
  const js = jetstream(nc);
  const waiting = new Map<string, () => void>();
  for (const subject of [
    `mpc.mpc_keygen_result.${VICTIM}.*`,
    `mpc.mpc_signing_result.${VICTIM}.complete`,
  ]) {
    nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error !== null) return;
        const id = subject.includes('keygen')
          ? decodeKeygenResultEvent(msg.data).wallet_id
          : decodeSigningResultEvent(msg.data).tx_id;
        waiting.get(id)?.();
        waiting.delete(id);
      },
    });
  }
  const answered = (id: string, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no result for ${id}`)), timeoutMs);
      waiting.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  const keygen = async (walletId: string): Promise<number> => {
    const done = answered(walletId, 600_000);
    const started = performance.now();
    await js.publish(
      `mpc.keygen_request.${walletId}`,
      encodeGenerateKeyMessage({
        walletId,
        signature: new Uint8Array(sign(null, generateKeyRaw({ walletId }), privateKey)),
        authorizerSignatures: [],
      }),
      { headers: clientHeaders(VICTIM) },
    );
    await done;
    return performance.now() - started;
  };
  const signOnce = async (walletId: string): Promise<number> => {
    const txId = randomUUID();
    const request = {
      keyType: 'ed25519' as const,
      walletId,
      networkInternalCode: 'bench',
      txId,
      tx: encoder.encode(txId),
    };
    const done = answered(txId, 600_000);
    const started = performance.now();
    await js.publish(
      `mpc.signing_request.${txId}`,
      encodeSignTxMessage({
        ...request,
        signature: new Uint8Array(sign(null, signTxRaw(request), privateKey)),
        derivationPath: null,
        authorizerSignatures: [],
      }),
      { headers: clientHeaders(VICTIM) },
    );
    await done;
    return performance.now() - started;
  };
  try {
    await cluster.startAll();
    await cluster.waitForReady(3);
    const walletId = `bench-${randomUUID()}`;
    const keygenBaseline = [await keygen(walletId)];
    for (let trial = 1; trial < TRIALS; trial++) {
      keygenBaseline.push(await keygen(`bench-${randomUUID()}`));
    }
    const signBaseline: number[] = [];
    for (let i = 0; i < SIGN_SAMPLES; i++) signBaseline.push(await signOnce(walletId));
    process.stderr.write(
      `baseline: keygen p50 ${round(p50(keygenBaseline))} ms, sign p50 ${round(p50(signBaseline))} ms\n`,
    );
    const keygenFlooded: number[] = [];
    const signFlooded: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      await flood(js, 'keygen');
      keygenFlooded.push(await keygen(`bench-${randomUUID()}`));
      await flood(js, 'sign');
      signFlooded.push(await signOnce(walletId));
      process.stderr.write(
        `trial ${trial + 1}/${TRIALS}: keygen ${round(keygenFlooded.at(-1) ?? NaN)} ms, ` +
          `sign ${round(signFlooded.at(-1) ?? NaN)} ms after ${FLOOD} malformed requests\n`,
      );
    }
    console.log(
      JSON.stringify({
        bench: 'hostile.flood_delay',
        flood: FLOOD,
        trials: TRIALS,
        keygen_baseline_p50_ms: round(p50(keygenBaseline)),
        keygen_flooded_p50_ms: round(p50(keygenFlooded)),
        keygen_delay_ms: round(p50(keygenFlooded) - p50(keygenBaseline)),
        sign_baseline_p50_ms: round(p50(signBaseline)),
        sign_flooded_p50_ms: round(p50(signFlooded)),
        sign_delay_ms: round(p50(signFlooded) - p50(signBaseline)),
      }),
    );
  } finally {
    await nc.close();
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
