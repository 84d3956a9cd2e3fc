import { defineConfig } from 'vitest/config';

// isolated-vm needs --no-node-snapshot, which worker threads refuse: run test files in forks.
export default defineConfig({
  test: {
    pool: 'forks',
    execArgv: ['--no-node-snapshot', '--expose-gc'],
    // expect.poll waits for something to happen; its default (1 s) is a wall-clock bound that a
    // busy machine overruns. A longer wait only delays the failure of a test that fails anyway.
    expect: { poll: { timeout: 15_000 } },
    projects: [
      {
        extends: true,
        // Room for a busy 2-core machine: no unit test is meant to take long, the timeout only catches hangs.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/harness/postgres.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
