import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Simulated-cluster tests run many virtual seconds; a slow 2-core CI machine needs room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: ['test/cli/**'],
        },
      },
      {
        // Tests that run the built binaries (bin/murmur, bin/hab → dist/). Their globalSetup
        // builds dist/ once per run, and only when one of these tests is selected.
        extends: true,
        test: {
          name: 'cli',
          include: ['test/cli/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
