/**
 * Timers as a dependency of the service lifecycle: the restart backoff and the post-run retry
 * delay are scheduled through `Timers`, so tests of the state machine can drive them by hand.
 * (Kill deadlines of a child are plain `setTimeout`: they exist only around a real process.)
 */

export interface Timers {
  /** Calls `fire` once after `ms` milliseconds; the handle cancels it. */
  setTimeout(fire: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fire, ms) => setTimeout(fire, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Resolves after `ms`, or as soon as `signal` aborts; `true` if the full time passed. The timer
 * and the abort listener are always removed.
 */
export function sleep(timers: Timers, ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    const finish = (elapsed: boolean): void => {
      timers.clearTimeout(handle);
      signal.removeEventListener('abort', onAbort);
      resolve(elapsed);
    };
    const onAbort = (): void => finish(false);
    const handle = timers.setTimeout(() => finish(true), Math.max(0, ms));
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
