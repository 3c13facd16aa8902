/**
 * vitest global setup for the integration suite: one real nats-server for the whole run.
 * Tests read its URL with `inject('natsUrl')`. Suites that restart NATS start their own.
 */
import type { TestProject } from 'vitest/node';
import { startNatsServer, type NatsServerHandle } from '../../signer/local/nats-server.ts';

let server: NatsServerHandle | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startNatsServer();
  project.provide('natsUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    natsUrl: string;
  }
}
