/**
 * One fuzz run over the chosen targets: the wire decoders in-process, then a live target
 * Supervisor and a normal peer joined to it (started once, on `hosts`), fuzzed in turn on UDP,
 * TCP, the control gateway and the HTTP gateway. The live ones are checked throughout
 * (`Monitor`); after the last target the target's whole output is searched for errors.
 * `bench/fuzz.ts` (the long run, `npm run fuzz`) and `fuzz.test.ts` (the short run in `npm test`)
 * both call `runFuzz`.
 */
import { fuzzWire } from './wire-target.js';
import { fuzzTcp, fuzzUdp } from './gossip-targets.js';
import { fuzzCtl, fuzzHttp } from './http-targets.js';
import { startLiveSup, stopLiveSup, waitSeesAlive, type LiveSup, type SupBuild } from './live.js';
import type { MonitorOptions } from './monitor.js';
import { addFinding, emptyReport, TARGETS, type TargetName, type TargetReport } from './report.js';

export interface FuzzRunOptions {
  targets: readonly TargetName[];
  /** Inputs per target. */
  inputs: number;
  seed: number;
  /** Loopback addresses of the target and its peer. */
  hosts: readonly [string, string];
  /** Run the Supervisors from the sources (tsx) or the build (bin/murmur). @default 'src' */
  from?: SupBuild;
  monitor?: MonitorOptions;
  log?: (line: string) => void;
}

export interface FuzzRun {
  reports: TargetReport[];
  /** Lines of the target's output kept for a failed run. */
  targetTail: string[];
}

export async function runFuzz(opts: FuzzRunOptions): Promise<FuzzRun> {
  const log = opts.log ?? (() => {});
  const reports: TargetReport[] = [];
  const targets = TARGETS.filter((t) => opts.targets.includes(t));
  if (targets.includes('wire')) {
    log(`wire: ${opts.inputs} inputs in-process`);
    reports.push(await fuzzWire({ inputs: opts.inputs, seed: opts.seed, onProgress: (n) => log(`wire: ${n}`) }));
  }
  const live = targets.filter((t) => t !== 'wire');
  if (live.length === 0) return { reports, targetTail: [] };

  let target: LiveSup | undefined;
  let peer: LiveSup | undefined;
  try {
    target = await startLiveSup({ host: opts.hosts[0], from: opts.from ?? 'src' });
    peer = await startLiveSup({ host: opts.hosts[1], from: opts.from ?? 'src', peers: [target.gossip] });
    log(`target ${target.id} gossip ${target.gossip} http ${target.http} ctl ${target.ctl}; peer ${peer.gossip}`);
    if (!(await waitSeesAlive(peer, target, 30_000)) || !(await waitSeesAlive(target, peer, 30_000))) {
      throw new Error('the target and its peer did not see each other alive before fuzzing');
    }
    for (const name of live) {
      if (target.proc.exitCode !== null || target.proc.signalCode !== null) {
        const r = emptyReport(name);
        addFinding(r, { target: name, kind: 'crash', detail: 'the target was not running at the start of this target' });
        reports.push(r);
        continue;
      }
      log(`${name}: ${opts.inputs} inputs to ${name === 'ctl' ? target.ctl : name === 'http' ? target.http : target.gossip}`);
      const progress = (n: number): void => log(`${name}: ${n}`);
      const common = { inputs: opts.inputs, seed: opts.seed, target, ...(opts.monitor ? { monitor: opts.monitor } : {}), onProgress: progress };
      const report =
        name === 'udp'
          ? await fuzzUdp({ ...common, peer })
          : name === 'tcp'
            ? await fuzzTcp({ ...common, peer })
            : name === 'ctl'
              ? await fuzzCtl({ ...common, protectedIds: [target.id, peer.id] })
              : await fuzzHttp({ ...common, protectedIds: [target.id, peer.id] });
      reports.push(report);
      log(`${name}: ${report.inputs} inputs in ${report.seconds.toFixed(1)} s, crashes ${report.crashes}, hangs ${report.hangs}, findings ${report.findings.length}`);
    }
    return { reports, targetTail: target.lines.slice(-50) };
  } finally {
    for (const s of [target, peer]) if (s) await stopLiveSup(s);
  }
}
