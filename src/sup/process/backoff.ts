/**
 * Restart backoff for a service whose process keeps exiting: Habitat's decorrelated jitter
 * (`components/core/src/flowcontrol/backoff.rs`, reference §7 "Restart backoff"). The first wait
 * is `minMs`; every later wait is drawn uniformly from [minMs, 3 × previous wait], capped at
 * `maxMs`. Once the service has stayed up for `cooldownMs`, the next crash starts over at `minMs`.
 *
 * Habitat defaults min = max = 0: a crash-looping service is respawned in a hot loop, which fills
 * the log and burns a core. Our defaults (`DEFAULT_BACKOFF`):
 * - `minMs` 1 s: a one-off crash is back within a second, a crash loop costs at most one spawn
 *   per second from the start. (With min = 0 the formula never leaves 0, whatever `maxMs` is.)
 * - `maxMs` 60 s: reached after about five crashes in a row (1 → ≤3 → ≤9 → ≤27 → ≤60 s); long
 *   enough to be cheap, short enough that a service whose dependency comes back (a database, a
 *   mount) is up again within a minute, without an operator.
 * - `cooldownMs` 300 s: Habitat's `--service-restart-cooldown-period` default.
 *
 * Time and randomness are dependencies, so a seeded `Random` replays a sequence exactly.
 */
import { MurmurError, type Clock, type Random } from '../../core/index.js';

export interface BackoffOptions {
  /**
   * The first wait, and the least of any wait, in ms. Habitat's `--service-min-backoff-period`.
   * @default 1_000
   */
  minMs: number;
  /**
   * The most any wait can be, in ms. Habitat's `--service-max-backoff-period`.
   * @default 60_000
   */
  maxMs: number;
  /**
   * How long a service must stay up, in ms, for its next crash to start over at `minMs`.
   * Habitat's `--service-restart-cooldown-period`.
   * @default 300_000
   */
  cooldownMs: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  minMs: 1_000,
  maxMs: 60_000,
  cooldownMs: 300_000,
});

/** Habitat's multiplier: a wait is at most three times the one before. */
export const BACKOFF_MULTIPLIER = 3;

export interface BackoffDeps {
  clock: Clock;
  random: Random;
}

export class Backoff {
  readonly options: Readonly<BackoffOptions>;
  private readonly clock: Clock;
  private readonly random: Random;
  private previous: number | null = null;
  private upSince: number | null = null;
  private count = 0;

  constructor(deps: BackoffDeps, opts: Partial<BackoffOptions> = {}) {
    const o = { ...DEFAULT_BACKOFF, ...opts };
    for (const [key, value] of Object.entries(o)) {
      if (!(Number.isFinite(value) && value >= 0)) {
        throw new MurmurError('BAD_INPUT', `backoff ${key} must be a finite number >= 0, got ${value}`);
      }
    }
    if (o.maxMs < o.minMs) {
      throw new MurmurError('BAD_INPUT', `backoff maxMs (${o.maxMs}) must not be less than minMs (${o.minMs})`);
    }
    this.options = Object.freeze(o);
    this.clock = deps.clock;
    this.random = deps.random;
  }

  /** Waits handed out since the last reset. */
  get attempts(): number {
    return this.count;
  }

  /** The service is up (its process started): the cooldown counts from now. */
  up(): void {
    this.upSince = this.clock.now();
  }

  /**
   * The service went down and will be restarted: how long to wait first, in ms. If it had been
   * up for the cooldown, the sequence starts over.
   */
  next(): number {
    const { minMs, maxMs, cooldownMs } = this.options;
    if (this.upSince !== null && this.clock.now() - this.upSince >= cooldownMs) this.reset();
    this.upSince = null;
    let wait: number;
    if (this.previous === null) {
      wait = minMs;
    } else {
      const high = Math.min(maxMs, this.previous * BACKOFF_MULTIPLIER);
      wait = high <= minMs ? minMs : minMs + this.random.next() * (high - minMs);
    }
    wait = Math.round(Math.min(wait, maxMs));
    this.previous = wait;
    this.count++;
    return wait;
  }

  /** Start over: the next wait is `minMs` (an operator's restart, a fresh start). */
  reset(): void {
    this.previous = null;
    this.upSince = null;
    this.count = 0;
  }
}
