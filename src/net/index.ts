/**
 * net: the only code that opens sockets (ARCHITECTURE.md §3). It carries bytes and keeps time;
 * it knows nothing of what the bytes mean.
 *
 * - `transport.ts`: `UdpTcpTransport`, SWIM datagrams over UDP and framed stream messages over
 *   TCP on one port, structurally gossip's `Transport` (start here).
 * - `frame.ts`: the stream framing (`[u32 BE length][bytes]`) and its incremental decoder.
 * - `address.ts`: `host:port` parsing and the one spelling of an address (IPv4-mapped unmapped).
 * - `timers.ts`: `monotonicClock` and `RealTimers`, gossip's `TimerService` on real time.
 * - `http-server.ts`: `startHttpServer`, how both gateways listen (TLS, timeouts, connection caps).
 * - `tls-fetch.ts`: a `fetch` over HTTPS with a chosen CA, for the CLI to a TLS control gateway.
 */
export * from './transport.js';
export * from './timers.js';
export * from './frame.js';
export * from './address.js';
export * from './http-server.js';
export * from './tls-fetch.js';
