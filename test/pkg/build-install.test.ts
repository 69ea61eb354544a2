/**
 * Building plans into .hart files and installing them, with real bash, real xz and real keys:
 * the examples round trip, build callbacks and the run file, and every way an install is refused
 * with nothing left behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { xz } from '@napi-rs/lzma';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { generateOriginKeyPair, latestOriginSecretKey, type OriginKeyPair } from '../../src/crypto/index.js';
import {
  PackageStore,
  buildPackage,
  checkSymlinks,
  installAndLoad,
  installHart,
  installHartBytes,
  readHart,
  signHart,
  type BuildOptions,
} from '../../src/pkg/index.js';
import { rawTar, rejection, tempDir, writeTree, type RawEntry } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const NOW = new Date('2024-03-04T05:06:07Z');
const RELEASE = '20240304050607';

let dir: string;
let cleanup: () => Promise<void>;
let keys: string;
let pkgsRoot: string;
let results: string;
let pair: OriginKeyPair;
let output: string[];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('murmur-build-test-'));
  keys = path.join(dir, 'keys');
  pkgsRoot = path.join(dir, 'fs', 'hab', 'pkgs');
  results = path.join(dir, 'results');
  pair = await generateOriginKeyPair(keys, 'core', new Date('2024-01-01T00:00:00Z'));
  output = [];
});
afterEach(async () => cleanup());

function options(extra: Partial<BuildOptions> = {}): BuildOptions {
  return {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HAB_CACHE_KEY_PATH: keys },
    outputDir: results,
    now: NOW,
    onOutput: (line) => output.push(line),
    ...extra,
  };
}

const install = (file: string) => installHart(file, { pkgsRoot, keyCacheDir: keys });

/** What is under the packages dir, so a refused install can be shown to leave nothing. */
async function pkgsTree(): Promise<string[]> {
  try {
    return (await readdir(pkgsRoot, { recursive: true })).sort();
  } catch {
    return [];
  }
}

describe('the examples build and install', () => {
  test('core/redis: metadata files, templates, hooks and the loaded package', async () => {
    const built = await buildPackage(path.join(ROOT, 'examples', 'redis'), options());
    expect(built.identText).toBe(`core/redis/7.0.0/${RELEASE}`);
    expect(built.artifact).toBe(path.join(results, `core-redis-7.0.0-${RELEASE}-x86_64-linux.hart`));
    expect(built.signer).toBe(`core-${pair.secret.revision}`);
    expect(output).toContain(`   redis: Building core/redis/7.0.0/${RELEASE} from ${path.join(ROOT, 'examples', 'redis', 'plan.sh')}`);

    const lastBuild = await readFile(path.join(results, 'last_build.env'), 'utf8');
    expect(lastBuild).toContain(`pkg_origin=core\npkg_name=redis\npkg_version=7.0.0\npkg_release=${RELEASE}\n`);
    expect(lastBuild).toContain(`pkg_ident=core/redis/7.0.0/${RELEASE}\n`);
    expect(lastBuild).toContain(`pkg_artifact=core-redis-7.0.0-${RELEASE}-x86_64-linux.hart\n`);
    expect(lastBuild).toMatch(/pkg_blake2bsum=[0-9a-f]{64}\n/);

    const installed = await install(built.artifact);
    expect(installed).toMatchObject({ identText: built.identText, alreadyInstalled: false });
    const prefix = path.join(pkgsRoot, 'core', 'redis', '7.0.0', RELEASE);
    expect(installed.path).toBe(prefix);
    const meta = async (name: string) => readFile(path.join(prefix, name), 'utf8');
    expect(await meta('IDENT')).toBe(`core/redis/7.0.0/${RELEASE}\n`);
    expect(await meta('TARGET')).toBe('x86_64-linux\n');
    expect(await meta('EXPORTS')).toBe('port=port\n');
    expect(await meta('EXPOSES')).toBe('6379\n');
    expect(await meta('SVC_USER')).toBe('hab\n');
    expect(await meta('SHUTDOWN_SIGNAL')).toBe('TERM\n');
    expect(await meta('SHUTDOWN_TIMEOUT')).toBe('8\n');
    expect(await meta('DEPS')).toBe('');
    expect(await meta('MANIFEST')).toContain('# core / redis');
    expect(await meta('config/redis.conf')).toContain('port {{cfg.port}}');
    expect((await stat(path.join(prefix, 'hooks', 'run'))).mode & 0o777).toBe(0o755);

    const pkg = await new PackageStore(pkgsRoot).load({ origin: 'core', name: 'redis' });
    expect(pkg).toEqual({
      ident: { origin: 'core', name: 'redis', version: '7.0.0', release: RELEASE },
      identText: `core/redis/7.0.0/${RELEASE}`,
      path: prefix,
      exports: { port: 'port' },
      exposes: ['6379'],
      binds: {},
      bindsOptional: {},
      svcUser: 'hab',
      svcGroup: 'hab',
      shutdownSignal: 'TERM',
      shutdownTimeoutSec: 8,
      deps: [],
      defaultToml: await readFile(path.join(ROOT, 'examples', 'redis', 'default.toml'), 'utf8'),
      configDir: path.join(prefix, 'config'),
      hooksDir: path.join(prefix, 'hooks'),
      runFile: null,
    });
  });

  test('core/demo: exports, a second install is a no-op, and the tar is plain xz + tar', async () => {
    const built = await buildPackage(path.join(ROOT, 'examples', 'demo'), options());
    const pkg = await installAndLoad(built.artifact, { pkgsRoot, keyCacheDir: keys });
    expect(pkg).toMatchObject({ identText: `core/demo/0.1.0/${RELEASE}`, exports: { message: 'message', port: 'port' }, exposes: ['8080'] });
    expect(pkg.defaultToml).toContain('message = "hello"');
    expect(await readFile(path.join(pkg.path, 'config', 'demo.toml'), 'utf8')).toContain('port = {{cfg.port}}');

    const again = await install(built.artifact);
    expect(again.alreadyInstalled).toBe(true);

    // The system's xz and tar read the payload: the archive is what Habitat writes.
    const listing = execFileSync('sh', ['-c', 'xz -dc | tar tf -'], { input: readHart(await readFile(built.artifact)).payload }).toString();
    expect(listing.split('\n')).toContain(`hab/pkgs/core/demo/0.1.0/${RELEASE}/hooks/run`);
  });
});

describe('building', () => {
  async function writePlan(files: Record<string, string>): Promise<string> {
    const planDir = path.join(dir, 'plan');
    await writeTree(planDir, files);
    return planDir;
  }

  test('do_build and do_install run with bash in CACHE_PATH, their output prefixed; the run file holds no staging path', async () => {
    const planDir = await writePlan({
      'app.txt': 'from the source dir\n',
      'plan.sh': `pkg_origin=core
pkg_name=tool
pkg_version=1.2.3
pkg_svc_run="tool-server --config $pkg_svc_config_path/tool.conf --data $pkg_svc_data_path"
pkg_deps=(core/redis/7.0.0)
do_build() {
  echo "building in $(pwd)"
  echo "warning on stderr" >&2
  cp "$SRC_PATH/app.txt" .
}
do_install() {
  mkdir -p "$pkg_prefix/bin"
  printf '#!/bin/sh\\necho "tool-server $*"\\n' > "$pkg_prefix/bin/tool-server"
  chmod +x "$pkg_prefix/bin/tool-server"
  cp app.txt "$pkg_prefix/"
  echo "release $pkg_release"
}
`,
    });
    const built = await buildPackage(planDir, options());
    expect(output).toContain('   tool: Running do_build');
    expect(output.find((line) => line.startsWith('   tool: building in '))).toMatch(/murmur-build-.*\/src\/tool-1\.2\.3$/);
    expect(output).toContain('   tool: warning on stderr');
    expect(output).toContain(`   tool: release ${RELEASE}`);

    const { path: prefix } = await install(built.artifact);
    expect(await readFile(path.join(prefix, 'app.txt'), 'utf8')).toBe('from the source dir\n');
    expect(await readFile(path.join(prefix, 'PATH'), 'utf8')).toBe(`/hab/pkgs/core/tool/1.2.3/${RELEASE}/bin\n`);
    expect(await readFile(path.join(prefix, 'DEPS'), 'utf8')).toBe('core/redis/7.0.0\n');
    const run = await readFile(path.join(prefix, 'run'), 'utf8');
    expect((await stat(path.join(prefix, 'run'))).mode & 0o777).toBe(0o755);
    expect(run).not.toContain('murmur-build-');
    expect(run).toContain('exec tool-server --config $pkg_svc_config_path/tool.conf --data $pkg_svc_data_path');
    expect((await new PackageStore(pkgsRoot).load({ origin: 'core', name: 'tool' })).runFile).toBe(path.join(prefix, 'run'));

    // Run as the Supervisor will: cwd = the service dir. Paths resolve to the real install.
    const svc = path.join(dir, 'fs', 'hab', 'svc', 'tool');
    await mkdir(svc, { recursive: true });
    const printed = execFileSync(path.join(prefix, 'run'), { cwd: svc, env: { PATH: '/usr/bin:/bin' } }).toString();
    expect(printed).toBe(`tool-server --config ${svc}/config/tool.conf --data ${svc}/data\n`);
  });

  test('a failing callback fails the build with its exit code named, and writes no artifact', async () => {
    const planDir = await writePlan({
      'plan.sh': 'pkg_origin=core\npkg_name=broken\npkg_version=1\ndo_build() {\n  echo "compiling"\n  false\n  echo "never"\n}\n',
    });
    const err = await rejection(buildPackage(planDir, options()));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain('do_build failed with exit code 1');
    expect(output).toContain('   broken: compiling');
    expect(output).not.toContain('   broken: never');
    expect(await readdir(dir)).not.toContain('results');
  });

  test('no secret key for the origin: NOT_FOUND before anything runs', async () => {
    const planDir = await writePlan({ 'plan.sh': 'pkg_origin=acme\npkg_name=x\npkg_version=1\ndo_build() { echo ran; }\n' });
    const err = await rejection(buildPackage(planDir, options()));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('hab origin key generate acme');
    expect(output).toEqual([]);
  });

  test('pkg_exposes needs a port in default.toml at the export path', async () => {
    const planDir = await writePlan({
      'plan.sh': 'pkg_origin=core\npkg_name=x\npkg_version=1\npkg_exports=([port]=server.port)\npkg_exposes=(port)\n',
      'default.toml': '[server]\nport = "eighty"\n',
    });
    const err = await rejection(buildPackage(planDir, options()));
    expect(err.message).toContain('pkg_exposes names "port", but');
    expect(err.message).toContain('holds no TCP/UDP port at server.port');
  });

  test('--output names another directory; the build time makes the release', async () => {
    const planDir = await writePlan({ 'plan.sh': 'pkg_origin=core\npkg_name=x\npkg_version=1\n' });
    const built = await buildPackage(planDir, options({ outputDir: path.join(dir, 'elsewhere'), now: new Date('2030-12-31T23:59:59Z') }));
    expect(built.artifact).toBe(path.join(dir, 'elsewhere', 'core-x-1-20301231235959-x86_64-linux.hart'));
    expect((await stat(path.join(dir, 'elsewhere', 'last_build.env'))).isFile()).toBe(true);
  });
});

describe('installs that are refused leave nothing behind', () => {
  let artifact: string;
  beforeEach(async () => {
    artifact = (await buildPackage(path.join(ROOT, 'examples', 'demo'), options())).artifact;
  });

  test('a flipped byte in the tarball', async () => {
    const bytes = await readFile(artifact);
    bytes[bytes.length - 20]! ^= 0x01;
    const err = await rejection(installHartBytes(bytes, { pkgsRoot, keyCacheDir: keys }, 'demo.hart'));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain('does not match its signature');
    expect(await pkgsTree()).toEqual([]);
  });

  test('a flipped byte in the signature', async () => {
    const text = (await readFile(artifact)).toString('latin1');
    const lines = text.split('\n');
    const signature = Buffer.from(lines[3]!, 'base64');
    signature[5]! ^= 0x01;
    lines[3] = signature.toString('base64');
    const err = await rejection(installHartBytes(Buffer.from(lines.join('\n'), 'latin1'), { pkgsRoot, keyCacheDir: keys }));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain('signature does not verify');
    expect(await pkgsTree()).toEqual([]);
  });

  test('an unknown origin key: NOT_FOUND naming the key and `hab origin key import`', async () => {
    const err = await rejection(installHart(artifact, { pkgsRoot, keyCacheDir: path.join(dir, 'empty-keys') }));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain(`core-${pair.secret.revision}`);
    expect(err.message).toContain('hab origin key import');
    expect(await pkgsTree()).toEqual([]);
  });

  test('a missing file is NOT_FOUND; a file that is not a .hart is BAD_INPUT', async () => {
    expect((await rejection(install(path.join(dir, 'nope.hart')))).code).toBe('NOT_FOUND');
    await writeFile(path.join(dir, 'junk.hart'), 'hello');
    expect((await rejection(install(path.join(dir, 'junk.hart')))).code).toBe('BAD_INPUT');
  });
});

describe('hostile archives', () => {
  const PREFIX = 'hab/pkgs/core/evil/1.0.0/20240101000000';
  const IDENT: RawEntry = { path: `${PREFIX}/IDENT`, body: 'core/evil/1.0.0/20240101000000\n' };

  async function installTar(entries: RawEntry[], signer = 'core') {
    const secret = signer === 'core' ? await latestOriginSecretKey(keys, 'core') : (await generateOriginKeyPair(keys, signer, new Date())).secret;
    const hart = await signHart(new Uint8Array(await xz.compress(rawTar(entries))), secret);
    return installHartBytes(hart, { pkgsRoot, keyCacheDir: keys }, 'evil.hart');
  }

  test('a well-formed hand-made archive installs (the helpers are sound)', async () => {
    const result = await installTar([{ path: 'hab/', type: 'Directory' }, { path: 'hab/pkgs/', type: 'Directory' }, { path: `${PREFIX}/`, type: 'Directory' }, IDENT, { path: `${PREFIX}/bin/ok`, body: 'x' }, { path: `${PREFIX}/lnk`, type: 'SymbolicLink', linkpath: 'bin/ok' }]);
    expect(result.identText).toBe('core/evil/1.0.0/20240101000000');
  });

  test.each<[string, RawEntry[], string]>([
    ['a ../ entry', [IDENT, { path: `${PREFIX}/../../../../../../escaped`, body: 'x' }], 'refused entry'],
    ['an absolute path', [IDENT, { path: '/tmp/murmur-escaped', body: 'x' }], 'refused entry "/tmp/murmur-escaped"'],
    ['another package', [IDENT, { path: 'hab/pkgs/core/other/1.0.0/20240101000000/x', body: 'x' }], 'outside hab/pkgs/core/evil'],
    ['an entry outside hab/pkgs', [IDENT, { path: 'etc/passwd', body: 'x' }], 'every entry must be inside hab/pkgs'],
    ['a symlink to an absolute path', [IDENT, { path: `${PREFIX}/lnk`, type: 'SymbolicLink', linkpath: '/etc' }], 'points outside the package'],
    ['a symlink climbing out', [IDENT, { path: `${PREFIX}/a/lnk`, type: 'SymbolicLink', linkpath: '../../x' }], 'points outside the package'],
    ['a hard link outside', [IDENT, { path: `${PREFIX}/h`, type: 'Link', linkpath: 'etc/passwd' }], 'refused hard link'],
    [
      'a file written through a symlink',
      [IDENT, { path: `${PREFIX}/d`, type: 'SymbolicLink', linkpath: '.' }, { path: `${PREFIX}/d/x`, body: 'x' }],
      'would be written through the symbolic link',
    ],
    ['a FIFO', [IDENT, { path: `${PREFIX}/fifo`, type: 'FIFO' }], 'a FIFO has no place in a package'],
    ['no IDENT', [{ path: `${PREFIX}/x`, body: 'x' }], 'IDENT is missing'],
    ['an IDENT that disagrees', [{ path: `${PREFIX}/IDENT`, body: 'core/evil/2.0.0/20240101000000' }], 'but the paths say'],
  ])('%s is refused', async (_name, entries, message) => {
    const err = await rejection(installTar(entries));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain(message);
    expect(await pkgsTree()).toEqual([]);
    expect(await readdir(dir)).not.toContain('escaped');
  });

  test('a package signed with another origin\'s key is refused', async () => {
    const err = await rejection(installTar([IDENT], 'acme'));
    expect(err.message).toContain('signed with acme-');
    expect(await pkgsTree()).toEqual([]);
  });

  test('an xz payload holding junk instead of a tar is refused', async () => {
    const secret = await latestOriginSecretKey(keys, 'core');
    const hart = await signHart(new Uint8Array(await xz.compress(Buffer.alloc(2048, 0x41))), secret);
    const err = await rejection(installHartBytes(hart, { pkgsRoot, keyCacheDir: keys }, 'junk.hart'));
    expect(err.code).toBe('BAD_INPUT');
    expect(await pkgsTree()).toEqual([]);
  });

  test('after unpacking, every symlink is resolved on disk and must stay inside the package', async () => {
    const unpacked = path.join(dir, 'unpacked');
    await mkdir(path.join(unpacked, 'bin'), { recursive: true });
    await symlink('../bin', path.join(unpacked, 'bin', 'ok'));
    await symlink('nowhere', path.join(unpacked, 'dangling'));
    await checkSymlinks(unpacked, 'x.hart');
    await symlink(os.tmpdir(), path.join(unpacked, 'bin', 'out'));
    const err = await rejection(checkSymlinks(unpacked, 'x.hart'));
    expect(err.message).toContain('refused symbolic link bin/out');
  });

  test('a release directory without IDENT is a CONFLICT, not overwritten', async () => {
    await mkdir(path.join(pkgsRoot, 'core', 'evil', '1.0.0', '20240101000000'), { recursive: true });
    const err = await rejection(installTar([IDENT]));
    expect(err.code).toBe('CONFLICT');
  });
});

describe('the package store', () => {
  async function fakeInstall(ident: string, files: Record<string, string> = {}): Promise<void> {
    const prefix = path.join(pkgsRoot, ...ident.split('/'));
    await writeTree(prefix, { IDENT: `${ident}\n`, ...files });
  }

  test('list and resolve pick the newest installed match', async () => {
    await fakeInstall('core/redis/6.2.0/20230101000000');
    await fakeInstall('core/redis/7.0.0/20240101000000');
    await fakeInstall('core/redis/7.0.0/20240201000000');
    await fakeInstall('core/demo/0.1.0/20240101000000');
    await mkdir(path.join(pkgsRoot, 'core', 'redis', '8.0.0', '20250101000000'), { recursive: true }); // no IDENT: not installed
    await mkdir(path.join(pkgsRoot, '.tmp-1-abc', 'hab'), { recursive: true });
    const store = new PackageStore(pkgsRoot);
    expect((await store.list()).map((i) => `${i.origin}/${i.name}/${i.version}/${i.release}`)).toEqual([
      'core/demo/0.1.0/20240101000000',
      'core/redis/7.0.0/20240201000000',
      'core/redis/7.0.0/20240101000000',
      'core/redis/6.2.0/20230101000000',
    ]);
    expect(await store.resolve({ origin: 'core', name: 'redis' })).toMatchObject({ version: '7.0.0', release: '20240201000000' });
    expect(await store.resolve({ origin: 'core', name: 'redis', version: '6.2.0' })).toMatchObject({ release: '20230101000000' });
    const err = await rejection(store.resolve({ origin: 'core', name: 'redis', version: '9' }));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('package core/redis/9 is not installed');
    expect(err.message).toContain('hab pkg install');
  });

  test('load reads binds and falls back to defaults for missing files', async () => {
    await fakeInstall('core/web/1.0.0/20240101000000', {
      BINDS: 'database=port host\n',
      BINDS_OPTIONAL: 'cache=port\n',
      SVC_USER: 'web\n',
      SHUTDOWN_TIMEOUT: '30\n',
      DEPS: 'core/redis/7.0.0/20240101000000\ncore/glibc/2.35/20230101000000\n',
    });
    const pkg = await new PackageStore(pkgsRoot).load({ origin: 'core', name: 'web', version: '1.0.0', release: '20240101000000' });
    expect(pkg).toMatchObject({
      binds: { database: ['port', 'host'] },
      bindsOptional: { cache: ['port'] },
      exports: {},
      exposes: [],
      svcUser: 'web',
      svcGroup: 'hab',
      shutdownSignal: 'TERM',
      shutdownTimeoutSec: 30,
      deps: ['core/redis/7.0.0/20240101000000', 'core/glibc/2.35/20230101000000'],
      defaultToml: null,
      configDir: null,
      hooksDir: null,
      runFile: null,
    });
  });

  test('damaged metadata is BAD_INPUT naming the file', async () => {
    await fakeInstall('core/web/1.0.0/20240101000000', { EXPORTS: 'no equals sign\n' });
    const err = await rejection(new PackageStore(pkgsRoot).load({ origin: 'core', name: 'web' }));
    expect(err.message).toContain('EXPORTS: line "no equals sign" is not key=value');
  });
});
