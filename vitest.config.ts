import { defineConfig } from 'vitest/config';

// Each test file runs in its own process with its own Dawn device. Lavapipe already uses both cores,
// so files run one after another.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
