/**
 * sup/process: running a service's processes — the main process's lifecycle
 * (`service-process.ts`, start here), hooks (`hooks.ts`), one child in its own process group
 * (`child.ts`), output lines (`output.ts`), restart backoff (`backoff.ts`), and the user a
 * service runs as (`user.ts`), health checks (`health-check.ts`), a previous life's orphan (`orphan.ts`). The only `node:child_process`
 * code in murmur.
 */
export * from './backoff.js';
export * from './timers.js';
export * from './output.js';
export * from './child.js';
export * from './hooks.js';
export * from './user.js';
export * from './service-process.js';
export * from './health-check.js';
export * from './orphan.js';
