/**
 * The event queue under `VirtualScheduler`: a binary min-heap of (time, seq) keys, each carrying a
 * callback and one argument.
 *
 * Layout, for speed with millions of queued events: the heap itself holds only numbers, in typed
 * arrays (time, seq, and the slot where the event's payload lives), so sifting moves plain doubles
 * and never touches object pointers (no GC write barriers). The payload (callback and argument) is
 * written once into a slot, taken from a free list, and read once when the event runs. Nothing is
 * allocated per event once the arrays have grown (they double, and never shrink). Sifting moves a
 * "hole" instead of swapping, which halves the writes. `seq` is assigned here and only breaks ties:
 * equal times pop in push order.
 */

/** A queued callback: called as `fn(arg)`. */
export type EventFn = (arg: never) => void;

const INITIAL_CAPACITY = 1024;

export class EventHeap {
  // The heap, in three parallel arrays indexed by heap position.
  private times = new Float64Array(INITIAL_CAPACITY);
  /** Doubles, not int32: a long run pushes more than 2^32 events; 2^53 is out of reach. */
  private seqs = new Float64Array(INITIAL_CAPACITY);
  private slots = new Int32Array(INITIAL_CAPACITY);
  private count = 0;
  private nextSeq = 0;
  // Payloads, indexed by slot; `free` is a stack of unused slots.
  private fns: (EventFn | undefined)[] = [];
  private args: unknown[] = [];
  private free = new Int32Array(INITIAL_CAPACITY);
  private freeCount = 0;

  get size(): number {
    return this.count;
  }

  /** Time of the earliest event, or `Infinity` when the heap is empty. */
  peekTime(): number {
    return this.count === 0 ? Infinity : (this.times[0] as number);
  }

  push(time: number, fn: EventFn, arg: unknown): void {
    if (this.count === this.times.length) this.grow();
    let slot: number;
    if (this.freeCount > 0) {
      slot = this.free[--this.freeCount] as number;
      this.fns[slot] = fn;
      this.args[slot] = arg;
    } else {
      slot = this.fns.length;
      this.fns.push(fn);
      this.args.push(arg);
    }
    const seq = this.nextSeq++;
    const times = this.times;
    const seqs = this.seqs;
    const slots = this.slots;
    // Sift up: move parents down into the hole until the new key fits.
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent] as number;
      if (pt < time || (pt === time && (seqs[parent] as number) < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[parent] as number;
      slots[i] = slots[parent] as number;
      i = parent;
    }
    times[i] = time;
    seqs[i] = seq;
    slots[i] = slot;
  }

  /**
   * Removes the earliest event and calls it. The event is out of the heap before the call, so the
   * callback may push new events (even at the same time; they run after every event already queued
   * there). The heap must not be empty.
   */
  popAndRun(): void {
    const slot = this.slots[0] as number;
    const fn = this.fns[slot] as (arg: unknown) => void;
    const arg = this.args[slot];
    this.fns[slot] = undefined;
    this.args[slot] = undefined;
    this.free[this.freeCount++] = slot;
    this.removeRoot();
    fn(arg);
  }

  /** Drops every queued event. */
  clear(): void {
    this.count = 0;
    this.fns = [];
    this.args = [];
    this.freeCount = 0;
  }

  private removeRoot(): void {
    const times = this.times;
    const seqs = this.seqs;
    const slots = this.slots;
    const n = --this.count;
    if (n === 0) return;
    const t = times[n] as number;
    const s = seqs[n] as number;
    const slot = slots[n] as number;
    // Sift down: pull the smaller child up into the hole until the last element fits.
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let ct = times[child] as number;
      let cs = seqs[child] as number;
      const right = child + 1;
      if (right < n) {
        const rt = times[right] as number;
        const rs = seqs[right] as number;
        if (rt < ct || (rt === ct && rs < cs)) {
          child = right;
          ct = rt;
          cs = rs;
        }
      }
      if (t < ct || (t === ct && s < cs)) break;
      times[i] = ct;
      seqs[i] = cs;
      slots[i] = slots[child] as number;
      i = child;
    }
    times[i] = t;
    seqs[i] = s;
    slots[i] = slot;
  }

  private grow(): void {
    const capacity = this.times.length * 2;
    const times = new Float64Array(capacity);
    times.set(this.times);
    this.times = times;
    const seqs = new Float64Array(capacity);
    seqs.set(this.seqs);
    this.seqs = seqs;
    const slots = new Int32Array(capacity);
    slots.set(this.slots);
    this.slots = slots;
    // Free slots never outnumber queued events, so the free list grows alongside.
    const free = new Int32Array(capacity);
    free.set(this.free);
    this.free = free;
  }
}
