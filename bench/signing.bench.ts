/**
 * Cluster benchmark (design §13): 3 local signer processes, threshold 1 (2-of-3), loopback
 * NATS. Prints JSON lines:
 *   {"bench":"ed25519.sign.latency", "p50_ms", "p95_ms", "samples"}   one request at a time
 *   {"bench":"ed25519.sign.throughput", "per_second", "requests", "concurrency"}
 *   {"bench":"ed25519.cpu_ms_per_signature", "value", …}       all signer processes' CPU
 *   {"bench":"ed25519.messages_per_signature", "value", "deliveries_per_signature", …}
 *   the same four for secp256k1
 *   {"bench":"keygen.latency", "p50_ms", "samples"}  (both key types in one session)
 * The per-signature figures are measured over the throughput run: signer CPU from
 * /proc/<pid>/stat, NATS messages from the nats-server's /varz `in_msgs` (every message any
 * client published: requests, peer messages, JetStream acks and API calls, results) and
 * `out_msgs` (deliveries), divided by the signatures of the run (bench-cluster.ts).
 * Progress goes to stderr. Every signature is verified with node:crypto before it counts.
 */
import {
  openBenchClient,
  percentile,
  perSignature,
  round,
  startBenchCluster,
  type BenchClient,
  type BenchCluster,
  type BenchKeyType,
} from './bench-cluster.ts';

const SIGN_LATENCY_SAMPLES = Number(process.env['BENCH_SIGN_SAMPLES'] ?? 50);
const THROUGHPUT_REQUESTS = Number(process.env['BENCH_THROUGHPUT_REQUESTS'] ?? 400);
const THROUGHPUT_CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 32);
const KEYGEN_SAMPLES = Number(process.env['BENCH_KEYGEN_SAMPLES'] ?? 3);
const ECDSA_SIGN_SAMPLES = Number(process.env['BENCH_ECDSA_SIGN_SAMPLES'] ?? 30);
const ECDSA_THROUGHPUT_REQUESTS = Number(process.env['BENCH_ECDSA_THROUGHPUT_REQUESTS'] ?? 150);

async function measureKeyType(
  bench: BenchCluster,
  client: BenchClient,
  keyType: BenchKeyType,
  warmUp: number,
  samples: number,
  requests: number,
): Promise<void> {
  for (let index = 0; index < warmUp; index++) await client.signOnce(keyType);
  const latencies: number[] = [];
  for (let index = 0; index < samples; index++) latencies.push(await client.signOnce(keyType));
  latencies.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      bench: `${keyType}.sign.latency`,
      p50_ms: round(percentile(latencies, 50)),
      p95_ms: round(percentile(latencies, 95)),
      samples: latencies.length,
      signers: 3,
      threshold: 1,
    }),
  );
  const before = await bench.usage();
  const run = await client.throughput(keyType, requests, THROUGHPUT_CONCURRENCY);
  const figures = perSignature(before, await bench.usage(), requests);
  if (run.failed > 0) throw new Error(`${run.failed} of ${requests} failed: ${run.firstError}`);
  const perSecond = run.perSecond;
  console.log(
    JSON.stringify({
      bench: `${keyType}.sign.throughput`,
      per_second: round(perSecond),
      requests,
      concurrency: THROUGHPUT_CONCURRENCY,
    }),
  );
  console.log(
    JSON.stringify({
      bench: `${keyType}.cpu_ms_per_signature`,
      value: figures.cpu_ms_per_signature,
      signers: 3,
      threshold: 1,
      requests,
      concurrency: THROUGHPUT_CONCURRENCY,
    }),
  );
  console.log(
    JSON.stringify({
      bench: `${keyType}.messages_per_signature`,
      value: figures.messages_per_signature,
      deliveries_per_signature: figures.deliveries_per_signature,
      signers: 3,
      threshold: 1,
      requests,
    }),
  );
}

async function main(): Promise<void> {
  const bench = await startBenchCluster('mpc-bench-', { configFor: () => ({ log_level: 'warn' }) });
  let client: BenchClient | undefined;
  try {
    await bench.cluster.startAll();
    await bench.cluster.waitForReady(3);
    client = await openBenchClient(bench);
    const keygenTimes: number[] = [];
    for (let index = 0; index < KEYGEN_SAMPLES; index++) keygenTimes.push(await client.keygen());
    keygenTimes.sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        bench: 'keygen.latency',
        key_types: ['ed25519', 'secp256k1'],
        p50_ms: round(percentile(keygenTimes, 50)),
        samples: keygenTimes.length,
      }),
    );
    await measureKeyType(bench, client, 'ed25519', 10, SIGN_LATENCY_SAMPLES, THROUGHPUT_REQUESTS);
    await measureKeyType(
      bench,
      client,
      'secp256k1',
      5,
      ECDSA_SIGN_SAMPLES,
      ECDSA_THROUGHPUT_REQUESTS,
    );
  } finally {
    await client?.close();
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
