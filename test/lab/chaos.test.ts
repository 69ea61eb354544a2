/**
 * The chaos suite's short run (issue 7), part of `npm run test:lab` and so of CI: seven hosts in
 * network namespaces, a leader group (`kv.chaos`) and a standalone group of real Redis
 * (`redis.chaos`) on every host, and a seeded two-minute fault schedule (test/chaos/schedule.ts)
 * carried out by test/chaos/runner.ts: kill -9 and restart of Supervisors, kills of service
 * processes, partitions that heal, bursts of 30 % packet loss, SIGSTOP/SIGCONT, while config
 * applies and file uploads of rising versions go out from random members. The observer
 * (test/chaos/invariants.ts) reads only the gateways and the hosts' files.
 *
 * Passes when no invariant was broken during the run, every action was carried out, and every
 * live member converged (newest config and files, one agreed leader) within the bound after the
 * last action. A failure prints the seed and the schedule, written to a file for
 * `npm run chaos -- --schedule FILE`. `MURMUR_CHAOS_SEED` picks another seed (default: a fixed
 * one, so that CI runs the same faults each time); the long run is `npm run chaos` (docs/reliability.md).
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { chaosGroups, describeFailure, passed, runChaos } from '../chaos/runner.js';
import { formatSchedule, generateSchedule } from '../chaos/schedule.js';
import { counterDelta, describeDrops } from './lab.js';

const enabled = process.env.MURMUR_LAB === '1';
const HOSTS = 7;
const SEED = Number(process.env.MURMUR_CHAOS_SEED ?? 20261125);

describe.skipIf(!enabled)('chaos: two minutes of faults on seven hosts', () => {
  test(`seed ${SEED}: nothing lost, nothing regressed, one leader, converged after the last action`, async () => {
    const schedule = generateSchedule({ seed: SEED, hosts: HOSTS, durationMs: 120_000, groups: chaosGroups(HOSTS) });
    const result = await runChaos({ schedule, log: (l) => console.log(l) });
    const file = join(tmpdir(), `murmur-chaos-schedule-${SEED}.txt`);
    writeFileSync(file, formatSchedule(schedule));
    console.log(`chaos seed ${SEED}: done ${JSON.stringify(result.done)}, ${result.skipped} service kills found nothing to kill; ${result.snapshots} snapshots; converged ${result.convergenceMs} ms after the last action (${result.convergenceAfterLastHealMs} ms after the last heal); actions late by ${result.lateness.medianMs} ms median, ${result.lateness.maxMs} ms worst; ${describeDrops(counterDelta(result.counters.before, result.counters.after))}`);
    if (!passed(result)) console.log(describeFailure(result, file));
    expect(result.problems, 'actions the suite could not carry out').toEqual([]);
    expect(result.violations.map((v) => `[${v.code}] ${v.atMs} ms: ${v.message}`), 'invariants broken').toEqual([]);
    expect(result.convergenceMs, 'converged after the last action').not.toBeNull();
  }, 8 * 60_000);
});
