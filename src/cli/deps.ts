import type { CtlApi, CtlClientOptions } from '../ctl/client.js';
import type { SimOptions, SimReport } from '../testkit/sim-types.js';
import type { SupRunRequest } from './sup.js';

/**
 * What the commands need from the outside world, passed in by app/ (the composition root), so
 * that cli/ stays a thin layer of parsing and rendering and can be tested with fakes.
 */
export interface CliDeps {
  /** Runs the gossip simulator (`murmur sim`). */
  simulate(options: SimOptions): Promise<SimReport> | SimReport;
  /** Runs a Supervisor until it stops; resolves to the process exit code (0, or 86 after departure). */
  runSupervisor(request: SupRunRequest): Promise<number>;
  /** Sends SIGTERM to the Supervisor holding this FS_ROOT's LOCK; resolves to its PID. */
  termSupervisor(): Promise<number>;
  /** The environment (HAB_*, FS_ROOT). */
  env: Readonly<Record<string, string | undefined>>;
  /** Reads all of standard input (key import, config apply). */
  readStdin(): Promise<string>;
  /** Reads a whole file; rejects as `fs.readFile` does (`code: 'ENOENT'`, …). */
  readFile(path: string): Promise<Uint8Array>;
  /** A client of a Supervisor's control gateway (config, file upload, sup depart, svc). */
  ctlClient(options: Pick<CtlClientOptions, 'address' | 'secret' | 'tls'>): CtlApi;
  /** Writes to standard output: reports and command results only. */
  stdout: (s: string) => void;
  /** Writes to standard error: errors, help after an error, progress. */
  stderr: (s: string) => void;
  /**
   * Standard error is a terminal: progress (`config apply --wait`) is one bar redrawn in place
   * rather than a line per change. @default false
   */
  stderrIsTTY?: boolean;
}
