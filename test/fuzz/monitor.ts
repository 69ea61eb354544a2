/**
 * The watch kept on a live Supervisor while it is fuzzed: a liveness check (`checkHealth`) every
 * `everyMs`, one at a time, recording the largest RSS and the slowest answer, and turning an
 * exit into a crash, a check over the bound into a hang, and an RSS over its bound into a finding. `finish` makes a last check and
 * reports what it saw into the target's report.
 */
import { checkHealth, isRunning, sleep, type LiveSup } from './live.js';
import { addFinding, type TargetReport } from './report.js';

export interface MonitorOptions {
  /** A check that takes longer than this (each route) is a hang. @default 5000 */
  boundMs?: number;
  /** Time between two checks. @default 1000 */
  everyMs?: number;
  /** An RSS above this is a finding. @default 1 GiB */
  rssBoundBytes?: number;
}

export class Monitor {
  maxRss = 0;
  firstRss: number | undefined;
  lastRss: number | undefined;
  maxMs = 0;
  checks = 0;
  private stopped = false;
  private crashed = false;
  private readonly loop: Promise<void>;
  private readonly boundMs: number;
  private readonly everyMs: number;
  private readonly rssBound: number;
  private overBound = false;

  constructor(
    private readonly sup: LiveSup,
    private readonly report: TargetReport,
    opts: MonitorOptions = {},
  ) {
    this.boundMs = opts.boundMs ?? 5000;
    this.everyMs = opts.everyMs ?? 1000;
    this.rssBound = opts.rssBoundBytes ?? 1024 * 1024 * 1024;
    this.loop = this.run();
  }

  /** Whether the Supervisor is still running (the fuzz loop stops early when it is not). */
  get alive(): boolean {
    return isRunning(this.sup);
  }

  async finish(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.check();
    this.report.maxRssBytes = Math.max(this.report.maxRssBytes ?? 0, this.maxRss);
    this.report.maxCheckMs = Math.max(this.report.maxCheckMs ?? 0, this.maxMs);
    this.report.checks = (this.report.checks ?? 0) + this.checks;
    const mib = (bytes: number | undefined): string => (bytes === undefined ? '?' : (bytes / 1024 / 1024).toFixed(0));
    this.report.notes.rssMiB = `${mib(this.firstRss)} at start, ${mib(this.lastRss)} at end`;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await this.check();
      const until = Date.now() + this.everyMs;
      while (!this.stopped && Date.now() < until) await sleep(Math.min(100, this.everyMs));
    }
  }

  private async check(): Promise<void> {
    if (this.crashed) return;
    const result = await checkHealth(this.sup, this.boundMs);
    this.checks++;
    if (result.rss !== undefined) {
      this.maxRss = Math.max(this.maxRss, result.rss);
      this.firstRss ??= result.rss;
      this.lastRss = result.rss;
      if (result.rss > this.rssBound && !this.overBound) {
        this.overBound = true;
        addFinding(this.report, { target: this.report.target, kind: 'property', detail: `RSS ${(result.rss / 1024 / 1024).toFixed(0)} MiB is over the bound of ${(this.rssBound / 1024 / 1024).toFixed(0)} MiB` });
      }
    }
    this.maxMs = Math.max(this.maxMs, result.ms);
    if (result.ok) return;
    // A Supervisor that is dying stops answering first: that is a crash, not also a hang.
    if (isRunning(this.sup)) await sleep(500);
    if (!isRunning(this.sup)) {
      this.crashed = true;
      addFinding(this.report, {
        target: this.report.target,
        kind: 'crash',
        detail: `the Supervisor ${result.problem ?? 'exited'}; its last lines:\n${this.sup.lines.slice(-30).join('\n')}`,
      });
    } else {
      addFinding(this.report, { target: this.report.target, kind: 'hang', detail: result.problem ?? 'no answer' });
    }
  }
}
