/**
 * The command tree in process, with a fake simulator: what `sim` passes on, and what it prints.
 */
import { describe, expect, test } from 'vitest';
import { buildProgram, exitCodeFor, type CliDeps } from '../../src/cli/index.js';
import { MurmurError } from '../../src/core/index.js';
import type { SimOptions, SimReport } from '../../src/testkit/sim-types.js';

const report: SimReport = {
  members: 100,
  loss: 0.05,
  seed: 7,
  scenario: 'kill',
  preset: 'lan',
  virtualMs: 30_000,
  wallMs: 812.4,
  messagesPerMemberPerSecond: 3.456,
  bytesPerMemberPerSecond: 1234.4,
  disseminationMs: { p50: 120, p99: 340.26, p100: 401 },
  detectionMs: { p50: 2500, p99: 4100, p100: null },
  falseSuspicions: 1,
  falseConfirmations: 0,
  converged: true,
};

/** Runs one command line against a fake simulator; resolves to what the user would see. */
async function run(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const calls: SimOptions[] = [];
  const deps: CliDeps = {
    simulate: (options) => {
      calls.push(options);
      return Promise.resolve(report);
    },
    runSupervisor: () => Promise.reject(new Error('not in this test')),
    termSupervisor: () => Promise.reject(new Error('not in this test')),
    env: {},
    readStdin: () => Promise.resolve(''),
    readFile: () => Promise.reject(new Error('not in this test')),
    ctlClient: () => {
      throw new Error('not in this test');
    },
    stdout: (s) => void out.push(s),
    stderr: (s) => void err.push(s),
  };
  let code = 0;
  try {
    await buildProgram(deps, 'murmur').parseAsync(['sim', ...args], { from: 'user' });
  } catch (e) {
    code = exitCodeFor(e, deps.stderr);
  }
  return { code, stdout: out.join(''), stderr: err.join(''), calls };
}

describe('murmur sim', () => {
  test('without options it asks the simulator for the defaults, leaving duration to it', async () => {
    const { calls, code } = await run();
    expect(code).toBe(0);
    expect(calls).toEqual([{ members: 100, loss: 0, seed: 1, preset: 'lan', scenario: 'rumor' }]);
  });

  test('every option reaches the simulator, parsed', async () => {
    const { calls } = await run(
      '--members=500',
      '--loss',
      '0.1',
      '--seed',
      '42',
      '--duration',
      '12.5',
      '--preset',
      'local-test',
      '--scenario',
      'churn',
      '--delay',
      '5',
      '--jitter',
      '2.5',
    );
    expect(calls).toEqual([
      {
        members: 500,
        loss: 0.1,
        seed: 42,
        durationS: 12.5,
        preset: 'localTest',
        scenario: 'churn',
        delayMs: 5,
        jitterMs: 2.5,
      },
    ]);
  });

  test('--json prints exactly one JSON object and a newline', async () => {
    const { stdout, stderr, code } = await run('--json');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout.endsWith('}\n')).toBe(true);
    expect(stdout.indexOf('\n')).toBe(stdout.length - 1);
    expect(JSON.parse(stdout)).toEqual(report);
  });

  test('without --json it prints an aligned, readable report', async () => {
    const { stdout } = await run();
    expect(stdout).toBe(
      [
        'scenario             kill',
        'members              100',
        'loss                 5%',
        'seed                 7',
        'preset               lan',
        'virtual time         30 s',
        'wall time            812.4 ms',
        'msgs/member/s        3.46',
        'bytes/member/s       1234',
        'dissemination        p50 120 ms   p99 340.3 ms   p100 401 ms',
        'detection            p50 2500 ms   p99 4100 ms   p100 n/a',
        'false suspicions     1',
        'false confirmations  0',
        'converged            true',
        '',
      ].join('\n'),
    );
  });

  test('a bad value is a BAD_INPUT error: exit code 2 and one line on stderr', async () => {
    const { code, stdout, stderr, calls } = await run('--loss', '2');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('error: --loss must be a number from 0 to 1, got "2"\n');
    expect(calls).toEqual([]);
  });

  test('a MurmurError from the simulator maps to its exit code', () => {
    const err: string[] = [];
    const code = exitCodeFor(new MurmurError('NOT_FOUND', 'no such scenario file'), (s) => void err.push(s));
    expect(code).toBe(3);
    expect(err).toEqual(['error: no such scenario file\n']);
  });
});
