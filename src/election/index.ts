/**
 * election: leader elections of service groups (`--topology leader`). Start with `engine.ts`,
 * whose header gives the rules and why they hold, then `view.ts`, which the census shares.
 * The rumor and its merge are in `gossip/rumor.ts` (`mergeElection`); docs/protocol.md §16 is
 * the specification.
 */
export * from './view.js';
export * from './engine.js';
