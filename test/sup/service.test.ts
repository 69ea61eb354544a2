/**
 * One service's update pass with real files and real processes: Habitat's restart-versus-
 * reconfigure rules as a user sees them (a PID that changes or not, a hook that ran), gossiped
 * files and `file-updated`, and bad packages (a template that does not render, a run hook that
 * is not executable, a run command that does not exist) that never crash the Supervisor.
 *
 * The ring is a small in-memory stand-in (`TestRing`) holding the group's config and files: the
 * gossip side is covered by the end-to-end tests (test/e2e/services.test.ts); here the subject
 * is what a service does with what the ring holds.
 */
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { nullLogger, seededRandom } from '../../src/core/index.js';
import type { InstalledPackage } from '../../src/pkg/index.js';
import { DEFAULT_SPEC } from '../../src/sup/index.js';
import { APPLIED_FILE, Service, type ServiceDeps, type ServiceOptions } from '../../src/sup/service.js';
import { createTemplateEngine } from '../../src/sup/template/index.js';
import { makePackage, TestRing } from './test-ring.js';
import { childEnv, isAlive, recordingSink, removeTempDirs, tempDir, until } from './process/helpers.js';

const services: Service[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.close();
  await removeTempDirs();
});

function serviceDeps(ring: TestRing, sink = recordingSink().sink): ServiceDeps {
  return { log: nullLogger, sink, clock: { now: () => performance.now() }, wallNow: () => Date.now(), random: seededRandom(1), ring, engine: createTemplateEngine() };
}

function serviceOptions(svcPath: string, spec: Partial<typeof DEFAULT_SPEC> = {}): Omit<ServiceOptions, 'pkg'> {
  return {
    spec: { ...DEFAULT_SPEC, ident: 'test/svc', group: 'prod', ...spec },
    svcPath,
    userToml: join(svcPath, 'no-user.toml'),
    env: childEnv,
    processTuning: { backoff: { minMs: 20, maxMs: 50, cooldownMs: 60_000 } },
  };
}

async function startService(pkg: InstalledPackage, ring = new TestRing(), spec: Partial<typeof DEFAULT_SPEC> = {}): Promise<{ service: Service; ring: TestRing; svcPath: string; output: () => string[] }> {
  const svcPath = await tempDir('murmur-svc-');
  const { sink, text } = recordingSink();
  const service = new Service(serviceDeps(ring, sink), { ...serviceOptions(svcPath, spec), pkg });
  services.push(service);
  await service.update();
  return { service, ring, svcPath, output: text };
}

const RUN_SLEEP = '#!/bin/sh\necho "port {{cfg.port}}"\nexec sleep 1000\n';

async function upPid(service: Service): Promise<number> {
  await until(() => service.status().state === 'up', 'the service to be up');
  return service.status().pid as number;
}

describe('restart or reconfigure', () => {
  test('a changed config restarts a service without a reconfigure hook (new PID)', async () => {
    const pkg = await makePackage({ defaultToml: 'port = 1\n', config: { 'app.conf': 'port={{cfg.port}}\n' }, hooks: { run: RUN_SLEEP } });
    const { service, ring, svcPath } = await startService(pkg);
    const first = await upPid(service);
    ring.applyConfig('svc.prod', 2, 'port = 2\n');
    await service.update();
    await until(() => service.status().pid !== first && service.status().state === 'up', 'a new PID');
    expect(await readFile(join(svcPath, 'config', 'app.conf'), 'utf8')).toBe('port=2\n');
    expect(service.status().configVersion).toBe(2);
    expect(isAlive(first)).toBe(false);
  });

  test('with a reconfigure hook the process keeps its PID and the hook runs', async () => {
    const pkg = await makePackage({
      defaultToml: 'port = 1\n',
      config: { 'app.conf': 'port={{cfg.port}}\n' },
      hooks: { run: '#!/bin/sh\nexec sleep 1000\n', reconfigure: '#!/bin/sh\necho reconfigured >> {{pkg.svc_var_path}}/reconfigured\n' },
    });
    const { service, ring, svcPath } = await startService(pkg);
    const pid = await upPid(service);
    ring.applyConfig('svc.prod', 2, 'port = 2\n');
    await service.update();
    expect(await readFile(join(svcPath, 'var', 'reconfigured'), 'utf8')).toBe('reconfigured\n');
    expect(service.status().pid).toBe(pid);
    expect(await readFile(join(svcPath, 'config', 'app.conf'), 'utf8')).toBe('port=2\n');
  });

  test('a config change that renders the same files does nothing', async () => {
    const pkg = await makePackage({ defaultToml: 'port = 1\nother = 1\n', config: { 'app.conf': 'port={{cfg.port}}\n' }, hooks: { run: RUN_SLEEP } });
    const { service, ring } = await startService(pkg);
    const pid = await upPid(service);
    ring.applyConfig('svc.prod', 2, 'other = 2\n');
    await service.update();
    expect(service.status().pid).toBe(pid);
    expect(service.status().configVersion).toBe(2);
  });

  test('a run hook that renders differently restarts the service', async () => {
    const pkg = await makePackage({ defaultToml: 'port = 1\n', hooks: { run: RUN_SLEEP } });
    const { service, ring, output } = await startService(pkg);
    const pid = await upPid(service);
    ring.applyConfig('svc.prod', 2, 'port = 3\n');
    await service.update();
    await until(() => service.status().pid !== pid && service.status().state === 'up', 'a new PID');
    await until(() => output().includes('svc.prod(O): port 3'), 'the new run hook output');
  });

  test('a gossiped file is written to files/ and file-updated runs, without a restart', async () => {
    const pkg = await makePackage({ hooks: { run: RUN_SLEEP, 'file-updated': '#!/bin/sh\ncat {{pkg.svc_files_path}}/motd > {{pkg.svc_var_path}}/seen\n' } });
    const { service, ring, svcPath } = await startService(pkg);
    const pid = await upPid(service);
    ring.fileList.push({ kind: 'service-file', group: 'svc.prod', filename: 'motd', version: 1, encrypted: false, body: new TextEncoder().encode('hi\n'), from: '' });
    await service.update();
    expect(await readFile(join(svcPath, 'files', 'motd'), 'utf8')).toBe('hi\n');
    expect(await readFile(join(svcPath, 'var', 'seen'), 'utf8')).toBe('hi\n');
    expect(service.status().files).toEqual([{ filename: 'motd', version: 1 }]);
    expect(service.status().pid).toBe(pid);
  });
});

describe('the versions a service reports', () => {
  // Found by the chaos suite: a restarted Supervisor's leader-topology service rendered the
  // stored config version 5 at once, but reported version 0 until its election finished, as if
  // the restart had lost what it applied.
  test('a leader-topology service waiting for its election reports the config version it rendered, and the files it wrote', async () => {
    const pkg = await makePackage({ defaultToml: 'port = 1\n', config: { 'app.conf': 'port={{cfg.port}}\n' }, hooks: { run: RUN_SLEEP } });
    const ring = Object.assign(new TestRing(), {
      election: () => ({ status: 'none' as const, leaderId: null, candidateId: null, term: null, roster: [], rosterVersion: 0, quorum: false, votes: [] }),
      electionJoined: () => true,
    });
    ring.applyConfig('svc.prod', 5, 'port = 5\n');
    ring.fileList.push({ kind: 'service-file', group: 'svc.prod', filename: 'motd', version: 3, encrypted: false, body: new TextEncoder().encode('hi\n'), from: '' });
    const { service, svcPath } = await startService(pkg, ring, { topology: 'leader' });
    expect(service.status().lastError).toBe("Waiting to execute hooks; election hasn't started");
    expect(service.status().pid).toBeNull();
    expect(await readFile(join(svcPath, 'config', 'app.conf'), 'utf8')).toBe('port=5\n');
    expect(service.status().configVersion).toBe(5);
    expect(service.status().files).toEqual([{ filename: 'motd', version: 3 }]);
  });

  // Also found by the chaos suite: a restarted Supervisor listed the service at config version 0
  // for the few milliseconds before its first pass rendered the stored version 5 again.
  test('loaded again (a Supervisor restart), a service reports the versions its previous life rendered until its first pass renders', async () => {
    const pkg = await makePackage({ defaultToml: 'port = 1\n', config: { 'app.conf': 'port={{cfg.port}}\n' }, hooks: { run: RUN_SLEEP } });
    const { service, ring, svcPath } = await startService(pkg);
    ring.applyConfig('svc.prod', 5, 'port = 5\n');
    ring.fileList.push({ kind: 'service-file', group: 'svc.prod', filename: 'motd', version: 3, encrypted: false, body: new TextEncoder().encode('hi\n'), from: '' });
    await service.update();
    expect(service.status().configVersion).toBe(5);
    await service.close();
    expect(JSON.parse(await readFile(join(svcPath, APPLIED_FILE), 'utf8'))).toEqual({ configVersion: 5, files: [{ filename: 'motd', version: 3 }] });

    // The next life, before any pass: what is on disk.
    const next = new Service(serviceDeps(ring), { ...serviceOptions(svcPath), pkg });
    services.push(next);
    expect(next.status()).toMatchObject({ configVersion: 5, files: [{ filename: 'motd', version: 3 }] });
    // Its first pass renders the ring's newer version; from then on that is what it reports.
    ring.applyConfig('svc.prod', 6, 'port = 6\n');
    await next.update();
    expect(next.status().configVersion).toBe(6);
    expect(await readFile(join(svcPath, 'config', 'app.conf'), 'utf8')).toBe('port=6\n');
    expect(JSON.parse(await readFile(join(svcPath, APPLIED_FILE), 'utf8'))).toMatchObject({ configVersion: 6 });
  });

  test('a record of applied versions that is not in its shape is ignored', async () => {
    const pkg = await makePackage({ hooks: { run: RUN_SLEEP } });
    for (const text of ['', 'not json', '{"configVersion": -1, "files": []}', '{"configVersion": 2, "files": [{"filename": 3}]}', '[]']) {
      const svcPath = await tempDir('murmur-svc-');
      await writeFile(join(svcPath, APPLIED_FILE), text);
      const s = new Service(serviceDeps(new TestRing()), { ...serviceOptions(svcPath), pkg });
      services.push(s);
      expect(s.status(), text).toMatchObject({ configVersion: 0, files: [] });
    }
  });
});

describe('bad packages and bad input never crash the Supervisor', () => {
  test('a template that does not render: nothing starts, the error names the file', async () => {
    const pkg = await makePackage({ config: { 'broken.conf': 'port={{#each cfg.x}}\n' }, hooks: { run: RUN_SLEEP } });
    const { service } = await startService(pkg);
    expect(service.status().lastError).toMatch(/broken\.conf/);
    expect(service.status().state).toBe('down');
    expect(service.status().pid).toBeNull();
  });

  test('a gossiped config that is not TOML keeps the last good config and says so', async () => {
    const pkg = await makePackage({ defaultToml: 'port = 1\n', config: { 'app.conf': 'port={{cfg.port}}\n' }, hooks: { run: RUN_SLEEP } });
    const { service, ring, svcPath } = await startService(pkg);
    const pid = await upPid(service);
    ring.applyConfig('svc.prod', 2, 'port = 2\n');
    await service.update();
    const applied = await upPid(service);
    expect(applied).not.toBe(pid);
    ring.applyConfig('svc.prod', 3, 'port = = 3\n');
    await service.update();
    expect(service.status().lastError).toMatch(/gossiped config version 3 .*line 1/);
    expect(service.status().configVersion).toBe(2);
    expect(service.status().pid).toBe(applied);
    // Version 2's layer stays: the service is not put back on its defaults.
    expect(await readFile(join(svcPath, 'config', 'app.conf'), 'utf8')).toBe('port=2\n');
  });

  test('a rendered hook made non-executable by hand is made executable again by the next pass that renders', async () => {
    const pkg = await makePackage({ defaultToml: 'port = 1\n', config: { 'app.conf': 'port={{cfg.port}}\n' }, hooks: { run: '#!/bin/sh\nexec sleep 1000\n' } });
    const { service, ring, svcPath } = await startService(pkg);
    await upPid(service);
    await chmod(join(svcPath, 'hooks', 'run'), 0o644);
    ring.applyConfig('svc.prod', 2, 'port = 2\n');
    await service.update();
    expect((await stat(join(svcPath, 'hooks', 'run'))).mode & 0o777).toBe(0o755);
  });

  test('a pass with nothing new to render touches neither the files nor the process', async () => {
    const pkg = await makePackage({ defaultToml: 'port = 1\n', config: { 'app.conf': 'port={{cfg.port}}\n' }, hooks: { run: '#!/bin/sh\nexec sleep 1000\n' } });
    const { service, svcPath } = await startService(pkg);
    const pid = await upPid(service);
    const before = await stat(join(svcPath, 'config', 'app.conf'));
    for (let i = 0; i < 5; i++) await service.update();
    const after = await stat(join(svcPath, 'config', 'app.conf'));
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(service.status().pid).toBe(pid);
  });

  test("a package's run file that is not executable is reported, never run, and the Supervisor carries on", async () => {
    const pkg = await makePackage({});
    const runFile = join(pkg.path, 'run');
    await writeFile(runFile, '#!/bin/sh\nexec sleep 1000\n', { mode: 0o644 });
    const { service, output } = await startService({ ...pkg, runFile });
    await until(() => output().some((l) => l.includes(runFile) && /EACCES|not executable|permission/i.test(l)), 'a line naming the run file');
    expect(service.status().state).not.toBe('up');
  });

  test('a run command that does not exist restarts with backoff and keeps failing quietly', async () => {
    const pkg = await makePackage({ hooks: { run: '#!/bin/sh\nexec /nonexistent/redis-server\n' } });
    const { service, output } = await startService(pkg);
    await until(() => output().filter((l) => /exited with status 127/.test(l)).length >= 2, 'two failed starts');
    expect(service.status().state).not.toBe('up');
  });
});
