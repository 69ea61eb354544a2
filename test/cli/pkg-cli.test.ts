/**
 * `hab origin key`, `hab pkg build` and `hab pkg install` through the real `bin/hab`, with FS_ROOT
 * and HAB_CACHE_KEY_PATH in temp dirs, run from a temp working dir (where ./results lands).
 * dist/ is built by test/global-setup.ts before these tests.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..');
let work: string;

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'murmur-pkg-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function hab(args: string[], env: Record<string, string> = {}, input?: string) {
  const result = spawnSync(process.execPath, [path.join(root, 'bin', 'hab'), ...args], {
    cwd: work,
    encoding: 'utf8',
    input,
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      FS_ROOT: path.join(work, 'fs'),
      HAB_CACHE_KEY_PATH: path.join(work, 'keys'),
      NO_COLOR: '1',
      ...env,
    },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('hab origin key, pkg build, pkg install', () => {
  test('generate a key, build the demo into ./results, install it twice', () => {
    const generated = hab(['origin', 'key', 'generate', 'core']);
    expect(generated.code).toBe(0);
    expect(generated.stdout).toMatch(/^Generated origin key pair core-\d{14}:\n {2}secret .*\/keys\/core-\d{14}\.sig\.key\n {2}public .*\/keys\/core-\d{14}\.pub\n$/);

    const built = hab(['pkg', 'build', path.join(root, 'examples', 'demo')]);
    expect(built.stderr).toContain('   demo: Building core/demo/0.1.0/');
    expect(built.code).toBe(0);
    const artifact = built.stdout.trim();
    expect(artifact).toMatch(new RegExp(`^${work}/results/core-demo-0\\.1\\.0-\\d{14}-x86_64-linux\\.hart$`));
    expect(readFileSync(path.join(work, 'results', 'last_build.env'), 'utf8')).toContain(`pkg_artifact=${path.basename(artifact)}\n`);

    const installed = hab(['pkg', 'install', artifact]);
    expect(installed.code).toBe(0);
    expect(installed.stdout).toMatch(/^core\/demo\/0\.1\.0\/\d{14}\n$/);
    expect(installed.stderr).toContain(`» Installed ${installed.stdout.trim()} in ${path.join(work, 'fs', 'hab', 'pkgs', 'core', 'demo')}`);
    expect(readFileSync(path.join(work, 'fs', 'hab', 'pkgs', ...installed.stdout.trim().split('/'), 'IDENT'), 'utf8')).toBe(installed.stdout);

    const again = hab(['pkg', 'install', artifact]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('is already installed');

    // Another host has no key: install fails with exit 3 and says how to get it.
    const exported = hab(['origin', 'key', 'export', 'core']);
    expect(exported.stdout).toMatch(/^SIG-PUB-1\ncore-\d{14}\n\n/);
    const elsewhere = { FS_ROOT: path.join(work, 'fs2'), HAB_CACHE_KEY_PATH: path.join(work, 'keys2') };
    const refused = hab(['pkg', 'install', artifact], elsewhere);
    expect(refused.code).toBe(3);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^error: no public signing key core-\d{14} in the key cache .*hab origin key import/);
    const imported = hab(['origin', 'key', 'import'], elsewhere, exported.stdout);
    expect(imported.stdout).toMatch(/^Imported public origin key core-\d{14}/);
    expect(hab(['pkg', 'install', artifact], elsewhere).code).toBe(0);
  });

  test('bad input exits 2 with one line on stderr', () => {
    const noPlan = hab(['pkg', 'build', path.join(work, 'nowhere')]);
    expect(noPlan.code).toBe(3);
    expect(noPlan.stderr).toContain('does not exist');
    const badOrigin = hab(['origin', 'key', 'generate', 'No Such']);
    expect(badOrigin.code).toBe(2);
    expect(badOrigin.stderr).toBe('error: origin name "No Such" is not valid: use lowercase letters, digits, "-" and "_", starting with a letter or digit (e.g. "core", "my-org")\n');
    const wrongKey = hab(['origin', 'key', 'import'], {}, 'SYM-SEC-1\nfoo-20240101000000\n\n' + Buffer.alloc(32).toString('base64'));
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toContain('not an origin signing key');
  });
});
