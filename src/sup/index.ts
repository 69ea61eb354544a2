/** sup: the Supervisor — its files, its state across restarts, its gossip member, its lifecycle. */
export * from './paths.js';
export * from './files.js';
export * from './lock.js';
export * from './state.js';
export * from './rules.js';
export * from './supervisor.js';
/** The protocol values a Supervisor's views are made of, for the gateways above it. */
export type { Health, MemberRumor, Rumor } from '../wire/index.js';
