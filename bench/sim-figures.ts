/**
 * The simulator figures of docs/benchmarks.md, measured through the real CLI
 * (`./bin/murmur sim --json`), printed as a Markdown section.
 *
 *   npm run bench:sim            # all figures (about 2 minutes on 2 cores)
 *   npm run bench:sim -- --quick # smaller runs, for a smoke check
 *
 * Serf cannot run inside the simulator, so the Serf column holds the figures the issue measured
 * for Serf 0.9 on this machine kind; the same-run comparison against real Serf agents lives in
 * the Supervisor benchmark.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const quick = process.argv.includes('--quick');

interface Report {
  wallMs: number;
  virtualMs: number;
  bytesPerMemberPerSecond: number;
  messagesPerMemberPerSecond: number;
  disseminationMs?: { p50: number | null; p99: number | null; p100: number | null };
  detectionMs?: { p50: number | null; p99: number | null; p100: number | null };
  falseSuspicions?: number;
  falseConfirmations?: number;
}

function sim(args: string[]): Report {
  const out = execFileSync(`${root}/bin/murmur`, ['sim', ...args, '--json'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out) as Report;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const fmt = (ms: number | null | undefined): string => (ms === null || ms === undefined ? 'never' : `${(ms / 1000).toFixed(2)} s`);
const lines: string[] = [];
const row = (...cells: string[]): void => void lines.push(`| ${cells.join(' | ')} |`);

const rumorArgs = ['--members', quick ? '1000' : '10000', '--loss', '0.01', '--scenario', 'rumor', '--seed', '1'];
const rumor = sim(rumorArgs);
const idleLossArgs = ['--members', quick ? '200' : '1000', '--loss', '0.10', '--scenario', 'idle', '--duration', quick ? '60' : '600', '--seed', '1'];
const idleLoss = sim(idleLossArgs);
const idleArgs = ['--members', '100', '--scenario', 'idle', '--duration', '120', '--seed', '1'];
const idle = sim(idleArgs);
const seeds = Array.from({ length: quick ? 5 : 20 }, (_, i) => i + 1);
const kills = seeds.map((seed) => sim(['--members', '100', '--scenario', 'kill', '--preset', 'lan', '--seed', String(seed)]));
const detections = kills.map((k) => k.detectionMs?.p100 ?? Infinity);

lines.push(`Measured ${new Date().toISOString().slice(0, 10)} on this machine (2 cores), \`npm run bench:sim${quick ? ' -- --quick' : ''}\`.`, '');
row('figure', 'command', 'target', 'murmur', 'Serf (reference)', 'ratio');
row('---', '---', '---', '---', '---', '---');
row(
  'rumor reaches every member (p100)',
  `\`murmur sim ${rumorArgs.join(' ')}\``,
  '≤ 2 s virtual',
  `${fmt(rumor.disseminationMs?.p100)} (p50 ${fmt(rumor.disseminationMs?.p50)}, p99 ${fmt(rumor.disseminationMs?.p99)})`,
  '—',
  '—',
);
row('wall time of that run', 'same', '≤ 60 s', `${(rumor.wallMs / 1000).toFixed(1)} s`, '—', '—');
row(
  'false confirmations at 10 % loss, idle',
  `\`murmur sim ${idleLossArgs.join(' ')}\``,
  '0',
  `${idleLoss.falseConfirmations} (false suspicions: ${idleLoss.falseSuspicions}, none confirmed)`,
  '—',
  '—',
);
const med = median(detections);
row(
  'kill → confirmed by every live member, N=100, lan',
  '`murmur sim --members 100 --scenario kill --seed 1`',
  '≤ 5 s',
  `${fmt(detections[0])} (seed 1); over ${seeds.length} seeds median ${fmt(med)}, worst ${fmt(Math.max(...detections))}, ${detections.filter((d) => d <= 5000).length}/${seeds.length} within 5 s`,
  '9.7 s',
  `${(med / 9700).toFixed(2)} (median)`,
);
row(
  'idle bytes per member per second, N=100',
  `\`murmur sim ${idleArgs.join(' ')}\``,
  '≤ Serf',
  `${idle.bytesPerMemberPerSecond} B/s (${idle.messagesPerMemberPerSecond} msgs/s)`,
  '≈ 270 B/s',
  (idle.bytesPerMemberPerSecond / 270).toFixed(2),
);
console.log(lines.join('\n'));
