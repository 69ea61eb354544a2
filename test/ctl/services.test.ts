/**
 * The service routes of the control gateway (`hab svc …`, `config show`, `config apply --wait`)
 * against the `FakeServices` test double: bodies are checked before the manager is called, its
 * answers come back in snake_case, a Supervisor without a manager says so, and the `--wait`
 * stream follows the group to `done` or `timeout` and lets go of the census when the client does.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, test } from 'vitest';
import { MurmurError } from '../../src/core/index.js';
import type { ConfigApplyEvent, CtlSupervisor } from '../../src/ctl/index.js';
import { CtlClient, CtlGateway } from '../../src/ctl/index.js';
import { startHttpServer } from '../../src/net/index.js';
import type { Published } from '../../src/sup/index.js';
import { request } from '../http/serve.js';
import { FakeServices, member, NOW, status } from './fake-services.js';

const SECRET = 'the-secret';
const ID = 'a'.repeat(32);
const auth = { authorization: `Bearer ${SECRET}` };

function fakeSupervisor(): CtlSupervisor & { applied: [string, number][] } {
  const applied: [string, number][] = [];
  return {
    id: ID,
    applied,
    applyConfig: (group: string, version: number, toml: string): Published => {
      if (version <= 1) throw new MurmurError('CONFLICT', `${group} already has config version 1; apply a version above 1`);
      applied.push([group, version]);
      return { group, version, bytes: Buffer.byteLength(toml) };
    },
    uploadFile: () => {
      throw new Error('not in this test');
    },
    depart: () => ({ alreadyDeparted: false }),
    status: () => ({ memberId: ID, incarnation: 0, members: { alive: [ID], suspect: [], confirmed: [], departed: [] } }),
  };
}

/** A gateway over a `FakeServices`, its clock stopped at `NOW`. */
function gateway() {
  const sup = fakeSupervisor();
  const services = new FakeServices();
  const gw = new CtlGateway({ supervisor: sup, services, secret: SECRET, clock: { now: () => NOW }, listen: startHttpServer });
  return { gw, sup, services };
}

/** A gateway of a Supervisor without a service manager. */
function gatewayWithoutServices() {
  const sup = fakeSupervisor();
  return { gw: new CtlGateway({ supervisor: sup, secret: SECRET, listen: startHttpServer }), sup };
}

function post(gw: CtlGateway, path: string, body: unknown): Promise<Response> {
  return request(gw.handle, path, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

function get(gw: CtlGateway, path: string): Promise<Response> {
  return request(gw.handle, path, { headers: auth });
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

describe('without a service manager', () => {
  test('every service route is 404 NOT_FOUND saying so', async () => {
    const { gw } = gatewayWithoutServices();
    const answers = [
      await post(gw, '/v1/svc/load', { ident: 'core/redis' }),
      await post(gw, '/v1/svc/unload', { ident: 'core/redis' }),
      await post(gw, '/v1/svc/start', { ident: 'core/redis' }),
      await post(gw, '/v1/svc/stop', { ident: 'core/redis' }),
      await get(gw, '/v1/svc/status'),
      await get(gw, '/v1/config/show?ident=core/redis'),
    ];
    for (const res of answers) {
      expect(res.status).toBe(404);
      expect(await errorOf(res)).toEqual({ code: 'NOT_FOUND', message: 'this Supervisor has no service manager' });
    }
  });

  test('config apply with wait is refused before anything is published; without wait it works as before', async () => {
    const { gw, sup } = gatewayWithoutServices();
    const res = await post(gw, '/v1/config/apply', { service_group: 'redis.default', version: 2, config: 'a = 1', wait: true });
    expect(res.status).toBe(404);
    expect(sup.applied).toEqual([]);
    const plain = await post(gw, '/v1/config/apply', { service_group: 'redis.default', version: 2, config: 'a = 1' });
    expect(await plain.json()).toEqual({ service_group: 'redis.default', version: 2, bytes: 5, member_id: ID });
  });
});

describe('POST /v1/svc/load', () => {
  test('passes the request in camelCase and answers the spec in snake_case', async () => {
    const { gw, services } = gateway();
    const body = {
      ident: 'core/redis',
      group: 'prod',
      topology: 'leader',
      strategy: 'rolling',
      binds: ['db:postgres.prod'],
      binding_mode: 'relaxed',
      health_check_interval: 10,
      shutdown_timeout: 3,
      config_from: '/src/redis',
      force: false,
    };
    const res = await post(gw, '/v1/svc/load', body);
    expect(res.status).toBe(200);
    expect(services.calls).toEqual([
      [
        'load',
        { ident: 'core/redis', group: 'prod', topology: 'leader', strategy: 'rolling', binds: ['db:postgres.prod'], bindingMode: 'relaxed', healthCheckIntervalSec: 10, shutdownTimeoutSec: 3, configFrom: '/src/redis', force: false },
      ],
    ]);
    expect(await res.json()).toEqual({
      spec: {
        ident: 'core/redis',
        group: 'prod',
        org: null,
        bldr_url: 'https://bldr.habitat.sh',
        channel: 'stable',
        topology: 'leader',
        update_strategy: 'none',
        update_condition: 'latest',
        binds: [],
        binding_mode: 'strict',
        config_from: null,
        desired_state: 'up',
        shutdown_timeout: null,
        health_check_interval: 30,
      },
      ident: 'core/redis/1.0.0/20240101000000',
      service_group: 'redis.prod',
      reloaded: false,
    });
  });

  test.each([
    [{}, 'ident is missing: expected a string'],
    [{ ident: 7 }, 'ident must be a string, got number'],
    [{ ident: 'core/redis', topology: 'mesh' }, 'topology must be standalone or leader, got "mesh"'],
    [{ ident: 'core/redis', strategy: 1 }, 'strategy must be a string, got number'],
    [{ ident: 'core/redis', binding_mode: 'loose' }, 'binding_mode must be strict or relaxed, got "loose"'],
    [{ ident: 'core/redis', binds: 'db:pg.prod' }, 'binds must be an array of "NAME:SERVICE.GROUP[@ORG]" strings'],
    [{ ident: 'core/redis', binds: [1] }, 'binds must be an array of "NAME:SERVICE.GROUP[@ORG]" strings'],
    [{ ident: 'core/redis', health_check_interval: '10' }, 'health_check_interval must be a number, got string'],
    [{ ident: 'core/redis', force: 'yes' }, 'force must be a boolean, got string'],
    [{ ident: 'core/redis', bind: ['db:pg.prod'] }, expect.stringMatching(/^unknown field "bind"; the fields are ident, group, /)],
  ])('%j is 400 naming the field, and the manager is not called', async (body, message) => {
    const { gw, services } = gateway();
    const res = await post(gw, '/v1/svc/load', body);
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toEqual({ code: 'BAD_INPUT', message });
    expect(services.calls).toEqual([]);
  });

  test("the manager's refusal keeps its code", async () => {
    const { gw, services } = gateway();
    services.add(status());
    const res = await post(gw, '/v1/svc/load', { ident: 'core/redis' });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).message).toMatch(/use --force/);
  });
});

describe('unload, start, stop and status', () => {
  test('unload and stop pass the shutdown timeout and answer the service status', async () => {
    const { gw, services } = gateway();
    services.add(status()).add(status({ specIdent: 'core/nginx', ident: 'core/nginx/1.25.0/20240101000000', serviceGroup: 'nginx.default' }));
    const stopped = await post(gw, '/v1/svc/stop', { ident: 'core/redis', shutdown_timeout: 4 });
    expect(stopped.status).toBe(200);
    expect(await stopped.json()).toMatchObject({ ident: 'core/redis/7.2.4/20240101000000', spec_ident: 'core/redis', desired_state: 'down', state: 'down', pid: null, elapsed_sec: 5 });
    const unloaded = await post(gw, '/v1/svc/unload', { ident: 'core/nginx' });
    expect(await unloaded.json()).toMatchObject({ spec_ident: 'core/nginx', state: 'down' });
    expect(services.calls).toEqual([
      ['stop', 'core/redis', 4],
      ['unload', 'core/nginx', undefined],
    ]);
  });

  test('start answers the status; an unknown service is 404 from the manager', async () => {
    const { gw, services } = gateway();
    services.add(status({ desired: 'down' }));
    expect(await (await post(gw, '/v1/svc/start', { ident: 'core/redis' })).json()).toMatchObject({ desired_state: 'up' });
    const missing = await post(gw, '/v1/svc/start', { ident: 'core/nope' });
    expect(missing.status).toBe(404);
    expect(await errorOf(missing)).toEqual({ code: 'NOT_FOUND', message: 'no service core/nope is loaded' });
  });

  test('a mistyped shutdown_timeout or an unknown field is 400', async () => {
    const { gw, services } = gateway();
    services.add(status());
    expect(await errorOf(await post(gw, '/v1/svc/stop', { ident: 'core/redis', shutdown_timeout: '4' }))).toEqual({ code: 'BAD_INPUT', message: 'shutdown_timeout must be a number, got string' });
    expect((await post(gw, '/v1/svc/start', { ident: 'core/redis', shutdown_timeout: 4 })).status).toBe(400);
    expect(services.calls).toEqual([]);
  });

  test('GET /v1/svc/status lists every service, or the one named, with the seconds in its state', async () => {
    const { gw, services } = gateway();
    services.add(status({ files: [{ filename: 'tls.pem', version: 2 }], configVersion: 3 }));
    const res = await get(gw, '/v1/svc/status');
    expect(await res.json()).toEqual({
      services: [
        {
          ident: 'core/redis/7.2.4/20240101000000',
          spec_ident: 'core/redis',
          service_group: 'redis.default',
          topology: 'standalone',
          binding_mode: 'strict',
          binds: [],
          desired_state: 'up',
          state: 'up',
          pid: 4242,
          started_at_ms: NOW - 75_000,
          elapsed_sec: 75,
          config_version: 3,
          files: [{ filename: 'tls.pem', version: 2 }],
          health: 'ok',
          last_error: null,
          health_check_interval: 30,
          svc_path: '/hab/svc/redis',
          pkg_path: '/hab/pkgs/core/redis/7.2.4/20240101000000',
        },
      ],
    });
    expect(((await (await get(gw, '/v1/svc/status?ident=core/redis')).json()) as { services: unknown[] }).services).toHaveLength(1);
    expect((await get(gw, '/v1/svc/status?ident=core/nope')).status).toBe(404);
  });

  test('a service that is down and does not say since when has no elapsed seconds', async () => {
    const { gw, services } = gateway();
    services.add(status({ state: 'down', pid: null }));
    const body = (await (await get(gw, '/v1/svc/status')).json()) as { services: { elapsed_sec: number | null }[] };
    expect(body.services[0]?.elapsed_sec).toBeNull();
  });
});

describe('GET /v1/config/show', () => {
  test('answers the merged TOML of the service', async () => {
    const { gw, services } = gateway();
    services.add(status());
    const res = await get(gw, '/v1/config/show?ident=core%2Fredis');
    expect(await res.json()).toEqual({ ident: 'core/redis', toml: 'port = 6379\n\n[tls]\nenabled = false\n' });
  });

  test('without ?ident= it is 400', async () => {
    const { gw } = gateway();
    expect(await errorOf(await get(gw, '/v1/config/show'))).toEqual({ code: 'BAD_INPUT', message: 'ident is missing: add ?ident=ORIGIN/NAME to the path' });
  });
});

test('the 404 of an unknown route lists the service routes too', async () => {
  const { gw } = gateway();
  const message = (await errorOf(await get(gw, '/v1/svc/nothing'))).message;
  for (const route of ['POST /v1/svc/load', 'POST /v1/svc/unload', 'POST /v1/svc/start', 'POST /v1/svc/stop', 'GET /v1/svc/status', 'GET /v1/config/show', 'POST /v1/config/apply']) {
    expect(message).toContain(route);
  }
});

describe('POST /v1/config/apply with wait', () => {
  const started: CtlGateway[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((g) => g.stop()));
  });

  /** A gateway on a loopback socket, a client of it, and redis.prod with three live members and a dead one. */
  async function live(group = 'redis.prod') {
    const { gw, services, sup } = gateway();
    services.groups.set(group, [member('b1', '10.0.0.1', 1), member('b2', '10.0.0.2', 1), member('b3', '10.0.0.3', 1), member('dead', '10.0.0.9', 0, false)]);
    const addr = await gw.start({ host: '127.0.0.1', port: 0 });
    started.push(gw);
    return { gw, services, sup, addr, client: new CtlClient({ address: `127.0.0.1:${addr.port}`, secret: SECRET }) };
  }

  async function until(condition: () => boolean, ms = 2000): Promise<void> {
    const end = Date.now() + ms;
    while (!condition()) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  test('streams applied, a progress line per change as members apply, then done; dead members do not count', async () => {
    const { client, services } = await live();
    const events: ConfigApplyEvent[] = [];
    for await (const event of client.applyConfigWait('redis.prod', 2, 'port = 6380\n', 10)) {
      events.push(event);
      if (event.type === 'progress') {
        // Each progress line lets one more member apply.
        const next = event.pending[0];
        if (next) setTimeout(() => services.apply('redis.prod', next.member_id, 2), 5);
      }
    }
    const b = (n: number) => `b${n}`.padEnd(32, '0');
    expect(events).toEqual([
      { type: 'applied', service_group: 'redis.prod', version: 2, bytes: 12, member_id: ID },
      {
        type: 'progress',
        service_group: 'redis.prod',
        version: 2,
        done: 0,
        total: 3,
        pending: [
          { member_id: b(1), host: '10.0.0.1' },
          { member_id: b(2), host: '10.0.0.2' },
          { member_id: b(3), host: '10.0.0.3' },
        ],
      },
      {
        type: 'progress',
        service_group: 'redis.prod',
        version: 2,
        done: 1,
        total: 3,
        pending: [
          { member_id: b(2), host: '10.0.0.2' },
          { member_id: b(3), host: '10.0.0.3' },
        ],
      },
      { type: 'progress', service_group: 'redis.prod', version: 2, done: 2, total: 3, pending: [{ member_id: b(3), host: '10.0.0.3' }] },
      { type: 'done', service_group: 'redis.prod', version: 2, done: 3, total: 3 },
    ]);
    await until(() => services.listeners.size === 0);
  });

  test('the answer is NDJSON', async () => {
    const { addr, services } = await live();
    services.groups.set('redis.prod', [member('b1', '10.0.0.1', 5)]);
    const res = await fetch(`http://127.0.0.1:${addr.port}/v1/config/apply`, { method: 'POST', headers: auth, body: JSON.stringify({ service_group: 'redis.prod', version: 2, config: 'a = 1', wait: true }) });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    expect(await res.text()).toBe(
      `{"type":"applied","service_group":"redis.prod","version":2,"bytes":5,"member_id":"${ID}"}\n{"type":"done","service_group":"redis.prod","version":2,"done":1,"total":1}\n`,
    );
  });

  test('a change the census does not announce is seen by the 500 ms re-check', async () => {
    const { client, services } = await live();
    services.groups.set('redis.prod', [member('b1', '10.0.0.1', 1)]);
    const events: ConfigApplyEvent[] = [];
    for await (const event of client.applyConfigWait('redis.prod', 2, 'a = 1', 10)) {
      events.push(event);
      if (event.type === 'progress') services.apply('redis.prod', 'b1'.padEnd(32, '0'), 2, true);
    }
    expect(events.map((e) => e.type)).toEqual(['applied', 'progress', 'done']);
  });

  test('at the timeout the last line names the members that have not applied', async () => {
    const { client, services } = await live();
    services.apply('redis.prod', 'b1'.padEnd(32, '0'), 2);
    const events: ConfigApplyEvent[] = [];
    for await (const event of client.applyConfigWait('redis.prod', 2, 'a = 1', 0.3)) events.push(event);
    expect(events.at(-1)).toEqual({
      type: 'timeout',
      service_group: 'redis.prod',
      version: 2,
      timeout: 0.3,
      done: 1,
      total: 3,
      pending: [
        { member_id: 'b2'.padEnd(32, '0'), host: '10.0.0.2' },
        { member_id: 'b3'.padEnd(32, '0'), host: '10.0.0.3' },
      ],
    });
    expect(events.filter((e) => e.type === 'progress')).toHaveLength(1);
    await until(() => services.listeners.size === 0);
  });

  test('a group no live member runs ends at once with total 0 and a note', async () => {
    const { client, services } = await live();
    const events: ConfigApplyEvent[] = [];
    for await (const event of client.applyConfigWait('web.prod', 2, 'a = 1', 10)) events.push(event);
    expect(events).toEqual([
      { type: 'applied', service_group: 'web.prod', version: 2, bytes: 5, member_id: ID },
      { type: 'done', service_group: 'web.prod', version: 2, done: 0, total: 0, note: expect.stringContaining('no live member runs web.prod yet: the config is kept') },
    ]);
    expect(services.listeners.size).toBe(0);
  });

  test('a client that goes away ends the subscription (socket closed)', async () => {
    const { addr, services } = await live();
    const req = httpRequest({ host: '127.0.0.1', port: addr.port, method: 'POST', path: '/v1/config/apply', headers: auth });
    req.end(JSON.stringify({ service_group: 'redis.prod', version: 2, config: 'a = 1', wait: true, timeout: 60 }));
    const res = await new Promise<IncomingMessage>((resolve) => req.once('response', resolve));
    // The applied and first progress lines are there; then the client hangs up.
    let received = '';
    await new Promise<void>((resolve) =>
      res.on('data', (chunk: Buffer) => {
        received += chunk.toString('utf8');
        if (received.split('\n').length > 2) resolve();
      }),
    );
    expect(received).toContain('"type":"progress"');
    expect(services.listeners.size).toBe(1);
    req.destroy();
    await until(() => services.listeners.size === 0);
  });

  test('a client that stops reading ends the subscription (body cancelled)', async () => {
    const { gw, services } = gateway();
    services.groups.set('redis.prod', [member('b1', '10.0.0.1', 1)]);
    const res = await post(gw, '/v1/config/apply', { service_group: 'redis.prod', version: 2, config: 'a = 1', wait: true });
    expect(services.listeners.size).toBe(1);
    await res.body!.cancel();
    // Cancelling closes the connection; the gateway learns it from the socket.
    await until(() => services.listeners.size === 0);
  });

  test('leaving the client loop early ends the subscription too', async () => {
    const { client, services } = await live();
    for await (const event of client.applyConfigWait('redis.prod', 2, 'a = 1', 60)) {
      if (event.type === 'progress') break;
    }
    await until(() => services.listeners.size === 0);
  });

  test('a refused version is a plain JSON error, not a stream', async () => {
    const { client, services } = await live();
    const events: ConfigApplyEvent[] = [];
    const err = await (async () => {
      try {
        for await (const e of client.applyConfigWait('redis.prod', 1, 'a = 1')) events.push(e);
      } catch (e) {
        return e as MurmurError;
      }
      throw new Error('expected a refusal');
    })();
    expect(err.code).toBe('CONFLICT');
    expect(events).toEqual([]);
    expect(services.listeners.size).toBe(0);
  });

  test('an error while following the group is the last line, and the client throws it', async () => {
    const { client, services } = await live();
    services.progressError = new MurmurError('IO', 'the census is gone');
    const events: ConfigApplyEvent[] = [];
    await expect(
      (async () => {
        for await (const e of client.applyConfigWait('redis.prod', 2, 'a = 1')) events.push(e);
      })(),
    ).rejects.toThrow('the census is gone');
    expect(events.map((e) => e.type)).toEqual(['applied']);
    await until(() => services.listeners.size === 0);
  });

  test.each([
    [{ wait: 'yes' }, 'wait must be a boolean, got string'],
    [{ wait: true, timeout: 0 }, 'timeout must be above 0 and at most 3600 seconds, got 0'],
    [{ wait: true, timeout: 3601 }, 'timeout must be above 0 and at most 3600 seconds, got 3601'],
    [{ timeout: 5 }, 'timeout is only meaningful with wait: true'],
  ])('%j is 400 and nothing is published', async (extra, message) => {
    const { gw, sup } = gateway();
    const res = await post(gw, '/v1/config/apply', { service_group: 'redis.prod', version: 2, config: 'a = 1', ...extra });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toEqual({ code: 'BAD_INPUT', message });
    expect(sup.applied).toEqual([]);
  });
});
