/**
 * Habitat's acceptance rule for member records (reference §1): a record wins with a higher
 * incarnation, or with an equal incarnation and a worse health.
 */
import type { Health, MemberRumor } from '../wire/index.js';

const RANK: Record<Health, number> = { alive: 0, suspect: 1, confirmed: 2, departed: 3 };

/** Negative when `a` is healthier than `b`. */
export function compareHealth(a: Health, b: Health): number {
  return RANK[a] - RANK[b];
}

/** True when `incoming` should replace `current`. */
export function memberRecordWins(current: MemberRumor, incoming: MemberRumor): boolean {
  if (incoming.member.incarnation !== current.member.incarnation) {
    return incoming.member.incarnation > current.member.incarnation;
  }
  return compareHealth(incoming.health, current.health) > 0;
}
