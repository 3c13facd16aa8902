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

async function measure(size: number, threshold: number): Promise<Row[]> {
  process.stderr.write(`bench: scaling n=${size} t=${threshold}\n`);
  const bench = await startBenchCluster('mpc-bench-scaling-', {
    size,
    threshold,
    configFor: () => ({ log_level: 'warn' }),
  });
  let client: BenchClient | undefined;
  const rows: Row[] = [];
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
      const before = await bench.usage();
      const run = await client.throughput(keyType, requests, CONCURRENCY);
      const figures = perSignature(before, await bench.usage(), requests);
      if (run.firstError !== undefined) process.stderr.write(`bench: ${run.firstError}\n`);
      const row: Row = {
        key_type: keyType,
        signers: size,
        threshold,
        committee: threshold + 1,
        per_second: round(run.perSecond),
        failed: run.failed,
        failures: run.failures,
        cpu_ms_per_signature: figures.cpu_ms_per_signature,
        messages_per_signature: figures.messages_per_signature,
        keygen_ms: round(keygenMs),
        requests,
        concurrency: CONCURRENCY,
      };
      console.log(JSON.stringify({ bench: `scaling.${keyType}`, ...row }));
      rows.push(row);
    }
  } finally {
    await client?.close();
    await bench.stop();
  }
  return rows;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const { size, threshold } of configurations())
    rows.push(...(await measure(size, threshold)));
  console.log(JSON.stringify({ bench: 'scaling.table', rows }));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
