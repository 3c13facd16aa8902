import { defineConfig } from 'vitest/config';

/** Unit tests: pure logic beside the code (`*.test.ts` under signer/ and operator/); no servers. */
export default defineConfig({
  test: {
    include: ['signer/**/*.test.ts', 'operator/**/*.test.ts', 'test/alerts/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
