/**
 * The simulator's options and report as plain data: what `murmur sim` parses and renders, and
 * what the simulator (`simulate.ts`) takes and returns. Types only, so that the CLI can
 * `import type` them without depending on the testkit's code.
 */

export type SimScenario = 'rumor' | 'kill' | 'churn' | 'idle';
export type PresetName = 'lan' | 'localTest';

export interface SimOptions {
  members: number;
  loss: number;
  seed: number;
  durationS?: number;
  preset: PresetName;
  scenario: SimScenario;
  delayMs?: number;
  jitterMs?: number;
}

export interface Percentiles {
  p50: number | null;
  p99: number | null;
  p100: number | null;
}

export interface SimReport {
  members: number;
  loss: number;
  seed: number;
  scenario: SimScenario;
  preset: PresetName;
  virtualMs: number;
  wallMs: number;
  messagesPerMemberPerSecond: number;
  bytesPerMemberPerSecond: number;
  disseminationMs?: Percentiles;
  detectionMs?: Percentiles;
  falseSuspicions?: number;
  falseConfirmations?: number;
  [extra: string]: unknown;
}
