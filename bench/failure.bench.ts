/**
 * Failure-path benchmark (design §13, issue 3): time from a participant's death (kill -9
 * while it holds a signing session between rounds) to the client's ERROR_PEER_UNAVAILABLE
 * result. 3 local signers, threshold 1; signer-0 coordinates, the others pause (test-only
 * fault injection) after round 0 so the kill lands between rounds. Prints one JSON line:
 *   {"bench":"failure.peer_death_to_error","p50_ms","max_ms","trials"}
 */
import { randomUUID, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import {
  decodeKeygenResultEvent,
  decodeSigningResultEvent,
  encodeGenerateKeyMessage,
  encodeSignTxMessage,
  generateKeyRaw,
  signTxRaw,
} from '../signer/protocol/messages.ts';
import { startBenchCluster } from './bench-cluster.ts';

const TRIALS = Number(process.env['BENCH_FAILURE_TRIALS'] ?? 20);

async function main(): Promise<void> {
  const pauseDir = mkdtempSync(join(tmpdir(), 'mpc-bench-pause-'));
  const pauseFile = join(pauseDir, 'pause');
  const bench = await startBenchCluster('mpc-bench-failure-', {
    env: { MPC_ENABLE_FAULT_INJECTION: '1' },
    configFor: (nodeId) => ({
      log_level: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
      membership: { heartbeat_interval_ms: 250, peer_timeout_ms: 1000 },
      fault_injection: nodeId.endsWith('-0')
        ? { refuse_coordination: false }
        : {
            refuse_coordination: true,
            pause_at_round: 1,
            pause_role: 'participant',
            pause_file: pauseFile,
          },
    }),
  });
  const { nats, cluster, initiatorKey: privateKey } = bench;
  const nc = await connect({ servers: nats.url });
  const js = jetstream(nc);
  const results = new Map<string, Record<string, unknown>>();
  for (const subject of ['mpc.mpc_keygen_result.>', 'mpc.mpc_signing_result.>']) {
    nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error !== null) return;
        const body = subject.includes('keygen')
          ? (decodeKeygenResultEvent(msg.data) as unknown as Record<string, unknown>)
          : (decodeSigningResultEvent(msg.data) as unknown as Record<string, unknown>);
        results.set(String(body['tx_id'] ?? body['wallet_id']), body);
      },
    });
  }
  const waitFor = async <T>(
    check: () => T | undefined,
    what: string,
    timeoutMs = 30_000,
  ): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  const pausedSessions = async (nodeId: string): Promise<number> => {
    const response = await cluster.http(nodeId, '/readyz');
    if (response === undefined) return -1;
    return (JSON.parse(response.body) as { pausedSessions?: number }).pausedSessions ?? 0;
  };
  try {
    await cluster.startAll();
    await cluster.waitForReady(3);
    const walletId = `bench-${randomUUID()}`;
    await js.publish(
      `mpc.keygen_request.${walletId}`,
      encodeGenerateKeyMessage({
        walletId,
        signature: new Uint8Array(sign(null, generateKeyRaw({ walletId }), privateKey)),
        authorizerSignatures: [],
      }),
    );
    await waitFor(() => results.get(walletId), 'keygen');
    const samples: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      writeFileSync(pauseFile, '');
      const txId = randomUUID();
      const request = {
        keyType: 'ed25519' as const,
        walletId,
        networkInternalCode: 'bench',
        txId,
        tx: new TextEncoder().encode(txId),
      };
      await js.publish(
        `mpc.signing_request.${txId}`,
        encodeSignTxMessage({
          ...request,
          signature: new Uint8Array(sign(null, signTxRaw(request), privateKey)),
          derivationPath: null,
          authorizerSignatures: [],
        }),
      );
      let victim: string | undefined;
      const deadline = Date.now() + 10_000;
      while (victim === undefined && Date.now() < deadline) {
        for (const nodeId of cluster.nodeIds.slice(1))
          if ((await pausedSessions(nodeId)) === 1) victim = nodeId;
      }
      if (victim === undefined) throw new Error('no participant took the session');
      rmSync(pauseFile);
      const killedAt = performance.now();
      cluster.signer(victim).process?.kill('SIGKILL');
      const result = await waitFor(() => results.get(txId), 'error result');
      samples.push(performance.now() - killedAt);
      if (result['error_code'] !== 'ERROR_PEER_UNAVAILABLE') {
        throw new Error(
          `unexpected result ${String(result['result_type'])} ${String(result['error_code'])}`,
        );
      }
      await waitFor(
        () => (cluster.signer(victim).process === undefined ? true : undefined),
        'victim exit',
      );
      await cluster.start(victim);
      await cluster.waitForReady(3);
      process.stderr.write(`trial ${trial + 1}/${TRIALS}: ${samples.at(-1)?.toFixed(1)} ms\n`);
    }
    samples.sort((a, b) => a - b);
    const p50 = samples[Math.ceil(samples.length / 2) - 1] ?? Number.NaN;
    console.log(
      JSON.stringify({
        bench: 'failure.peer_death_to_error',
        p50_ms: Math.round(p50 * 10) / 10,
        max_ms: Math.round((samples.at(-1) ?? Number.NaN) * 10) / 10,
        trials: samples.length,
      }),
    );
  } finally {
    await nc.close();
    await bench.stop();
    rmSync(pauseDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
