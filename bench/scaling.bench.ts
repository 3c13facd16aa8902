/**
 * Scaling benchmark (issue 15 item 4): signing throughput against the number of signers,
 * n = 3, 5, 7, each at t = 1 and at t = ⌊(n − 1)/2⌋ (3-of-5, 4-of-7), at one fixed concurrency.
 * Every configuration is a fresh local cluster (bench-cluster.ts: real signer processes from
 * dist/, a private nats-server) with one keygen; then a short warm-up and one throughput run
 * per key type, with the signers' CPU and the NATS messages per signature over that run.
 * Prints one JSON line per configuration and key type:
 *   {"bench":"scaling.ed25519", "signers", "threshold", "committee", "per_second",
 *    "cpu_ms_per_signature", "messages_per_signature", "requests", "concurrency"}
 * and at the end {"bench":"scaling.table", "rows": [...]} with every row. A request that gets
 * an error result does not abort the run (it is counted in `failed`/`failures` by error code,
 * and the first message goes to stderr): the table shows where a configuration stops coping.
 * Sample counts are small so that the whole run stays within minutes on 2 cores; enlarge with
 * BENCH_SCALING_REQUESTS (Ed25519, default 60), BENCH_SCALING_ECDSA_REQUESTS (default 16),
 * BENCH_SCALING_CONCURRENCY (default 16); BENCH_SCALING_SIZES="3,5" limits the cluster sizes.
 * Concurrency: on the first configuration (3 signers, 2-of-3 by default) each key type is also
 * run at every concurrency of BENCH_SCALING_CONCURRENCIES (default "1,4,16,64"; each run has
 * max(requests, 2 × concurrency) requests), printed as {"bench":"scaling.concurrency.<key>", …}
 * rows and in the table's `by_concurrency`.
 * Every signature is verified before it counts.
 */
import {
  openBenchClient,
  perSignature,
  round,
  startBenchCluster,
  type BenchClient,
  type BenchKeyType,
} from './bench-cluster.ts';

const REQUESTS = Number(process.env['BENCH_SCALING_REQUESTS'] ?? 60);
const ECDSA_REQUESTS = Number(process.env['BENCH_SCALING_ECDSA_REQUESTS'] ?? 16);
const CONCURRENCY = Number(process.env['BENCH_SCALING_CONCURRENCY'] ?? 16);
const SIZES = (process.env['BENCH_SCALING_SIZES'] ?? '3,5,7').split(',').map(Number);
const CONCURRENCIES = (process.env['BENCH_SCALING_CONCURRENCIES'] ?? '1,4,16,64')
  .split(',')
  .filter((value) => value !== '')
  .map(Number);

interface Row {
  readonly key_type: BenchKeyType;
  readonly signers: number;
  readonly threshold: number;
  readonly committee: number;
  /** Requests answered per second (an error result counts as answered; see `failed`). */
  readonly per_second: number;
  /** Requests that got an error result, in all and by error code (none expected). */
  readonly failed: number;
  readonly failures: Record<string, number>;
  readonly cpu_ms_per_signature: number;
  readonly messages_per_signature: number;
  readonly keygen_ms: number;
  readonly requests: number;
  readonly concurrency: number;
}

function configurations(): Array<{ size: number; threshold: number }> {
  const result: Array<{ size: number; threshold: number }> = [];
  for (const size of SIZES) {
    result.push({ size, threshold: 1 });
    const majority = Math.floor((size - 1) / 2);
    if (majority !== 1) result.push({ size, threshold: majority });
  }
  return result;
}

async function run(
  bench: Awaited<ReturnType<typeof startBenchCluster>>,
  client: BenchClient,
  keyType: BenchKeyType,
  shape: { size: number; threshold: number; requests: number; concurrency: number },
  keygenMs: number,
): Promise<Row> {
  const { size, threshold, requests, concurrency } = shape;
  const before = await bench.usage();
  const outcome = await client.throughput(keyType, requests, concurrency);
  const figures = perSignature(before, await bench.usage(), requests);
  if (outcome.firstError !== undefined) process.stderr.write(`bench: ${outcome.firstError}\n`);
  return {
    key_type: keyType,
    signers: size,
    threshold,
    committee: threshold + 1,
    per_second: round(outcome.perSecond),
    failed: outcome.failed,
    failures: outcome.failures,
    cpu_ms_per_signature: figures.cpu_ms_per_signature,
    messages_per_signature: figures.messages_per_signature,
    keygen_ms: round(keygenMs),
    requests,
    concurrency,
  };
}

async function measure(
  size: number,
  threshold: number,
  sweep: boolean,
): Promise<{ rows: Row[]; byConcurrency: Row[] }> {
  process.stderr.write(`bench: scaling n=${size} t=${threshold}\n`);
  const bench = await startBenchCluster('mpc-bench-scaling-', {
    size,
    threshold,
    configFor: () => ({ log_level: 'warn' }),
  });
  let client: BenchClient | undefined;
  const rows: Row[] = [];
  const byConcurrency: Row[] = [];
  try {
    await bench.cluster.startAll();
    await bench.cluster.waitForReady(size, 60_000);
    client = await openBenchClient(bench);
    const keygenMs = await client.keygen();
    for (const [keyType, requests] of [
      ['ed25519', REQUESTS],
      ['secp256k1', ECDSA_REQUESTS],
    ] as const) {
      for (let index = 0; index < 3; index++) await client.signOnce(keyType); // warm-up
      const shape = { size, threshold, requests, concurrency: CONCURRENCY };
      const row = await run(bench, client, keyType, shape, keygenMs);
      console.log(JSON.stringify({ bench: `scaling.${keyType}`, ...row }));
      rows.push(row);
      if (!sweep) continue;
      for (const concurrency of CONCURRENCIES) {
        const swept = {
          size,
          threshold,
          requests: Math.max(requests, 2 * concurrency),
          concurrency,
        };
        const sweptRow = await run(bench, client, keyType, swept, keygenMs);
        console.log(JSON.stringify({ bench: `scaling.concurrency.${keyType}`, ...sweptRow }));
        byConcurrency.push(sweptRow);
      }
    }
  } finally {
    await client?.close();
    await bench.stop();
  }
  return { rows, byConcurrency };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const byConcurrency: Row[] = [];
  let first = true;
  for (const { size, threshold } of configurations()) {
    const measured = await measure(size, threshold, first);
    first = false;
    rows.push(...measured.rows);
    byConcurrency.push(...measured.byConcurrency);
  }
  console.log(JSON.stringify({ bench: 'scaling.table', rows, by_concurrency: byConcurrency }));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
