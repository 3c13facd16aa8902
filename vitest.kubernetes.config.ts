import { defineConfig } from 'vitest/config';

/**
 * Signer-side Kubernetes suite (Lease membership) on the same real control plane as the
 * operator suite (test/controlplane, built by `bash test/controlplane/build.sh`). Files run
 * one at a time (2 cores); each uses its own namespace.
 */
export default defineConfig({
  test: {
    include: ['test/kubernetes/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/controlplane/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
