/**
 * `/services` and the routes under it, over the `FakeServices` test double of the service
 * manager: Habitat's element shape as far as our service status fills it, one service by its
 * group path (with and without org), its merged config as JSON, and its health with Habitat's
 * status codes.
 */
import { describe, expect, test } from 'vitest';
import type { GatewaySource } from '../../src/http/index.js';
import { httpGateway } from '../../src/http/index.js';
import { FakeServices, NOW, status } from '../ctl/fake-services.js';
import { request } from './serve.js';

function gatewayOver(services: FakeServices | null) {
  const source: GatewaySource = {
    supervisor: () => {
      throw new Error('the service routes do not read the gossip state');
    },
    ...(services ? { services: () => services } : {}),
  };
  return httpGateway(source);
}

function twoServices(): FakeServices {
  return new FakeServices()
    .add(status({ configVersion: 4, files: [{ filename: 'tls.pem', version: 1 }], stateEnteredMs: NOW - 75_000 }))
    .add(
      status({
        ident: 'core/postgresql',
        specIdent: 'core/postgresql',
        serviceGroup: 'postgresql.prod@acme',
        topology: 'leader',
        bindingMode: 'relaxed',
        binds: ['cache:redis.default'],
        desired: 'down',
        state: 'down',
        pid: null,
        startedAtMs: null,
        health: 'critical',
        lastError: 'bind cache has no member',
        healthCheckIntervalSec: 2.5,
        pkgPath: null,
        svcPath: '/hab/svc/postgresql',
      }),
    );
}

describe('GET /services', () => {
  test("lists every loaded service in Habitat's shape, stopped ones too", async () => {
    const res = await request(gatewayOver(twoServices()), '/services');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      {
        service_group: 'redis.default',
        spec_ident: { origin: 'core', name: 'redis', version: null, release: null },
        spec_identifier: 'core/redis',
        pkg: { ident: 'core/redis/7.2.4/20240101000000', origin: 'core', name: 'redis', version: '7.2.4', release: '20240101000000', path: '/hab/pkgs/core/redis/7.2.4/20240101000000', svc_path: '/hab/svc/redis' },
        process: { pid: 4242, state: 'up', state_entered: Math.floor((NOW - 75_000) / 1000) },
        desired_state: 'Up',
        topology: 'standalone',
        binding_mode: 'strict',
        binds: [],
        health_check: 'Ok',
        health_check_interval: { secs: 30, nanos: 0 },
        initialized: true,
        config_version: 4,
        files: [{ filename: 'tls.pem', version: 1 }],
        last_error: null,
      },
      {
        service_group: 'postgresql.prod@acme',
        spec_ident: { origin: 'core', name: 'postgresql', version: null, release: null },
        spec_identifier: 'core/postgresql',
        pkg: { ident: 'core/postgresql', origin: 'core', name: 'postgresql', version: null, release: null, path: null, svc_path: '/hab/svc/postgresql' },
        process: { pid: null, state: 'down', state_entered: null },
        desired_state: 'Down',
        topology: 'leader',
        binding_mode: 'relaxed',
        binds: ['cache:redis.default'],
        health_check: 'Critical',
        health_check_interval: { secs: 2, nanos: 500_000_000 },
        initialized: false,
        config_version: 0,
        files: [],
        last_error: 'bind cache has no member',
      },
    ]);
  });

  test('a service still starting is "down" to Habitat, and without state_entered the start time stands in', async () => {
    const services = new FakeServices().add(status({ state: 'starting', startedAtMs: NOW - 2_000 }));
    const [one] = (await (await request(gatewayOver(services), '/services')).json()) as { process: unknown; initialized: boolean }[];
    expect(one?.process).toEqual({ pid: 4242, state: 'down', state_entered: Math.floor((NOW - 2_000) / 1000) });
    expect(one?.initialized).toBe(false);
  });

  test('without a service manager the list is empty and every service is not found', async () => {
    const gateway = gatewayOver(null);
    expect(await (await request(gateway, '/services')).json()).toEqual([]);
    expect((await request(gateway, '/services/redis/default')).status).toBe(404);
  });
});

describe('GET /services/{svc}/{group}[/{org}]', () => {
  test('answers one service, by group and by group and org', async () => {
    const gateway = gatewayOver(twoServices());
    const redis = await request(gateway, '/services/redis/default');
    expect(redis.status).toBe(200);
    expect(await redis.json()).toMatchObject({ service_group: 'redis.default', pkg: { name: 'redis' } });
    const pg = await request(gateway, '/services/postgresql/prod/acme');
    expect(await pg.json()).toMatchObject({ service_group: 'postgresql.prod@acme', topology: 'leader' });
  });

  test('a group not loaded here is a JSON 404; a malformed one a JSON 400', async () => {
    const gateway = gatewayOver(twoServices());
    const missing = await request(gateway, '/services/redis/prod');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'no service of group redis.prod is loaded on this Supervisor', service_group: 'redis.prod', path: '/services/redis/prod' });
    expect((await request(gateway, '/services/postgresql/prod')).status).toBe(404);
    const bad = await request(gateway, '/services/re%20dis/default');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^bad service "re dis"/);
  });
});

describe('…/config', () => {
  test('answers the merged config as JSON', async () => {
    const gateway = gatewayOver(twoServices());
    const res = await request(gateway, '/services/redis/default/config');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ port: 6379, tls: { enabled: false } });
    expect(await (await request(gateway, '/services/postgresql/prod/acme/config')).json()).toEqual({ port: 6379, tls: { enabled: false } });
  });

  test('is 404 for a group not loaded here', async () => {
    expect((await request(gatewayOver(twoServices()), '/services/nginx/default/config')).status).toBe(404);
  });
});

describe('…/health', () => {
  test.each([
    ['ok', 'OK', 200],
    ['warning', 'WARNING', 200],
    ['critical', 'CRITICAL', 503],
    ['unknown', 'UNKNOWN', 500],
  ] as const)("%s is %s with HTTP %i, Habitat's codes", async (health, word, code) => {
    const gateway = gatewayOver(new FakeServices().add(status({ health })));
    const res = await request(gateway, '/services/redis/default/health');
    expect(res.status).toBe(code);
    expect(await res.json()).toEqual({ status: word, stdout: '', stderr: '' });
  });

  test("carries what the last health-check hook run wrote", async () => {
    const gateway = gatewayOver(new FakeServices().add(status({ health: 'critical', healthCheckOutput: { stdout: 'redis is not answering\n', stderr: 'PING: timeout\n' } })));
    const res = await request(gateway, '/services/redis/default/health');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'CRITICAL', stdout: 'redis is not answering\n', stderr: 'PING: timeout\n' });
  });

  test('with an org, and 404 for a group not loaded here', async () => {
    const gateway = gatewayOver(twoServices());
    expect((await request(gateway, '/services/postgresql/prod/acme/health')).status).toBe(503);
    expect((await request(gateway, '/services/nginx/default/health')).status).toBe(404);
  });
});
