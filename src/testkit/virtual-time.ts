/**
 * Virtual time for tests and the simulator: a discrete-event scheduler. Nothing happens between
 * events, so a simulated hour of a 10 000-member ring costs only the events it contains.
 *
 * Time is in milliseconds (fractions allowed) and only moves forward. Events are callbacks queued
 * at an absolute time; they run in time order, and events at the same time run in the order they
 * were queued (FIFO), so a run is a pure function of what was queued: with a seeded `Random`, the
 * same seed replays the same run.
 *
 * Boundedness: every `run*` method takes a time bound and never runs an event later than it. A
 * callback may queue more events, even at the current time; they run in the same `run*` call if
 * they fall within the bound. The one way to spin forever inside a bound is a chain of events that
 * never lets time advance (an event that re-queues itself at `now`, or at delays too small to
 * change a double); the scheduler counts events run without time advancing and throws once
 * `maxEventsPerInstant` is exceeded.
 *
 * The queue is an `EventHeap` (binary min-heap keyed by (time, seq)); queueing allocates nothing
 * beyond the callback the caller passes. Hot callers can pass one long-lived function and a
 * per-event argument (`at(time, fn, arg)`) instead of a fresh closure per event.
 *
 * `VirtualScheduler` is a `Clock` as far as reading goes: `{ now: () => scheduler.now }`.
 */
import { EventHeap, type EventFn } from './heap.js';

export interface VirtualSchedulerOptions {
  /**
   * The initial `now`, in ms.
   * @default 0
   */
  start?: number;
  /**
   * How many events may run at one instant, without time advancing, before the scheduler decides
   * that a callback keeps re-queueing itself at `now` and throws. Generous: a 10 000-member ring
   * that starts every member at t=0 runs 10 000 events at one instant.
   * @default 10_000_000
   */
  maxEventsPerInstant?: number;
}

export class VirtualScheduler {
  private readonly heap = new EventHeap();
  private time: number;
  private readonly maxEventsPerInstant: number;
  /** Events run since `time` last changed; see `maxEventsPerInstant`. */
  private eventsThisInstant = 0;
  private running = false;
  private eventCount = 0;

  constructor(opts: VirtualSchedulerOptions = {}) {
    const start = opts.start ?? 0;
    if (!Number.isFinite(start)) throw new RangeError(`start must be finite, got ${start}`);
    const max = opts.maxEventsPerInstant ?? 10_000_000;
    if (!(max >= 1)) throw new RangeError(`maxEventsPerInstant must be >= 1, got ${max}`);
    this.time = start;
    this.maxEventsPerInstant = max;
  }

  /** The current virtual time, in ms. Inside a callback: the time that event was queued for. */
  get now(): number {
    return this.time;
  }

  /** Events queued and not yet run. */
  get pending(): number {
    return this.heap.size;
  }

  /** Events run since construction. */
  get eventsRun(): number {
    return this.eventCount;
  }

  /** Time of the next queued event, or `undefined` when nothing is queued. */
  get nextEventTime(): number | undefined {
    return this.heap.size === 0 ? undefined : this.heap.peekTime();
  }

  /**
   * Queues `fn` (called as `fn(arg)`) at absolute time `time`, which must be finite and not
   * before `now`. Equal times run in the order queued.
   */
  at(time: number, fn: () => void): void;
  at<A>(time: number, fn: (arg: A) => void, arg: A): void;
  at(time: number, fn: EventFn, arg?: unknown): void {
    if (!(time >= this.time) || time === Infinity) {
      throw new RangeError(`cannot schedule at ${time}: now is ${this.time}`);
    }
    this.heap.push(time, fn, arg);
  }

  /** Queues `fn` (called as `fn(arg)`) `delayMs` (finite, >= 0) after `now`. */
  after(delayMs: number, fn: () => void): void;
  after<A>(delayMs: number, fn: (arg: A) => void, arg: A): void;
  after(delayMs: number, fn: EventFn, arg?: unknown): void {
    if (!(delayMs >= 0) || delayMs === Infinity) {
      throw new RangeError(`delay must be finite and >= 0, got ${delayMs}`);
    }
    this.heap.push(this.time + delayMs, fn, arg);
  }

  /**
   * Runs every event with time <= `time`, in order, including those queued meanwhile, then sets
   * `now` to `time`. `time` must not be before `now`. Returns the number of events run.
   */
  runUntil(time: number): number {
    if (!(time >= this.time) || time === Infinity) {
      throw new RangeError(`cannot run until ${time}: now is ${this.time}`);
    }
    this.enter();
    const before = this.eventCount;
    try {
      const heap = this.heap;
      while (heap.size > 0 && heap.peekTime() <= time) this.runNext();
      this.advanceTo(time);
    } finally {
      this.running = false;
    }
    return this.eventCount - before;
  }

  /** `runUntil(now + ms)`. */
  runFor(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`cannot run for ${ms} ms`);
    return this.runUntil(this.time + ms);
  }

  /**
   * Runs events in order while `predicate()` holds, checking it before each event, and never past
   * `limitTime`. Returns true if the predicate turned false: `now` is then the time of the last
   * event run (or unchanged if it was false from the start). Otherwise `now` ends at `limitTime`,
   * where the predicate is checked once more, and the result is whether it is false there.
   */
  runWhile(predicate: () => boolean, limitTime: number): boolean {
    if (!(limitTime >= this.time) || limitTime === Infinity) {
      throw new RangeError(`cannot run until ${limitTime}: now is ${this.time}`);
    }
    this.enter();
    try {
      const heap = this.heap;
      while (predicate()) {
        if (heap.size === 0 || heap.peekTime() > limitTime) {
          this.advanceTo(limitTime);
          return !predicate();
        }
        this.runNext();
      }
      return true;
    } finally {
      this.running = false;
    }
  }

  /** Drops every queued event; `now` and `eventsRun` are kept. */
  clear(): void {
    this.heap.clear();
  }

  private runNext(): void {
    this.advanceTo(this.heap.peekTime());
    if (++this.eventsThisInstant > this.maxEventsPerInstant) {
      throw new Error(
        `virtual time stalled at ${this.time} ms: more than ${this.maxEventsPerInstant} events ` +
          'ran without time advancing (an event re-queueing itself at now?)',
      );
    }
    this.eventCount++;
    this.heap.popAndRun();
  }

  private advanceTo(time: number): void {
    if (time !== this.time) {
      this.time = time;
      this.eventsThisInstant = 0;
    }
  }

  private enter(): void {
    if (this.running) {
      throw new Error('VirtualScheduler run* called from inside an event; queue an event instead');
    }
    this.running = true;
  }
}
