/**
 * The long fuzz run (issue 5): at least 100 000 inputs to each target (the wire decoders
 * in-process, a live Supervisor's UDP and TCP gossip port, its control gateway and its HTTP
 * gateway), with the Supervisors built as deployed (`bin/murmur`, so run `npm run build` first).
 * Prints the figures as a Markdown table and, with --write-docs, puts them in docs/security.md
 * between the `fuzz-figures` markers of the "Fuzzing" section. Exits 1 on any crash, hang or
 * finding. The harness is test/fuzz/ (start at `run.ts`); `npm test` runs a short version.
 *
 *   npm run fuzz                                   # 100 000 inputs per target, seed 1
 *   npm run fuzz -- --inputs 2000 --target udp     # one target (wire|udp|tcp|ctl|http|all)
 *   npm run fuzz -- --seed 7 --from src            # another seed; the sources through tsx
 *   npm run fuzz -- --write-docs                   # also writes the figures into docs/security.md
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runFuzz } from '../test/fuzz/run.js';
import { inputsPerSecond, reportTable, TARGETS, type TargetName, type TargetReport } from '../test/fuzz/report.js';

const SECURITY_DOC = join(import.meta.dirname, '..', 'docs', 'security.md');
const START = '<!-- fuzz-figures:start -->';
const END = '<!-- fuzz-figures:end -->';

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '100000' },
    target: { type: 'string', default: 'all' },
    seed: { type: 'string', default: '1' },
    from: { type: 'string', default: 'dist' },
    hosts: { type: 'string', default: '127.0.0.241,127.0.0.242' },
    'write-docs': { type: 'boolean', default: false },
  },
});

const inputs = Number(values.inputs);
const seed = Number(values.seed);
const targets: TargetName[] = values.target === 'all' ? [...TARGETS] : (values.target.split(',') as TargetName[]);
const [hostA, hostB] = values.hosts.split(',');
if (!Number.isInteger(inputs) || inputs < 1 || !Number.isInteger(seed) || targets.some((t) => !TARGETS.includes(t)) || !hostA || !hostB || (values.from !== 'src' && values.from !== 'dist')) {
  console.error('usage: npm run fuzz -- [--inputs N] [--target all|wire|udp|tcp|ctl|http[,…]] [--seed N] [--from dist|src] [--hosts A,B] [--write-docs]');
  process.exit(2);
}
if (values.from === 'dist' && !existsSync(join(import.meta.dirname, '..', 'dist', 'app', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first, or pass --from src');
  process.exit(2);
}

const started = Date.now();
const run = await runFuzz({
  targets,
  inputs,
  seed,
  hosts: [hostA, hostB],
  from: values.from,
  log: (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}`),
});

const table = reportTable(run.reports);
const command = `npm run fuzz -- --inputs ${inputs} --target ${values.target} --seed ${seed} --from ${values.from}`;
console.log(`\n${table}\n`);
for (const r of run.reports) {
  console.log(`${r.target}: ${inputsPerSecond(r)} inputs/s; ${Object.entries(r.notes).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  for (const f of r.findings) console.log(`  ${f.kind}: ${f.detail}${f.input ? `\n    input: ${f.input}` : ''}`);
}
const bad = run.reports.some((r) => r.crashes > 0 || r.hangs > 0 || r.findings.length > 0 || r.ringAlive === false);
if (bad) console.log(`\nlast lines of the target:\n${run.targetTail.join('\n')}`);

if (values['write-docs']) {
  writeFigures(figuresSection(run.reports, command));
  console.log(`figures written to ${SECURITY_DOC}`);
}
process.exit(bad ? 1 : 0);

function figuresSection(reports: readonly TargetReport[], cmd: string): string {
  const total = reports.reduce((n, r) => n + r.inputs, 0);
  const when = new Date().toISOString().slice(0, 10);
  return [
    START,
    `Last long run (${when}): \`${cmd}\`, ${total} inputs in ${((Date.now() - started) / 1000).toFixed(0)} s on this project's shared 2-core machine.`,
    '',
    table,
    '',
    ...reports.map((r) => `- ${r.target}: ${Object.entries(r.notes).map(([k, v]) => `${k} ${v}`).join(', ')}`),
    END,
  ].join('\n');
}

/** Replaces the text between the markers (they must be in docs/security.md already). */
function writeFigures(section: string): void {
  const text = readFileSync(SECURITY_DOC, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${SECURITY_DOC} has no ${START} … ${END} block in its "Fuzzing" section`);
  writeFileSync(SECURITY_DOC, `${text.slice(0, a)}${section}${text.slice(b + END.length)}`);
}
