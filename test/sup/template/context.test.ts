import { describe, expect, test } from 'vitest';
import { MurmurError } from '../../../src/core/index.js';
import {
  buildRenderContext,
  type CensusMemberInput,
  createTemplateEngine,
  type RenderContextInput,
} from '../../../src/sup/template/index.js';

function member(id: string, over: Partial<CensusMemberInput> = {}): CensusMemberInput {
  return {
    member_id: id,
    package: 'core/redis/4.0.14/20190319155852',
    service: 'redis',
    group: 'default',
    org: null,
    cfg: { port: 6379 },
    sys: {
      ip: `10.0.0.${id.charCodeAt(0) - 96}`,
      hostname: `host-${id}`,
      gossip_ip: '0.0.0.0',
      gossip_port: 9638,
      http_gateway_ip: '0.0.0.0',
      http_gateway_port: 9631,
      ctl_gateway_ip: '127.0.0.1',
      ctl_gateway_port: 9632,
    },
    persistent: true,
    leader: false,
    follower: false,
    update_leader: false,
    update_follower: false,
    election_is_running: false,
    election_is_no_quorum: false,
    election_is_finished: false,
    update_election_is_running: false,
    update_election_is_no_quorum: false,
    update_election_is_finished: false,
    alive: true,
    suspect: false,
    confirmed: false,
    departed: false,
    ...over,
  };
}

function input(over: Partial<RenderContextInput> = {}): RenderContextInput {
  return {
    sys: {
      version: '0.1.0',
      member_id: 'b',
      ip: '10.0.0.2',
      hostname: 'host-b',
      gossip_ip: '0.0.0.0',
      gossip_port: 9638,
      http_gateway_ip: '0.0.0.0',
      http_gateway_port: 9631,
      ctl_gateway_ip: '127.0.0.1',
      ctl_gateway_port: 9632,
      permanent: false,
    },
    pkg: {
      ident: 'core/redis/4.0.14/20190319155852',
      deps: [{ origin: 'core', name: 'glibc', version: '2.27', release: '20190115002733', path: '/hab/pkgs/core/glibc/2.27/20190115002733' }],
      env: { PATH: '/hab/pkgs/core/redis/4.0.14/20190319155852/bin' },
      exposes: ['6379'],
      exports: { port: 'port' },
      path: '/hab/pkgs/core/redis/4.0.14/20190319155852',
      svcRoot: '/tmp/fs/hab/svc/redis',
      svc_user: 'hab',
      svc_group: 'hab',
    },
    cfg: { port: 6379 },
    svc: {
      service_group: 'redis.default@acme',
      population: {
        c: member('c', { alive: false, suspect: true }),
        a: member('a', { alive: false, confirmed: true }),
        b: member('b'),
        d: member('d', { alive: false, departed: true }),
      },
      election_status: 'ElectionFinished',
      leader_id: 'c',
    },
    ...over,
  };
}

describe('the render context', () => {
  test('sys is the Supervisor as given', () => {
    expect(buildRenderContext(input()).sys).toEqual(input().sys);
  });

  test('pkg splits the ident and derives the svc_* paths from the service root', () => {
    expect(buildRenderContext(input()).pkg).toEqual({
      ident: 'core/redis/4.0.14/20190319155852',
      origin: 'core',
      name: 'redis',
      version: '4.0.14',
      release: '20190319155852',
      deps: input().pkg.deps,
      env: { PATH: '/hab/pkgs/core/redis/4.0.14/20190319155852/bin' },
      exposes: ['6379'],
      exports: { port: 'port' },
      path: '/hab/pkgs/core/redis/4.0.14/20190319155852',
      svc_path: '/tmp/fs/hab/svc/redis',
      svc_config_path: '/tmp/fs/hab/svc/redis/config',
      svc_config_install_path: '/tmp/fs/hab/svc/redis/config_install',
      svc_data_path: '/tmp/fs/hab/svc/redis/data',
      svc_files_path: '/tmp/fs/hab/svc/redis/files',
      svc_static_path: '/tmp/fs/hab/svc/redis/static',
      svc_var_path: '/tmp/fs/hab/svc/redis/var',
      svc_pid_file: '/tmp/fs/hab/svc/redis/PID',
      svc_run: '/tmp/fs/hab/svc/redis/run',
      svc_user: 'hab',
      svc_group: 'hab',
    });
    const split = buildRenderContext(input({ pkg: { ...input().pkg, ident: { origin: 'core', name: 'redis', version: '5', release: '1' } } })).pkg;
    expect(split.ident).toBe('core/redis/5/1');
  });

  test('svc: the group, the election, and members alive or suspect sorted by id', () => {
    const { svc } = buildRenderContext(input());
    expect(svc).toMatchObject({
      service: 'redis',
      group: 'default',
      org: 'acme',
      election_is_running: false,
      election_is_no_quorum: false,
      election_is_finished: true,
      update_election_is_running: false,
      update_election_is_no_quorum: false,
      update_election_is_finished: false,
    });
    expect(svc.members.map((m) => m.member_id)).toEqual(['b', 'c']);
    expect(svc.me?.member_id).toBe('b');
    expect(svc.leader?.member_id).toBe('c');
    expect(svc.first?.member_id).toBe('c');
    expect(svc.update_leader).toBeNull();
  });

  test('first is the first of all members when there is no leader', () => {
    const { svc } = buildRenderContext(input({ svc: { ...input().svc, leader_id: null } }));
    expect(svc.leader).toBeNull();
    expect(svc.first?.member_id).toBe('a');
  });

  test('the leader may come from the members flags', () => {
    const population = [member('a'), member('b', { leader: true })];
    expect(buildRenderContext(input({ svc: { service_group: 'redis.default', population } })).svc.leader?.member_id).toBe('b');
  });

  test('a member has every census member field', () => {
    const me = buildRenderContext(input()).svc.me;
    expect(Object.keys(me ?? {}).sort()).toEqual(
      [
        'member_id', 'pkg', 'package', 'service', 'group', 'org', 'cfg', 'sys', 'persistent', 'leader', 'follower',
        'update_leader', 'update_follower', 'election_is_running', 'election_is_no_quorum', 'election_is_finished',
        'update_election_is_running', 'update_election_is_no_quorum', 'update_election_is_finished', 'initialized',
        'health_check', 'alive', 'suspect', 'confirmed', 'departed',
      ].sort(),
    );
    expect(me?.pkg).toEqual({ origin: 'core', name: 'redis', version: '4.0.14', release: '20190319155852' });
    expect(me?.initialized).toBe(false);
    // A member the census gives no health yet is `unknown`.
    expect(me?.health_check).toBe('unknown');
  });

  test('bind.<name> for satisfied binds: first, leader and active members', () => {
    const ctx = buildRenderContext(
      input({
        binds: {
          db: [member('y', { cfg: { port: 5432 } }), member('x', { alive: false, departed: true }), member('z', { leader: true })],
          cache: { service_group: 'memcached.default', population: { m: member('m') } },
        },
      }),
    );
    expect(Object.keys(ctx.bind)).toEqual(['db', 'cache']);
    expect(ctx.bind.db?.members.map((m) => m.member_id)).toEqual(['y', 'z']);
    expect(ctx.bind.db?.leader?.member_id).toBe('z');
    expect(ctx.bind.db?.first?.member_id).toBe('z');
    expect(ctx.bind.cache?.leader).toBeNull();
    expect(ctx.bind.cache?.first?.member_id).toBe('m');
    expect(buildRenderContext(input()).bind).toEqual({});
  });

  test('templates read it as in Habitat', () => {
    const ctx = buildRenderContext(input({ binds: { db: [member('y', { cfg: { port: 5432 } })] } }));
    const tpl = createTemplateEngine().compile(
      'redis.conf',
      [
        'me {{sys.ip}} {{svc.service}}.{{svc.group}}',
        'dir {{pkg.svc_data_path}}',
        '{{#eachAlive svc.members as |m|}}peer {{m.sys.ip}}{{/eachAlive}}',
        'leader {{svc.leader.sys.hostname}}',
        'db {{bind.db.members[0].sys.ip}}:{{bind.db.first.cfg.port}}',
        '{{#if bind.queue}}queue{{else}}no queue{{/if}}',
      ].join('\n'),
    );
    if (tpl instanceof MurmurError) throw tpl;
    expect(tpl.render(ctx)).toBe(
      'me 10.0.0.2 redis.default\ndir /tmp/fs/hab/svc/redis/data\npeer 10.0.0.2\nleader host-c\ndb 10.0.0.25:5432\nno queue',
    );
  });
});
