import { chmod, mkdir, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, test } from 'vitest';
import { MurmurError, nullLogger, seededRandom } from '../../../src/core/index.js';
import {
  formatOutputLine,
  realTimers,
  ServiceProcess,
  type OutputLine,
  type ProcessState,
  type ServiceHooks,
  type ServiceProcessDeps,
  type ServiceProcessOptions,
  type Timers,
} from '../../../src/sup/process/index.js';
import { childEnv, isAlive, nextState, readLines, removeTempDirs, script, tempDir, until } from './helpers.js';

const services: ServiceProcess[] = [];
afterEach(async () => {
  for (const sp of services.splice(0)) await sp.stop();
  await removeTempDirs();
});

/** The sink of a test service: every line, and a way to wait for one. */
class Output {
  readonly lines: OutputLine[] = [];
  private readonly waiters: { match: (l: OutputLine) => boolean; resolve: () => void }[] = [];
  readonly sink = (line: OutputLine): void => {
    this.lines.push(line);
    for (const w of [...this.waiters]) {
      if (w.match(line)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  text(): string[] {
    return this.lines.map(formatOutputLine);
  }
  /** Resolves when a line with exactly this content arrives (or has arrived). */
  waitFor(content: string, timeoutMs = 10_000): Promise<void> {
    if (this.lines.some((l) => l.content === content)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for the line ${content}`)), timeoutMs);
      this.waiters.push({ match: (l) => l.content === content, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
}

/** Real timers that count what is pending, to check that a stop leaves none behind. */
function countingTimers(): Timers & { pending: Set<unknown> } {
  const pending = new Set<unknown>();
  return {
    pending,
    setTimeout(fire, ms) {
      const handle = realTimers.setTimeout(() => {
        pending.delete(handle);
        fire();
      }, ms);
      pending.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      pending.delete(handle);
      realTimers.clearTimeout(handle);
    },
  };
}

type Make = Omit<Partial<ServiceProcessOptions>, 'hooks'> & { hooks?: Partial<ServiceHooks> };

function makeService(dir: string, opts: Make = {}, deps: Partial<ServiceProcessDeps> = {}) {
  const out = new Output();
  const sp = new ServiceProcess(
    { clock: { now: () => performance.now() }, random: seededRandom(1), log: nullLogger, sink: out.sink, ...deps },
    {
      preamble: 'redis.prod',
      svcDir: dir,
      env: childEnv,
      backoff: { minMs: 20, maxMs: 50, cooldownMs: 60_000 },
      shutdownTimeoutMs: 2_000,
      hookKillGraceMs: 50,
      postRunRetryMs: 20,
      ...opts,
      hooks: { init: null, run: null, postRun: null, postStop: null, ...opts.hooks },
    },
  );
  services.push(sp);
  const states: ProcessState[] = [];
  sp.onStateChange((s) => states.push(s));
  return { sp, out, states };
}

describe('one service process', () => {
  test('the PID file holds the running PID while up, and is removed on stop', async () => {
    const dir = await tempDir();
    const run = await script(dir, 'run', 'exec sleep 1000');
    const { sp, states } = makeService(dir, { hooks: { run } });
    const up = nextState(sp, 'up');
    await sp.start();
    await up;
    const pid = sp.pid!;
    expect(pid).toBeGreaterThan(0);
    expect(await readFile(join(dir, 'PID'), 'utf8')).toBe(String(pid));
    expect(isAlive(pid)).toBe(true);
    expect(sp.startedAt).toBeGreaterThan(0);
    await sp.stop();
    expect(sp.state).toBe('down');
    expect(states).toEqual(['starting', 'up', 'stopping', 'down']);
    await expect(readFile(join(dir, 'PID'))).rejects.toThrow();
    expect(sp.lastExit).toEqual({ code: null, signal: 'SIGTERM' });
    await until(() => !isAlive(pid), 'the service process to be gone');
    await sp.stop(); // idempotent
  });

  test('a process that ignores the shutdown signal is SIGKILLed after the timeout, then post-stop runs', async () => {
    const dir = await tempDir();
    const run = await script(dir, 'run', `trap '' TERM\necho ready\nwhile :; do sleep 1; done`);
    const postStop = await script(dir, 'post-stop', `echo "after $(cat ${join(dir, 'PID')} 2>/dev/null || echo no-pid)" > ${join(dir, 'post-stop.out')}`);
    const { sp, out } = makeService(dir, { hooks: { run, postStop }, shutdownTimeoutMs: 100 });
    await sp.start();
    await out.waitFor('ready');
    const pid = sp.pid!;
    await sp.stop();
    expect(sp.lastExit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(isAlive(pid)).toBe(false);
    expect(await readLines(join(dir, 'post-stop.out'))).toEqual(['after no-pid']);
    expect(sp.state).toBe('down');
  });

  test('the package shutdown signal is sent to the process group', async () => {
    const dir = await tempDir();
    const run = await script(dir, 'run', `trap 'echo got INT; exit 0' INT\necho ready\nwhile :; do sleep 1; done`);
    const { sp, out } = makeService(dir, { hooks: { run }, shutdownSignal: 'INT' });
    await sp.start();
    await out.waitFor('ready');
    await sp.stop();
    expect(out.text()).toContain('redis.prod(O): got INT');
    expect(sp.lastExit?.code).toBe(0);
  });

  test('a crashing run command restarts with a new PID after the backoff', async () => {
    const dir = await tempDir();
    const run = await script(dir, 'run', `echo $$ >> ${join(dir, 'pids')}\nexit 3`);
    const { sp, out } = makeService(dir, { hooks: { run } });
    const twice = nextState(sp, 'restarting', 2);
    await sp.start();
    await twice;
    const pids = await readLines(join(dir, 'pids'));
    expect(pids.length).toBeGreaterThanOrEqual(2);
    expect(new Set(pids).size).toBe(pids.length);
    expect(out.text()[0]).toBe('redis.prod(SV): run exited with status 3; restarting in 20 ms (run_hook_failed)');
    expect(sp.lastReason).toBe('run_hook_failed');
    expect(sp.restarts).toBeGreaterThanOrEqual(2);
    await expect(readFile(join(dir, 'PID'))).rejects.toThrow();
  });

  test('a stop during the backoff wait cancels the restart', async () => {
    const dir = await tempDir();
    const run = await script(dir, 'run', `echo $$ >> ${join(dir, 'pids')}\nexit 1`);
    const timers = countingTimers();
    const { sp, out } = makeService(dir, { hooks: { run }, backoff: { minMs: 60_000, maxMs: 60_000 } }, { timers });
    const restarting = nextState(sp, 'restarting');
    await sp.start();
    await restarting;
    expect(timers.pending.size).toBe(1);
    await sp.stop();
    expect(sp.state).toBe('down');
    expect(timers.pending.size).toBe(0);
    expect(await readLines(join(dir, 'pids'))).toHaveLength(1);
    expect(out.text()).toEqual(['redis.prod(SV): run exited with status 1; restarting in 60 s (run_hook_failed)']);
  });

  test('a failing init hook restarts the service with backoff, and the run command waits for it', async () => {
    const dir = await tempDir();
    const count = join(dir, 'init-count');
    const init = await script(dir, 'init', `n=$(( $(cat ${count} 2>/dev/null || echo 0) + 1 ))\necho $n > ${count}\necho "init try $n"\n[ $n -ge 2 ]`);
    const run = await script(dir, 'run', `echo "run after init $(cat ${count})"\nexec sleep 1000`);
    const { sp, out, states } = makeService(dir, { hooks: { init, run } });
    const up = nextState(sp, 'up');
    await sp.start();
    await up;
    await out.waitFor('run after init 2');
    expect(states.slice(0, 4)).toEqual(['starting', 'restarting', 'starting', 'up']);
    expect(out.text()).toContain('redis.prod(SV): init hook exited with status 1; restarting in 20 ms (init_hook_failed)');
    expect(out.text()).toContain('redis.prod hook[init]:(HK): init try 1');
    expect(await readLines(join(dir, 'logs', 'init.stdout.log'))).toEqual(['init try 2']);
  });

  test('post-run is retried until it exits 0, and only then is the service up', async () => {
    const dir = await tempDir();
    const count = join(dir, 'post-run-count');
    const run = await script(dir, 'run', 'exec sleep 1000');
    const postRun = await script(dir, 'post-run', `n=$(( $(cat ${count} 2>/dev/null || echo 0) + 1 ))\necho $n > ${count}\n[ $n -ge 3 ]`);
    const { sp, out } = makeService(dir, { hooks: { run, postRun } });
    let triesWhenUp = '';
    sp.onStateChange((s) => {
      if (s === 'up') triesWhenUp = readFileSync(count, 'utf8').trim();
    });
    const up = nextState(sp, 'up');
    await sp.start();
    await up;
    expect(triesWhenUp).toBe('3');
    expect(out.text().filter((l) => l.includes('post-run hook exited with status 1; trying again in 20 ms'))).toHaveLength(2);
  });

  test('post-run stops being retried when the service stops', async () => {
    const dir = await tempDir();
    const run = await script(dir, 'run', 'exec sleep 1000');
    const postRun = await script(dir, 'post-run', 'echo failing\nexit 1');
    const timers = countingTimers();
    const { sp, out } = makeService(dir, { hooks: { run, postRun }, postRunRetryMs: 60_000 }, { timers });
    await sp.start();
    await out.waitFor('post-run hook exited with status 1; trying again in 60 s');
    expect(sp.state).toBe('starting');
    await sp.stop();
    expect(timers.pending.size).toBe(0);
    expect(sp.state).toBe('down');
  });

  test('a run command that does not exist does not throw: it is reported and retried', async () => {
    const dir = await tempDir();
    const { sp, out } = makeService(dir, { runCommand: { command: join(dir, 'bin', 'redis-server'), args: ['--port', '6379'] } });
    const restarting = nextState(sp, 'restarting');
    await sp.start();
    await restarting;
    expect(out.text()[0]).toMatch(/^redis\.prod\(SV\): could not start .*bin\/redis-server: no such file \(ENOENT\).*\(run_hook_failed\)$/);
    expect(sp.pid).toBeUndefined();
  });

  test('restart(reason) replaces the process at once', async () => {
    const dir = await tempDir();
    const run = await script(dir, 'run', 'exec sleep 1000');
    const { sp } = makeService(dir, { hooks: { run }, backoff: { minMs: 60_000, maxMs: 60_000 } });
    const up = nextState(sp, 'up');
    await sp.start();
    await up;
    const first = sp.pid!;
    const upAgain = nextState(sp, 'up');
    await sp.restart('run_hook_updated');
    await upAgain;
    expect(sp.pid).not.toBe(first);
    expect(isAlive(first)).toBe(false);
    expect(sp.lastReason).toBe('run_hook_updated');
  });

  test('a start during a stop waits for it, then starts', async () => {
    const dir = await tempDir();
    const run = await script(dir, 'run', 'exec sleep 1000');
    const { sp, states } = makeService(dir, { hooks: { run } });
    const up = nextState(sp, 'up');
    await sp.start();
    await up;
    const upAgain = nextState(sp, 'up');
    const stopping = sp.stop();
    const starting = sp.start();
    await Promise.all([stopping, starting]);
    await upAgain;
    expect(states).toEqual(['starting', 'up', 'stopping', 'down', 'starting', 'up']);
  });

  test('neither a run hook nor a run command is a BAD_INPUT error', async () => {
    const dir = await tempDir();
    expect(() => makeService(dir)).toThrow(MurmurError);
    expect(() => makeService(dir, { runCommand: { command: '/bin/true' }, shutdownSignal: 'NOPE' })).toThrow(/shutdown signal/);
  });

  test.runIf(process.getuid?.() === 0)('as root, the service runs as its svc_user; a missing user falls back to root, said once', async () => {
    const dir = await tempDir();
    await chmod(dir, 0o755);
    const work = join(dir, 'work');
    await mkdir(work, { mode: 0o777 });
    await chmod(work, 0o777);
    const run = await script(dir, 'run', `id -u > ${join(work, 'uid')}\nexec sleep 1000`);
    const { sp, out } = makeService(dir, { hooks: { run }, cwd: work, svcUser: 'nobody', svcGroup: 'nogroup' });
    await sp.start();
    await until(async () => (await readLines(join(work, 'uid'))).length > 0, 'the uid file');
    const nobody = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))!.split(':')[2];
    expect(await readLines(join(work, 'uid'))).toEqual([nobody]);
    expect(out.text()[0]).toMatch(/^redis\.prod\(SV\): Starting service as user=nobody, group=/);

    const dir2 = await tempDir();
    const crash = await script(dir2, 'run', 'id -u\nexit 1');
    const ghost = makeService(dir2, { hooks: { run: crash }, svcUser: 'murmur-no-such-user' });
    const twice = nextState(ghost.sp, 'restarting', 2);
    await ghost.sp.start();
    await twice;
    await ghost.out.waitFor('0'); // `id -u` of the fallback: root
    expect(ghost.out.text().filter((l) => l.includes('murmur-no-such-user does not exist'))).toHaveLength(1);
  });
});
