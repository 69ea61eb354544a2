/**
 * Gateways under test are reached as clients reach them: a handler (`httpGateway(…)`,
 * `CtlGateway.handle`, a `Router.handle`) is served on 127.0.0.1 port 0 by `startHttpServer`,
 * the server `hab sup run` uses, and asked with `fetch`. A handler gets one server per test,
 * started at its first request and stopped when the test finishes.
 */
import { onTestFinished } from 'vitest';
import type { HttpHandler } from '../../src/core/http-router.js';
import { startHttpServer, type HttpServerOptions, type RunningHttpServer } from '../../src/net/index.js';

export type ServeOptions = Omit<HttpServerOptions, 'host' | 'port'>;

const serving = new Map<HttpHandler, Promise<RunningHttpServer>>();

/** `handler` on a loopback socket until the test finishes; the same server on every call for one handler. */
export function serve(handler: HttpHandler, options: ServeOptions = {}): Promise<RunningHttpServer> {
  let server = serving.get(handler);
  if (!server) {
    server = startHttpServer(handler, { host: '127.0.0.1', port: 0, ...options });
    serving.set(handler, server);
    const started = server;
    onTestFinished(async () => {
      serving.delete(handler);
      await (await started).stop(0);
    });
  }
  return server;
}

/** The URL of `path` on the server of `handler`. */
export async function urlOf(handler: HttpHandler, path: string, options?: ServeOptions): Promise<string> {
  return `http://127.0.0.1:${(await serve(handler, options)).address.port}${path}`;
}

/** `fetch` of `path` from `handler`, served as `serve` says. */
export async function request(handler: HttpHandler, path: string, init?: RequestInit, options?: ServeOptions): Promise<Response> {
  return fetch(await urlOf(handler, path, options), init);
}
