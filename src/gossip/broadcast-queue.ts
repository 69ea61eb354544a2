/**
 * The hot rumors of one member and how often each has been sent (Habitat's "heat",
 * memberlist's `TransmitLimitedQueue`). Every send — at-once push, gossip round or SWIM
 * piggyback — counts; a rumor cools after `limit` sends. A newer rumor with the same key
 * replaces the older one and starts cold again. Picks go least-sent first, so fresh rumors
 * travel before repeats.
 */
import type { Rumor } from '../wire/index.js';

interface Hot {
  key: string;
  rumor: Rumor;
  sends: number;
  /** Insertion order, to break ties deterministically (newest first). */
  order: number;
}

export class BroadcastQueue {
  private readonly hot = new Map<string, Hot>();
  private counter = 0;

  constructor(private readonly maxSize: number) {}

  get size(): number {
    return this.hot.size;
  }

  has(key: string): boolean {
    return this.hot.has(key);
  }

  /** Makes `rumor` hot (replacing what was queued under `key`). */
  enqueue(key: string, rumor: Rumor): void {
    this.hot.set(key, { key, rumor, sends: 0, order: this.counter++ });
    if (this.hot.size > this.maxSize) this.dropMostSent();
  }

  remove(key: string): void {
    this.hot.delete(key);
  }

  /**
   * Picks hot rumors least-sent first whose sizes (from `sizeOf`) fit in `budget` bytes, counts
   * one send for each, and cools those that reach `limit`.
   */
  take(budget: number, limit: number, sizeOf: (r: Rumor) => number, skip?: (key: string) => boolean): Rumor[] {
    if (this.hot.size === 0 || budget <= 0) return [];
    const ordered = [...this.hot.values()].sort((a, b) => a.sends - b.sends || b.order - a.order);
    const out: Rumor[] = [];
    let left = budget;
    for (const h of ordered) {
      if (skip?.(h.key)) continue;
      const size = sizeOf(h.rumor);
      if (size > left) {
        if (left < 16) break;
        continue;
      }
      left -= size;
      out.push(h.rumor);
      h.sends++;
      if (h.sends >= limit) this.hot.delete(h.key);
      if (left < 16) break;
    }
    return out;
  }

  /**
   * Hot rumors too big for a datagram (`sizeOf(r) > threshold`): they go on a stream, one
   * send counted each.
   */
  takeOversize(threshold: number, limit: number, sizeOf: (r: Rumor) => number): Rumor[] {
    const out: Rumor[] = [];
    for (const h of [...this.hot.values()]) {
      if (sizeOf(h.rumor) <= threshold) continue;
      out.push(h.rumor);
      h.sends++;
      if (h.sends >= limit) this.hot.delete(h.key);
    }
    return out;
  }

  private dropMostSent(): void {
    let worst: Hot | undefined;
    for (const h of this.hot.values()) {
      if (!worst || h.sends > worst.sends || (h.sends === worst.sends && h.order < worst.order)) worst = h;
    }
    if (worst) this.hot.delete(worst.key);
  }
}
