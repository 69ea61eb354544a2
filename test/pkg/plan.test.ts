/**
 * Reading plans with real bash: the variables murmur reads, Habitat's defaults and quirks, and
 * every check, each naming plan.sh and the variable.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { readPlan } from '../../src/pkg/index.js';
import { rejection, tempDir, writeTree } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('murmur-plan-'));
});
afterEach(async () => cleanup());

const MINIMAL = 'pkg_origin=core\npkg_name=demo\npkg_version=1.0.0\n';

async function plan(text: string, extraEnv: Record<string, string> = {}) {
  await writeTree(dir, { 'plan.sh': text });
  return readPlan(dir, { ...env, ...extraEnv });
}

async function planError(text: string, extraEnv: Record<string, string> = {}) {
  await writeTree(dir, { 'plan.sh': text });
  return rejection(readPlan(dir, { ...env, ...extraEnv }));
}

describe('reading a plan', () => {
  test('a minimal plan gets Habitat defaults', async () => {
    expect(await plan(MINIMAL)).toEqual({
      context: dir,
      file: path.join(dir, 'plan.sh'),
      origin: 'core',
      name: 'demo',
      version: '1.0.0',
      description: null,
      maintainer: null,
      license: [],
      svcRun: null,
      exports: {},
      exposes: [],
      binds: {},
      bindsOptional: {},
      svcUser: 'hab',
      svcGroup: 'hab',
      deps: [],
      buildDeps: [],
      shutdownSignal: 'TERM',
      shutdownTimeoutSec: 8,
      callbacks: { doBuild: false, doInstall: false },
    });
  });

  test('every variable murmur reads, with associative arrays written without declare -A', async () => {
    const p = await plan(`
pkg_origin=acme
pkg_name=web
pkg_version=2.1.0
pkg_description="A web app
on two lines"
pkg_maintainer="Ops <ops@acme.test>"
pkg_license=('Apache-2.0' 'MIT')
pkg_svc_run="web --port 8080"
pkg_exports=(
  [port]=server.port
  [host]=server.host
)
pkg_exposes=(port)
pkg_binds=(
  [database]="port host"
)
pkg_binds_optional=([cache]=port)
pkg_svc_user=webuser
pkg_svc_group=webgroup
pkg_deps=(core/redis core/glibc/2.35)
pkg_build_deps=(core/make)
pkg_shutdown_signal=INT
pkg_shutdown_timeout_sec=30
do_build() { :; }
do_install() { :; }
`);
    expect(p).toMatchObject({
      origin: 'acme',
      name: 'web',
      version: '2.1.0',
      description: 'A web app\non two lines',
      maintainer: 'Ops <ops@acme.test>',
      license: ['Apache-2.0', 'MIT'],
      svcRun: 'web --port 8080',
      exports: { host: 'server.host', port: 'server.port' },
      exposes: ['port'],
      binds: { database: ['port', 'host'] },
      bindsOptional: { cache: ['port'] },
      svcUser: 'webuser',
      svcGroup: 'webgroup',
      deps: [
        { origin: 'core', name: 'redis' },
        { origin: 'core', name: 'glibc', version: '2.35' },
      ],
      buildDeps: [{ origin: 'core', name: 'make' }],
      shutdownSignal: 'INT',
      shutdownTimeoutSec: 30,
      callbacks: { doBuild: true, doInstall: true },
    });
  });

  test('HAB_ORIGIN stands in for an unset pkg_origin, and overrides a set one (as hab-plan-build does)', async () => {
    expect((await plan('pkg_name=demo\npkg_version=1\n', { HAB_ORIGIN: 'acme' })).origin).toBe('acme');
    expect((await plan(MINIMAL, { HAB_ORIGIN: 'acme' })).origin).toBe('acme');
    expect((await plan(MINIMAL)).origin).toBe('core');
  });

  test('runtime paths keep their names, so pkg_svc_run can use them', async () => {
    const p = await plan(`${MINIMAL}pkg_svc_run="$pkg_prefix/bin/demo -c $pkg_svc_config_path/demo.toml"\n`);
    expect(p.svcRun).toBe('$pkg_prefix/bin/demo -c $pkg_svc_config_path/demo.toml');
  });

  test('a plan that prints, and values with odd characters, do not garble what is read', async () => {
    const p = await plan(`echo "pkg_name=evil"\necho -n "S" >&2\n${MINIMAL}pkg_description=$'tab\\there = "quoted" \\\\ and \\x01'\n`);
    expect(p.name).toBe('demo');
    expect(p.description).toBe('tab\there = "quoted" \\ and \x01');
  });

  test('the plan runs in its own directory with PLAN_CONTEXT set, and sees only a reduced environment', async () => {
    await writeTree(dir, { 'VERSION': '3.4.5\n' });
    const p = await plan(
      `pkg_origin=core\npkg_name=demo\npkg_version=$(cat VERSION)\npkg_description="$PLAN_CONTEXT|\${SECRET_TOKEN:-unset}|$HAB_FOO"\n`,
      { SECRET_TOKEN: 'x', HAB_FOO: 'passed' },
    );
    expect(p.version).toBe('3.4.5');
    expect(p.description).toBe(`${dir}|unset|passed`);
  });

  test('habitat/plan.sh is found too; its directory is the plan context', async () => {
    await writeTree(dir, { 'habitat/plan.sh': MINIMAL });
    const p = await readPlan(dir, env);
    expect(p.context).toBe(path.join(dir, 'habitat'));
    expect(p.file).toBe(path.join(dir, 'habitat', 'plan.sh'));
  });

  test('a plain string counts as a one-element array for lists', async () => {
    const p = await plan(`${MINIMAL}pkg_license=MIT\npkg_deps=core/redis\n`);
    expect(p.license).toEqual(['MIT']);
    expect(p.deps).toEqual([{ origin: 'core', name: 'redis' }]);
  });
});

describe('plans murmur refuses', () => {
  test('no plan.sh: NOT_FOUND naming both places', async () => {
    const err = await rejection(readPlan(dir, env));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain(path.join(dir, 'plan.sh'));
    expect(err.message).toContain(path.join(dir, 'habitat', 'plan.sh'));
    expect((await rejection(readPlan(path.join(dir, 'nope'), env))).code).toBe('NOT_FOUND');
  });

  test('plan.sh and habitat/plan.sh at once', async () => {
    await writeTree(dir, { 'plan.sh': MINIMAL, 'habitat/plan.sh': MINIMAL });
    const err = await rejection(readPlan(dir, env));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain('only one plan is allowed');
  });

  test('a bash syntax error is reported with bash\'s own message', async () => {
    const err = await planError(`${MINIMAL}pkg_exports=([port]=port\nfoo() {\n`);
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain('plan.sh has a bash syntax error');
    expect(err.message).toMatch(/syntax error|unexpected end of file/);
    expect(err.message).toContain('line');
  });

  test('a command that fails while the plan is sourced (set -e, as in hab-plan-build)', async () => {
    const err = await planError(`${MINIMAL}cat does-not-exist\n`);
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain('failed while it was sourced (bash exited with code 1)');
    expect(err.message).toContain('does-not-exist');
  });

  test('a plan that exits early', async () => {
    const err = await planError(`${MINIMAL}exit 0\n`);
    expect(err.message).toContain('failed while it was sourced');
  });

  test.each([
    ['pkg_name=demo\npkg_version=1\n', 'pkg_origin is not set'],
    ['pkg_origin=core\npkg_version=1\n', 'pkg_name is not set'],
    ['pkg_origin=core\npkg_name=demo\n', 'pkg_version is not set'],
    ['pkg_origin=Core\npkg_name=demo\npkg_version=1\n', 'pkg_origin "Core" is not a valid origin'],
    ['pkg_origin=core\npkg_name=de.mo\npkg_version=1\n', 'pkg_name "de.mo" is not valid'],
    ['pkg_origin=core\npkg_name=demo\npkg_version="1 0"\n', 'pkg_version "1 0" is not valid'],
    [`${MINIMAL}pkg_exports=([port]="server port")\n`, 'pkg_exports[port]="server port" is not a dotted path'],
    [`${MINIMAL}pkg_exports=([port]=server..port)\n`, 'is not a dotted path'],
    [`${MINIMAL}pkg_exports=([port]=port)\npkg_exposes=(port host)\n`, 'pkg_exposes names "host", which is not a key of pkg_exports (port)'],
    [`${MINIMAL}pkg_exposes=(port)\n`, 'pkg_exposes names "port", which is not a key of pkg_exports (pkg_exports is empty)'],
    [`${MINIMAL}unset pkg_exports\npkg_exports=(port)\n`, 'pkg_exports must be an associative array'],
    [`${MINIMAL}pkg_binds=([db]="")\n`, 'pkg_binds[db] names no export keys'],
    [`${MINIMAL}pkg_binds_optional=([db]="port h.st")\n`, 'pkg_binds_optional[db] names "h.st"'],
    [`${MINIMAL}pkg_deps=(redis)\n`, 'pkg_deps entry "redis": has no name'],
    [`${MINIMAL}pkg_shutdown_signal=NOPE\n`, 'pkg_shutdown_signal "NOPE" is not a signal name'],
    [`${MINIMAL}pkg_shutdown_timeout_sec=soon\n`, 'pkg_shutdown_timeout_sec "soon" is not a whole number'],
    [`${MINIMAL}pkg_svc_user="a b"\n`, 'pkg_svc_user "a b" is not a valid user name'],
  ])('BAD_INPUT naming plan.sh and the variable (%#): %s', async (text, message) => {
    const err = await planError(text);
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain(path.join(dir, 'plan.sh'));
    expect(err.message).toContain(message);
  });

  test('an invalid HAB_ORIGIN is named as such', async () => {
    const err = await planError(MINIMAL, { HAB_ORIGIN: 'Not Valid' });
    expect(err.message).toContain('HAB_ORIGIN "Not Valid" is not a valid origin');
  });

  test('a SIG prefix on the shutdown signal is accepted and dropped', async () => {
    expect((await plan(`${MINIMAL}pkg_shutdown_signal=SIGQUIT\n`)).shutdownSignal).toBe('QUIT');
  });
});
