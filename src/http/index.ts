/** http: the HTTP gateway, read-only JSON views of a Supervisor in Habitat's shapes. */
export * from './butterfly.js';
export * from './gateway.js';
