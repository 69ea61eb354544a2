/**
 * Leader elections end to end, on loopback: four real Supervisors on 127.0.0.181–184, packages
 * built with `hab pkg build`, and the real `hab` CLI. A, B and C run `kv` in `kv.prod` with
 * `--topology leader`; its config renders `svc.leader` and `svc.me.leader`, and its `suitability`
 * hook prints `cfg.suitability`, which each member's `user.toml` sets. D runs `web`, bound to
 * `kv.prod`, rendering the bound group's leader (`bind.db.leader`).
 *
 * - A loads first and is elected alone; B and C join as followers: every /census names A, once,
 *   and every rendered file agrees (A `leader`, B and C `follower`, web `127.0.0.181:6379`).
 * - kill -9 of A's Supervisor and of its service's process group (a Supervisor killed alone
 *   leaves its service running: it leads its own process group): B, C and D name one new leader,
 *   the one of B and C with the higher suitability — given to the one with the *lower* member
 *   id, so that a tie broken by id would elect the other — and kv.conf and web follow it.
 * - A restarted as it was started (no --peer): it runs nothing on the leadership its store
 *   holds, follows the new leader once it has the ring's state, renders it, and the leader
 *   takes it back into the roster.
 * - The leader unloads its service: the other two (2 of the roster of 3) elect one anew, the
 *   more suitable, and web follows.
 *
 * The tests run in order on one set of Supervisors; every wait is bounded.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildPackages, hab, kill9, startSup, stopAll, waitFor, type Sup } from './supervisors.js';

afterAll(stopAll);

const PLANS = {
  kv: {
    'plan.sh': 'pkg_origin=core\npkg_name=kv\npkg_version=0.1.0\npkg_maintainer="murmur tests"\npkg_license=(\'Apache-2.0\')\npkg_exports=(\n  [port]=port\n)\n',
    'default.toml': 'port = 6379\nsuitability = 0\n',
    'config/kv.conf': 'leader = {{svc.leader.sys.ip}}\nrole = {{#if svc.me.leader}}leader{{else}}follower{{/if}}\n',
    'hooks/run': '#!/bin/sh\nexec sleep 1000\n',
    'hooks/reconfigure': '#!/bin/sh\ntrue\n',
    'hooks/suitability': '#!/bin/sh\necho "suitability from user.toml"\necho {{cfg.suitability}}\n',
  },
  web: {
    'plan.sh': 'pkg_origin=core\npkg_name=web\npkg_version=0.1.0\npkg_maintainer="murmur tests"\npkg_license=(\'Apache-2.0\')\npkg_binds=(\n  [db]="port"\n)\n',
    'config/upstream.conf': 'db = {{bind.db.leader.sys.ip}}:{{bind.db.leader.cfg.port}}\n',
    'hooks/run': '#!/bin/sh\nexec sleep 1000\n',
    'hooks/reconfigure': '#!/bin/sh\ntrue\n',
  },
};

let keys = '';
let harts: Record<'web' | 'kv', string> = { web: '', kv: '' };
let a: Sup;
let b: Sup;
let c: Sup;
let d: Sup;

interface CensusGroupJson {
  election_status: string;
  leader_id: string | null;
  population: Record<string, { leader: boolean; follower: boolean; alive: boolean }>;
}

interface ServiceJson {
  service_group: string;
  process: { pid: number | null; state: string };
  last_error: string | null;
}

async function kvGroup(sup: Sup): Promise<CensusGroupJson | undefined> {
  const census = (await (await fetch(`http://${sup.http}/census`)).json()) as { census_groups: Record<string, CensusGroupJson | undefined> };
  return census.census_groups['kv.prod'];
}

/**
 * The leader `sup`'s /census names for kv.prod, when the election is finished and exactly one
 * member is flagged leader — that one; otherwise a description of what it shows instead.
 */
async function censusLeader(sup: Sup): Promise<string> {
  const g = await kvGroup(sup);
  if (g === undefined) return 'no kv.prod';
  const flagged = Object.entries(g.population).filter(([, m]) => m.leader).map(([id]) => id);
  if (g.election_status !== 'ElectionFinished' || g.leader_id === null || flagged.length !== 1 || flagged[0] !== g.leader_id) {
    return `${g.election_status}, leader_id ${g.leader_id}, flagged ${flagged.join(',') || 'none'}`;
  }
  return g.leader_id;
}

/** The roster of kv.prod's finished election in `sup`'s store (`/butterfly`), sorted. */
async function roster(sup: Sup): Promise<string[]> {
  const view = (await (await fetch(`http://${sup.http}/butterfly`)).json()) as { election: { list: Record<string, { election?: { roster: string[] } } | undefined> } };
  return [...(view.election.list['kv.prod']?.election?.roster ?? [])].sort();
}

async function services(sup: Sup): Promise<ServiceJson[]> {
  return (await (await fetch(`http://${sup.http}/services`)).json()) as ServiceJson[];
}

function kvConf(sup: Sup): Promise<string> {
  return readFile(join(sup.fsRoot, 'hab/svc/kv/config/kv.conf'), 'utf8').catch(() => '');
}

function upstream(sup: Sup): Promise<string> {
  return readFile(join(sup.fsRoot, 'hab/svc/web/config/upstream.conf'), 'utf8').catch(() => '');
}

function cli(sup: Sup): Record<string, string> {
  return { FS_ROOT: sup.fsRoot, HAB_CTL_SECRET: '', HAB_CACHE_KEY_PATH: keys };
}

async function load(sup: Sup, args: string[]): Promise<void> {
  const r = await hab(['svc', 'load', ...args, '--remote-sup', sup.ctl], { env: cli(sup) });
  expect(r.code, r.stderr).toBe(0);
}

async function setSuitability(sup: Sup, value: number): Promise<void> {
  const dir = join(sup.fsRoot, 'hab/user/kv/config');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'user.toml'), `suitability = ${value}\n`);
}

/** Whether a process runs (a zombie does not). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** The expected rendering of kv.conf on `sup` with `leader` leading. */
function kvText(sup: Sup, leader: Sup): string {
  return `leader = ${leader.host}\nrole = ${sup === leader ? 'leader' : 'follower'}\n`;
}

/** B or C, whichever has the lower member id: it gets the higher suitability. */
let favourite: Sup;
let other: Sup;

beforeAll(async () => {
  keys = await mkdtemp(join(tmpdir(), 'murmur-keys-'));
  const env = { HAB_CACHE_KEY_PATH: keys };
  expect((await hab(['origin', 'key', 'generate', 'core'], { env })).code).toBe(0);
  harts = await buildPackages(PLANS, env);
  a = await startSup({ host: '127.0.0.181', env });
  [b, c, d] = (await Promise.all(['127.0.0.182', '127.0.0.183', '127.0.0.184'].map((host) => startSup({ host, peers: [a.gossip], env })))) as [Sup, Sup, Sup];
  [favourite, other] = b.id < c.id ? [b, c] : [c, b];
  await setSuitability(a, 10);
  await setSuitability(favourite, 30);
  await setSuitability(other, 20);
}, 120_000);

describe('a leader group of three, and a service bound to it', () => {
  test('A, loaded first, is elected; B and C follow: every /census names A once, and every rendered file agrees', async () => {
    await load(a, [harts.kv, '--group', 'prod', '--topology', 'leader']);
    await waitFor('A to lead kv.prod', async () => (await censusLeader(a)) === a.id);
    await Promise.all([b, c].map((s) => load(s, [harts.kv, '--group', 'prod', '--topology', 'leader'])));
    await load(d, [harts.web, '--bind', 'db:kv.prod']);
    for (const s of [a, b, c]) await waitFor(`kv to run on ${s.host}`, async () => (await services(s))[0]?.process.state === 'up');
    await waitFor('D to see three kv members', async () => Object.keys((await kvGroup(d))?.population ?? {}).length === 3);
    for (const s of [a, b, c, d]) expect(await censusLeader(s), `${s.host}'s census`).toBe(a.id);
    for (const s of [a, b, c]) await waitFor(`${s.host} to render A as leader`, async () => (await kvConf(s)) === kvText(s, a));
    await waitFor('web to render A', async () => (await upstream(d)) === 'db = 127.0.0.181:6379\n');
    // The hook's last line is each member's suitability.
    expect(b.lines.concat(c.lines).some((l) => /kv\.prod\(SR\): suitability value=(20|30)\b/.test(l))).toBe(true);
  });

  test('kill -9 of the leader (Supervisor and service): B, C and D name one new leader, the most suitable; kv.conf and web follow', async () => {
    const pid = (await services(a))[0]?.process.pid ?? null;
    expect(pid).toBeTypeOf('number');
    await kill9(a);
    // A Supervisor killed alone leaves its service running, leading its own process group: it
    // would go on acting as the leader. Kill it as a host crash would.
    expect(await running(pid as number)).toBe(true);
    process.kill(-(pid as number), 'SIGKILL');
    await waitFor("A's service to be gone", async () => !(await running(pid as number)), 5000);

    // Ties go to the higher member id: only the hook makes `favourite` (the lower id) win.
    for (const s of [b, c, d]) await waitFor(`${s.host}'s census to name ${favourite.host}`, async () => (await censusLeader(s)) === favourite.id, 20_000);
    for (const s of [b, c]) await waitFor(`${s.host} to render ${favourite.host} as leader`, async () => (await kvConf(s)) === kvText(s, favourite), 10_000);
    await waitFor(`web to follow ${favourite.host}`, async () => (await upstream(d)) === `db = ${favourite.host}:6379\n`, 10_000);
    // Both kept running throughout: a new leader re-renders, it does not stop the service.
    for (const s of [b, c]) expect((await services(s))[0]?.process.state).toBe('up');
  });

  test('A restarted as it was started runs nothing on its stored leadership, follows the new leader, renders it and is back in the roster', async () => {
    // As a real restart: the same command line (no --peer: A began the ring), address, gossip
    // port and FS_ROOT. Its store says it leads; it must learn the ring's state before it runs.
    a = await startSup({ host: '127.0.0.181', gossipPort: Number(a.gossip.split(':')[1]), fsRoot: a.fsRoot, env: { HAB_CACHE_KEY_PATH: keys } });
    await waitFor('A to run kv again', async () => (await services(a))[0]?.process.state === 'up');
    expect(a.lines).toContain(`kv.prod(SR): Executing hooks; ${favourite.id} is the leader`);
    expect(a.lines.filter((l) => l.includes('Executing hooks'))).toHaveLength(1);
    await waitFor(`A's census to name ${favourite.host}`, async () => (await censusLeader(a)) === favourite.id);
    await waitFor(`A to render ${favourite.host} as leader`, async () => (await kvConf(a)) === kvText(a, favourite));
    const all = [a, b, c].map((s) => s.id).sort();
    await waitFor('the leader to take A back into the roster', async () => JSON.stringify(await roster(favourite)) === JSON.stringify(all));
    for (const s of [b, c, d]) expect(await censusLeader(s), `${s.host}'s census`).toBe(favourite.id);
    expect(await upstream(d)).toBe(`db = ${favourite.host}:6379\n`);
  });

  test('the leader unloads kv: the others elect one anew, render it, and web follows', async () => {
    const r = await hab(['svc', 'unload', 'core/kv', '--remote-sup', favourite.ctl], { env: cli(favourite) });
    expect(r.code, r.stderr).toBe(0);
    // A (suitability 10) against `other` (20).
    for (const s of [a, other, favourite, d]) await waitFor(`${s.host}'s census to name ${other.host}`, async () => (await censusLeader(s)) === other.id, 20_000);
    for (const s of [a, other]) await waitFor(`${s.host} to render ${other.host} as leader`, async () => (await kvConf(s)) === kvText(s, other), 10_000);
    await waitFor(`web to follow ${other.host}`, async () => (await upstream(d)) === `db = ${other.host}:6379\n`, 10_000);
  });
});
