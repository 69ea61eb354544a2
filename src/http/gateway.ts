/**
 * The HTTP gateway (default `0.0.0.0:9631`): read-only JSON views of a Supervisor, in Habitat's
 * shapes. Routes are a Hono app over a snapshot provider, so tests can call `app.request()`
 * without a socket. Unknown routes answer a JSON 404.
 */
import { Hono } from 'hono';
import type { Supervisor } from '../sup/index.js';
import { butterflyJson } from './butterfly.js';

export interface GatewaySource {
  supervisor(): Supervisor;
}

export function httpGateway(source: GatewaySource): Hono {
  const app = new Hono();
  app.get('/butterfly', (c) => c.json(butterflyJson(source.supervisor().core)));
  app.notFound((c) => c.json({ error: 'not found', path: c.req.path, routes: ['/butterfly'] }, 404));
  return app;
}
