/**
 * The short fuzz run of `npm test`: 2 000 seeded inputs to each target (the wire decoders
 * in-process; a live Supervisor's UDP and TCP gossip port, control gateway and HTTP gateway),
 * with the Supervisors run from the sources. The long run is `npm run fuzz` (bench/fuzz.ts,
 * figures in docs/security.md); the harness starts at `run.ts`.
 */
import { describe, expect, test } from 'vitest';
import { runFuzz } from './run.js';
import { TARGETS, type TargetReport } from './report.js';

/** Inputs per target; the seed is fixed, so a failure replays with `npm run fuzz -- --inputs 2000 --seed 20260101 --from src`. */
const INPUTS = 2000;
const SEED = 20260101;

function summary(r: TargetReport): string {
  return `${r.target}: ${r.findings.map((f) => `${f.kind}: ${f.detail.slice(0, 2000)}${f.input ? ` [input ${f.input.slice(0, 400)}]` : ''}`).join('\n')}`;
}

describe('fuzzing every listener (short run)', () => {
  test(
    `${INPUTS} inputs to each target: no crash, no hang, no finding, the ring still works`,
    async () => {
      // Generous bounds: the whole suite shares two cores with this run.
      const { reports } = await runFuzz({ targets: TARGETS, inputs: INPUTS, seed: SEED, hosts: ['127.0.0.231', '127.0.0.232'], from: 'src', monitor: { boundMs: 15_000 } });
      expect(reports.map((r) => r.target)).toEqual([...TARGETS]);
      for (const r of reports) {
        expect(r.inputs, r.target).toBeGreaterThanOrEqual(INPUTS);
        expect(r.findings, summary(r)).toEqual([]);
        expect(r.crashes + r.hangs, r.target).toBe(0);
        if (r.target === 'udp' || r.target === 'tcp') expect(r.ringAlive, r.target).toBe(true);
        if (r.target !== 'wire') expect(r.checks, r.target).toBeGreaterThan(0);
      }
    },
    180_000,
  );
});
