/**
 * ctl: the control gateway (HTTP + JSON on 127.0.0.1:9632, `server.ts`) and its typed client
 * (`client.ts`). The CLI imports `client.ts` directly, so that it does not load the server (its
 * router, the Supervisor) to send one request.
 */
export * from './api.js';
export * from './server.js';
export * from './client.js';
