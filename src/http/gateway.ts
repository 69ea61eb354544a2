/**
 * The HTTP gateway (default `0.0.0.0:9631`): read-only views of a Supervisor in Habitat's shapes
 * (reference §5). `httpGateway` returns the handler of a `Router` (`core/http-router.ts`) over a
 * source that is read at request time; `net/http-server.ts` serves it with `HTTP_GATEWAY_METHODS`.
 * The factory starts nothing and subscribes to nothing.
 *
 * Routes: `/` (this index as JSON), `/census`, `/butterfly`, `/metrics`, and `/services` with the
 * routes under it (`services.ts`). Unknown routes answer a
 * JSON 404 that lists the routes. With `authToken` (Habitat's `HAB_SUP_GATEWAY_AUTH_TOKEN`) every
 * route, the 404 included, wants `Authorization: Bearer <token>`, else 401 with an empty body.
 * `docs/http.md` documents each answer.
 */
import { buildCensus } from '../census/index.js';
import type { Logger } from '../core/index.js';
import { nullLogger } from '../core/index.js';
import { jsonReply, reply, Router, textReply, type HttpHandler } from '../core/http-router.js';
import { requireBearer } from './auth.js';
import { butterflyJson } from './butterfly.js';
import type { GatewayMetrics } from './metrics.js';
import { createGatewayMetrics } from './metrics.js';
import { addServiceRoutes } from './services.js';
import type { GatewayCore, GatewaySource } from './source.js';

export interface GatewayOptions {
  /**
   * Habitat's `HAB_SUP_GATEWAY_AUTH_TOKEN`: when set (and not empty), every request must carry
   * `Authorization: Bearer <token>`. @default undefined (no authentication)
   */
  authToken?: string | undefined;
  /**
   * The metrics `/metrics` serves; pass the one the composition root feeds with gossip events.
   * @default createGatewayMetrics(source) (its probe round-trip histogram then stays empty)
   */
  metrics?: GatewayMetrics | undefined;
  /** Where a route that throws (a bug) is logged; it is answered 500. @default nullLogger */
  log?: Logger | undefined;
}

/**
 * The methods the gateway is served with (`startHttpServer`'s `methods`): it only reads, so any
 * other method is a 405 and a request body a 413, before a route sees them.
 */
export const HTTP_GATEWAY_METHODS: readonly string[] = ['GET', 'HEAD'];

/** The routes `GET /` and the 404 list, with what each answers. */
export const GATEWAY_ROUTES: readonly { path: string; description: string }[] = [
  { path: '/', description: 'this list of routes' },
  { path: '/census', description: 'service groups: config, files and population (Habitat census JSON)' },
  { path: '/butterfly', description: 'gossip state: members, health and every rumor store (Habitat butterfly JSON)' },
  { path: '/metrics', description: 'Prometheus metrics (text format)' },
  { path: '/services', description: 'the services loaded on this Supervisor (Habitat services JSON)' },
  { path: '/services/{svc}/{group}[/{org}]', description: 'one loaded service; 404 when its group is not loaded here' },
  { path: '/services/{svc}/{group}[/{org}]/config', description: "a loaded service's config, every layer merged" },
  { path: '/services/{svc}/{group}[/{org}]/health', description: 'its last health check: 200 OK or WARNING, 503 CRITICAL, 500 UNKNOWN' },
];

export function httpGateway(source: GatewaySource, opts: GatewayOptions = {}): HttpHandler {
  const metrics = opts.metrics ?? createGatewayMetrics(source);
  const log = opts.log ?? nullLogger;
  const router = new Router({
    notFound: (req) => jsonReply({ error: 'not found', path: req.path, routes: GATEWAY_ROUTES.map((r) => r.path) }, 404),
    onError: (err, req) => {
      log.error('http gateway request failed', { path: req.path, error: err instanceof Error ? err.message : String(err) });
      return textReply('Internal Server Error', 500);
    },
  });
  if (opts.authToken !== undefined && opts.authToken !== '') router.use(requireBearer(opts.authToken));
  router.get('/', () => jsonReply({ name: 'murmur http gateway', routes: GATEWAY_ROUTES }));
  const census = perStoreState((core) => buildCensus(core, core.id));
  const butterfly = perStoreState(butterflyJson);
  router.get('/census', () => reply(200, census(source.supervisor().core), JSON_TYPE));
  router.get('/butterfly', () => reply(200, butterfly(source.supervisor().core), JSON_TYPE));
  router.get('/metrics', async () => {
    const { text, contentType } = await metrics.scrape();
    return reply(200, text, contentType);
  });
  addServiceRoutes(router, source);
  return router.handle;
}

const JSON_TYPE = 'application/json';

/**
 * A JSON view of the gossip state, built once per state of the rumor store (its digest root and
 * size) rather than per request: with large configs and files in the ring, one `/butterfly` or
 * `/census` costs seconds of CPU and hundreds of MiB (every config and file byte becomes a JSON
 * number), which a client polling the gateway would otherwise make the Supervisor pay, with its
 * gossip blocked meanwhile, on every request.
 */
export function perStoreState(build: (core: GatewayCore) => unknown): (core: GatewayCore) => string {
  let cached: { core: GatewayCore; key: string; text: string } | undefined;
  return (core) => {
    const root = core.store.root();
    const key = `${root.hi}:${root.lo}:${core.store.size}`;
    if (cached?.core !== core || cached.key !== key) cached = { core, key, text: JSON.stringify(build(core)) };
    return cached.text;
  };
}
