import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { hookName, renderDir, renderHooks } from '../../../src/sup/template/index.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'murmur-template-'));
  dirs.push(d);
  return d;
}

async function put(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), text);
  }
}

async function layout(files: Record<string, string>) {
  const root = await tempDir();
  const src = join(root, 'pkg', 'config');
  const dest = join(root, 'svc', 'config');
  await mkdir(src, { recursive: true });
  await put(src, files);
  return { root, src, dest };
}

const read = (path: string) => readFile(path, 'utf8');

describe('renderDir', () => {
  test('renders every file, keeping relative paths', async () => {
    const { src, dest } = await layout({ 'redis.conf': 'port {{cfg.port}}\n', 'conf.d/tls.conf': 'tls {{cfg.tls}}\n' });
    const result = await renderDir(src, dest, { cfg: { port: 6379, tls: 'on' } });
    expect(result).toEqual({ written: ['conf.d/tls.conf', 'redis.conf'], removed: [], errors: [] });
    expect(await read(join(dest, 'redis.conf'))).toBe('port 6379\n');
    expect(await read(join(dest, 'conf.d', 'tls.conf'))).toBe('tls on\n');
    expect((await stat(join(dest, 'redis.conf'))).mode & 0o777).toBe(0o640);
  });

  test('rewrites only the files whose rendered bytes changed', async () => {
    const { src, dest } = await layout({ 'a.conf': 'a {{cfg.a}}', 'b.conf': 'b {{cfg.b}}' });
    await renderDir(src, dest, { cfg: { a: 1, b: 1 } });
    const before = { a: await stat(join(dest, 'a.conf')), b: await stat(join(dest, 'b.conf')) };
    await new Promise((r) => setTimeout(r, 20));

    const result = await renderDir(src, dest, { cfg: { a: 1, b: 2 } });
    expect(result).toEqual({ written: ['b.conf'], removed: [], errors: [] });
    const after = { a: await stat(join(dest, 'a.conf')), b: await stat(join(dest, 'b.conf')) };
    expect(after.a.ino).toBe(before.a.ino);
    expect(after.a.mtimeMs).toBe(before.a.mtimeMs);
    expect(after.b.ino).not.toBe(before.b.ino);
    expect(await read(join(dest, 'b.conf'))).toBe('b 2');

    expect(await renderDir(src, dest, { cfg: { a: 1, b: 2 } })).toEqual({ written: [], removed: [], errors: [] });
  });

  test('removes files whose template is gone, and directories left empty', async () => {
    const { src, dest } = await layout({ 'keep.conf': 'k', 'old/gone.conf': 'g', 'gone.conf': 'g' });
    await renderDir(src, dest, {});
    await rm(join(src, 'gone.conf'));
    await rm(join(src, 'old'), { recursive: true });
    await writeFile(join(dest, 'stray.txt'), 'not ours');

    const result = await renderDir(src, dest, {});
    expect(result).toEqual({ written: [], removed: ['gone.conf', 'old/gone.conf', 'stray.txt'], errors: [] });
    expect(await readdir(dest)).toEqual(['keep.conf']);
  });

  test('a broken template leaves the old file and reports the file and the reason', async () => {
    const { src, dest } = await layout({ 'app.conf': 'port {{cfg.port}}', 'other.conf': 'v{{cfg.v}}' });
    await renderDir(src, dest, { cfg: { port: 1, v: 1 } });
    await writeFile(join(src, 'app.conf'), 'port {{cfg.port}\n');
    await writeFile(join(src, 'other.conf'), 'v{{cfg.v}}!');

    const result = await renderDir(src, dest, { cfg: { port: 2, v: 2 } });
    expect(result.written).toEqual(['other.conf']);
    expect(result.removed).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.file).toBe('app.conf');
    expect(result.errors[0]?.message).toMatch(/^template app\.conf: Parse error on line 1/);
    expect(await read(join(dest, 'app.conf'))).toBe('port 1');
    expect(await read(join(dest, 'other.conf'))).toBe('v2!');
  });

  test('a helper failing at render time is reported the same way', async () => {
    const { src, dest } = await layout({ 'x.toml': '{{toToml cfg.list}}' });
    const result = await renderDir(src, dest, { cfg: { list: [1] } });
    expect(result.written).toEqual([]);
    expect(result.errors).toEqual([{ file: 'x.toml', message: expect.stringMatching(/^template x\.toml: only a table/) }]);
    expect(await readdir(dest).catch(() => [])).toEqual([]);
  });

  test('a template that is not UTF-8 is an error', async () => {
    const { src, dest } = await layout({});
    await writeFile(join(src, 'bin.dat'), Buffer.from([0xff, 0xfe, 0x00]));
    expect((await renderDir(src, dest, {})).errors).toEqual([{ file: 'bin.dat', message: 'the template is not UTF-8 text' }]);
  });

  test('a missing template directory means no templates', async () => {
    const root = await tempDir();
    const dest = join(root, 'svc');
    await put(dest, { 'left.conf': 'x' });
    expect(await renderDir(join(root, 'nope'), dest, {})).toEqual({ written: [], removed: ['left.conf'], errors: [] });
  });

  test('follows a symlinked template file', async () => {
    const { root, src, dest } = await layout({});
    await writeFile(join(root, 'real.tpl'), 'v={{v}}');
    await symlink(join(root, 'real.tpl'), join(src, 'linked.conf'));
    expect((await renderDir(src, dest, { v: 3 })).written).toEqual(['linked.conf']);
    expect(await read(join(dest, 'linked.conf'))).toBe('v=3');
  });

  test('the mode option sets the file mode', async () => {
    const { src, dest } = await layout({ 'a.sh': 'echo' });
    await renderDir(src, dest, {}, { mode: 0o600 });
    expect((await stat(join(dest, 'a.sh'))).mode & 0o777).toBe(0o600);
  });
});

describe('renderHooks', () => {
  async function hooksLayout(files: Record<string, string>) {
    const root = await tempDir();
    const src = join(root, 'pkg', 'hooks');
    const dest = join(root, 'svc', 'hooks');
    await mkdir(src, { recursive: true });
    await put(src, files);
    return { src, dest };
  }

  test('a hook is named by its file name without extension, written 0755', async () => {
    const { src, dest } = await hooksLayout({ 'run.sh': '#!/bin/sh\nexec redis-server {{pkg.svc_config_path}}/redis.conf\n', init: '#!/bin/sh\n' });
    const result = await renderHooks(src, dest, { pkg: { svc_config_path: '/hab/svc/redis/config' } });
    expect(result.errors).toEqual([]);
    expect(result.hooks).toEqual(['init', 'run']);
    expect([...result.changed].sort()).toEqual(['init', 'run']);
    expect(await read(join(dest, 'run'))).toBe('#!/bin/sh\nexec redis-server /hab/svc/redis/config/redis.conf\n');
    expect((await stat(join(dest, 'run'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(dest, 'init'))).mode & 0o777).toBe(0o755);
  });

  test('reports which hooks changed', async () => {
    const { src, dest } = await hooksLayout({ run: 'run {{cfg.a}}', 'health-check': 'check {{cfg.b}}', reconfigure: 'r' });
    await renderHooks(src, dest, { cfg: { a: 1, b: 1 } });
    expect([...(await renderHooks(src, dest, { cfg: { a: 1, b: 2 } })).changed]).toEqual(['health-check']);
    expect([...(await renderHooks(src, dest, { cfg: { a: 1, b: 2 } })).changed]).toEqual([]);
    await rm(join(src, 'reconfigure'));
    const result = await renderHooks(src, dest, { cfg: { a: 1, b: 2 } });
    expect(result.removed).toEqual(['reconfigure']);
    expect([...result.changed]).toEqual(['reconfigure']);
  });

  test('deprecated underscore names are accepted; the canonical file wins over others', async () => {
    expect(hookName('post_run')).toBe('post-run');
    expect(hookName('run.sh')).toBe('run');
    expect(hookName('health-check.ps1')).toBe('health-check');
    const { src, dest } = await hooksLayout({ post_run: 'old', 'run.sh': 'sh', run: 'plain' });
    const result = await renderHooks(src, dest, {});
    expect(result.hooks).toEqual(['post-run', 'run']);
    expect(await read(join(dest, 'run'))).toBe('plain');
    expect(await read(join(dest, 'post-run'))).toBe('old');
    expect(result.errors).toEqual([{ file: 'run.sh', message: 'ignored: hook run is rendered from run' }]);
  });

  test('a broken hook keeps its old rendering and is not reported as changed', async () => {
    const { src, dest } = await hooksLayout({ run: 'ok {{x}}' });
    await renderHooks(src, dest, { x: 1 });
    await writeFile(join(src, 'run'), 'broken {{#if}}');
    const result = await renderHooks(src, dest, { x: 2 });
    expect(result.changed.size).toBe(0);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.file).toBe('run');
    expect(await read(join(dest, 'run'))).toBe('ok 1');
  });
});
