/**
 * Lifeguard's local health multiplier (LHM, §4.1 of the paper; memberlist `awareness.go`): a
 * score in [0, max − 1] that rises when this member shows signs of being the slow one (missed
 * nacks, having to refute a suspicion of itself) and falls with each successful probe. Its own
 * probe interval and timeout are multiplied by score + 1, so a starved member probes less often
 * and waits longer before it accuses anyone.
 */
export class Awareness {
  private score = 0;
  constructor(private readonly max: number) {}

  get value(): number {
    return this.score;
  }

  apply(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
  }

  /** `base × (score + 1)`. */
  scale(base: number): number {
    return base * (this.score + 1);
  }
}
