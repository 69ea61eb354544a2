import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { nullLogger, seededRandom } from '../../src/core/index.js';
import { ensureDir, loadOrCreateMemberId, loadState, saveState, supPaths } from '../../src/sup/index.js';
import type { Rumor } from '../../src/wire/index.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function paths() {
  const root = await mkdtemp(join(tmpdir(), 'murmur-state-'));
  dirs.push(root);
  const p = supPaths({ FS_ROOT: root });
  await ensureDir(p.dataDir);
  return p;
}

const config: Rumor = { kind: 'service-config', group: 'redis.prod', version: 3, encrypted: false, config: new TextEncoder().encode('port = 2112\n'), from: '' };

describe('Supervisor state on disk', () => {
  test('FS_ROOT relocates /hab and HAB_CACHE_KEY_PATH the key cache', () => {
    expect(supPaths({ FS_ROOT: '/tmp/x' })).toMatchObject({ memberIdFile: '/tmp/x/hab/sup/default/MEMBER_ID', keyCacheDir: '/tmp/x/hab/cache/keys' });
    expect(supPaths({}).lockFile).toBe('/hab/sup/default/LOCK');
    expect(supPaths({ HAB_CACHE_KEY_PATH: '/k' }).keyCacheDir).toBe('/k');
  });

  test('the member id is created once and kept', async () => {
    const p = await paths();
    const id = await loadOrCreateMemberId(p, seededRandom(1));
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(await loadOrCreateMemberId(p, seededRandom(2))).toBe(id);
  });

  test('rumors and incarnation survive a save and a load', async () => {
    const p = await paths();
    await saveState(p, 'a'.repeat(32), 7, [config]);
    const back = await loadState(p, nullLogger);
    expect(back.incarnation).toBe(7);
    expect(back.rumors).toEqual([config]);
  });

  test.each([
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 3)],
    ['junk', () => Buffer.from('not a rumor store at all')],
  ])('a %s rumor file is moved aside and the member starts empty', async (_name, spoil) => {
    const p = await paths();
    await saveState(p, 'a'.repeat(32), 2, [config]);
    const { readFile } = await import('node:fs/promises');
    await writeFile(p.rumorFile, spoil(await readFile(p.rumorFile)));
    const warnings: string[] = [];
    const back = await loadState(p, { ...nullLogger, warn: (m: string) => void warnings.push(m) });
    expect(back.rumors).toEqual([]);
    expect(back.incarnation).toBe(2);
    expect(warnings.join()).toMatch(/corrupt/);
    expect((await readdir(p.dataDir)).some((f) => f.startsWith('rumors.dat.corrupt-'))).toBe(true);
  });
});
