/**
 * gossip: SWIM membership with Lifeguard, the rumor store and its merge rules, dissemination.
 * Start with `README.md` beside this file, then `core.ts`.
 */
export * from './options.js';
export * from './effects.js';
export * from './health.js';
export * from './rumor.js';
export * from './store.js';
export * from './suspicion.js';
export * from './awareness.js';
export * from './broadcast-queue.js';
export * from './core.js';
export * from './shell.js';
