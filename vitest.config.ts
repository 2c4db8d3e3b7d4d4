import { defineConfig } from 'vitest/config';

const jsonReport = process.env.KB_VITEST_JSON;

export default defineConfig({
  resolve: { conditions: ['@keybrake/source'] },
  ssr: { resolve: { conditions: ['@keybrake/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: jsonReport ? ['default', 'json'] : ['default'],
    outputFile: jsonReport ? { json: jsonReport } : undefined,
    typecheck: { enabled: false },
  },
});
