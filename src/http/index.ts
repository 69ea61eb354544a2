/**
 * http: the HTTP gateway, read-only views of a Supervisor in Habitat's shapes. Start with
 * `gateway.ts`; `docs/http.md` documents every route.
 */
export * from './source.js';
export * from './auth.js';
export * from './butterfly.js';
export * from './metrics.js';
export * from './services.js';
export * from './gateway.js';
