/**
 * Five real Supervisors as five hosts: each in its own network namespace on one Linux bridge
 * (test/lab/lab.ts), reached over real addresses, with partitions made by iptables inside the
 * namespaces. The ring forms; a partition makes each side confirm the other; a config applied on
 * one side during the partition reaches the other after heal; a kill -9 is confirmed by all.
 *
 * Run by `npm run test:lab` (root). Under `npm test` these tests skip: MURMUR_LAB is unset.
 * Timings use the localTest preset (five times faster than lan, same shape); every wait is
 * bounded, and the lab is torn down whatever happens.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, onTestFailed, test } from 'vitest';
import { Lab, MURMUR_BIN, waitFor, type LabCounters } from './lab.js';

const enabled = process.env.MURMUR_LAB === '1';

/**
 * Whether `murmur config apply` exists in this build. Not by exit code alone: on a build without
 * the command, `murmur config apply --help` prints the top-level help and exits 0.
 */
function detectConfigApply(): boolean {
  const r = spawnSync(process.execPath, [MURMUR_BIN, 'config', 'apply', '--help'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && /Usage: \S+ config apply/.test(r.stdout);
}
const hasConfigApply = enabled && detectConfigApply();

const HOSTS = [1, 2, 3, 4, 5];
const SIDE_A = [1, 2];
const SIDE_B = [3, 4, 5];
const PRESET = { MURMUR_GOSSIP_PRESET: 'localTest' };
const CONFIG = 'port = 6380\nmaxmemory = "64mb"\n';

describe.skipIf(!enabled)('five Supervisors in five network namespaces', () => {
  let lab: Lab;
  let before: LabCounters;
  let failed = false;

  /** Health of every `subjects` member as every `observers` member sees it: `health` everywhere? */
  async function everyoneSees(observers: number[], subjects: number[], health: string): Promise<boolean> {
    const views = await Promise.all(observers.map((o) => lab.butterfly(o)));
    return views.every((v) => subjects.every((s) => v.membership[lab.supervisor(s).id]?.health === health));
  }

  async function configVersion(i: number): Promise<number | undefined> {
    return (await lab.butterfly(i)).latest_service_config['redis.prod']?.incarnation;
  }

  beforeAll(async () => {
    lab = await Lab.create({ hosts: HOSTS.length });
    before = await lab.counters();
    await lab.startSupervisor(1, { env: PRESET });
    await Promise.all(HOSTS.slice(1).map((i) => lab.startSupervisor(i, { peers: [1], env: PRESET })));
  });

  afterAll(async () => {
    if (!lab) return;
    try {
      // Recorded with every run, so that a lab artifact is never read as a protocol result.
      await lab.report(before, failed);
    } finally {
      await lab.destroy();
    }
  });

  test('the ring forms: every member sees every member alive', async () => {
    onTestFailed(() => void (failed = true));
    await waitFor('five Supervisors to see each other alive', () => everyoneSees(HOSTS, HOSTS, 'Alive'), 30_000);
  });

  describe('a partition between {1,2} and {3,4,5}', () => {
    test('each side confirms the other', async () => {
      onTestFailed(() => void (failed = true));
      await waitFor('the ring to be whole before the partition', () => everyoneSees(HOSTS, HOSTS, 'Alive'), 30_000);
      await lab.partition(SIDE_A, SIDE_B);
      await waitFor('{1,2} to confirm {3,4,5} and {3,4,5} to confirm {1,2}', async () => (await everyoneSees(SIDE_A, SIDE_B, 'Confirmed')) && (await everyoneSees(SIDE_B, SIDE_A, 'Confirmed')), 30_000);
      // Each side still holds itself together.
      expect(await everyoneSees(SIDE_A, SIDE_A, 'Alive')).toBe(true);
      expect(await everyoneSees(SIDE_B, SIDE_B, 'Alive')).toBe(true);
    });

    // Needs `murmur config apply` and the control gateway; skipped on a build without them.
    test.skipIf(!hasConfigApply)('a config applied on host 1 during the partition reaches {1,2} and not {3,4,5}', async () => {
      onTestFailed(() => void (failed = true));
      const r = await lab.ctl(1, ['config', 'apply', 'redis.prod', '1'], { input: CONFIG });
      expect(r.code, `config apply: ${r.stdout}${r.stderr}`).toBe(0);
      await waitFor('{1,2} to hold config version 1', async () => (await Promise.all(SIDE_A.map(configVersion))).every((v) => v === 1), 10_000);
      for (const i of SIDE_B) expect(await configVersion(i)).toBeUndefined();
    });

    test('after heal, every member sees every member alive again', async () => {
      onTestFailed(() => void (failed = true));
      await lab.heal();
      await waitFor('the healed ring to see every member alive', () => everyoneSees(HOSTS, HOSTS, 'Alive'), 45_000);
    });

    // Needs `murmur config apply` (as above).
    test.skipIf(!hasConfigApply)('the config applied during the partition reaches {3,4,5} after heal', async () => {
      onTestFailed(() => void (failed = true));
      await waitFor('{3,4,5} to hold config version 1', async () => (await Promise.all(SIDE_B.map(configVersion))).every((v) => v === 1), 30_000);
      const view = await lab.butterfly(4);
      expect(Buffer.from(view.latest_service_config['redis.prod']?.config ?? []).toString('utf8')).toBe(CONFIG);
    });
  });

  test('a kill -9 of host 5 is confirmed by every other host; restarted, it is alive everywhere again', async () => {
    onTestFailed(() => void (failed = true));
    await waitFor('the ring to be whole before the kill', () => everyoneSees(HOSTS, HOSTS, 'Alive'), 30_000);
    const id = lab.supervisor(5).id;
    await lab.kill9(5);
    await waitFor('hosts 1-4 to confirm host 5', () => everyoneSees([1, 2, 3, 4], [5], 'Confirmed'), 30_000);
    const again = await lab.restart(5);
    expect(again.id).toBe(id);
    await waitFor('the restarted host 5 alive everywhere', () => everyoneSees(HOSTS, HOSTS, 'Alive'), 30_000);
  });
});
