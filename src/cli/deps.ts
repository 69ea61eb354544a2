import type { SimOptions, SimReport } from '../testkit/sim-types.js';

/**
 * What the commands need from the outside world, passed in by app/ (the composition root), so
 * that cli/ stays a thin layer of parsing and rendering and can be tested with fakes.
 */
export interface CliDeps {
  /** Runs the gossip simulator (`murmur sim`). */
  simulate(options: SimOptions): Promise<SimReport> | SimReport;
  /** Writes to standard output: reports and command results only. */
  stdout: (s: string) => void;
  /** Writes to standard error: errors, help after an error, progress. */
  stderr: (s: string) => void;
}
