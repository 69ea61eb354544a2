/**
 * The real binaries, run as a user runs them: exit codes, stderr messages and help. dist/ is built
 * by test/global-setup.ts before these tests.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..');

function run(bin: 'murmur' | 'hab', ...args: string[]) {
  const result = spawnSync(process.execPath, [path.join(root, 'bin', bin), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('murmur sim rejects a bad value with exit code 2, a message naming it, and nothing on stdout', () => {
  test.each([
    [['--loss', '2'], '--loss must be a number from 0 to 1, got "2"'],
    [['--loss', '-0.1'], '--loss must be a number from 0 to 1, got "-0.1"'],
    [['--loss', 'lots'], '--loss must be a number from 0 to 1, got "lots"'],
    [['--members', '0'], '--members must be an integer from 2 to 100000, got "0"'],
    [['--members', '1e3'], '--members must be an integer from 2 to 100000, got "1e3"'],
    [['--seed', '-1'], '--seed must be an integer from 0 to 4294967295, got "-1"'],
    [['--duration', '0'], '--duration must be a number of seconds above 0 and at most 86400, got "0"'],
    [['--preset', 'wan'], '--preset must be one of lan, localTest, got "wan"'],
    [['--scenario', 'nuke'], '--scenario must be one of rumor, kill, churn, idle, got "nuke"'],
    [['--delay', '-5'], '--delay must be a number of milliseconds from 0 to 60000, got "-5"'],
    [['--jitter', 'x'], '--jitter must be a number of milliseconds from 0 to 60000, got "x"'],
  ])('sim %j', (args, message) => {
    const { code, stdout, stderr } = run('murmur', 'sim', ...args);
    expect(stderr).toBe(`error: ${message}\n`);
    expect(stdout).toBe('');
    expect(code).toBe(2);
  });

  test('--json does not change that: stdout stays empty', () => {
    const { code, stdout, stderr } = run('murmur', 'sim', '--json', '--loss', '2');
    expect(stderr).toContain('--loss must be a number from 0 to 1, got "2"');
    expect(stdout).toBe('');
    expect(code).toBe(2);
  });
});

describe('usage errors are commander’s, with a non-zero exit', () => {
  test('an unknown option', () => {
    const { code, stdout, stderr } = run('murmur', 'sim', '--bogus');
    expect(stderr).toContain("unknown option '--bogus'");
    expect(stdout).toBe('');
    expect(code).toBe(2);
  });

  test('an unknown command', () => {
    const { code, stderr } = run('murmur', 'bogus');
    expect(stderr).toContain("unknown command 'bogus'");
    expect(code).toBe(2);
  });

  test('only working commands are registered: no Habitat placeholders', () => {
    const { code, stderr } = run('hab', 'svc', 'update', 'core/redis');
    expect(stderr).toContain("unknown command 'update'");
    expect(code).not.toBe(0);
  });
});

describe('help', () => {
  test.each(['murmur', 'hab'] as const)('%s --help names the program as invoked', (bin) => {
    const { code, stdout, stderr } = run(bin, '--help');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toContain(`Usage: ${bin} [options] [command]`);
    expect(stdout).toMatch(/^\s+sim \[options\]/m);
  });

  test.each(['murmur', 'hab'] as const)('%s sim --help lists every option', (bin) => {
    const { code, stdout } = run(bin, 'sim', '--help');
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: ${bin} sim [options]`);
    for (const option of [
      '--members',
      '--loss',
      '--seed',
      '--duration',
      '--preset',
      '--scenario',
      '--delay',
      '--jitter',
      '--json',
    ]) {
      expect(stdout).toContain(option);
    }
  });
});

test('a checkout that was never built says how to build it, and exits 1', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'murmur-bin-'));
  try {
    mkdirSync(path.join(dir, 'bin'));
    copyFileSync(path.join(root, 'bin', 'murmur'), path.join(dir, 'bin', 'murmur'));
    writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
    const result = spawnSync(process.execPath, [path.join(dir, 'bin', 'murmur'), '--help'], {
      encoding: 'utf8',
    });
    expect(result.stderr).toContain('dist/app/main.js is missing');
    expect(result.stderr).toContain('npm ci');
    expect(result.stderr).toContain('npm run build');
    expect(result.stdout).toBe('');
    expect(result.status).toBe(1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
