/**
 * vitest global setup for the integration suite: one real nats-server for the whole run, with
 * authorization (signer/local/nats-permissions.ts). Tests read its URL with
 * `inject('natsUrl')` (anonymous connections act as the `client` role) and the per-role users
 * with `inject('natsCredentials')`; `startTestCluster` hands the signer user to signers.
 * Suites that restart NATS start their own.
 */
import type { TestProject } from 'vitest/node';
import { startNatsServer, type NatsServerHandle } from '../../signer/local/nats-server.ts';
import type { NatsCredentials } from '../../signer/local/nats-permissions.ts';

let server: NatsServerHandle | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startNatsServer();
  project.provide('natsUrl', server.url);
  if (server.credentials === undefined) throw new Error('nats-server without authorization');
  project.provide('natsCredentials', server.credentials);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    natsUrl: string;
    natsCredentials: NatsCredentials;
  }
}
