/**
 * What a fuzz run reports per target: inputs sent, how fast, crashes, hangs, the largest RSS,
 * the slowest liveness check, and every finding with the input that caused it (hex, cut to
 * `MAX_INPUT_HEX` characters), so that a finding can become a regression test.
 */

export type TargetName = 'wire' | 'udp' | 'tcp' | 'ctl' | 'http';
export const TARGETS: readonly TargetName[] = ['wire', 'udp', 'tcp', 'ctl', 'http'];

export interface Finding {
  target: TargetName;
  /** `crash`: an exception escaped or the process exited; `hang`: no answer within the bound; `property`: a wrong answer. */
  kind: 'crash' | 'hang' | 'property' | 'server-error';
  detail: string;
  /** The input, hex or text, cut short. */
  input?: string;
}

export interface TargetReport {
  target: TargetName;
  inputs: number;
  seconds: number;
  crashes: number;
  hangs: number;
  /** Largest RSS of the fuzzed Supervisor during the run, bytes (live targets). */
  maxRssBytes?: number;
  /** Slowest liveness check (`/butterfly`, ctl status), ms (live targets). */
  maxCheckMs?: number;
  /** Liveness checks made during and after the run. */
  checks?: number;
  /** After the run: the peer still sees the target alive, and the target the peer (udp, tcp). */
  ringAlive?: boolean;
  /** Counters worth printing (decode errors, statuses, input kinds…). */
  notes: Record<string, number | string>;
  findings: Finding[];
}

const MAX_INPUT_HEX = 2048;
const MAX_FINDINGS = 50;

export function hexOf(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes.subarray(0, MAX_INPUT_HEX / 2)).toString('hex');
  return bytes.length * 2 > MAX_INPUT_HEX ? `${hex}… (${bytes.length} bytes)` : hex;
}

export function addFinding(report: TargetReport, finding: Finding): void {
  if (finding.kind === 'crash') report.crashes++;
  if (finding.kind === 'hang') report.hangs++;
  if (report.findings.length < MAX_FINDINGS) report.findings.push(finding);
}

export function emptyReport(target: TargetName): TargetReport {
  return { target, inputs: 0, seconds: 0, crashes: 0, hangs: 0, notes: {}, findings: [] };
}

export function inputsPerSecond(r: TargetReport): number {
  return r.seconds > 0 ? Math.round(r.inputs / r.seconds) : 0;
}

const MIB = 1024 * 1024;

/** The figures as a Markdown table, one row per target. */
export function reportTable(reports: readonly TargetReport[]): string {
  const rows = reports.map((r) =>
    [
      r.target,
      String(r.inputs),
      r.seconds.toFixed(1),
      String(inputsPerSecond(r)),
      String(r.crashes),
      String(r.hangs),
      r.maxRssBytes === undefined ? '—' : (r.maxRssBytes / MIB).toFixed(0),
      r.maxCheckMs === undefined ? '—' : r.maxCheckMs.toFixed(0),
      r.ringAlive === undefined ? '—' : r.ringAlive ? 'yes' : '**no**',
      String(r.findings.filter((f) => f.kind === 'property' || f.kind === 'server-error').length),
    ].join(' | '),
  );
  return [
    '| target | inputs | seconds | inputs/s | crashes | hangs | max RSS (MiB) | slowest check (ms) | ring alive after | other findings |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|---:|',
    ...rows.map((row) => `| ${row} |`),
  ].join('\n');
}
