import { defineConfig } from 'vitest/config';

/**
 * Integration tests: real nats-server (started by the global setup), real signer processes
 * spawned from the build output. Files run one at a time: each suite starts its own signers
 * and the machine has two cores.
 */
export default defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/harness/nats-global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
