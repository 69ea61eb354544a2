/**
 * Real time for the gossip shell: `monotonicClock` (a core `Clock` on `performance.now()`, which
 * never jumps with the wall clock) and `RealTimers`, the `TimerService` that fires a callback at a
 * time on that clock's scale. The gossip core treats timers as data and ignores stale ones, so
 * nothing here cancels a single timer; `stop()` cancels them all when the member stops.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '../core/index.js';

/** Milliseconds since the process started, monotonic, sub-millisecond. */
export const monotonicClock: Clock = { now: () => performance.now() };

/** The longest delay `setTimeout` honours (a longer one fires after 1 ms, with a warning). */
const MAX_DELAY_MS = 2 ** 31 - 1;

export interface RealTimersDeps {
  /** @default monotonicClock */
  clock?: Clock;
}

export class RealTimers {
  private readonly clock: Clock;
  private readonly pending = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(deps: RealTimersDeps = {}) {
    this.clock = deps.clock ?? monotonicClock;
  }

  /** Timers scheduled and not yet fired or cancelled. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Calls `fire` at `at` (ms on the clock's scale) or as soon after as possible; a time already
   * past fires on the next turn of the event loop, never synchronously. `fire` never runs before
   * `at` by the clock: Node measures timeouts against a loop time cached per turn, which can
   * wake a timer up to a millisecond early, so an early wake-up re-arms for the rest. After
   * `stop()` this does nothing.
   */
  at(at: number, fire: () => void): void {
    if (this.stopped) return;
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, at - this.clock.now()));
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      if (this.clock.now() < at) this.at(at, fire);
      else fire();
    }, delay);
    this.pending.add(timer);
  }

  /** Cancels every pending timer; later `at` calls are ignored. Idempotent. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}
