/**
 * testkit: virtual time, a simulated network with loss, delay, partitions and pauses, a cluster
 * DSL over real gossip cores, and leader elections run on it (`elections.ts`). Used by the tests
 * and by `murmur sim`.
 */
export * from './virtual-time.js';
export * from './sim-network.js';
export * from './cluster.js';
export * from './elections.js';
export * from './simulate.js';
export type * from './sim-types.js';
