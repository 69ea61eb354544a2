/**
 * `npm run test:lab`: the network-namespace lab tests (test/lab/*.test.ts), apart from `npm test`
 * because they need root, iproute2, iptables and curl (docs/lab.md). One file at a time: each
 * lab runs real Supervisors, and two labs at once would only share two cores.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/lab/**/*.test.ts'],
    // Builds dist/ (bin/murmur runs it), then checks the machine and removes stale labs.
    globalSetup: ['test/global-setup.ts', 'test/lab/global-setup.ts'],
    // The lab tests skip themselves without it, so that `npm test` (whose include also matches
    // test/lab/) never needs root.
    env: { MURMUR_LAB: '1' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
