import { defineConfig } from 'vitest/config';

/**
 * Operator suite on a real Kubernetes control plane (test/controlplane): the global setup
 * starts etcd → kube-apiserver (RBAC) → kube-controller-manager → kube-scheduler → kwok,
 * built beforehand by `bash test/controlplane/build.sh`. Files run one at a time (2 cores).
 */
export default defineConfig({
  test: {
    include: ['test/operator/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/controlplane/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
