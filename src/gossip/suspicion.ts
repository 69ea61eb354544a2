/**
 * Lifeguard's dynamic suspicion timeout (§4.2; memberlist `suspicion.go`). A suspicion starts at
 * `max` and shrinks toward `min` as independent members confirm it:
 *
 *   timeout(c) = max(min, max − (max − min) × log(c + 1) / log(K + 1))
 *
 * A confirmation counts once per confirming member, and never from the member that started the
 * suspicion or from this member itself.
 */
import type { MemberId } from '../core/index.js';

export function suspicionTimeout(min: number, max: number, k: number, confirmations: number): number {
  if (k < 1) return min;
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  return Math.max(min, Math.floor(max - (max - min) * frac));
}

export class Suspicion {
  private readonly confirmers = new Set<MemberId>();

  constructor(
    readonly member: MemberId,
    readonly incarnation: number,
    readonly startedAt: number,
    /** Who started it (the first suspector we heard of). */
    readonly origin: MemberId | '',
    private readonly self: MemberId,
    private readonly min: number,
    private readonly max: number,
    private readonly k: number,
  ) {}

  get confirmations(): number {
    return this.confirmers.size;
  }

  /** Records a confirmation; true if it was new and independent. */
  confirm(from: MemberId | ''): boolean {
    if (from === '' || from === this.origin || from === this.self || from === this.member) return false;
    if (this.confirmers.size >= this.k || this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    return true;
  }

  /** When this suspicion turns into a confirmation (ms). */
  deadline(): number {
    return this.startedAt + suspicionTimeout(this.min, this.max, this.k, this.confirmers.size);
  }
}
