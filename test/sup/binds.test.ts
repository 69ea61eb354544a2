/**
 * Binds (reference §9) as a user of a consumer package sees them: what `hab svc load` refuses,
 * when a bind counts as satisfied, and a real service (real files, real processes) bound to a
 * group whose census the test changes by hand (`TestRing.setMember`): it renders the bound
 * group's leader and members, follows them as they change, waits for its binds in strict mode
 * and starts at once in relaxed mode. Elections are not ours here: the leader is the census
 * member flagged `leader`, as the census will show it once elections fill it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { MurmurError } from '../../src/core/index.js';
import { bindState, checkBinds } from '../../src/sup/binds.js';
import { closeServices, makePackage, startService, TestRing } from './test-ring.js';
import { isAlive, removeTempDirs, until } from './process/helpers.js';

afterEach(async () => {
  await closeServices();
  await removeTempDirs();
});

const WEB = { identText: 'test/web/1.0.0/20260101000000', binds: { db: ['port'] }, bindsOptional: { cache: ['port'] } };

function refusal(fn: () => unknown): MurmurError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MurmurError) return err;
    throw err;
  }
  throw new Error('expected a MurmurError, nothing was thrown');
}

describe('hab svc load checks the binds against the package', () => {
  test('a bind name the package does not declare is refused, naming the binds it has', () => {
    const err = refusal(() => checkBinds({ binds: ['db:redis.prod', 'queue:rabbit.prod'] }, WEB));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toBe('test/web/1.0.0/20260101000000 has no bind named queue; its binds are: db, cache');
  });

  test('a required bind that is not given is refused, naming the flag to add', () => {
    const err = refusal(() => checkBinds({ binds: ['cache:memcached.prod'] }, WEB));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toBe('test/web/1.0.0/20260101000000 requires the bind db; add --bind db:SERVICE.GROUP');
  });

  test('an optional bind may be left out, and a package without binds takes none', () => {
    expect(() => checkBinds({ binds: ['db:redis.prod'] }, WEB)).not.toThrow();
    const err = refusal(() => checkBinds({ binds: ['db:redis.prod'] }, { identText: 'test/kv/1.0.0/20260101000000', binds: {}, bindsOptional: {} }));
    expect(err.message).toBe('test/kv/1.0.0/20260101000000 has no bind named db; it declares no binds');
  });
});

describe('a bind is satisfied when its group has an active member exporting what it needs', () => {
  test('a group not in the census, or with no active member, does not satisfy it', () => {
    const ring = new TestRing();
    expect(bindState('db', 'redis.prod', ['port'], ring.census())).toMatchObject({
      satisfied: false,
      reason: 'bind db: the service group redis.prod is not (yet?) present in the census',
    });
    ring.setMember('redis.prod', 'a'.repeat(32), { alive: false, confirmed: true, cfg: { port: 6379 } });
    expect(bindState('db', 'redis.prod', ['port'], ring.census())).toMatchObject({ satisfied: false, reason: 'bind db: redis.prod has no active members' });
    ring.setMember('redis.prod', 'a'.repeat(32), { alive: false, confirmed: false, suspect: true });
    expect(bindState('db', 'redis.prod', ['port'], ring.census()).satisfied).toBe(true);
  });

  test("a missing export key leaves it unsatisfied; the leader's exports decide when there is a leader", () => {
    const ring = new TestRing();
    ring.setMember('redis.prod', 'a'.repeat(32), { cfg: { host: 'x' } });
    expect(bindState('db', 'redis.prod', ['port'], ring.census())).toMatchObject({ satisfied: false, reason: 'bind db: redis.prod does not export port (the bind needs port)' });
    ring.setMember('redis.prod', 'b'.repeat(32), { cfg: { port: 6379 } });
    expect(bindState('db', 'redis.prod', ['port'], ring.census()).satisfied).toBe(true);
    ring.setLeader('redis.prod', 'a'.repeat(32));
    expect(bindState('db', 'redis.prod', ['port'], ring.census()).satisfied).toBe(false);
  });
});

const RUN = '#!/bin/sh\nexec sleep 1000\n';

async function rendered(svcPath: string, file = 'upstream.conf'): Promise<string> {
  return readFile(join(svcPath, 'config', file), 'utf8').catch(() => '');
}

describe('a service bound to a group renders it and follows it', () => {
  const A = 'a'.repeat(32);
  const B = 'b'.repeat(32);
  const C = 'c'.repeat(32);

  test("a web-like service bound to a redis group renders the leader's address and follows it when the leader changes", async () => {
    const pkg = await makePackage({ binds: { db: ['port'] }, config: { 'upstream.conf': 'leader {{bind.db.leader.sys.ip}}:{{bind.db.leader.cfg.port}}\n' }, hooks: { run: RUN } });
    const ring = new TestRing();
    ring.setMember('redis.prod', A, { ip: '10.0.0.1', cfg: { port: 6379 } });
    ring.setMember('redis.prod', B, { ip: '10.0.0.2', cfg: { port: 6380 } });
    ring.setLeader('redis.prod', A);
    const { service, svcPath } = await startService(pkg, { ring, spec: { binds: ['db:redis.prod'] } });
    await until(() => service.status().state === 'up', 'the service to be up');
    const first = service.status().pid as number;
    expect(await rendered(svcPath)).toBe('leader 10.0.0.1:6379\n');

    ring.setLeader('redis.prod', B);
    await service.update();
    expect(await rendered(svcPath)).toBe('leader 10.0.0.2:6380\n');
    // No reconfigure hook: a changed config restarts the service (Habitat's rule).
    await until(() => service.status().state === 'up' && service.status().pid !== first, 'a restart on the new config');
    expect(isAlive(first)).toBe(false);
  });

  test('members joining, leaving and changing their exported port re-render the template and run reconfigure', async () => {
    const pkg = await makePackage({
      binds: { db: ['port'] },
      config: { 'upstream.conf': '{{#each bind.db.members}}{{sys.ip}}:{{cfg.port}} {{/each}}\n' },
      hooks: { run: RUN, reconfigure: '#!/bin/sh\necho reconfigured >> {{pkg.svc_var_path}}/reconfigured\n' },
    });
    const ring = new TestRing();
    ring.setMember('redis.prod', A, { ip: '10.0.0.1', cfg: { port: 6379 } });
    const { service, svcPath } = await startService(pkg, { ring, spec: { binds: ['db:redis.prod'] } });
    await until(() => service.status().state === 'up', 'the service to be up');
    const pid = service.status().pid;
    expect(await rendered(svcPath)).toBe('10.0.0.1:6379 \n');

    ring.setMember('redis.prod', B, { ip: '10.0.0.2', cfg: { port: 6379 } });
    await service.update();
    expect(await rendered(svcPath)).toBe('10.0.0.1:6379 10.0.0.2:6379 \n');

    ring.setMember('redis.prod', B, { cfg: { port: 7000 } });
    await service.update();
    expect(await rendered(svcPath)).toBe('10.0.0.1:6379 10.0.0.2:7000 \n');

    // A member that is confirmed dead is not active; one whose service was unloaded is gone.
    ring.setMember('redis.prod', A, { alive: false, confirmed: true });
    ring.setMember('redis.prod', C, { ip: '10.0.0.3', cfg: { port: 6379 } });
    await service.update();
    expect(await rendered(svcPath)).toBe('10.0.0.2:7000 10.0.0.3:6379 \n');
    ring.removeMember('redis.prod', C);
    await service.update();
    expect(await rendered(svcPath)).toBe('10.0.0.2:7000 \n');

    expect((await readFile(join(svcPath, 'var', 'reconfigured'), 'utf8')).split('\n').filter(Boolean)).toHaveLength(4);
    expect(service.status().pid).toBe(pid);
  });
});

describe('binding modes', () => {
  const A = 'a'.repeat(32);

  test('strict: the service waits, saying which bind and why, and starts once the bound group appears', async () => {
    const pkg = await makePackage({ binds: { db: ['port'] }, config: { 'upstream.conf': 'db {{bind.db.first.sys.ip}}:{{bind.db.first.cfg.port}}\n' }, hooks: { run: RUN } });
    const ring = new TestRing();
    const { service, svcPath, log } = await startService(pkg, { ring, spec: { binds: ['db:redis.prod'], bindingMode: 'strict' } });
    expect(service.status()).toMatchObject({
      state: 'down',
      pid: null,
      lastError: 'waiting for service binds (binding mode strict): bind db: the service group redis.prod is not (yet?) present in the census',
    });
    expect(log).toContain('INFO Waiting for service binds... binds=db');
    // The member is in its own group's census meanwhile, as not started.
    expect(ring.published.at(-1)).toMatchObject({ group: 'svc.prod', state: 'down', initialized: false });

    ring.setMember('redis.prod', A, { ip: '10.0.0.1', cfg: {} });
    await service.update();
    expect(service.status().lastError).toBe('waiting for service binds (binding mode strict): bind db: redis.prod does not export port (the bind needs port)');
    expect(service.status().pid).toBeNull();

    ring.setMember('redis.prod', A, { cfg: { port: 6379 } });
    await service.update();
    await until(() => service.status().state === 'up', 'the service to start');
    expect(service.status().lastError).toBeNull();
    expect(await rendered(svcPath)).toBe('db 10.0.0.1:6379\n');
    expect(log).toContain('INFO bind satisfied bind=db group=redis.prod');
  });

  test('strict: once started, a bind that goes away is left out of the templates and the service keeps running', async () => {
    const pkg = await makePackage({ binds: { db: ['port'] }, config: { 'upstream.conf': '{{#if bind.db}}db {{bind.db.first.sys.ip}}{{else}}no db{{/if}}\n' }, hooks: { run: RUN, reconfigure: '#!/bin/sh\ntrue\n' } });
    const ring = new TestRing();
    ring.setMember('redis.prod', A, { ip: '10.0.0.1', cfg: { port: 6379 } });
    const { service, svcPath, log } = await startService(pkg, { ring, spec: { binds: ['db:redis.prod'] } });
    await until(() => service.status().state === 'up', 'the service to be up');
    const pid = service.status().pid;
    ring.setMember('redis.prod', A, { alive: false, confirmed: true });
    await service.update();
    expect(await rendered(svcPath)).toBe('no db\n');
    expect(service.status()).toMatchObject({ state: 'up', pid, lastError: null });
    expect(log).toContain('WARN bind no longer satisfied: bind db: redis.prod has no active members');
  });

  test('relaxed: the service starts at once without the bind, and renders it once the group appears', async () => {
    const pkg = await makePackage({ binds: { db: ['port'] }, config: { 'upstream.conf': '{{#if bind.db}}db {{bind.db.first.sys.ip}}{{else}}no db{{/if}}\n' }, hooks: { run: RUN } });
    const ring = new TestRing();
    const { service, svcPath } = await startService(pkg, { ring, spec: { binds: ['db:redis.prod'], bindingMode: 'relaxed' } });
    await until(() => service.status().state === 'up', 'the service to be up');
    expect(service.status().lastError).toBeNull();
    expect(await rendered(svcPath)).toBe('no db\n');
    ring.setMember('redis.prod', A, { ip: '10.0.0.1', cfg: { port: 6379 } });
    await service.update();
    expect(await rendered(svcPath)).toBe('db 10.0.0.1\n');
  });
});

describe('templates can leave out unhealthy members', () => {
  test('eachHealthy keeps the alive members whose health check is OK or WARNING; health_check is on every member', async () => {
    const pkg = await makePackage({
      binds: { db: ['port'] },
      config: {
        'upstream.conf': '{{#eachHealthy bind.db.members as |m|}}{{m.sys.ip}}{{#unless @last}},{{/unless}}{{else}}none{{/eachHealthy}}\n',
        'all.conf': '{{#each bind.db.members}}{{sys.ip}}={{health_check}} {{/each}}\n',
      },
      hooks: { run: RUN, reconfigure: '#!/bin/sh\ntrue\n' },
    });
    const ring = new TestRing();
    ring.setMember('redis.prod', 'a'.repeat(32), { ip: '10.0.0.1', cfg: { port: 1 }, health_check: 'ok' });
    ring.setMember('redis.prod', 'b'.repeat(32), { ip: '10.0.0.2', cfg: { port: 1 }, health_check: 'critical' });
    ring.setMember('redis.prod', 'c'.repeat(32), { ip: '10.0.0.3', cfg: { port: 1 }, health_check: 'warning' });
    ring.setMember('redis.prod', 'd'.repeat(32), { ip: '10.0.0.4', cfg: { port: 1 }, health_check: 'unknown' });
    const { service, svcPath } = await startService(pkg, { ring, spec: { binds: ['db:redis.prod'] } });
    await until(() => service.status().state === 'up', 'the service to be up');
    expect(await rendered(svcPath)).toBe('10.0.0.1,10.0.0.3\n');
    expect(await rendered(svcPath, 'all.conf')).toBe('10.0.0.1=ok 10.0.0.2=critical 10.0.0.3=warning 10.0.0.4=unknown \n');

    // A member whose check fails drops out at the next pass; one that recovers comes back.
    ring.setMember('redis.prod', 'a'.repeat(32), { health_check: 'critical' });
    ring.setMember('redis.prod', 'b'.repeat(32), { health_check: 'ok' });
    await service.update();
    expect(await rendered(svcPath)).toBe('10.0.0.2,10.0.0.3\n');
    for (const id of ['a', 'b', 'c'].map((x) => x.repeat(32))) ring.setMember('redis.prod', id, { health_check: 'critical' });
    await service.update();
    expect(await rendered(svcPath)).toBe('none\n');
  });
});
