/**
 * Test helpers around `LocalCluster`: a cluster of real signer processes (from the build
 * output) in a temp dir against the suite's NATS server, torn down by `stop()`.
 * `natsConnectOptions` turns a role's credentials into nats.js connect options.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inject } from 'vitest';
import { LocalCluster, type LocalClusterOptions } from '../../signer/local/local-cluster.ts';
import type { NatsUserCredentials } from '../../signer/local/nats-permissions.ts';
import type { NatsServerHandle } from '../../signer/local/nats-server.ts';
import { newEd25519Initiator, type Ed25519Initiator } from './raw-client.ts';

export const SIGNER_MAIN = resolve(import.meta.dirname, '../../dist/signer/main.js');

export interface TestCluster {
  readonly cluster: LocalCluster;
  readonly initiator: Ed25519Initiator;
  stop(): Promise<void>;
}

export async function startTestCluster(
  nats: string | Pick<NatsServerHandle, 'url' | 'credentials'>,
  options: Partial<
    Pick<LocalClusterOptions, 'size' | 'threshold' | 'configFor' | 'env' | 'nodeIdPrefix'>
  > & {
    start?: boolean;
    /**
     * NATS user of the signers. Default: the suite server's `signer` user when `natsUrl` is
     * the suite server (`inject('natsUrl')`), else none (a server without authorization).
     */
    natsUser?: NatsUserCredentials;
  } = {},
): Promise<TestCluster> {
  if (!existsSync(SIGNER_MAIN)) {
    throw new Error(`${SIGNER_MAIN} is missing: run "npm run build" before the integration tests`);
  }
  const rootDir = mkdtempSync(join(tmpdir(), 'mpc-cluster-'));
  const initiator = newEd25519Initiator();
  // A server handle carries its users; a URL is the suite server's (or an open server's).
  const natsUrl = typeof nats === 'string' ? nats : nats.url;
  const natsUser =
    options.natsUser ??
    (typeof nats === 'string'
      ? natsUrl === inject('natsUrl')
        ? inject('natsCredentials').signer
        : undefined
      : nats.credentials?.signer);
  const cluster = await LocalCluster.create({
    natsUrl,
    size: options.size ?? 3,
    threshold: options.threshold ?? 1,
    rootDir,
    mainScript: SIGNER_MAIN,
    initiator: { algorithm: 'ed25519', publicKey: initiator.publicKeyHex },
    nodeIdPrefix: options.nodeIdPrefix ?? `s${Math.random().toString(36).slice(2, 7)}-`,
    ...(options.configFor === undefined ? {} : { configFor: options.configFor }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(natsUser === undefined ? {} : { natsUser }),
  });
  const handle: TestCluster = {
    cluster,
    initiator,
    async stop() {
      await cluster.stop();
      // MPC_TEST_KEEP_DIR=1 keeps the signers' data and logs for a post-mortem.
      if (process.env['MPC_TEST_KEEP_DIR'] === '1') process.stderr.write(`kept ${rootDir}\n`);
      else rmSync(rootDir, { recursive: true, force: true });
    },
  };
  if (options.start ?? true) {
    try {
      await cluster.startAll();
      await cluster.waitForReady(cluster.signers.length);
    } catch (error) {
      await handle.stop();
      throw error;
    }
  }
  return handle;
}

/** nats.js connect options for a user (`{ user, pass }`). */
export function natsConnectOptions(credentials: NatsUserCredentials): {
  user: string;
  pass: string;
} {
  return { user: credentials.user, pass: credentials.password };
}
