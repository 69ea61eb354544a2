/**
 * Health checks (reference §7): Habitat's reading of the hook's exit code, its schedule (a splay
 * after the first OK, the interval after an OK, at most 30 s after anything else) driven by hand
 * through timers that only record, and one check with real hooks: output kept, a hook that hangs
 * killed at its time limit, a hook that cannot run, no hook at all.
 */
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { seededRandom } from '../../../src/core/index.js';
import {
  HealthChecker,
  healthCheckTimeoutMs,
  healthOfExitCode,
  nextCheckDelayMs,
  runHealthCheck,
  type HealthCheckResult,
  type RunHealthCheckOptions,
  type Timers,
} from '../../../src/sup/process/index.js';
import { recordingLogger } from '../test-ring.js';
import { childEnv, Leftovers, recordingSink, removeTempDirs, script, tempDir, until } from './helpers.js';

const leftovers = new Leftovers();
afterEach(async () => {
  leftovers.killAll();
  await removeTempDirs();
});

describe("Habitat's reading of the exit code", () => {
  test.each([
    [0, 'ok'],
    [1, 'warning'],
    [2, 'critical'],
    [3, 'unknown'],
    [4, 'unknown'],
    [255, 'unknown'],
    [null, 'unknown'],
  ] as const)('%s is %s', (code, health) => {
    expect(healthOfExitCode(code)).toBe(health);
  });
});

describe('the schedule', () => {
  test('after the first OK a splay within the interval, after a later OK the interval, otherwise at most 30 s', () => {
    const random = seededRandom(3);
    const splays = Array.from({ length: 50 }, () => nextCheckDelayMs('ok', 10_000, true, random));
    expect(splays.every((ms) => ms >= 0 && ms < 10_000)).toBe(true);
    expect(new Set(splays).size).toBeGreaterThan(1);
    expect(nextCheckDelayMs('ok', 10_000, false, random)).toBe(10_000);
    for (const health of ['warning', 'critical', 'unknown'] as const) {
      expect(nextCheckDelayMs(health, 10_000, false, random)).toBe(10_000);
      expect(nextCheckDelayMs(health, 120_000, false, random)).toBe(30_000);
    }
  });

  test('a check may run as long as the interval, and at least 1 s', () => {
    expect(healthCheckTimeoutMs(30_000)).toBe(30_000);
    expect(healthCheckTimeoutMs(200)).toBe(1_000);
  });
});

/** Timers that fire only when the test says so. */
class ManualTimers implements Timers {
  pending = new Map<number, { fire: () => void; ms: number }>();
  private next = 0;
  setTimeout(fire: () => void, ms: number): unknown {
    const id = ++this.next;
    this.pending.set(id, { fire, ms });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** The delays of the timers waiting now. */
  get delays(): number[] {
    return [...this.pending.values()].map((t) => t.ms);
  }
  fireAll(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const t of due) t.fire();
  }
}

/** A checker whose checks answer from a script of results, each released by the test. */
function scriptedChecker(intervalMs: number) {
  const timers = new ManualTimers();
  const results: HealthCheckResult[] = [];
  const waiting: { resolve: (r: HealthCheckResult) => void; signal: AbortSignal }[] = [];
  let running = 0;
  let most = 0;
  const log: string[] = [];
  const checker = new HealthChecker(
    { timers, random: seededRandom(1), log: recordingLogger(log) },
    {
      intervalMs,
      check: (signal) => {
        running++;
        most = Math.max(most, running);
        return new Promise<HealthCheckResult>((resolve) => {
          waiting.push({
            resolve: (r) => {
              running--;
              resolve(r);
            },
            signal,
          });
        });
      },
      onResult: (r) => results.push(r),
    },
  );
  /** Ends the check that runs with `health`, and lets the checker act on it. */
  const answer = async (health: HealthCheckResult['health']): Promise<void> => {
    await until(() => waiting.length > 0, 'a check to run');
    waiting.shift()?.resolve({ health, stdout: '', stderr: '' });
    await new Promise((r) => setImmediate(r));
  };
  return { checker, timers, results, waiting, answer, most: () => most, log };
}

describe('HealthChecker', () => {
  test('checks first after one interval, then on the schedule the results ask for', async () => {
    const { checker, timers, results, answer } = scriptedChecker(60_000);
    checker.start();
    expect(timers.delays).toEqual([60_000]);
    timers.fireAll();
    await answer('critical');
    expect(timers.delays).toEqual([30_000]);
    timers.fireAll();
    await answer('ok');
    const [splay] = timers.delays;
    expect(splay).toBeGreaterThanOrEqual(0);
    expect(splay).toBeLessThan(60_000);
    timers.fireAll();
    await answer('ok');
    expect(timers.delays).toEqual([60_000]);
    expect(results.map((r) => r.health)).toEqual(['critical', 'ok', 'ok']);
    await checker.stop();
  });

  test('checkNow runs a check at once; asked for during a check, one more follows it and they never overlap', async () => {
    const { checker, timers, results, answer, most } = scriptedChecker(60_000);
    checker.start();
    checker.checkNow();
    expect(timers.delays).toEqual([]);
    checker.checkNow();
    checker.checkNow();
    await answer('critical');
    await answer('ok');
    expect(results.map((r) => r.health)).toEqual(['critical', 'ok']);
    expect(most()).toBe(1);
    expect(timers.pending.size).toBe(1);
    await checker.stop();
  });

  test('stop aborts the check that runs, reports nothing more and leaves no timer', async () => {
    const { checker, timers, results, waiting } = scriptedChecker(60_000);
    checker.start();
    checker.checkNow();
    await until(() => waiting.length === 1, 'a check to run');
    const check = waiting[0];
    const stopped = checker.stop();
    expect(check?.signal.aborted).toBe(true);
    check?.resolve({ health: 'unknown', stdout: '', stderr: '' });
    await stopped;
    expect(results).toEqual([]);
    expect(timers.pending.size).toBe(0);
    checker.checkNow();
    expect(waiting).toHaveLength(1);
  });

  test('a check that throws counts as UNKNOWN and the checks go on', async () => {
    const timers = new ManualTimers();
    const results: string[] = [];
    const log: string[] = [];
    const checker = new HealthChecker(
      { timers, random: seededRandom(1), log: recordingLogger(log) },
      { intervalMs: 5_000, check: () => Promise.reject(new Error('boom')), onResult: (r) => results.push(r.health) },
    );
    checker.start();
    checker.checkNow();
    await until(() => results.length === 1, 'a result');
    expect(results).toEqual(['unknown']);
    expect(log).toContain('WARN health check failed to run error=Error: boom');
    await until(() => timers.delays.length === 1, 'the next check to be scheduled');
    expect(timers.delays).toEqual([5_000]);
    await checker.stop();
  });
});

async function checkOptions(hook: string | null, more: Partial<RunHealthCheckOptions> = {}) {
  const dir = await tempDir();
  const path = hook === null ? null : await script(dir, 'health-check', hook);
  const rec = recordingSink();
  const log: string[] = [];
  const opts: RunHealthCheckOptions = {
    hookPath: path,
    processUp: true,
    preamble: 'redis.prod',
    cwd: dir,
    env: childEnv,
    logsDir: join(dir, 'logs'),
    timeoutMs: 10_000,
    sink: rec.sink,
    log: recordingLogger(log),
    ...more,
  };
  return { opts, dir, rec, log };
}

describe('one check with a real hook', () => {
  test.each([
    [0, 'ok'],
    [1, 'warning'],
    [2, 'critical'],
    [3, 'unknown'],
  ] as const)('a hook that exits %i gives %s, with its output', async (code, health) => {
    const { opts, rec, log } = await checkOptions(`echo "checked ${code}"\necho "note" >&2\nexit ${code}`);
    expect(await runHealthCheck(opts)).toEqual({ health, stdout: `checked ${code}\n`, stderr: 'note\n' });
    expect(rec.text()).toContain(`redis.prod hook[health-check]:(HK): checked ${code}`);
    expect(log).toEqual([]);
  });

  test('a hook that exits outside 0–3 gives UNKNOWN and says why', async () => {
    const { opts, log } = await checkOptions('exit 7');
    expect((await runHealthCheck(opts)).health).toBe('unknown');
    expect(log).toEqual(['WARN health-check hook exited with status 7, which is not 0 (OK), 1 (WARNING), 2 (CRITICAL) or 3 (UNKNOWN); health is UNKNOWN']);
  });

  test('a hook that hangs is killed at its time limit and gives UNKNOWN', async () => {
    const { opts, dir, log } = await checkOptions('echo $$ > "$PWD/hook.pid"\necho started\nexec sleep 1000', { timeoutMs: 2_000 });
    const result = await runHealthCheck({ ...opts, cwd: dir });
    expect(result).toEqual({ health: 'unknown', stdout: 'started\n', stderr: '' });
    expect(log).toEqual(['WARN health-check hook timed out after 2000 ms and was killed; health is UNKNOWN']);
    await leftovers.expectGone(leftovers.add(Number(await readFile(join(dir, 'hook.pid'), 'utf8'))));
  });

  test('a hook that cannot run gives UNKNOWN and names the fix', async () => {
    const { opts, log } = await checkOptions('exit 0');
    const path = opts.hookPath as string;
    await chmod(path, 0o644);
    expect((await runHealthCheck(opts)).health).toBe('unknown');
    expect(log).toEqual([`WARN hook health-check: ${path} is not executable; fix it with: chmod +x ${path}; health is UNKNOWN`]);
  });

  test('without a hook, a process that is up is OK and one that is not is CRITICAL', async () => {
    const { opts } = await checkOptions(null);
    expect(await runHealthCheck(opts)).toEqual({ health: 'ok', stdout: '', stderr: '' });
    expect(await runHealthCheck({ ...opts, processUp: false })).toEqual({ health: 'critical', stdout: '', stderr: '' });
  });
});
