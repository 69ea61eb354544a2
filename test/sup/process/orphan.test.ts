/**
 * Telling a previous Supervisor's orphaned service from an unrelated process with the same PID
 * (src/sup/process/orphan.ts), on real processes: one that keeps its environment, a real Redis
 * (which writes its process title over its environment, so that only its start time tells), and
 * the cases that must be left alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { isOrphan, readStat } from '../../../src/sup/process/index.js';

const started: ChildProcess[] = [];

afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Spawns `cmd` as a service is spawned (its own session and process group) with HAB_SVC_PATH set; writes its PID file. */
async function service(cmd: string, args: string[], svcPath: string, opts: { detached?: boolean } = {}): Promise<{ pid: number; pidFileWrittenMs: number }> {
  const child = spawn(cmd, args, { detached: opts.detached ?? true, stdio: 'ignore', env: { ...process.env, HAB_SVC_PATH: svcPath } });
  started.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const file = join(svcPath, 'PID');
  await writeFile(file, String(child.pid));
  return { pid: child.pid as number, pidFileWrittenMs: (await stat(file)).mtimeMs };
}

/**
 * Waits until the environment of `pid` no longer names HAB_SVC_PATH (Redis overwrites it at
 * start), bounded: two reads in a row, 50 ms apart, that return something without it (while the
 * shell execs Redis, a read can come back empty).
 */
async function environCleared(pid: number): Promise<boolean> {
  let clear = 0;
  for (let k = 0; k < 100 && clear < 2; k++) {
    const env = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '');
    clear = env.length > 0 && !env.includes('HAB_SVC_PATH=') ? clear + 1 : 0;
    await new Promise((r) => setTimeout(r, 50));
  }
  return clear >= 2;
}

describe('isOrphan', () => {
  let dir = '';
  afterEach(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test('a service process that kept its environment is the orphan', async () => {
    dir = await mkdtemp(join(tmpdir(), 'murmur-orphan-'));
    const s = await service('sleep', ['60'], dir);
    expect(await isOrphan(s.pid, { svcPath: dir, pidFileWrittenMs: s.pidFileWrittenMs })).toBe(true);
    // Another service's directory: not its orphan by environment; its start time still matches
    // this PID file, so the other directory's check passes only through the start time.
    expect(await isOrphan(s.pid, { svcPath: '/hab/svc/other', pidFileWrittenMs: s.pidFileWrittenMs - 3_600_000 })).toBe(false);
  });

  test('a real Redis, whose environment its process title overwrote, is the orphan by its start time', async () => {
    dir = await mkdtemp(join(tmpdir(), 'murmur-orphan-'));
    // Port 0 and a Unix socket: no TCP listener; nothing saved.
    const s = await service('sh', ['-c', `exec redis-server --port 0 --unixsocket ${dir}/redis.sock --save '' --dir ${dir}`], dir);
    expect(await environCleared(s.pid), 'Redis overwrote its environment').toBe(true);
    expect(await isOrphan(s.pid, { svcPath: dir, pidFileWrittenMs: s.pidFileWrittenMs })).toBe(true);
    // The same process against a PID file written an hour later: a PID reused since, left alone.
    expect(await isOrphan(s.pid, { svcPath: dir, pidFileWrittenMs: s.pidFileWrittenMs + 3_600_000 })).toBe(false);
    // …or an hour earlier.
    await utimes(join(dir, 'PID'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const old = (await stat(join(dir, 'PID'))).mtimeMs;
    expect(await isOrphan(s.pid, { svcPath: dir, pidFileWrittenMs: old })).toBe(false);
  });

  test('a process that does not lead its own process group is never the orphan', async () => {
    dir = await mkdtemp(join(tmpdir(), 'murmur-orphan-'));
    const s = await service('sleep', ['60'], dir, { detached: false });
    expect((await readStat(s.pid))?.pgrp).not.toBe(s.pid);
    expect(await isOrphan(s.pid, { svcPath: dir, pidFileWrittenMs: s.pidFileWrittenMs })).toBe(false);
  });

  test('a process that is gone, or a zombie, is not the orphan', async () => {
    dir = await mkdtemp(join(tmpdir(), 'murmur-orphan-'));
    const s = await service('sh', ['-c', 'exit 0'], dir);
    // Not yet reaped by this process: a zombie; then gone.
    await new Promise((r) => setTimeout(r, 200));
    expect(await isOrphan(s.pid, { svcPath: dir, pidFileWrittenMs: s.pidFileWrittenMs })).toBe(false);
    expect(await isOrphan(2 ** 22 + 1, { svcPath: dir, pidFileWrittenMs: s.pidFileWrittenMs })).toBe(false);
  });
});
