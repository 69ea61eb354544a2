/**
 * `scripts/lab`: the network-namespace lab from a shell. `up` makes a persistent lab and writes
 * its id to `/tmp/murmur-lab/current`; every other command acts on that lab (or `--id ID`);
 * `down` removes everything `up` made, and the processes started in it.
 *
 *   scripts/lab up 5 [--subnet 10.77.0.0/24]
 *   scripts/lab sup 1                      # a Supervisor in host 1 (detached; log in its dir)
 *   scripts/lab sup 2 --peer 1 [-- FLAGS]  # peered with host 1; FLAGS go to `sup run`
 *   scripts/lab exec 2 ip addr             # any command inside host 2
 *   scripts/lab butterfly 2 | jq .membership
 *   scripts/lab partition 1,2 3,4,5 | heal | loss all 0.1 | loss 3 0
 *   scripts/lab kill9 3 | restart 3 | logs 3 | counters | status
 *   scripts/lab down                       # or: scripts/lab gc (stale labs of dead test runs)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { counterDelta, describeDrops, gcStaleLabs, Lab, listStates, PORTS, readState, STATE_DIR, teardownState, waitFor, type SupervisorSpec } from './lab.js';

const CURRENT = join(STATE_DIR, 'current');

function usage(): never {
  process.stderr.write(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith(' *   ')).map((l) => l.slice(5)).join('\n') + '\n');
  process.exit(2);
}

function currentId(args: string[]): string {
  const k = args.indexOf('--id');
  if (k >= 0) {
    const id = args[k + 1];
    args.splice(k, 2);
    if (id) return id;
  }
  if (!existsSync(CURRENT)) throw new Error('no lab is up (scripts/lab up N)');
  return readFileSync(CURRENT, 'utf8').trim();
}

function hostArg(lab: Lab, raw: string | undefined): number {
  const i = Number(raw);
  if (!Number.isInteger(i) || i < 1 || i > lab.hosts) throw new Error(`host must be 1..${lab.hosts}, got ${JSON.stringify(raw)}`);
  return i;
}

function group(lab: Lab, raw: string | undefined): number[] {
  return (raw ?? '').split(',').filter((x) => x !== '').map((x) => hostArg(lab, x));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts host i's Supervisor detached (it outlives this command); waits for its HTTP gateway. */
async function startDetached(lab: Lab, i: number, spec: SupervisorSpec): Promise<void> {
  const c = lab.supervisorCommand(i, spec);
  const fd = openSync(c.logFile, 'a');
  const child = spawn('ip', ['netns', 'exec', lab.ns(i), c.cmd, ...c.args], { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...c.env } });
  if (child.pid === undefined) throw new Error('could not start the Supervisor');
  lab.recordSupervisor(i, spec, child.pid);
  child.unref();
  const before = readFileSync(c.logFile, 'utf8').length;
  await waitFor(`host ${i}'s Supervisor to start (log: ${c.logFile})`, () => {
    if (!pidAlive(child.pid as number)) throw new Error(`it exited; see ${c.logFile}`);
    return /Starting http-gateway on/.test(readFileSync(c.logFile, 'utf8').slice(before));
  }, 30_000);
  process.stdout.write(`host ${i}: Supervisor PID ${child.pid}, gossip ${lab.ip(i)}:${PORTS.gossip}, http ${lab.ip(i)}:${PORTS.http}, FS_ROOT ${c.env.FS_ROOT}, log ${c.logFile}\n`);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  const log = (l: string): void => void process.stderr.write(`${l}\n`);
  switch (cmd) {
    case 'up': {
      const n = Number(args[0]);
      if (!Number.isInteger(n) || n < 1) usage();
      if (existsSync(CURRENT) && readState(readFileSync(CURRENT, 'utf8').trim())) throw new Error(`a lab is up already (${readFileSync(CURRENT, 'utf8').trim()}): scripts/lab down first`);
      const k = args.indexOf('--subnet');
      const lab = await Lab.create({ hosts: n, persistent: true, log, ...(k >= 0 && args[k + 1] ? { subnet: args[k + 1] } : {}) });
      mkdirSync(STATE_DIR, { recursive: true });
      writeFileSync(CURRENT, `${lab.id}\n`);
      for (const i of lab.hostList) process.stdout.write(`host ${i}: ${lab.ns(i)} ${lab.ip(i)}\n`);
      return 0;
    }
    case 'down': {
      const id = currentId(args);
      const s = readState(id);
      if (s) for (const p of teardownState(s)) log(p);
      if (existsSync(CURRENT) && readFileSync(CURRENT, 'utf8').trim() === id) rmSync(CURRENT);
      log(s ? `lab ${id} removed` : `no state for lab ${id}`);
      return 0;
    }
    case 'gc': {
      const n = gcStaleLabs(log);
      log(`${n} stale lab(s) removed`);
      return 0;
    }
    case 'list': {
      for (const s of listStates()) process.stdout.write(`${s.id} hosts=${s.hosts} owner=${s.ownerPid} persistent=${s.persistent} dir=${s.dir}\n`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
      usage();
  }
  const lab = Lab.attach(currentId(args), log);
  switch (cmd) {
    case 'status': {
      const s = lab.state;
      process.stdout.write(`lab ${s.id}: ${s.hosts} hosts, bridge ${s.bridge}, ${s.subnet}, dir ${s.dir}\n`);
      for (const i of lab.hostList) {
        const pid = s.supPids[i] ?? 0;
        const fw = [(s.blocked[i] ?? []).length ? `blocked ${(s.blocked[i] ?? []).join(',')}` : '', (s.loss[i] ?? 0) > 0 ? `loss ${s.loss[i]}` : ''].filter((x) => x).join('; ');
        process.stdout.write(`host ${i}: ${lab.ns(i)} ${lab.ip(i)} supervisor ${pid && pidAlive(pid) ? `PID ${pid}` : '-'}${fw ? ` (${fw})` : ''}\n`);
      }
      return 0;
    }
    case 'exec': {
      const i = hostArg(lab, args[0]);
      if (args.length < 2) usage();
      const r = spawnSync('ip', ['netns', 'exec', lab.ns(i), ...args.slice(1)], { stdio: 'inherit' });
      return r.status ?? 1;
    }
    case 'sup': {
      const i = hostArg(lab, args[0]);
      const dash = args.indexOf('--');
      const own = dash >= 0 ? args.slice(1, dash) : args.slice(1);
      const extra = dash >= 0 ? args.slice(dash + 1) : [];
      const peers: string[] = [];
      for (let k = 0; k < own.length; k++) {
        if (own[k] === '--peer') peers.push(/^\d+$/.test(own[k + 1] ?? '') ? `${lab.ip(hostArg(lab, own[++k]))}:${PORTS.gossip}` : (own[++k] as string));
      }
      const pid = lab.state.supPids[i] ?? 0;
      if (pid && pidAlive(pid)) throw new Error(`host ${i} runs a Supervisor already (PID ${pid})`);
      const env: Record<string, string> = {};
      for (const v of ['MURMUR_GOSSIP_PRESET', 'MURMUR_DEBUG', 'HAB_RING_KEY', 'HAB_RING', 'HAB_CACHE_KEY_PATH']) if (process.env[v] !== undefined) env[v] = process.env[v];
      await startDetached(lab, i, { peers, env, args: extra });
      return 0;
    }
    case 'kill9':
    case 'restart': {
      const i = hostArg(lab, args[0]);
      const pid = lab.state.supPids[i] ?? 0;
      if (pid && pidAlive(pid)) {
        process.kill(pid, 'SIGKILL');
        await waitFor(`PID ${pid} to exit`, () => !pidAlive(pid), 10_000, 50);
        process.stdout.write(`host ${i}: killed PID ${pid}\n`);
      }
      if (cmd === 'restart') {
        const spec = lab.state.supervisors[i];
        if (!spec) throw new Error(`host ${i} never ran a Supervisor`);
        await startDetached(lab, i, spec);
      }
      return 0;
    }
    case 'butterfly': {
      process.stdout.write(`${JSON.stringify(await lab.butterfly(hostArg(lab, args[0])), null, 2)}\n`);
      return 0;
    }
    case 'logs': {
      process.stdout.write(`${lab.logs(hostArg(lab, args[0])).join('\n')}\n`);
      return 0;
    }
    case 'partition': {
      await lab.partition(group(lab, args[0]), group(lab, args[1]));
      return 0;
    }
    case 'heal': {
      await lab.heal();
      return 0;
    }
    case 'loss': {
      await lab.setLoss(args[0] === 'all' ? 'all' : hostArg(lab, args[0]), Number(args[1]));
      return 0;
    }
    case 'counters': {
      const secs = Number(args[0] ?? 0);
      const a = await lab.counters();
      if (secs > 0) {
        await new Promise((r) => setTimeout(r, secs * 1000));
        const b = await lab.counters();
        const d = counterDelta(a, b);
        for (const i of lab.hostList) process.stdout.write(`host ${i}: tx ${((d.perHostTxBytes[i - 1] ?? 0) / d.seconds).toFixed(0)} B/s, rx ${((d.perHostRxBytes[i - 1] ?? 0) / d.seconds).toFixed(0)} B/s\n`);
        process.stdout.write(`${describeDrops(d)}\n`);
      } else {
        process.stdout.write(`${JSON.stringify(a, null, 2)}\n`);
      }
      return 0;
    }
    default:
      usage();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`scripts/lab: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
