/**
 * The chaos suite's long run (issue 7): a seeded fault schedule carried out in the
 * network-namespace lab (test/chaos/runner.ts) and judged by the observer's invariants
 * (test/chaos/invariants.ts). The short run is test/lab/chaos.test.ts, in `npm run test:lab`.
 *
 *   npm run chaos                                  # one 10-minute run, 7 hosts, a random seed (root)
 *   npm run chaos -- --minutes 3 --seed 42
 *   npm run chaos -- --runs 3                      # three runs, seeds S, S+1, S+2
 *   npm run chaos -- --schedule FILE               # replays a schedule a failed run printed
 *   npm run chaos -- --preset lan                  # the Supervisors' default timings (default: localTest)
 *   npm run chaos -- --write-docs                  # puts the results into docs/reliability.md
 *
 * Prints, per run, the faults carried out by kind, the convergence time after the last action and
 * after the last heal, every violation, and on failure the seed and the schedule (also written to
 * a file for --schedule). Exits 1 when a run failed, 2 on bad arguments.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import buildDist from '../test/global-setup.js';
import { chaosGroups, describeFailure, passed, runChaos, type ChaosResult } from '../test/chaos/runner.js';
import { formatSchedule, generateSchedule, parseSchedule, validateSchedule, type ChaosActionKind, type Schedule } from '../test/chaos/schedule.js';
import { counterDelta, describeDrops } from '../test/lab/lab.js';
import { writeDocsSection } from './docs.js';

const RELIABILITY_DOC = join(import.meta.dirname, '..', 'docs', 'reliability.md');
const SECTION = '## Latest long run';

interface Options {
  minutes: number;
  seed: number;
  runs: number;
  hosts: number;
  preset: 'lan' | 'localTest';
  scheduleFile: string | undefined;
  writeDocs: boolean;
}

function usage(message: string): never {
  process.stderr.write(`error: ${message}\nusage: npm run chaos -- [--minutes N] [--seed N] [--runs N] [--hosts N] [--preset lan|localTest] [--schedule FILE] [--write-docs]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const known = new Set(['--minutes', '--seed', '--runs', '--hosts', '--preset', '--schedule', '--write-docs']);
  for (const a of argv) if (a.startsWith('--') && !known.has(a)) usage(`unknown option ${a}`);
  const value = (f: string): string | undefined => {
    const k = argv.indexOf(f);
    if (k < 0) return undefined;
    const v = argv[k + 1];
    if (v === undefined || v.startsWith('--')) usage(`${f} needs a value`);
    return v;
  };
  const int = (f: string, fallback: number, min: number, max: number): number => {
    const v = value(f);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) usage(`${f} takes an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    return n;
  };
  const preset = value('--preset') ?? 'localTest';
  if (preset !== 'lan' && preset !== 'localTest') usage(`--preset takes lan or localTest, got ${JSON.stringify(preset)}`);
  return {
    minutes: int('--minutes', 10, 1, 120),
    seed: int('--seed', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1),
    runs: int('--runs', 1, 1, 20),
    hosts: int('--hosts', 7, 3, 15),
    preset,
    scheduleFile: value('--schedule'),
    writeDocs: argv.includes('--write-docs'),
  };
}

function loadSchedule(file: string): Schedule {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    usage(`cannot read the schedule ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const parsed = parseSchedule(text);
  if (!parsed.ok) usage(`${file} line ${parsed.error.line}: ${parsed.error.message}`);
  const problems = validateSchedule(parsed.schedule);
  if (problems.length > 0) usage(`${file} breaks the schedule's rules:\n  ${problems.join('\n  ')}`);
  return parsed.schedule;
}

const KINDS: ChaosActionKind[] = ['kill-sup', 'restart-sup', 'kill-service', 'partition', 'heal', 'loss-start', 'loss-end', 'pause', 'resume', 'config-apply', 'file-upload'];

function runLine(r: ChaosResult): string {
  const faults = KINDS.map((k) => `${k} ${r.done[k] ?? 0}`).join(', ');
  return `seed ${r.schedule.seed}: ${passed(r) ? 'passed' : 'FAILED'}; ${faults}; ${r.skipped} service kills found nothing to kill; ${r.snapshots} snapshots; ${r.violations.length} violations, ${r.problems.length} failed actions; converged ${r.convergenceMs ?? 'never'} ms after the last action, ${r.convergenceAfterLastHealMs ?? 'never'} ms after the last heal; actions late ${r.lateness.medianMs} ms median, ${r.lateness.maxMs} ms worst`;
}

function section(opts: Options, results: ChaosResult[], command: string): string {
  const sum = (k: ChaosActionKind): number => results.reduce((a, r) => a + (r.done[k] ?? 0), 0);
  const minutes = results.reduce((a, r) => a + r.schedule.durationMs, 0) / 60_000;
  const rows = [
    ['Supervisors killed with SIGKILL (and restarted)', `${sum('kill-sup')} (${sum('restart-sup')})`],
    ['service processes killed', `${sum('kill-service') - results.reduce((a, r) => a + r.skipped, 0)} (of ${sum('kill-service')} tried; the rest found the service restarting)`],
    ['partitions (all healed)', `${sum('partition')} (${sum('heal')})`],
    ['bursts of 30 % packet loss', `${sum('loss-start')}`],
    ['Supervisors paused with SIGSTOP (and resumed)', `${sum('pause')} (${sum('resume')})`],
    ['config applies', `${sum('config-apply')}`],
    ['file uploads', `${sum('file-upload')}`],
  ];
  const lines = [
    SECTION,
    '',
    `\`${command}\` on ${cpus().length} cores (load ${loadavg()[0]?.toFixed(2)} at the end), ${new Date().toISOString().slice(0, 10)}: ${results.length} run(s), ${minutes.toFixed(0)} minutes of schedule, ${opts.hosts} hosts, preset \`${opts.preset}\`. The same faults again: \`npm run chaos -- --minutes ${opts.minutes} --seed ${results[0]?.schedule.seed ?? opts.seed}\`${results.length > 1 ? ` --runs ${results.length}` : ''}.`,
    '',
    '| faults injected | count |',
    '|---|---|',
    ...rows.map(([a, b]) => `| ${a} | ${b} |`),
    '',
    '| run | seed | snapshots | violations | failed actions | converged after the last action | after the last heal |',
    '|---|---|---|---|---|---|---|',
    ...results.map((r, k) => `| ${k + 1} | ${r.schedule.seed} | ${r.snapshots} | ${r.violations.length} | ${r.problems.length} | ${r.convergenceMs === null ? 'never' : `${(r.convergenceMs / 1000).toFixed(1)} s`} | ${r.convergenceAfterLastHealMs === null ? 'never' : `${(r.convergenceAfterLastHealMs / 1000).toFixed(1)} s`} |`),
    '',
    ...results.map((r) => `Seed ${r.schedule.seed}, ${describeDrops(counterDelta(r.counters.before, r.counters.after))}.`),
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  if (process.getuid?.() !== 0) usage('npm run chaos needs root: it makes network namespaces, veths, a bridge and iptables rules (docs/lab.md)');
  const say = (l: string): void => void process.stdout.write(`${l}\n`);
  buildDist();
  const results: ChaosResult[] = [];
  for (let k = 0; k < (opts.scheduleFile === undefined ? opts.runs : 1); k++) {
    const schedule =
      opts.scheduleFile === undefined
        ? generateSchedule({ seed: opts.seed + k, hosts: opts.hosts, durationMs: opts.minutes * 60_000, groups: chaosGroups(opts.hosts) })
        : loadSchedule(opts.scheduleFile);
    const file = join(tmpdir(), `murmur-chaos-schedule-${schedule.seed}.txt`);
    writeFileSync(file, formatSchedule(schedule));
    say(`chaos: run ${k + 1}, seed ${schedule.seed}, schedule in ${file}`);
    const r = await runChaos({ schedule, preset: opts.preset, log: say });
    results.push(r);
    say(runLine(r));
    if (!passed(r)) say(describeFailure(r, file));
  }
  const args = argv.filter((a) => a !== '--write-docs');
  const command = args.length === 0 ? 'npm run chaos' : `npm run chaos -- ${args.join(' ')}`;
  const text = section(opts, results, command);
  say(text);
  if (opts.writeDocs) say(`wrote the section into ${writeDocsSection(SECTION, text, RELIABILITY_DOC)}`);
  process.exitCode = results.every(passed) ? 0 : 1;
}

await main();
