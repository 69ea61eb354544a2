/**
 * A leader group in the lab, for `test/lab/elections.test.ts` and `bench/failover.ts`: two
 * packages built with `hab pkg build` and what an observer in the root namespace reads of them.
 *
 * - `core/kv`, loaded with `--topology leader`: `config/kv.conf` renders the group's leader
 *   (`svc.leader.sys.ip`) and this member's role (`svc.me.leader`); its `suitability` hook
 *   prints `cfg.suitability` (each host's `user.toml` sets it); it exports `port`.
 * - `core/web`, bound to the group (`--bind db:kv.<group>`): `config/upstream.conf` renders the
 *   bound group's leader (`bind.db.leader`).
 *
 * Rendered files are read straight from each host's FS_ROOT (the hosts share this filesystem);
 * gateways through curl inside the host's namespace (the root namespace has no route to the lab).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, REPO_ROOT, run } from './lab.js';

const HAB = join(REPO_ROOT, 'bin', 'hab');

export const LEADER_PLANS = {
  kv: {
    'plan.sh': 'pkg_origin=core\npkg_name=kv\npkg_version=0.1.0\npkg_maintainer="murmur lab"\npkg_license=(\'Apache-2.0\')\npkg_exports=(\n  [port]=port\n)\n',
    'default.toml': 'port = 6379\nsuitability = 0\n',
    'config/kv.conf': 'leader = {{svc.leader.sys.ip}}\nrole = {{#if svc.me.leader}}leader{{else}}follower{{/if}}\n',
    'hooks/run': '#!/bin/sh\nexec sleep 100000\n',
    'hooks/reconfigure': '#!/bin/sh\ntrue\n',
    'hooks/suitability': '#!/bin/sh\necho {{cfg.suitability}}\n',
  },
  web: {
    'plan.sh': 'pkg_origin=core\npkg_name=web\npkg_version=0.1.0\npkg_maintainer="murmur lab"\npkg_license=(\'Apache-2.0\')\npkg_binds=(\n  [db]="port"\n)\n',
    'config/upstream.conf': 'db = {{bind.db.leader.sys.ip}}:{{bind.db.leader.cfg.port}}\n',
    'hooks/run': '#!/bin/sh\nexec sleep 100000\n',
    'hooks/reconfigure': '#!/bin/sh\ntrue\n',
  },
} as const;

/** One origin key (`<work>/keys`) and both packages built into `<work>/<name>`. */
export async function buildLeaderPackages(work: string): Promise<{ keys: string; harts: Record<'kv' | 'web', string> }> {
  const keys = join(work, 'keys');
  const env = { ...process.env, HAB_CACHE_KEY_PATH: keys };
  const key = await run(process.execPath, [HAB, 'origin', 'key', 'generate', 'core'], { env });
  if (key.code !== 0) throw new Error(`hab origin key generate failed: ${key.stderr}`);
  const harts = { kv: '', web: '' };
  for (const name of ['kv', 'web'] as const) {
    const plan = join(work, `${name}-plan`);
    for (const [file, text] of Object.entries(LEADER_PLANS[name])) {
      mkdirSync(join(plan, file, '..'), { recursive: true });
      writeFileSync(join(plan, file), text, { mode: file.startsWith('hooks/') ? 0o755 : 0o644 });
    }
    const out = join(work, name);
    const r = await run(process.execPath, [HAB, 'pkg', 'build', plan, '--output', out], { env, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`hab pkg build ${name} failed: ${r.stderr}`);
    harts[name] = join(out, readdirSync(out).find((f) => f.endsWith('.hart')) ?? '');
  }
  return { keys, harts };
}

/** Sets host i's `suitability` (its kv `user.toml`), read by the hook when the service next renders. */
export function setSuitability(lab: Lab, i: number, value: number): void {
  const dir = join(lab.dir(i), 'fs', 'hab/user/kv/config');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'user.toml'), `suitability = ${value}\n`);
}

/** GET `path` from host i's HTTP gateway, by curl inside host i. */
export async function getJson<T>(lab: Lab, i: number, path: string): Promise<T> {
  const r = await lab.exec(i, 'curl', ['-sS', '--max-time', '5', `http://${lab.ip(i)}:9631${path}`], { timeoutMs: 7000 });
  if (r.code !== 0) throw new Error(`curl ${path} of host ${i} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

export interface CensusGroupJson {
  election_status: string;
  leader_id: string | null;
  population: Record<string, { leader: boolean; follower: boolean; alive: boolean; process_state: string }>;
}

/** What host i's /census says of `group`'s election. */
export interface CensusElection {
  status: string;
  leaderId: string | null;
  /** Members flagged `leader: true`. */
  flagged: string[];
  members: number;
}

export async function censusElection(lab: Lab, i: number, group: string): Promise<CensusElection | undefined> {
  const census = await getJson<{ census_groups: Record<string, CensusGroupJson | undefined> }>(lab, i, '/census');
  const g = census.census_groups[group];
  if (g === undefined) return undefined;
  const flagged = Object.entries(g.population).filter(([, m]) => m.leader).map(([id]) => id);
  return { status: g.election_status, leaderId: g.leader_id, flagged, members: Object.keys(g.population).length };
}

/** The one leader host i's /census names (finished, and exactly that member flagged), or null. */
export async function censusLeader(lab: Lab, i: number, group: string): Promise<string | null> {
  const e = await censusElection(lab, i, group);
  return e !== undefined && e.status === 'ElectionFinished' && e.leaderId !== null && e.flagged.length === 1 && e.flagged[0] === e.leaderId ? e.leaderId : null;
}

/** The roster of `group`'s finished election in host i's store (`/butterfly`), sorted. */
export async function roster(lab: Lab, i: number, group: string): Promise<string[]> {
  const view = await getJson<{ election: { list: Record<string, { election?: { roster: string[] } } | undefined> } }>(lab, i, '/butterfly');
  return [...(view.election.list[group]?.election?.roster ?? [])].sort();
}

/** The PID of host i's first service (its process group), from /services. */
export async function servicePid(lab: Lab, i: number): Promise<number | null> {
  return (await getJson<{ process: { pid: number | null } }[]>(lab, i, '/services'))[0]?.process.pid ?? null;
}

/** Host i's rendered kv.conf, parsed: the leader's address it names ('' for none) and its role. */
export function kvConf(lab: Lab, i: number): { leader: string; role: string } | undefined {
  let text: string;
  try {
    text = readFileSync(join(lab.dir(i), 'fs', 'hab/svc/kv/config/kv.conf'), 'utf8');
  } catch {
    return undefined;
  }
  const m = /^leader = (.*)\nrole = (leader|follower)\n$/.exec(text);
  return m ? { leader: m[1] as string, role: m[2] as string } : undefined;
}

/** The leader address host i's rendered web config names ('' for none). */
export function webLeader(lab: Lab, i: number): string | undefined {
  try {
    const m = /^db = (.*):\S*\n$/.exec(readFileSync(join(lab.dir(i), 'fs', 'hab/svc/web/config/upstream.conf'), 'utf8'));
    return m ? m[1] : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process runs (a zombie does not). */
export function pidRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * kill -9 of host i's Supervisor and of its service's process group, back to back, as a host
 * crash would: a Supervisor killed alone leaves its service running (it leads its own process
 * group), and that service would go on believing it leads. `pid` is the service's PID when the
 * caller already has it (so that nothing is asked of the host between its own clock reading and
 * the kill). Resolves with the service's PID once the Supervisor is gone.
 */
export async function crashHost(lab: Lab, i: number, pid?: number | null): Promise<number | null> {
  const service = pid === undefined ? await servicePid(lab, i) : pid;
  const sup = lab.supervisor(i).proc;
  if (sup.running) sup.child.kill('SIGKILL');
  if (service !== null) {
    try {
      process.kill(-service, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await lab.kill9(i);
  return service;
}
