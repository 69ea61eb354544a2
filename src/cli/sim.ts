/**
 * `murmur sim`: runs the real gossip core on the simulated network and reports how it did
 * (dissemination and detection latency, traffic per member, false suspicions). Parsing and
 * rendering live here; the simulator itself comes in through `CliDeps.simulate`.
 */
import type { Command } from '@commander-js/extra-typings';
import { MurmurError } from '../core/index.js';
import type {
  Percentiles,
  PresetName,
  SimOptions,
  SimReport,
  SimScenario,
} from '../testkit/sim-types.js';
import type { CliDeps } from './deps.js';

export const SCENARIOS: readonly SimScenario[] = ['rumor', 'kill', 'churn', 'idle'];
export const PRESETS: readonly PresetName[] = ['lan', 'localTest'];
/** ARCHITECTURE.md spells the preset `local-test`; both spellings are accepted. */
const PRESET_ALIASES: Readonly<Record<string, PresetName>> = { 'local-test': 'localTest' };

export const SIM_DEFAULTS = {
  members: 100,
  loss: 0,
  seed: 1,
  preset: 'lan',
  scenario: 'rumor',
} as const satisfies Partial<SimOptions>;

/** Bounds that keep a typo from asking for a run that cannot finish. */
export const SIM_LIMITS = {
  members: { min: 2, max: 100_000 },
  seed: { max: 0xffff_ffff },
  durationS: { max: 86_400 },
  latencyMs: { max: 60_000 },
} as const;

/** The raw option strings, as commander hands them over. */
export interface RawSimOptions {
  members?: string;
  loss?: string;
  seed?: string;
  duration?: string;
  preset?: string;
  scenario?: string;
  delay?: string;
  jitter?: string;
}

const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^\d+$/;

function badInput(option: string, expected: string, raw: string): MurmurError {
  return new MurmurError('BAD_INPUT', `${option} must be ${expected}, got ${JSON.stringify(raw)}`);
}

function integerIn(option: string, raw: string, min: number, max: number): number {
  const value = INTEGER.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) throw badInput(option, `an integer from ${min} to ${max}`, raw);
  return value;
}

function numberIn(option: string, raw: string, min: number, max: number, expected: string): number {
  const value = DECIMAL.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) throw badInput(option, expected, raw);
  return value;
}

function oneOf<T extends string>(
  option: string,
  raw: string,
  values: readonly T[],
  aliases: Readonly<Record<string, T>> = {},
): T {
  const found = values.find((v) => v === raw) ?? aliases[raw];
  if (found === undefined) throw badInput(option, `one of ${values.join(', ')}`, raw);
  return found;
}

/**
 * Validates the raw `sim` options and fills in the defaults. Throws a `BAD_INPUT` MurmurError
 * that names the option, the value given and what is accepted.
 */
export function parseSimOptions(raw: RawSimOptions): SimOptions {
  const options: SimOptions = {
    members:
      raw.members === undefined
        ? SIM_DEFAULTS.members
        : integerIn('--members', raw.members, SIM_LIMITS.members.min, SIM_LIMITS.members.max),
    loss:
      raw.loss === undefined
        ? SIM_DEFAULTS.loss
        : numberIn('--loss', raw.loss, 0, 1, 'a number from 0 to 1'),
    seed:
      raw.seed === undefined
        ? SIM_DEFAULTS.seed
        : integerIn('--seed', raw.seed, 0, SIM_LIMITS.seed.max),
    preset:
      raw.preset === undefined
        ? SIM_DEFAULTS.preset
        : oneOf('--preset', raw.preset, PRESETS, PRESET_ALIASES),
    scenario:
      raw.scenario === undefined
        ? SIM_DEFAULTS.scenario
        : oneOf('--scenario', raw.scenario, SCENARIOS),
  };
  if (raw.duration !== undefined) {
    const max = SIM_LIMITS.durationS.max;
    options.durationS = numberIn(
      '--duration',
      raw.duration,
      Number.MIN_VALUE,
      max,
      `a number of seconds above 0 and at most ${max}`,
    );
  }
  const latency = `a number of milliseconds from 0 to ${SIM_LIMITS.latencyMs.max}`;
  if (raw.delay !== undefined) {
    options.delayMs = numberIn('--delay', raw.delay, 0, SIM_LIMITS.latencyMs.max, latency);
  }
  if (raw.jitter !== undefined) {
    options.jitterMs = numberIn('--jitter', raw.jitter, 0, SIM_LIMITS.latencyMs.max, latency);
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** Up to `digits` decimals, without trailing zeros: 12, 12.5, 0.25. */
function num(value: number, digits = 1): string {
  return Number.isFinite(value) ? String(Number(value.toFixed(digits))) : String(value);
}

function ms(value: number | null): string {
  return value === null ? 'n/a' : `${num(value)} ms`;
}

function percentiles(p: Percentiles): string {
  return `p50 ${ms(p.p50)}   p99 ${ms(p.p99)}   p100 ${ms(p.p100)}`;
}

function duration(valueMs: number): string {
  return valueMs >= 1000 ? `${num(valueMs / 1000, 2)} s` : `${num(valueMs)} ms`;
}

/** The fields rendered by name; any other scalar field of the report is listed after them. */
const KNOWN_FIELDS = new Set([
  'members',
  'loss',
  'seed',
  'scenario',
  'preset',
  'virtualMs',
  'wallMs',
  'messagesPerMemberPerSecond',
  'bytesPerMemberPerSecond',
  'disseminationMs',
  'detectionMs',
  'falseSuspicions',
  'falseConfirmations',
]);

/** A readable report: one aligned `label  value` line per figure, ending with a newline. */
export function renderSimReport(report: SimReport): string {
  const rows: [string, string][] = [
    ['scenario', report.scenario],
    ['members', String(report.members)],
    ['loss', `${num(report.loss * 100, 2)}%`],
    ['seed', String(report.seed)],
    ['preset', report.preset],
    ['virtual time', duration(report.virtualMs)],
    ['wall time', duration(report.wallMs)],
    ['msgs/member/s', num(report.messagesPerMemberPerSecond, 2)],
    ['bytes/member/s', num(report.bytesPerMemberPerSecond, 0)],
  ];
  if (report.disseminationMs) rows.push(['dissemination', percentiles(report.disseminationMs)]);
  if (report.detectionMs) rows.push(['detection', percentiles(report.detectionMs)]);
  if (report.falseSuspicions !== undefined) {
    rows.push(['false suspicions', String(report.falseSuspicions)]);
  }
  if (report.falseConfirmations !== undefined) {
    rows.push(['false confirmations', String(report.falseConfirmations)]);
  }
  for (const [key, value] of Object.entries(report)) {
    if (KNOWN_FIELDS.has(key)) continue;
    if (typeof value === 'number') rows.push([key, num(value, 2)]);
    else if (typeof value === 'string' || typeof value === 'boolean') rows.push([key, String(value)]);
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}\n`).join('');
}

// ---------------------------------------------------------------------------------------------
// The command

export function addSimCommand(program: Command, deps: CliDeps): void {
  const d = SIM_DEFAULTS;
  program
    .command('sim')
    .description(
      'Simulate a gossip ring in virtual time (the real gossip core on a simulated network) and report latency and traffic',
    )
    .option('--members <n>', `number of members (default ${d.members})`)
    .option('--loss <p>', `packet loss probability, 0 to 1 (default ${d.loss})`)
    .option('--seed <s>', `random seed, for an exactly repeatable run (default ${d.seed})`)
    .option('--duration <seconds>', 'virtual seconds to run (default: chosen by the scenario)')
    .option('--preset <name>', `timing preset: ${PRESETS.join('|')} (default ${d.preset})`)
    .option('--scenario <name>', `what happens: ${SCENARIOS.join('|')} (default ${d.scenario})`)
    .option('--delay <ms>', 'one-way network delay in milliseconds (default: set by the simulator)')
    .option('--jitter <ms>', 'random extra delay in milliseconds (default: set by the simulator)')
    .option('--json', 'print the report as one JSON object on stdout')
    .showHelpAfterError(`(run '${program.name()} sim --help' for usage)`)
    .action(async (opts) => {
      const options = parseSimOptions(opts);
      const report = await deps.simulate(options);
      deps.stdout(opts.json ? `${JSON.stringify(report)}\n` : renderSimReport(report));
    });
}
