/**
 * Shared set-up of the cluster benchmarks: a private nats-server and 3 local signer
 * processes (threshold 1) from the production build dist/ (not dist-bench/), plus an Ed25519
 * initiator key. `stop()` removes everything it started. NATS runs with authorization (signers
 * use the signer user; benchmarks connect anonymously, which is the client role).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalCluster, type LocalClusterOptions } from '../signer/local/local-cluster.ts';
import { startNatsServer, type NatsServerHandle } from '../signer/local/nats-server.ts';

export interface BenchCluster {
  readonly root: string;
  readonly nats: NatsServerHandle;
  readonly cluster: LocalCluster;
  /** The initiator's Ed25519 private key (signs requests). */
  readonly initiatorKey: KeyObject;
  stop(): Promise<void>;
}

export async function startBenchCluster(
  prefix: string,
  options: Pick<LocalClusterOptions, 'configFor' | 'env'> = {},
): Promise<BenchCluster> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const nats = await startNatsServer({ rootDir: join(root, 'nats') });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const initiatorPublicKey = Buffer.from(
    publicKey.export({ format: 'jwk' }).x ?? '',
    'base64url',
  ).toString('hex');
  const cluster = await LocalCluster.create({
    natsUrl: nats.url,
    size: 3,
    threshold: 1,
    rootDir: join(root, 'signers'),
    // This file runs from dist-bench/bench/; the signers are the production build in dist/.
    mainScript: resolve(import.meta.dirname, '../../dist/signer/main.js'),
    initiator: { algorithm: 'ed25519', publicKey: initiatorPublicKey },
    ...(nats.credentials === undefined ? {} : { natsUser: nats.credentials.signer }),
    ...options,
  });
  return {
    root,
    nats,
    cluster,
    initiatorKey: privateKey,
    async stop() {
      await cluster.stop();
      await nats.stop();
      if (process.env['BENCH_KEEP_DIR'] === '1') process.stderr.write(`kept ${root}\n`);
      else rmSync(root, { recursive: true, force: true });
    },
  };
}
