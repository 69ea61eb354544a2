/**
 * Time as a dependency: milliseconds on a monotonic scale. The gossip core never reads a clock
 * itself; the shell passes `now` into every call. Real code uses `systemClock`, the simulator a
 * virtual clock.
 */
export interface Clock {
  /** Milliseconds; only differences are meaningful. */
  now(): number;
}
