import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/src/**/*.test.ts'],
    // test/optional needs clients that are not dependencies (the Confluent Kafka client, a native
    // build): run it with RIVERLOG_OPTIONAL_TESTS=1 after installing them. The default run skips nothing.
    exclude: ['**/node_modules/**', '**/dist/**', ...(process.env.RIVERLOG_OPTIONAL_TESTS ? [] : ['test/optional/**'])],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    globalSetup: ['test/setup/global-setup.ts'],
    typecheck: {
      enabled: true,
      include: ['packages/*/src/**/*.test-d.ts', 'test/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
  },
});
