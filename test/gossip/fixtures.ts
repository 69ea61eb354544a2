import type { ElectionRumor, Health, MemberInfo, MemberRumor } from '../../src/wire/index.js';

export const A = 'a'.repeat(32);
export const B = 'b'.repeat(32);
export const C = 'c'.repeat(32);

export function info(id: string, incarnation = 0, address = '10.0.0.1'): MemberInfo {
  return { id, incarnation, address, swimPort: 9638, gossipPort: 9638, persistent: false };
}

export function member(id: string, incarnation: number, health: Health, from = ''): MemberRumor {
  return { kind: 'member', member: info(id, incarnation), health, from };
}

export function election(memberId: string, over: Partial<ElectionRumor> = {}): ElectionRumor {
  return { kind: 'election', group: 'redis.prod', memberId, term: 0, suitability: 0, status: 'running', votes: [memberId], roster: [], rosterVersion: 0, ...over };
}
