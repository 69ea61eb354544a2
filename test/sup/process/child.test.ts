import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { spawnService, type ChildHandle } from '../../../src/sup/process/index.js';
import { childEnv, Leftovers, readLines, recordingSink, removeTempDirs, script, tempDir } from './helpers.js';

const children: ChildHandle[] = [];
const leftovers = new Leftovers();
afterEach(async () => {
  for (const c of children.splice(0)) await c.stop('SIGKILL', 0);
  leftovers.killAll();
  await removeTempDirs();
});

function spawn(opts: Parameters<typeof spawnService>[0]): ChildHandle {
  const child = spawnService(opts);
  children.push(child);
  return child;
}

describe('a child process in its own group', () => {
  test('output goes to the sink as (O) and (E) lines and to the log files', async () => {
    const dir = await tempDir();
    const rec = recordingSink();
    const child = spawn({
      command: '/bin/sh',
      args: ['-c', 'echo out; echo err >&2; printf partial'],
      cwd: dir,
      env: childEnv,
      preamble: 'redis.prod',
      sink: rec.sink,
      logFiles: { stdout: join(dir, 'o.log'), stderr: join(dir, 'e.log') },
    });
    expect(child.pid).toBeGreaterThan(0);
    expect(await child.exited).toEqual({ code: 0, signal: null });
    await child.outputDone;
    expect(rec.text().sort()).toEqual(['redis.prod(E): err', 'redis.prod(O): out', 'redis.prod(O): partial']);
    expect(await readFile(join(dir, 'o.log'), 'utf8')).toBe('out\npartial');
  });

  test('a missing command resolves with a clear error instead of throwing', async () => {
    const dir = await tempDir();
    const child = spawn({ command: join(dir, 'nope'), cwd: dir, env: childEnv, preamble: 'p', sink: () => {} });
    const status = await child.exited;
    expect(child.pid).toBeUndefined();
    expect(status.code).toBeNull();
    expect(status.error).toContain(join(dir, 'nope'));
    expect(status.error).toContain('ENOENT');
    expect(await child.stop('SIGTERM', 10)).toBe(status);
  });

  test('a command that is not executable resolves with EACCES and chmod +x', async () => {
    const dir = await tempDir();
    const path = await script(dir, 'run', 'exit 0', 0o644);
    const status = await spawn({ command: path, cwd: dir, env: childEnv, preamble: 'p', sink: () => {} }).exited;
    expect(status.error).toContain('EACCES');
    expect(status.error).toContain(`chmod +x ${path}`);
  });

  test('stop signals the whole group, then SIGKILLs it after the timeout', async () => {
    const dir = await tempDir();
    const pidFile = join(dir, 'grandchild');
    const rec = recordingSink();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const child = spawn({
      command: '/bin/sh',
      args: ['-c', `trap '' TERM; sleep 1000 & echo $! > ${pidFile}; echo ready; wait`],
      cwd: dir,
      env: childEnv,
      preamble: 'p',
      sink: (line) => {
        rec.sink(line);
        if (line.content === 'ready') ready();
      },
    });
    await isReady;
    const grandchild = leftovers.add((await readLines(pidFile)).map(Number)[0]);
    const status = await child.stop('SIGTERM', 100);
    expect(status).toEqual({ code: null, signal: 'SIGKILL' });
    expect(child.running).toBe(false);
    await leftovers.expectGone(grandchild);
  });

  test('when the leader exits, what is left of its group is killed', async () => {
    const dir = await tempDir();
    const pidFile = join(dir, 'grandchild');
    const child = spawn({
      command: '/bin/sh',
      args: ['-c', `sleep 1000 >/dev/null 2>&1 & echo $! > ${pidFile}; exit 7`],
      cwd: dir,
      env: childEnv,
      preamble: 'p',
      sink: () => {},
    });
    expect(await child.exited).toEqual({ code: 7, signal: null });
    const grandchild = leftovers.add((await readLines(pidFile)).map(Number)[0]);
    await leftovers.expectGone(grandchild);
  });
});
