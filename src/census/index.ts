/**
 * census: views derived from members and rumors, rebuilt from the store on every read (STYLE §6).
 * Start with `census.ts` (`buildCensus`, Habitat's `/census` shape).
 */
export * from './service-group.js';
export * from './counts.js';
export * from './census.js';
// The key id of an election rumor, for views that list rumors by key (`/butterfly`).
export { electionSlot } from '../gossip/index.js';
