/** sup: the Supervisor — its files, its state across restarts, its gossip member, its lifecycle. */
export * from './paths.js';
export * from './files.js';
export * from './lock.js';
export * from './state.js';
export * from './rules.js';
export * from './supervisor.js';
export * from './services-api.js';
export * from './spec.js';
export * from './manager.js';
export * from './ring-keys.js';
// The Service class (and through it Handlebars, YAML, tar and xz) loads on first use (manager.ts).
export type { Service, ServiceRing } from './service.js';
export { formatOutputLine, type OutputLine, type OutputSink } from './process/index.js';
/** The protocol values a Supervisor's views are made of, for the gateways above it. */
export type { Health, MemberRumor, Rumor } from '../wire/index.js';
