/**
 * Health checks and binds through the real pieces, in process: a `Supervisor` (its gossip core
 * and rumor store; the transport only records and its timers never fire, so the ring is this one
 * member), the `ServiceManager` on it, and the HTTP gateway over both. Packages are installed
 * under a temporary FS_ROOT and their services run as real processes with real hooks.
 *
 * What a user sees: the health-check hook's exit code in `/services`, `/census` and the status
 * code of `…/health`; a hook that hangs; a service without the hook; a strict bind that waits
 * for its group and then follows it (members, exported values) through the real census.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { MurmurError, nullLogger, seededRandom } from '../../src/core/index.js';
import { keyOf, presets } from '../../src/gossip/index.js';
import { httpGateway } from '../../src/http/index.js';
import type { LoadRequest } from '../../src/sup/index.js';
import { ServiceManager, Supervisor, supPaths } from '../../src/sup/index.js';
import type { Rumor } from '../../src/wire/index.js';
import { request } from '../http/serve.js';
import { rejection } from '../murmur-error.js';
import { installPackage, type PackageFiles } from './test-ring.js';
import { childEnv, isAlive, recordingSink, until } from './process/helpers.js';

interface Rig {
  sup: Supervisor;
  manager: ServiceManager;
  habRoot: string;
  output: () => string[];
  get(path: string): Promise<{ status: number; body: unknown }>;
  load(request: LoadRequest): Promise<void>;
  install(name: string, files: PackageFiles): Promise<string>;
}

const rigs: { rig: Rig; root: string }[] = [];
afterEach(async () => {
  for (const { rig, root } of rigs.splice(0)) {
    await rig.manager.close();
    await rig.sup.stop();
    await rm(root, { recursive: true, force: true });
  }
});

const SUP_DEPS = { clock: { now: () => performance.now() }, random: seededRandom(7), log: nullLogger, transport: { send: () => {} }, timers: { at: () => {} }, every: () => () => {} };

/**
 * A Supervisor with a service manager and an HTTP gateway; services restart after `backoffMs`.
 * `root`: an FS_ROOT a previous Supervisor left (a restart); the rig removes it afterwards.
 */
async function rig(backoffMs = 20, opts: { root?: string } = {}): Promise<Rig> {
  const root = opts.root ?? (await mkdtemp(join(tmpdir(), 'murmur-sup-svc-')));
  const paths = supPaths({ FS_ROOT: root });
  const sup = await Supervisor.open(SUP_DEPS, { paths, address: '127.0.0.7', gossipPort: 9638, seeds: [], permanent: false, gossip: presets.lan, electionAloneMs: 3_600_000 });
  sup.sysInfo = { ip: '127.0.0.7', hostname: 'test', gossipIp: '127.0.0.7', gossipPort: 9638, httpGatewayIp: '127.0.0.7', httpGatewayPort: 9631, ctlGatewayIp: '127.0.0.1', ctlGatewayPort: 9632 };
  const { sink, text } = recordingSink();
  const manager = new ServiceManager(
    { log: nullLogger, sink, clock: { now: () => performance.now() }, wallNow: () => Date.now(), random: seededRandom(9), ring: sup },
    { habRoot: paths.habRoot, specsDir: paths.specsDir, keyCacheDir: paths.keyCacheDir, env: childEnv, org: null, processTuning: { backoff: { minMs: backoffMs, maxMs: backoffMs, cooldownMs: 60_000 } } },
  );
  await manager.open();
  const gateway = httpGateway({ supervisor: () => sup, services: () => manager });
  const r: Rig = {
    sup,
    manager,
    habRoot: paths.habRoot,
    output: text,
    get: async (path) => {
      const res = await request(gateway, path);
      return { status: res.status, body: await res.json() };
    },
    load: async (request) => {
      await manager.load(request);
    },
    install: (name, files) => installPackage(paths.habRoot, name, files),
  };
  rigs.push({ rig: r, root });
  return r;
}

interface ServiceJson {
  service_group: string;
  health_check: string;
  process: { pid: number | null; state: string };
  last_error: string | null;
}

async function serviceJson(r: Rig, group: string): Promise<ServiceJson | undefined> {
  return ((await r.get('/services')).body as ServiceJson[]).find((s) => s.service_group === group);
}

async function censusHealth(r: Rig, group: string): Promise<string | undefined> {
  const census = (await r.get('/census')).body as { census_groups: Record<string, { population: Record<string, { health_check: string }> }> };
  return census.census_groups[group]?.population[r.sup.id]?.health_check;
}

const SLEEP = '#!/bin/sh\nexec sleep 1000\n';

describe('health checks', () => {
  test('the hook\'s exit code is the health in /services and /census, and sets the status code of /health', async () => {
    const r = await rig();
    const ident = await r.install('kv', {
      hooks: { run: SLEEP, 'health-check': '#!/bin/sh\ncode=$(cat {{pkg.svc_var_path}}/code)\necho "code $code"\necho "on stderr" >&2\nexit $code\n' },
    });
    await mkdir(join(r.habRoot, 'svc', 'kv', 'var'), { recursive: true });
    const code = join(r.habRoot, 'svc', 'kv', 'var', 'code');
    await writeFile(code, '0\n');
    await r.load({ ident, group: 'prod', healthCheckIntervalSec: 0.2 });
    for (const [exit, word, status, field] of [
      [0, 'OK', 200, 'Ok'],
      [2, 'CRITICAL', 503, 'Critical'],
      [1, 'WARNING', 200, 'Warning'],
      [3, 'UNKNOWN', 500, 'Unknown'],
      [0, 'OK', 200, 'Ok'],
    ] as const) {
      await writeFile(code, `${exit}\n`);
      await until(async () => ((await r.get('/services/kv/prod/health')).body as { status: string }).status === word, `health ${word}`);
      expect(await r.get('/services/kv/prod/health')).toEqual({ status, body: { status: word, stdout: `code ${exit}\n`, stderr: 'on stderr\n' } });
      expect((await serviceJson(r, 'kv.prod'))?.health_check).toBe(field);
      await until(async () => (await censusHealth(r, 'kv.prod')) === word.toLowerCase(), `the census to show ${word}`);
    }
    expect(r.output()).toContain('kv.prod hook[health-check]:(HK): code 2');
  });

  test('a hook that hangs is killed at its time limit, and the health is UNKNOWN (500)', async () => {
    const r = await rig();
    const ident = await r.install('kv', {
      hooks: { run: SLEEP, 'health-check': '#!/bin/sh\nif [ -e {{pkg.svc_var_path}}/hang ]; then echo $$ > {{pkg.svc_var_path}}/hook.pid; exec sleep 1000; fi\nexit 0\n' },
    });
    await r.load({ ident, group: 'prod', healthCheckIntervalSec: 0.2 });
    await until(async () => (await r.get('/services/kv/prod/health')).status === 200, 'health OK');
    await writeFile(join(r.habRoot, 'svc', 'kv', 'var', 'hang'), '');
    await until(async () => (await r.get('/services/kv/prod/health')).status === 500, 'health UNKNOWN');
    const pid = Number(await readFile(join(r.habRoot, 'svc', 'kv', 'var', 'hook.pid'), 'utf8'));
    await until(() => !isAlive(pid), 'the hung hook to be killed');
    expect((await serviceJson(r, 'kv.prod'))?.health_check).toBe('Unknown');
  });

  test('without a hook, a service whose process is up is OK, and one whose process is down is CRITICAL (503)', async () => {
    // A long restart backoff keeps the crashed process down for the rest of the test.
    const r = await rig(60_000);
    const ident = await r.install('kv', { hooks: { run: '#!/bin/sh\nif [ -e {{pkg.svc_var_path}}/crash ]; then exit 1; fi\nexec sleep 1000\n' } });
    await r.load({ ident, group: 'prod', healthCheckIntervalSec: 30 });
    // The check when the process comes up: no need to wait out the 30 s interval.
    await until(async () => (await r.get('/services/kv/prod/health')).status === 200, 'health OK');
    expect((await r.get('/services/kv/prod/health')).body).toEqual({ status: 'OK', stdout: '', stderr: '' });
    const pid = (await serviceJson(r, 'kv.prod'))?.process.pid as number;
    await writeFile(join(r.habRoot, 'svc', 'kv', 'var', 'crash'), '');
    process.kill(pid, 'SIGTERM');
    await until(async () => (await r.get('/services/kv/prod/health')).status === 503, 'health CRITICAL');
    expect(await serviceJson(r, 'kv.prod')).toMatchObject({ health_check: 'Critical', process: { state: 'down' } });
    await until(async () => (await censusHealth(r, 'kv.prod')) === 'critical', 'the census to show critical');
  });

  test('a stopped service is not checked: its health is UNKNOWN until it runs again', async () => {
    const r = await rig();
    const ident = await r.install('kv', { hooks: { run: SLEEP } });
    await r.load({ ident, group: 'prod', healthCheckIntervalSec: 0.2 });
    await until(async () => (await r.get('/services/kv/prod/health')).status === 200, 'health OK');
    await r.manager.stop('kv');
    expect((await r.get('/services/kv/prod/health')).status).toBe(500);
    expect(await censusHealth(r, 'kv.prod')).toBe('unknown');
    await r.manager.start('kv');
    await until(async () => (await r.get('/services/kv/prod/health')).status === 200, 'health OK again');
  });
});

describe('--config-from', () => {
  test('the templates, hooks and defaults come from the directory, not the package; edits there render on the next pass', async () => {
    const r = await rig();
    const ident = await r.install('kv', { defaultToml: 'port = 1\n', config: { 'kv.conf': 'package port={{cfg.port}}\n' }, hooks: { run: SLEEP } });
    const dev = await mkdtemp(join(tmpdir(), 'murmur-config-from-'));
    await mkdir(join(dev, 'config'));
    await mkdir(join(dev, 'hooks'));
    await writeFile(join(dev, 'default.toml'), 'port = 2\n');
    await writeFile(join(dev, 'config', 'kv.conf'), 'dev port={{cfg.port}}\n');
    await writeFile(join(dev, 'hooks', 'run'), '#!/bin/sh\necho "dev run"\nexec sleep 1000\n', { mode: 0o755 });
    try {
      await r.load({ ident, group: 'prod', configFrom: dev });
      const conf = join(r.habRoot, 'svc', 'kv', 'config', 'kv.conf');
      await until(async () => (await readFile(conf, 'utf8').catch(() => '')) === 'dev port=2\n', 'kv.conf rendered from the directory');
      await until(async () => (await serviceJson(r, 'kv.prod'))?.process.state === 'up', 'the service to run');
      await until(() => r.output().includes('kv.prod(O): dev run'), "the directory's run hook");
      // An edit in the directory is rendered on the next pass (here: a gossiped config).
      await writeFile(join(dev, 'config', 'kv.conf'), 'dev v2 port={{cfg.port}}\n');
      r.sup.applyConfig('kv.prod', 1, 'port = 3\n');
      await until(async () => (await readFile(conf, 'utf8').catch(() => '')) === 'dev v2 port=3\n', 'the edited template rendered');
    } finally {
      await rm(dev, { recursive: true, force: true });
    }
  });

  test('a directory that is not there is refused, naming it, and nothing is loaded', async () => {
    const r = await rig();
    const ident = await r.install('kv', { hooks: { run: SLEEP } });
    const err = await rejection(r.load({ ident, group: 'prod', configFrom: '/nonexistent/murmur-dev' }));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toBe(
      "--config-from /nonexistent/murmur-dev: not a directory on this Supervisor's host; give the absolute path of a directory holding config/, hooks/ or default.toml",
    );
    expect((await r.get('/services')).body).toEqual([]);
  });
});

describe('binds through the census', () => {
  const KV: PackageFiles = { defaultToml: 'port = 6379\n', exports: { port: 'port' }, hooks: { run: SLEEP } };
  const WEB: PackageFiles = {
    binds: { db: ['port'] },
    exports: {},
    config: { 'upstream.conf': '{{#each bind.db.members}}{{sys.ip}}:{{cfg.port}}{{/each}}\n' },
    hooks: { run: SLEEP, reconfigure: '#!/bin/sh\ntrue\n' },
  };

  test('hab svc load refuses an unknown bind name and a missing required bind, and writes no spec', async () => {
    const r = await rig();
    const web = await r.install('web', WEB);
    const unknown = await r.manager.load({ ident: web, binds: ['db:kv.prod', 'cache:kv.prod'] }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(MurmurError);
    expect(unknown).toMatchObject({ code: 'BAD_INPUT', exitCode: 2, message: `${web} has no bind named cache; its binds are: db` });
    const missing = await r.manager.load({ ident: web }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'BAD_INPUT', exitCode: 2, message: `${web} requires the bind db; add --bind db:SERVICE.GROUP` });
    expect(r.manager.services()).toEqual([]);
  });

  test('a spec written by hand that lacks a required bind is not run, and its error names the file and the bind', async () => {
    const r = await rig();
    const web = await r.install('web', WEB);
    const file = join(r.habRoot, 'sup', 'default', 'specs', 'web.spec');
    await writeFile(file, `ident = "${web}"\ngroup = "prod"\n`);
    await r.manager.reconcile();
    expect(await serviceJson(r, 'web.prod')).toMatchObject({
      process: { pid: null, state: 'down' },
      last_error: `${file}: ${web} requires the bind db; add --bind db:SERVICE.GROUP`,
    });
  });

  test('a running service whose spec is edited to drop a required bind keeps running, with the error', async () => {
    const r = await rig();
    const web = await r.install('web', WEB);
    await r.load({ ident: web, group: 'prod', binds: ['db:kv.prod'], bindingMode: 'relaxed' });
    await until(async () => (await serviceJson(r, 'web.prod'))?.process.state === 'up', 'web to start');
    const pid = (await serviceJson(r, 'web.prod'))?.process.pid;
    const file = join(r.habRoot, 'sup', 'default', 'specs', 'web.spec');
    await writeFile(file, (await readFile(file, 'utf8')).replace('binds = [ "db:kv.prod" ]', 'binds = []'));
    await r.manager.reconcile();
    expect(await serviceJson(r, 'web.prod')).toMatchObject({
      process: { pid, state: 'up' },
      last_error: `${file}: ${web} requires the bind db; add --bind db:SERVICE.GROUP`,
    });
  });

  test('a strict bind waits for its group, then the service starts and follows the members and their exports', async () => {
    const r = await rig();
    const web = await r.install('web', WEB);
    const kv = await r.install('kv', KV);
    await r.load({ ident: web, group: 'prod', binds: ['db:kv.prod'] });
    expect(await serviceJson(r, 'web.prod')).toMatchObject({
      process: { pid: null, state: 'down' },
      last_error: 'waiting for service binds (binding mode strict): bind db: the service group kv.prod is not (yet?) present in the census',
    });

    await r.load({ ident: kv, group: 'prod' });
    const upstream = join(r.habRoot, 'svc', 'web', 'config', 'upstream.conf');
    await until(async () => (await serviceJson(r, 'web.prod'))?.process.state === 'up', 'web to start');
    expect((await serviceJson(r, 'web.prod'))?.last_error).toBeNull();
    expect(await readFile(upstream, 'utf8')).toBe('127.0.0.7:6379\n');
    const pid = (await serviceJson(r, 'web.prod'))?.process.pid;

    // The bound group's exported port changes: web re-renders and reconfigures.
    r.sup.applyConfig('kv.prod', 2, 'port = 7000\n');
    await until(async () => (await readFile(upstream, 'utf8')) === '127.0.0.7:7000\n', 'web to render the new port');

    // The bound group's only member leaves: the bind is left out, web keeps running.
    await r.manager.unload('kv');
    await until(async () => (await readFile(upstream, 'utf8')) === '\n', 'web to render no member');
    expect(await serviceJson(r, 'web.prod')).toMatchObject({ process: { pid, state: 'up' }, last_error: null });
  });

  test('a relaxed bind starts at once', async () => {
    const r = await rig();
    const web = await r.install('web', WEB);
    await r.load({ ident: web, group: 'prod', binds: ['db:kv.prod'], bindingMode: 'relaxed' });
    await until(async () => (await serviceJson(r, 'web.prod'))?.process.state === 'up', 'web to start');
    expect(await readFile(join(r.habRoot, 'svc', 'web', 'config', 'upstream.conf'), 'utf8')).toBe('\n');
  });
});

describe('leader topology', () => {
  const LEADER_TEMPLATE = '{{#if svc.me.leader}}leader{{else}}follower{{/if}} of term-less group, leader {{svc.leader.member_id}}\n';

  test('a lone Supervisor elects itself with its suitability hook, then runs the hooks and renders itself as leader', async () => {
    const r = await rig();
    const ident = await r.install('db', { hooks: { run: SLEEP, suitability: '#!/bin/sh\necho "thinking"\necho 42\n' }, config: { 'role.conf': LEADER_TEMPLATE } });
    await r.load({ ident, group: 'prod', topology: 'leader' });
    const role = join(r.habRoot, 'svc', 'db', 'config', 'role.conf');
    await until(async () => (await serviceJson(r, 'db.prod'))?.process.state === 'up', 'the service to run as leader');
    expect(await readFile(role, 'utf8')).toBe(`leader of term-less group, leader ${r.sup.id}\n`);
    const census = (await r.get('/census')).body as { census_groups: Record<string, { election_status: string; leader_id: string | null; population: Record<string, { leader: boolean }> }> };
    expect(census.census_groups['db.prod']).toMatchObject({ election_status: 'ElectionFinished', leader_id: r.sup.id });
    expect(census.census_groups['db.prod']?.population[r.sup.id]?.leader).toBe(true);
    expect(r.sup.election('db.prod')).toMatchObject({ status: 'finished', leaderId: r.sup.id });
    // The hook's last line is the suitability this member stood with.
    const stored = r.sup.core.store.get(keyOf('election', 'db.prod', 'election'))?.rumor;
    expect(stored).toMatchObject({ memberId: r.sup.id, suitability: 42, status: 'finished' });
    expect((await serviceJson(r, 'db.prod'))?.last_error).toBeNull();
  });

  test('without quorum the hooks wait, saying so in /services; when the roster regains quorum they run', async () => {
    const r = await rig();
    const other = 'a'.repeat(32);
    // A finished election from before: this member led a roster of two; the other is unknown here.
    r.sup.node.receivePacket('10.0.0.9:9638', {
      type: 'push',
      from: other,
      rumors: [{ kind: 'election', group: 'db.prod', memberId: r.sup.id, term: 3, suitability: 0, status: 'finished', votes: [r.sup.id, other].sort(), roster: [r.sup.id, other].sort(), rosterVersion: 1 }],
    });
    const ident = await r.install('db', { hooks: { run: SLEEP }, config: { 'role.conf': LEADER_TEMPLATE } });
    await r.load({ ident, group: 'prod', topology: 'leader' });
    await until(async () => (await serviceJson(r, 'db.prod'))?.last_error === 'Waiting to execute hooks; election in progress, and we have no quorum.', 'the service to say it waits for quorum');
    expect((await serviceJson(r, 'db.prod'))?.process.pid).toBeNull();
    expect(r.output().some((l) => l.includes('hook[run]'))).toBe(false);

    // The other member comes back, alive and running the service: 2 of 2.
    r.sup.node.receivePacket('10.0.0.9:9638', {
      type: 'push',
      from: other,
      rumors: [
        { kind: 'member', member: { id: other, incarnation: 1, address: '10.0.0.9', swimPort: 9638, gossipPort: 9638, persistent: false }, health: 'alive', from: other },
        { kind: 'service', group: 'db.prod', memberId: other, incarnation: 1, pkg: ident, cfg: new Uint8Array(0), sys: { ip: '10.0.0.9', hostname: 'o', gossipIp: '10.0.0.9', gossipPort: 9638, httpGatewayIp: '10.0.0.9', httpGatewayPort: 9631, ctlGatewayIp: '127.0.0.1', ctlGatewayPort: 9632 }, initialized: true, configVersion: 0, files: [], state: 'up', health: 'ok', topology: 'leader' },
      ],
    });
    await until(async () => (await serviceJson(r, 'db.prod'))?.process.state === 'up', 'the service to run');
    expect((await serviceJson(r, 'db.prod'))?.last_error).toBeNull();
    expect(await readFile(join(r.habRoot, 'svc', 'db', 'config', 'role.conf'), 'utf8')).toBe(`leader of term-less group, leader ${r.sup.id}\n`);
  });

  test('a Supervisor restarted without peers, which led before, runs no hook on its stored election: it waits for the ring\'s state, then follows', async () => {
    const [b, c] = ['b'.repeat(32), 'c'.repeat(32)];
    const ident = 'core/db/0.1.0/20240101000000';
    const member = (id: string, host: string): Rumor => ({ kind: 'member', member: { id, incarnation: 1, address: host, swimPort: 9638, gossipPort: 9638, persistent: false }, health: 'alive', from: id });
    const service = (id: string, host: string): Rumor => ({
      kind: 'service', group: 'db.prod', memberId: id, incarnation: 1, pkg: ident, cfg: new Uint8Array(0),
      sys: { ip: host, hostname: host, gossipIp: host, gossipPort: 9638, httpGatewayIp: host, httpGatewayPort: 9631, ctlGatewayIp: '127.0.0.1', ctlGatewayPort: 9632 },
      initialized: true, configVersion: 0, files: [], state: 'up', health: 'ok', topology: 'leader',
    });
    // Its first life: it led {self, B, C}, all alive; then it was killed (its store stays on disk).
    const root = await mkdtemp(join(tmpdir(), 'murmur-sup-svc-'));
    const first = await Supervisor.open(SUP_DEPS, { paths: supPaths({ FS_ROOT: root }), address: '127.0.0.7', gossipPort: 9638, seeds: [], permanent: false, gossip: presets.lan });
    const self = first.id;
    const roster = [self, b, c].sort();
    first.node.receivePacket('10.0.0.2:9638', {
      type: 'push',
      from: b,
      rumors: [member(b, '10.0.0.2'), member(c, '10.0.0.3'), service(b, '10.0.0.2'), service(c, '10.0.0.3'), { kind: 'election', group: 'db.prod', memberId: self, term: 3, suitability: 0, status: 'finished', votes: roster, roster, rosterVersion: 1 }],
    });
    await first.stop();

    // Restarted as the first Supervisor of a ring is, without --peer. Its store says it leads,
    // but the ring may have elected another since: nothing runs on that word.
    const r = await rig(20, { root });
    expect(r.sup.id).toBe(self);
    const installed = await r.install('db', { hooks: { run: SLEEP }, config: { 'role.conf': LEADER_TEMPLATE } });
    await r.load({ ident: installed, group: 'prod', topology: 'leader' });
    await until(async () => (await serviceJson(r, 'db.prod'))?.last_error === "Waiting to execute hooks; election hasn't started", 'the service to wait for the ring');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await serviceJson(r, 'db.prod'))?.process.pid).toBeNull();
    expect(r.output().some((l) => l.includes('hook[run]'))).toBe(false);

    // The ring's state arrives (a peer's answer): B was elected at term 4. It follows B.
    r.sup.node.receivePacket('10.0.0.2:9638', {
      type: 'state',
      from: b,
      rumors: [member(b, '10.0.0.2'), member(c, '10.0.0.3'), { kind: 'election', group: 'db.prod', memberId: b, term: 4, suitability: 0, status: 'finished', votes: [b, c], roster, rosterVersion: 1 }],
    });
    await until(async () => (await serviceJson(r, 'db.prod'))?.process.state === 'up', 'the service to run');
    expect(await readFile(join(r.habRoot, 'svc', 'db', 'config', 'role.conf'), 'utf8')).toBe(`follower of term-less group, leader ${b}\n`);
    expect(r.sup.election('db.prod')).toMatchObject({ status: 'finished', leaderId: b, term: 4 });
  });
});
