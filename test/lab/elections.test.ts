/**
 * Leader elections with real Supervisors as five hosts in five network namespaces
 * (test/lab/lab.ts). Every host runs `core/kv` in `kv.prod` with `--topology leader`; host 3 also
 * runs `core/web`, bound to `kv.prod` (test/lab/leader-group.ts: kv.conf renders the leader's
 * address and the member's role, web's upstream.conf the bound group's leader). Suitabilities
 * (the `suitability` hook prints each host's `user.toml` value): host 1 50, host 2 40, hosts 3,
 * 4, 5 10, 20, 30.
 *
 * - Host 1, loaded first, leads; the others follow: every /census names it once, every kv.conf
 *   and web's upstream.conf render it.
 * - kill -9 of host 1 (its Supervisor and its service's process group): hosts 2–5 name one new
 *   leader, host 2 (the most suitable survivor); kv.conf and web follow. Host 1 restarted (no
 *   peers, as it began the ring) runs nothing as the leader its store names, follows host 2 and
 *   is back in the roster.
 * - Partition {1,2} | {3,4,5}, the leader (2) on the minority side: the minority shows no
 *   leader (`ElectionNoQuorum`, `leader_id` null, nobody flagged; kv.conf names none and host 2
 *   renders itself a follower), the majority elects exactly one, host 5; web follows it.
 * - Heal: one leader everywhere, host 5, rendered everywhere, the roster whole again.
 *
 * Run by `npm run test:lab -- test/lab/elections.test.ts` (root). Under `npm test` it skips
 * (MURMUR_LAB is unset). localTest timings; every wait is bounded; the lab is torn down whatever
 * happens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, onTestFailed, test } from 'vitest';
import { Lab, mapLimit, waitFor, type LabCounters } from './lab.js';
import { buildLeaderPackages, censusElection, censusLeader, crashHost, kvConf, pidRunning, roster, servicePid, setSuitability, webLeader } from './leader-group.js';

const enabled = process.env.MURMUR_LAB === '1';

const HOSTS = [1, 2, 3, 4, 5];
const MINORITY = [1, 2];
const MAJORITY = [3, 4, 5];
const WEB = 3;
const GROUP = 'kv.prod';
const SUITABILITY: Record<number, number> = { 1: 50, 2: 40, 3: 10, 4: 20, 5: 30 };
const PRESET = { MURMUR_GOSSIP_PRESET: 'localTest' };

describe.skipIf(!enabled)('leader elections on five hosts', () => {
  let lab: Lab;
  let before: LabCounters;
  let failed = false;
  let work = '';
  let harts = { kv: '', web: '' };
  let keys = '';

  const id = (i: number): string => lab.supervisor(i).id;

  /** Every one of `hosts` names `leader` in its /census (once), and renders it in kv.conf. */
  async function allFollow(hosts: number[], leader: number): Promise<boolean> {
    const named = await mapLimit(hosts, 5, (i) => censusLeader(lab, i, GROUP));
    if (!named.every((l) => l === id(leader))) return false;
    return hosts.every((i) => {
      const conf = kvConf(lab, i);
      return conf?.leader === lab.ip(leader) && conf.role === (i === leader ? 'leader' : 'follower');
    });
  }

  async function ctl(i: number, args: string[]): Promise<void> {
    const r = await lab.ctl(i, args, { env: { HAB_CACHE_KEY_PATH: keys } });
    expect(r.code, `${args.join(' ')} on host ${i}: ${r.stdout}${r.stderr}`).toBe(0);
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'murmur-lab-elections-'));
    ({ keys, harts } = await buildLeaderPackages(work));
    lab = await Lab.create({ hosts: HOSTS.length });
    before = await lab.counters();
    for (const i of HOSTS) setSuitability(lab, i, SUITABILITY[i] as number);
    const env = { ...PRESET, HAB_CACHE_KEY_PATH: keys };
    await lab.startSupervisor(1, { env });
    await Promise.all(HOSTS.slice(1).map((i) => lab.startSupervisor(i, { peers: [1], env })));
  }, 120_000);

  afterAll(async () => {
    try {
      if (lab && !lab.isDestroyed) {
        await lab.report(before, failed);
      }
    } finally {
      await lab?.destroy();
      if (work !== '') rmSync(work, { recursive: true, force: true });
    }
  });

  test('host 1, loaded first, leads; the others follow, and every census and rendered file agrees', async () => {
    onTestFailed(() => void (failed = true));
    await ctl(1, ['svc', 'load', harts.kv, '--group', 'prod', '--topology', 'leader']);
    await waitFor('host 1 to lead kv.prod', async () => (await censusLeader(lab, 1, GROUP)) === id(1), 30_000);
    await mapLimit(HOSTS.slice(1), 4, (i) => ctl(i, ['svc', 'load', harts.kv, '--group', 'prod', '--topology', 'leader']));
    await ctl(WEB, ['svc', 'load', harts.web, '--bind', 'db:kv.prod']);
    await waitFor('every host to name host 1 and render it', () => allFollow(HOSTS, 1), 30_000);
    await waitFor('host 1 to hold all five in the roster', async () => (await roster(lab, 1, GROUP)).length === 5, 30_000);
    await waitFor('web to render host 1', () => webLeader(lab, WEB) === lab.ip(1), 15_000);
    for (const i of HOSTS) expect((await censusElection(lab, i, GROUP))?.members, `host ${i}'s census`).toBe(5);
  });

  test('kill -9 of the leader, Supervisor and service: hosts 2-5 name one new leader, the most suitable; files and web follow', async () => {
    onTestFailed(() => void (failed = true));
    const pid = await crashHost(lab, 1);
    expect(pid).toBeTypeOf('number');
    await waitFor("host 1's service to be gone", () => !pidRunning(pid as number), 5000);
    await waitFor('hosts 2-5 to name host 2 and render it', () => allFollow([2, 3, 4, 5], 2), 30_000);
    await waitFor('web to follow host 2', () => webLeader(lab, WEB) === lab.ip(2), 15_000);
    // A new leader re-renders; it stops no service.
    for (const i of [2, 3, 4, 5]) expect(await servicePid(lab, i), `host ${i}'s kv`).not.toBeNull();
  });

  test('host 1 restarted runs nothing as leader on its stored election, follows host 2 and is back in the roster', async () => {
    onTestFailed(() => void (failed = true));
    // The same command line (no peers: host 1 began the ring). Its store says it leads; it runs
    // nothing on that word, and follows once it has the ring's state.
    await lab.restart(1);
    await waitFor('every host to name host 2 and render it', () => allFollow(HOSTS, 2), 30_000);
    const executed = lab.supervisor(1).proc.lines.filter((l) => l.text.includes('Executing hooks'));
    expect(executed.map((l) => l.text)).toEqual([`kv.prod(SR): Executing hooks; ${id(2)} is the leader`]);
    const all = HOSTS.map(id).sort();
    await waitFor('host 2 to hold all five in the roster', async () => JSON.stringify(await roster(lab, 2, GROUP)) === JSON.stringify(all), 30_000);
  });

  test('partition {1,2} | {3,4,5} with the leader on the minority side: the minority shows no leader, the majority elects one', async () => {
    onTestFailed(() => void (failed = true));
    await lab.partition(MINORITY, MAJORITY);
    // The minority steps down: no quorum, no leader in its census, none in its rendered files.
    await waitFor('{1,2} to show no leader', async () => {
      const views = await mapLimit(MINORITY, 2, (i) => censusElection(lab, i, GROUP));
      return views.every((v) => v?.status === 'ElectionNoQuorum' && v.leaderId === null && v.flagged.length === 0);
    }, 30_000);
    await waitFor('{1,2} to render no leader', () => MINORITY.every((i) => kvConf(lab, i)?.leader === '' && kvConf(lab, i)?.role === 'follower'), 15_000);
    await waitFor('{3,4,5} to name host 5 and render it', () => allFollow(MAJORITY, 5), 45_000);
    await waitFor('web to follow host 5', () => webLeader(lab, WEB) === lab.ip(5), 15_000);
    // Still none on the minority side: it never elects one of its own.
    for (const i of MINORITY) expect(await censusElection(lab, i, GROUP), `host ${i}`).toMatchObject({ status: 'ElectionNoQuorum', leaderId: null, flagged: [] });
  });

  test('heal: exactly one leader everywhere, host 5, rendered everywhere, and the roster whole again', async () => {
    onTestFailed(() => void (failed = true));
    await lab.heal();
    await waitFor('every host to name host 5 and render it', () => allFollow(HOSTS, 5), 45_000);
    const all = HOSTS.map(id).sort();
    await waitFor('host 5 to hold all five in the roster', async () => JSON.stringify(await roster(lab, 5, GROUP)) === JSON.stringify(all), 45_000);
    expect(await allFollow(HOSTS, 5)).toBe(true);
    expect(webLeader(lab, WEB)).toBe(lab.ip(5));
  });
});
