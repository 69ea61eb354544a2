/**
 * `hab svc load|unload|start|stop|status`, `hab config show`, `hab config apply --wait` and
 * `hab sup run IDENT [load flags]` in process, with a fake control client: what is checked
 * before anything is sent, what is sent, and what is printed (Habitat's messages and columns).
 */
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { SupRunRequest } from '../../src/cli/sup.js';
import type { CliDeps } from '../../src/cli/index.js';
import { MurmurError } from '../../src/core/index.js';
import type { ConfigApplyEvent, CtlApi, ServiceStatusJson } from '../../src/ctl/client.js';
import { runProgram } from './run-program.js';

const ID = 'a'.repeat(32);

function statusJson(over: Partial<ServiceStatusJson> = {}): ServiceStatusJson {
  return {
    ident: 'core/redis/7.2.4/20240101000000',
    spec_ident: 'core/redis',
    service_group: 'redis.default',
    topology: 'standalone',
    binding_mode: 'strict',
    binds: [],
    desired_state: 'up',
    state: 'up',
    pid: 4242,
    started_at_ms: 0,
    elapsed_sec: 75,
    config_version: 0,
    files: [],
    health: 'ok',
    last_error: null,
    health_check_interval: 30,
    svc_path: '/hab/svc/redis',
    pkg_path: null,
    ...over,
  };
}

interface RunOptions {
  services?: ServiceStatusJson[];
  events?: ConfigApplyEvent[];
  tty?: boolean;
  fail?: MurmurError;
}

async function run(args: string[], opts: RunOptions = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const sent: [string, ...unknown[]][] = [];
  const supRuns: SupRunRequest[] = [];
  const record = <T>(call: [string, ...unknown[]], answer: T): Promise<T> => {
    sent.push(call);
    return opts.fail ? Promise.reject(opts.fail) : Promise.resolve(answer);
  };
  const api: CtlApi = {
    applyConfig: (g, v, c) => record(['applyConfig', g, v, c], { service_group: g, version: v, bytes: c.length, member_id: ID }),
    uploadFile: () => Promise.reject(new Error('not in this test')),
    depart: () => Promise.reject(new Error('not in this test')),
    status: () => Promise.reject(new Error('not in this test')),
    applyConfigWait: async function* (g, v, c, t) {
      sent.push(['applyConfigWait', g, v, c, t]);
      if (opts.fail) throw opts.fail;
      for (const e of opts.events ?? []) yield await Promise.resolve(e);
    },
    configShow: (ident) => record(['configShow', ident], { ident, toml: 'port = 6379\n[tls]\nenabled = false' }),
    loadService: (request) => record(['loadService', request], { spec: { ident: request.ident } as never, ident: `${request.ident}/1.0.0/20240101000000`, service_group: 'redis.default', reloaded: false }),
    unloadService: (ident, t) => record(['unloadService', ident, t], statusJson({ state: 'down' })),
    startService: (ident) => record(['startService', ident], statusJson()),
    stopService: (ident, t) => record(['stopService', ident, t], statusJson({ state: 'down' })),
    serviceStatus: (ident) => record(['serviceStatus', ident], { services: opts.services ?? [] }),
  };
  const deps: CliDeps = {
    simulate: () => Promise.reject(new Error('not in this test')),
    runSupervisor: (request) => {
      supRuns.push(request);
      return Promise.resolve(0);
    },
    termSupervisor: () => Promise.reject(new Error('not in this test')),
    env: { HAB_CTL_SECRET: 's3cret' },
    readStdin: () => Promise.resolve('port = 6380\n'),
    readFile: () => Promise.reject(new Error('not in this test')),
    ctlClient: () => api,
    stdout: (s) => void out.push(s),
    stderr: (s) => void err.push(s),
    stderrIsTTY: opts.tty ?? false,
  };
  const code = await runProgram(deps, args);
  return { code, stdout: out.join(''), stderr: err.join(''), sent, supRuns };
}

describe('hab svc load', () => {
  test('sends every flag and prints Habitat\'s line', async () => {
    const r = await run([
      'svc', 'load', 'core/redis',
      '--group', 'prod', '--topology', 'leader', '--strategy', 'at-once',
      '--bind', 'db:postgres.prod', '--bind', 'cache:memcached.prod@acme',
      '--binding-mode', 'relaxed', '--health-check-interval', '10', '--shutdown-timeout', '0',
      '--config-from', 'dev/redis', '--force',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.sent).toEqual([
      [
        'loadService',
        {
          ident: 'core/redis',
          group: 'prod',
          topology: 'leader',
          strategy: 'at-once',
          binds: ['db:postgres.prod', 'cache:memcached.prod@acme'],
          bindingMode: 'relaxed',
          healthCheckIntervalSec: 10,
          shutdownTimeoutSec: 0,
          configFrom: path.resolve('dev/redis'),
          force: true,
        },
      ],
    ]);
    expect(r.stdout).toBe('The core/redis service was successfully loaded\n');
  });

  test('without flags only the ident is sent', async () => {
    const r = await run(['svc', 'load', 'core/redis', '-r', '10.0.0.5']);
    expect(r.sent).toEqual([['loadService', { ident: 'core/redis' }]]);
  });

  test('a .hart is sent as an absolute path', async () => {
    const r = await run(['svc', 'load', './results/core-redis-7.2.4-20240101000000-x86_64-linux.hart']);
    expect(r.code).toBe(0);
    expect(r.sent).toEqual([['loadService', { ident: path.resolve('results/core-redis-7.2.4-20240101000000-x86_64-linux.hart') }]]);
  });

  test.each([
    [['--topology', 'mesh'], /option '-t, --topology <topology>' argument 'mesh' is invalid\. Allowed choices are standalone, leader\./],
    [['--strategy', 'sometimes'], /Allowed choices are none, at-once, rolling/],
    [['--binding-mode', 'loose'], /Allowed choices are strict, relaxed/],
    [['--health-check-interval', '0'], /--health-check-interval must be a whole number of seconds from 1 to 86400/],
    [['--health-check-interval', 'soon'], /--health-check-interval must be a whole number of seconds/],
    [['--shutdown-timeout', '-1'], /--shutdown-timeout must be a whole number of seconds from 0/],
    [['--bind', 'db=postgres.prod'], /bind must be NAME:SERVICE\.GROUP\[@ORG\]/],
    [['--bind', 'db:pg.prod', '--bind', 'db:pg.test'], /bind db is given twice/],
    [['--group', 'pro d'], /group must be letters, digits, _ or -/],
  ])('%j exits 2 with a clear message and sends nothing', async (flags, message) => {
    const r = await run(['svc', 'load', 'core/redis', ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(r.sent).toEqual([]);
  });

  test('a malformed ident exits 2', async () => {
    const r = await run(['svc', 'load', 'redis']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: hab svc load: ident must be ORIGIN\/NAME\[\/VERSION\[\/RELEASE\]\]/);
    expect(r.sent).toEqual([]);
  });

  test("the Supervisor's refusal sets the exit code", async () => {
    const r = await run(['svc', 'load', 'core/redis'], { fail: new MurmurError('NOT_FOUND', 'no installed package matches core/redis') });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('error: no installed package matches core/redis\n');
  });
});

describe('hab svc unload, start, stop', () => {
  test("each sends its request and prints Habitat's line", async () => {
    const unload = await run(['svc', 'unload', 'core/redis', '--shutdown-timeout', '12']);
    expect(unload.sent).toEqual([['unloadService', 'core/redis', 12]]);
    expect(unload.stdout).toBe('Unloading core/redis\n');
    const start = await run(['svc', 'start', 'core/redis']);
    expect(start.sent).toEqual([['startService', 'core/redis']]);
    expect(start.stdout).toBe('Supervisor starting core/redis. See the Supervisor output for more details.\n');
    const stop = await run(['svc', 'stop', 'core/redis/7.2.4']);
    expect(stop.sent).toEqual([['stopService', 'core/redis/7.2.4', undefined]]);
    expect(stop.stdout).toBe('Supervisor stopping core/redis/7.2.4. See the Supervisor output for more details.\n');
  });

  test('a bad ident or shutdown timeout exits 2 and sends nothing', async () => {
    for (const args of [['svc', 'start', 'redis'], ['svc', 'stop', 'core/redis', '--shutdown-timeout', 'x'], ['svc', 'unload']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.sent).toEqual([]);
    }
  });
});

describe('hab svc status', () => {
  test("prints Habitat's columns, aligned as its tab writer aligns them, <none> for what is unknown", async () => {
    const r = await run(['svc', 'status'], {
      services: [
        statusJson(),
        statusJson({ ident: 'core/postgresql/15.4.0/20240101000000', service_group: 'postgresql.prod@acme', topology: 'leader', desired_state: 'down', state: 'down', pid: null, elapsed_sec: null }),
      ],
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'package                                type        desired  state  elapsed (s)  pid     group',
        'core/redis/7.2.4/20240101000000        standalone  up       up     75           4242    redis.default',
        'core/postgresql/15.4.0/20240101000000  leader      down     down   <none>       <none>  postgresql.prod@acme',
        '',
      ].join('\n'),
    );
    expect(r.sent).toEqual([['serviceStatus', undefined]]);
  });

  test('with no service it prints "No services loaded."', async () => {
    const r = await run(['svc', 'status']);
    expect(r.stdout).toBe('No services loaded.\n');
  });

  test('IDENT asks for one service; --json prints the answer as one JSON object', async () => {
    const r = await run(['svc', 'status', 'core/redis', '--json'], { services: [statusJson()] });
    expect(r.sent).toEqual([['serviceStatus', 'core/redis']]);
    expect(r.stdout.indexOf('\n')).toBe(r.stdout.length - 1);
    expect(JSON.parse(r.stdout)).toEqual({ services: [statusJson()] });
  });

  test('a service that is not loaded exits 3', async () => {
    const r = await run(['svc', 'status', 'core/nope'], { fail: new MurmurError('NOT_FOUND', 'no service core/nope is loaded') });
    expect(r.code).toBe(3);
  });
});

describe('hab config show', () => {
  test('prints the merged TOML, ending with a newline', async () => {
    const r = await run(['config', 'show', 'core/redis']);
    expect(r.sent).toEqual([['configShow', 'core/redis']]);
    expect(r.stdout).toBe('port = 6379\n[tls]\nenabled = false\n');
  });

  test('a malformed ident exits 2', async () => {
    expect((await run(['config', 'show', 'core'])).code).toBe(2);
  });
});

describe('hab config apply --wait', () => {
  const pending = (n: number) => ({ member_id: `${n}`.repeat(32), host: `10.0.0.${n}` });
  const applied: ConfigApplyEvent = { type: 'applied', service_group: 'redis.prod', version: 3, bytes: 12, member_id: ID };
  const progress = (done: number, total: number, left: number[]): ConfigApplyEvent => ({ type: 'progress', service_group: 'redis.prod', version: 3, done, total, pending: left.map(pending) });

  test('one line per change on stderr when it is not a terminal, the outcome on stdout, exit 0', async () => {
    const r = await run(['config', 'apply', 'redis.prod', '3', '--wait'], {
      events: [applied, progress(0, 3, [1, 2, 3]), progress(2, 3, [3]), { type: 'done', service_group: 'redis.prod', version: 3, done: 3, total: 3 }],
    });
    expect(r.code).toBe(0);
    expect(r.sent).toEqual([['applyConfigWait', 'redis.prod', 3, 'port = 6380\n', 60]]);
    expect(r.stderr).toBe('0/3 members applied version 3\n2/3 members applied version 3\n3/3 members applied version 3\n');
    expect(r.stdout).toBe('Applied config version 3 to redis.prod\nAll 3 live members of redis.prod applied version 3\n');
  });

  test('on a terminal, one bar redrawn with \\r, and a newline at the end', async () => {
    const r = await run(['config', 'apply', 'redis.prod', '3', '--wait', '--timeout', '5'], {
      tty: true,
      events: [applied, progress(1, 4, [2, 3, 4]), { type: 'done', service_group: 'redis.prod', version: 3, done: 4, total: 4 }],
    });
    expect(r.code).toBe(0);
    expect(r.sent[0]?.[4]).toBe(5);
    expect(r.stderr).toBe(`\r[#####---------------] 1/4 members applied version 3\x1b[K\r[####################] 4/4 members applied version 3\x1b[K\n`);
  });

  test('a group no member runs yet ends at once with the note', async () => {
    const r = await run(['config', 'apply', 'web.prod', '3', '--wait'], {
      events: [{ ...applied, service_group: 'web.prod' }, { type: 'done', service_group: 'web.prod', version: 3, done: 0, total: 0, note: 'no live member runs web.prod yet: the config is kept' }],
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('Applied config version 3 to web.prod\nNo live member runs web.prod yet: the config is kept\n');
  });

  test('a timeout exits 4 (CONFLICT) naming each pending member and its host', async () => {
    const r = await run(['config', 'apply', 'redis.prod', '3', '--wait', '--timeout', '30'], {
      events: [applied, progress(1, 3, [2, 3]), { type: 'timeout', service_group: 'redis.prod', version: 3, timeout: 30, done: 1, total: 3, pending: [pending(2), pending(3)] }],
    });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(
      `1/3 members applied version 3\nerror: timed out after 30 s: 2 of 3 live members of redis.prod have not applied version 3: ${'2'.repeat(32)} (10.0.0.2), ${'3'.repeat(32)} (10.0.0.3)\n`,
    );
  });

  test('--timeout out of range, or without --wait, exits 2 and sends nothing', async () => {
    for (const args of [['--wait', '--timeout', '0'], ['--wait', '--timeout', '3601'], ['--wait', '--timeout', 'x'], ['--timeout', '5']]) {
      const r = await run(['config', 'apply', 'redis.prod', '3', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.sent).toEqual([]);
    }
  });
});

describe('hab sup run [IDENT] [load flags]', () => {
  test('IDENT and the load flags become SupRunRequest.load', async () => {
    const r = await run(['sup', 'run', 'core/redis', '--listen-ctl', '127.0.0.1:0', '--group', 'prod', '-t', 'leader', '--bind', 'db:pg.prod']);
    expect(r.code).toBe(0);
    expect(r.supRuns[0]?.load).toEqual({ ident: 'core/redis', group: 'prod', topology: 'leader', binds: ['db:pg.prod'] });
    expect(r.supRuns[0]?.listenCtl).toEqual({ host: '127.0.0.1', port: 0 });
  });

  test('a .hart is made absolute; without IDENT there is no load', async () => {
    expect((await run(['sup', 'run', 'x/core-redis.hart'])).supRuns[0]?.load).toEqual({ ident: path.resolve('x/core-redis.hart') });
    expect((await run(['sup', 'run'])).supRuns[0]).not.toHaveProperty('load');
  });

  test('load flags without IDENT, or bad ones, exit 2 and run nothing', async () => {
    const alone = await run(['sup', 'run', '--group', 'prod']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/need a package: hab sup run ORIGIN\/NAME/);
    const bad = await run(['sup', 'run', 'core/redis', '--topology', 'ring']);
    expect(bad.code).toBe(2);
    expect([...alone.supRuns, ...bad.supRuns]).toEqual([]);
  });
});
