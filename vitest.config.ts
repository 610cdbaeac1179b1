import { defineConfig } from 'vitest/config';

// Each test file runs in its own process with its own Dawn device. Lavapipe already uses both cores,
// so files run one after another. 'webgpu-tensor' resolves through package.json's `source` condition
// to the TypeScript sources (src/node/index.ts under Node), so tests need no build and share one
// instance of every module with the tests that import internals.
const conditions = ['source', 'module', 'node', 'development|production'];
export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
