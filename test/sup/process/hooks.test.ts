import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { nullLogger } from '../../../src/core/index.js';
import { runHook, type RunHookOptions } from '../../../src/sup/process/index.js';
import { childEnv, isAlive, Leftovers, readLines, recordingSink, removeTempDirs, script, tempDir } from './helpers.js';

const leftovers = new Leftovers();
afterEach(async () => {
  leftovers.killAll();
  await removeTempDirs();
});

function hookOptions(name: string, path: string, dir: string, more: Partial<RunHookOptions> = {}) {
  const rec = recordingSink();
  const opts: RunHookOptions = {
    name,
    path,
    preamble: 'redis.prod',
    cwd: dir,
    env: childEnv,
    logsDir: join(dir, 'logs'),
    sink: rec.sink,
    log: nullLogger,
    ...more,
  };
  return { opts, rec };
}

describe('running a hook', () => {
  test('its exit code, its output as hook lines, and its log files', async () => {
    const dir = await tempDir();
    const path = await script(dir, 'init', 'echo "hello $GREETING"\necho oops >&2\nexit 3');
    const { opts, rec } = hookOptions('init', path, dir, { env: { ...childEnv, GREETING: 'world' } });
    const result = await runHook(opts);
    expect(result).toMatchObject({ exitCode: 3, signal: null, timedOut: false, aborted: false });
    expect(result.error).toBeUndefined();
    expect(rec.text().sort()).toEqual(['redis.prod hook[init]:(HK): hello world', 'redis.prod hook[init]:(HK): oops']);
    expect(await readFile(join(dir, 'logs', 'init.stdout.log'), 'utf8')).toBe('hello world\n');
    expect(await readFile(join(dir, 'logs', 'init.stderr.log'), 'utf8')).toBe('oops\n');
  });

  test('log files hold the last run, or every run with logMode append', async () => {
    const dir = await tempDir();
    const path = await script(dir, 'health-check', 'echo run');
    const { opts } = hookOptions('health-check', path, dir);
    await runHook(opts);
    await runHook(opts);
    expect(await readLines(join(dir, 'logs', 'health-check.stdout.log'))).toEqual(['run']);
    await runHook({ ...opts, logMode: 'append' });
    expect(await readLines(join(dir, 'logs', 'health-check.stdout.log'))).toEqual(['run', 'run']);
  });

  test('a hook that is not executable gives a result that names the path and chmod +x', async () => {
    const dir = await tempDir();
    const path = await script(dir, 'init', 'exit 0', 0o644);
    const { opts } = hookOptions('init', path, dir);
    const result = await runHook(opts);
    expect(result.exitCode).toBeNull();
    expect(result.error).toContain(path);
    expect(result.error).toContain(`chmod +x ${path}`);
  });

  test('a missing hook gives a result naming the path', async () => {
    const dir = await tempDir();
    const path = join(dir, 'hooks', 'post-run');
    const { opts } = hookOptions('post-run', path, dir);
    const result = await runHook(opts);
    expect(result.exitCode).toBeNull();
    expect(result.error).toMatch(/post-run/);
    expect(result.error).toContain(`${path} does not exist`);
  });

  test('a hook that never exits is killed at its timeout, together with its own child', async () => {
    const dir = await tempDir();
    const pidFile = join(dir, 'grandchild');
    // The hook ignores TERM (and so does the sleep it starts): only the SIGKILL after the grace ends it.
    const path = await script(dir, 'init', `trap '' TERM\nsleep 1000 &\necho $! > ${pidFile}\nwait`);
    const { opts } = hookOptions('init', path, dir, { timeoutMs: 300, killGraceMs: 50 });
    const started = Date.now();
    const result = await runHook(opts);
    const grandchild = leftovers.add((await readLines(pidFile)).map(Number)[0]);
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL', exitCode: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    await leftovers.expectGone(grandchild);
    if (result.pid !== undefined) expect(isAlive(result.pid)).toBe(false);
  });

  test('aborting kills the hook group with TERM', async () => {
    const dir = await tempDir();
    const pidFile = join(dir, 'grandchild');
    const path = await script(dir, 'post-run', `sleep 1000 &\necho $! > ${pidFile}\necho started\nwait`);
    const abort = new AbortController();
    const { opts, rec } = hookOptions('post-run', path, dir, {
      signal: abort.signal,
      sink: (line) => {
        rec.sink(line);
        if (line.content === 'started') abort.abort();
      },
    });
    const result = await runHook(opts);
    const grandchild = leftovers.add((await readLines(pidFile)).map(Number)[0]);
    expect(result).toMatchObject({ aborted: true, timedOut: false, signal: 'SIGTERM' });
    await leftovers.expectGone(grandchild);
  });

  test('an already-aborted signal does not start the hook', async () => {
    const dir = await tempDir();
    const marker = join(dir, 'ran');
    const path = await script(dir, 'init', `touch ${marker}`);
    const { opts } = hookOptions('init', path, dir, { signal: AbortSignal.abort() });
    expect(await runHook(opts)).toMatchObject({ aborted: true, exitCode: null });
    await expect(readFile(marker)).rejects.toThrow();
  });
});
