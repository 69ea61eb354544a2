/**
 * The control gateway end to end: three real Supervisors on 127.0.0.71–73 and the real `hab`
 * CLI. A config applied through one reaches all three; a version that is not newer, bad TOML and
 * a wrong secret are refused with clear messages and change nothing; a file upload reaches all;
 * `hab sup depart` makes the departed Supervisor exit 86 and the others hold it departed.
 *
 * The tests run in order on one ring.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { butterfly, hab, healthOf, startSup, stopAll, waitFor, writeTempFile, type Sup } from './supervisors.js';

afterAll(stopAll);

let sups: Sup[] = [];
/** The CLI's environment: the secret comes from the first Supervisor's CTL_SECRET file. */
let env: Record<string, string> = {};

async function allSeeAlive(list: Sup[]): Promise<boolean> {
  for (const o of list) {
    const b = await butterfly(o);
    for (const s of list) if (b.membership[s.id]?.health !== 'Alive') return false;
  }
  return true;
}

async function configVersions(): Promise<(number | undefined)[]> {
  return Promise.all(sups.map(async (s) => (await butterfly(s)).latest_service_config['redis.prod']?.incarnation));
}

beforeAll(async () => {
  const first = await startSup({ host: '127.0.0.71' });
  const rest = await Promise.all(['127.0.0.72', '127.0.0.73'].map((host) => startSup({ host, peers: [first.gossip] })));
  sups = [first, ...rest];
  env = { FS_ROOT: first.fsRoot, HAB_CTL_SECRET: '' };
  await waitFor('three Supervisors to see each other alive', () => allSeeAlive(sups));
});

describe('hab commands through the control gateway', () => {
  test('each Supervisor prints its ctl-gateway address and writes a 0600 CTL_SECRET', async () => {
    for (const s of sups) {
      expect(s.ctl).toMatch(new RegExp(`^${s.host.replace(/\./g, '\\.')}:\\d+$`));
      const file = join(s.fsRoot, 'hab/sup/default/CTL_SECRET');
      expect(Buffer.from(await readFile(file, 'utf8'), 'base64')).toHaveLength(64);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    }
  });

  test('hab config apply (standard input) reaches all three Supervisors', async () => {
    const toml = 'port = 6380\n[tuning]\nmaxmemory = "64mb"\n';
    const r = await hab(['config', 'apply', 'redis.prod', '1', '--remote-sup', sups[0]!.ctl], { env, input: toml });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Applied config version 1 to redis.prod\n');
    await waitFor('config version 1 on all three', async () => (await configVersions()).every((v) => v === 1));
    const held = (await butterfly(sups[2]!)).latest_service_config['redis.prod'];
    expect(Buffer.from(held?.config ?? []).toString('utf8')).toBe(toml);
  });

  test('applying version 1 again is refused naming version 1 (not dropped in silence)', async () => {
    const r = await hab(['config', 'apply', 'redis.prod', '1', '-r', sups[1]!.ctl], { env: { ...env, FS_ROOT: sups[1]!.fsRoot }, input: 'port = 7000\n' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe('error: redis.prod already has config version 1; apply a version above 1\n');
    expect(r.stdout).toBe('');
  });

  test('bad TOML exits 2 naming line and column, and nothing changes', async () => {
    const r = await hab(['config', 'apply', 'redis.prod', '2', '-r', sups[0]!.ctl], { env, input: 'port = 6380\nbind = [1, 2\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not valid TOML: line \d+, column \d+/);
    // The gateway applies the same rule to whoever else sends TOML (curl).
    const secret = (await readFile(join(sups[0]!.fsRoot, 'hab/sup/default/CTL_SECRET'), 'utf8')).trim();
    const res = await fetch(`http://${sups[0]!.ctl}/v1/config/apply`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ service_group: 'redis.prod', version: 2, config: 'a = \n' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/line 1, column 5/);
    expect(await configVersions()).toEqual([1, 1, 1]);
  });

  test('hab file upload reaches all three Supervisors', async () => {
    const path = await writeTempFile('redis.conf', 'maxclients 100\n');
    const r = await hab(['file', 'upload', 'redis.prod', '1', path, '-r', sups[0]!.ctl], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Uploaded redis.conf version 1 to redis.prod\n');
    await waitFor('the file on all three', async () => {
      for (const s of sups) {
        const f = (await butterfly(s)).service_file.list['redis.prod']?.['redis.conf'];
        if (f?.incarnation !== 1 || Buffer.from(f.body).toString('utf8') !== 'maxclients 100\n') return false;
      }
      return true;
    });
  });

  test('a wrong secret is refused with 401, logged, and the store is unchanged', async () => {
    const r = await hab(['config', 'apply', 'redis.prod', '5', '-r', sups[0]!.ctl], { env: { ...env, HAB_CTL_SECRET: 'wrong' }, input: 'port = 1\n' });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^error: secret key mismatch/);
    expect(await configVersions()).toEqual([1, 1, 1]);
    expect(sups[0]!.lines.some((l) => /refused a control request without the right secret/.test(l))).toBe(true);
  });

  test('hab sup depart: the departed Supervisor exits 86 and the others hold it departed', async () => {
    const leaver = sups[2]!;
    const r = await hab(['sup', 'depart', leaver.id, '-r', sups[0]!.ctl], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Departed member ${leaver.id}\n`);
    const code = await Promise.race([leaver.exited, new Promise((_, reject) => setTimeout(() => reject(new Error('the departed Supervisor did not exit within 20 s')), 20_000))]);
    expect(code).toBe(86);
    await waitFor('the others to hold it departed', async () => (await healthOf(sups[0]!, leaver)) === 'Departed' && (await healthOf(sups[1]!, leaver)) === 'Departed');
  });
});
