/**
 * Telling the service process a previous life of the Supervisor left running (it was killed with
 * SIGKILL, so nobody stopped the service) from an unrelated process that has since been given
 * the same PID. The service's PID file names the process; it is the orphan when it still runs,
 * leads its own process group (every service does: it is spawned with `setsid`), and either
 * - its environment holds this service's `HAB_SVC_PATH`, or
 * - it started when the PID file was written (the file is written as the process starts).
 *
 * The second test is needed because a process may overwrite its own environment: Redis, for one,
 * writes its process title over the memory `/proc/PID/environ` reads, so its environment shows
 * nothing, and an orphaned Redis kept the port its successor needed, which then failed to start
 * in a loop (found by the chaos suite, test/lab/chaos.test.ts).
 */
import { readFile } from 'node:fs/promises';

/** The kernel's clock ticks per second for `/proc/PID/stat` times (`USER_HZ`: 100 on every Linux ABI Node runs on). */
const USER_HZ = 100;

/**
 * How far the process's start may precede the PID file's modification time: it is written right
 * after the spawn, but a busy machine may delay it. After the write, the process cannot have
 * started, but the start time is read against the boot time, which moves with every
 * adjustment of the wall clock since (a few seconds of slack).
 */
const START_BEFORE_WRITE_MS = 10_000;
const START_AFTER_WRITE_MS = 5000;

export interface OrphanCheck {
  /** The service's directory: the orphan's environment names it as `HAB_SVC_PATH`. */
  svcPath: string;
  /** When the PID file was last written (`mtimeMs`). */
  pidFileWrittenMs: number;
}

/** Whether `pid` is the service process the PID file was written for, still running. */
export async function isOrphan(pid: number, check: OrphanCheck): Promise<boolean> {
  const stat = await readStat(pid);
  if (stat === null || stat.state === 'Z' || stat.pgrp !== pid) return false;
  const environ = await readFile(`/proc/${pid}/environ`).catch(() => null);
  if (environ !== null && environ.toString('latin1').split('\0').includes(`HAB_SVC_PATH=${check.svcPath}`)) return true;
  const boot = await bootTimeMs();
  if (boot === null) return false;
  const startedMs = boot + (stat.startTicks * 1000) / USER_HZ;
  return startedMs >= check.pidFileWrittenMs - START_BEFORE_WRITE_MS && startedMs <= check.pidFileWrittenMs + START_AFTER_WRITE_MS;
}

/** The fields of `/proc/PID/stat` read here, or null when the process is gone. */
export async function readStat(pid: number): Promise<{ state: string; pgrp: number; startTicks: number } | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (text === null) return null;
  // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); field 5 is the process group, field 22 the start time.
  const pgrp = Number(fields[2]);
  const startTicks = Number(fields[19]);
  if (!Number.isSafeInteger(pgrp) || !Number.isSafeInteger(startTicks)) return null;
  return { state: fields[0] ?? '', pgrp, startTicks };
}

/** The boot time (`btime` of /proc/stat), in ms since the epoch. */
async function bootTimeMs(): Promise<number | null> {
  const text = await readFile('/proc/stat', 'utf8').catch(() => null);
  const m = text === null ? null : /^btime (\d+)$/m.exec(text);
  return m ? Number(m[1]) * 1000 : null;
}
