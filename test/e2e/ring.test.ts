/**
 * Real Supervisors, through the CLI, on loopback addresses 127.0.0.x: the ring forms, finds a
 * dead member, keeps identity across kill -9, announces departure, and keeps out a Supervisor
 * without the ring key.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, describe, expect, test } from 'vitest';
import { BIN, butterfly, healthOf, kill9, newFsRoot, startSup, stopAll, waitFor, type Sup } from './supervisors.js';

afterAll(stopAll);

async function ring(n: number, base: number, env: Record<string, string> = {}): Promise<Sup[]> {
  const first = await startSup({ host: `127.0.0.${base}`, env });
  const rest = await Promise.all(Array.from({ length: n - 1 }, (_, i) => startSup({ host: `127.0.0.${base + 1 + i}`, peers: [first.gossip], env })));
  return [first, ...rest];
}

async function allSeeAlive(sups: Sup[]): Promise<boolean> {
  for (const o of sups) {
    const b = await butterfly(o);
    for (const s of sups) if (b.membership[s.id]?.health !== 'Alive') return false;
  }
  return true;
}

describe('real Supervisors on loopback', () => {
  test('five Supervisors peered through one converge, and a kill -9 is confirmed by all', async () => {
    const sups = await ring(5, 21);
    await waitFor('five Supervisors to see each other alive', () => allSeeAlive(sups));
    const victim = sups[4]!;
    await kill9(victim);
    const others = sups.slice(0, 4);
    await waitFor('every survivor to hold the killed one confirmed', async () => {
      for (const o of others) if ((await healthOf(o, victim)) !== 'Confirmed') return false;
      return true;
    });
  });

  test('a restarted member keeps its id and its rumors, and comes back alive', async () => {
    const sups = await ring(3, 31);
    await waitFor('three alive', () => allSeeAlive(sups));
    const m = sups[2]!;
    const idBefore = (await readFile(join(m.fsRoot, 'hab/sup/default/MEMBER_ID'), 'utf8')).trim();
    expect(idBefore).toBe(m.id);
    // It has written what it knows (the other two members) before it dies.
    await waitFor('the rumor store on disk', () => readFile(join(m.fsRoot, 'hab/sup/default/data/rumors.dat')).then((b) => b.length > 0));
    await kill9(m);
    const again = await startSup({ host: m.host, fsRoot: m.fsRoot });
    expect(again.id).toBe(m.id);
    expect(again.lines.some((l) => /restored rumors from disk rumors=3/.test(l))).toBe(true);
    await waitFor('the restarted member alive everywhere', () => allSeeAlive([sups[0]!, sups[1]!, again]));
  });

  test('sup term is seen as departed, and the Supervisor exits 0', async () => {
    const sups = await ring(3, 41);
    await waitFor('three alive', () => allSeeAlive(sups));
    const leaver = sups[1]!;
    const r = spawnSync(process.execPath, [BIN, 'sup', 'term'], { env: { ...process.env, FS_ROOT: leaver.fsRoot }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(await leaver.exited).toBe(0);
    await waitFor('the others to mark it departed', async () => (await healthOf(sups[0]!, leaver)) === 'Departed' && (await healthOf(sups[2]!, leaver)) === 'Departed', 5000);
  });

  test('a second Supervisor on the same FS_ROOT is refused, naming the PID that holds it', async () => {
    const first = await startSup({ host: '127.0.0.51' });
    const r = spawnSync(process.execPath, [BIN, 'sup', 'run', '--listen-gossip', '127.0.0.52:0', '--http-disable'], {
      env: { ...process.env, FS_ROOT: first.fsRoot },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`PID ${first.proc.pid}`);
  });

  test('without write access to its state directory the error names FS_ROOT', () => {
    // sysfs refuses new directories even to root.
    const r = spawnSync(process.execPath, [BIN, 'sup', 'run', '--listen-gossip', '127.0.0.53:0', '--http-disable'], {
      env: { ...process.env, FS_ROOT: '/sys/murmur-cannot-write-here' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/FS_ROOT/);
  });

  test('with a ring key the ring forms; a Supervisor with another key or none stays out', async () => {
    const keys = await newFsRoot();
    const env = { HAB_CACHE_KEY_PATH: keys };
    execFileSync(process.execPath, [BIN, 'ring', 'key', 'generate', 'prod'], { env: { ...process.env, ...env } });
    const other = await newFsRoot();
    execFileSync(process.execPath, [BIN, 'ring', 'key', 'generate', 'prod'], { env: { ...process.env, HAB_CACHE_KEY_PATH: other } });
    const a = await startSup({ host: '127.0.0.61', args: ['--ring', 'prod'], env });
    const b = await startSup({ host: '127.0.0.62', peers: [a.gossip], args: ['--ring', 'prod'], env });
    await waitFor('the keyed pair to converge', () => allSeeAlive([a, b]));
    const wrong = await startSup({ host: '127.0.0.63', peers: [a.gossip], args: ['--ring', 'prod'], env: { HAB_CACHE_KEY_PATH: other } });
    const none = await startSup({ host: '127.0.0.64', peers: [a.gossip] });
    await new Promise((r) => setTimeout(r, 3000));
    const view = await butterfly(a);
    expect(view.membership[wrong.id]).toBeUndefined();
    expect(view.membership[none.id]).toBeUndefined();
    expect(Object.keys((await butterfly(wrong)).membership)).toEqual([wrong.id]);
    expect(a.lines.some((l) => /does not open with the ring key/.test(l))).toBe(true);
  });
});
