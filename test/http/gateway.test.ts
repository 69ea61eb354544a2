/**
 * The HTTP gateway over a loopback socket (`serve.ts`), over members of a simulated cluster: real
 * gossip cores and real `GossipNode`s (their counters and events).
 */
import { describe, expect, test } from 'vitest';
import { GossipCore, localTestPreset } from '../../src/gossip/index.js';
import { seededRandom, type LogFields, type Logger } from '../../src/core/index.js';
import type { Census } from '../../src/census/index.js';
import type { GatewaySource, GatewaySupervisor } from '../../src/http/index.js';
import { bearerMatches, createGatewayMetrics, HTTP_GATEWAY_METHODS, httpGateway } from '../../src/http/index.js';
import { request, serve } from './serve.js';
import type { SimMember } from '../../src/testkit/index.js';
import { SimCluster } from '../../src/testkit/index.js';
import { info } from '../gossip/fixtures.js';
import { BOX, config, file, service } from '../census/fixtures.js';

const SERVICE_ROUTES = ['/services', '/services/{svc}/{group}[/{org}]', '/services/{svc}/{group}[/{org}]/config', '/services/{svc}/{group}[/{org}]/health'];

/** A member of the cluster, seen as the gateway sees a Supervisor. */
function sourceOf(m: SimMember, extra: Partial<GatewaySource> = {}): GatewaySource {
  return { supervisor: (): GatewaySupervisor => ({ core: m.core, node: m.node! }), ...extra };
}

/** Three members that gossip for a while: `a` holds a config, a file and every service. */
function cluster(): { c: SimCluster; a: SimMember; b: SimMember } {
  const c = new SimCluster({ seed: 11, options: localTestPreset });
  const [a, b, d] = c.bootConverged(3) as [SimMember, SimMember, SimMember];
  for (const m of [a, b, d]) c.publish(a, service(m.id, 'redis.prod@acme'));
  c.publish(a, config('redis.prod@acme', 2, 'maxmemory = "1gb"\n'));
  c.publish(a, file('redis.prod@acme', 'app.crt', 1, 'CERT'));
  c.publish(a, config('web.default', 1, BOX, { encrypted: true }));
  return { c, a, b };
}

/** The parts of `/butterfly` these tests read. */
interface Butterfly {
  member: { health: Record<string, string> };
  membership: Record<string, { health: string }>;
  service: { list: Record<string, Record<string, unknown>> };
  latest_service_config: Record<string, unknown>;
  departed_members: string[];
}

/** The value of one sample line of Prometheus text (`name{labels} value`). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no sample ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe('GET /census', () => {
  test("answers Habitat's census shape with the parsed config value", async () => {
    const { c, a, b } = cluster();
    c.runFor(3_000);
    const res = await request(httpGateway(sourceOf(b)), '/census');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await res.json()) as Census;
    expect(body).toMatchObject({ changed: true, local_member_id: b.id, last_membership_counter: 3, last_service_counter: 3, last_service_config_counter: 2 });
    const group = body.census_groups['redis.prod@acme']!;
    expect(group.service_config).toEqual({ incarnation: 2, value: { maxmemory: '1gb' } });
    expect(group.service_files['app.crt']).toEqual({ filename: 'app.crt', incarnation: 1, body: [67, 69, 82, 84] });
    expect(group).toMatchObject({ election_status: 'None', leader_id: null, changed_service_files: [], local_member_id: b.id });
    expect(Object.keys(group.population)).toHaveLength(3);
    expect(group.population[a.id]).toMatchObject({ member_id: a.id, service: 'redis', group: 'prod', org: 'acme', alive: true, departed: false, cfg: { port: 6379 } });
    expect(body.census_groups['web.default']!.service_config).toEqual({ incarnation: 1, value: null, encrypted: true });
  });
});

describe('GET /butterfly', () => {
  test('lists every member with its health and the rumor stores', async () => {
    const { c, a, b } = cluster();
    c.runFor(3_000);
    const body = (await (await request(httpGateway(sourceOf(a)), '/butterfly')).json()) as Butterfly;
    expect(Object.keys(body.membership)).toHaveLength(3);
    expect(body.membership[b.id]).toMatchObject({ health: 'Alive', swim_port: 9638, gossip_port: 9638, incarnation: 0, persistent: false });
    expect(body.member.health[a.id]).toBe('Alive');
    expect(Object.keys(body.service.list['redis.prod@acme'] ?? {})).toHaveLength(3);
    expect(body.service.list['redis.prod@acme']?.[b.id]).toMatchObject({ member_id: b.id, service_group: 'redis.prod@acme', cfg: { port: 6379 }, sys: { gossip_ip: '10.0.0.1', ctl_gateway_port: 9632 } });
    expect(body.latest_service_config['redis.prod@acme']).toMatchObject({ incarnation: 2, encrypted: false });
    expect(body.departed_members).toEqual([]);
  });

  test('a member that left shows as Departed', async () => {
    const { c, a, b } = cluster();
    c.runFor(1_000);
    c.leave(b);
    c.runFor(2_000);
    const body = (await (await request(httpGateway(sourceOf(a)), '/butterfly')).json()) as Butterfly;
    expect(body.membership[b.id]!.health).toBe('Departed');
  });
});

describe('GET /metrics', () => {
  test('serves every metric in Prometheus text, read from the node at scrape time', async () => {
    const { c, a } = cluster();
    const metrics = createGatewayMetrics(sourceOf(a, { ctlUnauthorized: () => 4 }));
    a.node!.onEvent(metrics.onGossipEvent);
    c.runFor(5_000);
    a.node!.receive('10.9.9.9:9638', 'datagram', new Uint8Array([0xff, 0xff, 0xff]));
    const gateway = httpGateway(sourceOf(a), { metrics });
    const res = await request(gateway, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const counters = a.node!.counters;

    expect(sample(text, 'hab_butterfly_members{health="alive"}')).toBe(3);
    expect(sample(text, 'hab_butterfly_members{health="departed"}')).toBe(0);
    expect(sample(text, 'hab_butterfly_rumors{kind="service"}')).toBe(3);
    expect(sample(text, 'hab_butterfly_rumors{kind="service-config"}')).toBe(2);
    expect(sample(text, 'hab_butterfly_rumors{kind="member"}')).toBe(3);
    expect(sample(text, 'hab_butterfly_packets_total{direction="in"}')).toBe(counters.packetsIn);
    expect(sample(text, 'hab_butterfly_packets_total{direction="out"}')).toBe(counters.packetsOut);
    expect(counters.packetsOut).toBeGreaterThan(0);
    expect(sample(text, 'hab_butterfly_bytes_total{direction="in"}')).toBe(counters.bytesIn);
    expect(sample(text, 'hab_butterfly_bytes_total{direction="out"}')).toBeGreaterThan(counters.packetsOut);
    expect(sample(text, 'hab_butterfly_decode_errors_total')).toBe(1);
    expect(sample(text, 'hab_butterfly_open_errors_total')).toBe(0);
    expect(sample(text, 'hab_sup_ctl_unauthorized_total')).toBe(4);
    expect(text).toContain('# TYPE hab_butterfly_probe_rtt_seconds histogram');

    // Every answered probe of `a` is one observation; the simulated links take 1–2 ms each way.
    const acks = c.events.filter((e) => e.member === a.id && e.event.type === 'probe-acked').length;
    expect(acks).toBeGreaterThan(0);
    expect(sample(text, 'hab_butterfly_probe_rtt_seconds_count')).toBe(acks);
    expect(sample(text, 'hab_butterfly_probe_rtt_seconds_bucket{le="0.0005"}')).toBe(0);
    expect(sample(text, 'hab_butterfly_probe_rtt_seconds_bucket{le="0.01"}')).toBe(acks);
    expect(sample(text, 'hab_butterfly_probe_rtt_seconds_sum')).toBeGreaterThan(0);
  });

  test('a later scrape sees later values; without ctlUnauthorized the ctl metric reads 0', async () => {
    const { c, a } = cluster();
    const gateway = httpGateway(sourceOf(a));
    const first = sample(await (await request(gateway, '/metrics')).text(), 'hab_butterfly_packets_total{direction="out"}');
    c.runFor(3_000);
    const text = await (await request(gateway, '/metrics')).text();
    expect(sample(text, 'hab_butterfly_packets_total{direction="out"}')).toBeGreaterThan(first);
    expect(sample(text, 'hab_sup_ctl_unauthorized_total')).toBe(0);
    expect(sample(text, 'hab_butterfly_probe_rtt_seconds_count')).toBe(0);
  });

  test('two gateways in one process keep their metrics apart', async () => {
    const core = new GossipCore({ random: seededRandom(1) }, { self: info('e'.repeat(32)), options: localTestPreset, announce: false });
    const counters = { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, decodeErrors: 0, openErrors: 7, ignored: 0, joinsRefused: 3, addressesRefused: 2 };
    const one = createGatewayMetrics({ supervisor: () => ({ core, node: { counters } }) });
    const two = createGatewayMetrics({ supervisor: () => ({ core, node: { counters: { ...counters, openErrors: 0 } } }) });
    one.observeProbeRtt(3);
    one.onGossipEvent({ type: 'probe-acked', rttMs: 4 });
    one.onGossipEvent({ type: 'member-joined' });
    one.observeProbeRtt(7_000); // beyond the last bucket: counted in +Inf only
    one.observeProbeRtt(Number.NaN); // ignored
    const textOne = (await one.scrape()).text;
    const textTwo = (await two.scrape()).text;
    expect(sample(textOne, 'hab_butterfly_probe_rtt_seconds_count')).toBe(3);
    expect(sample(textOne, 'hab_butterfly_probe_rtt_seconds_bucket{le="0.0025"}')).toBe(0);
    expect(sample(textOne, 'hab_butterfly_probe_rtt_seconds_bucket{le="0.005"}')).toBe(2);
    expect(sample(textOne, 'hab_butterfly_probe_rtt_seconds_bucket{le="5"}')).toBe(2);
    expect(sample(textOne, 'hab_butterfly_probe_rtt_seconds_bucket{le="+Inf"}')).toBe(3);
    expect(sample(textOne, 'hab_butterfly_probe_rtt_seconds_sum')).toBeCloseTo(7.007);
    expect(sample(textTwo, 'hab_butterfly_probe_rtt_seconds_count')).toBe(0);
    expect(sample(textOne, 'hab_butterfly_open_errors_total')).toBe(7);
    expect(sample(textTwo, 'hab_butterfly_open_errors_total')).toBe(0);
    expect(sample(textOne, 'hab_butterfly_joins_refused_total')).toBe(3);
    expect(sample(textOne, 'hab_butterfly_addresses_refused_total')).toBe(2);
  });
});

describe('index and unknown routes', () => {
  test('GET / lists the routes', async () => {
    const { a } = cluster();
    const res = await request(httpGateway(sourceOf(a)), '/');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { routes: { path: string }[] };
    expect(body.routes.map((r) => r.path)).toEqual(['/', '/census', '/butterfly', '/metrics', ...SERVICE_ROUTES]);
  });

  test('an unknown route answers a JSON 404 that lists the routes', async () => {
    const { a } = cluster();
    const res = await request(httpGateway(sourceOf(a)), '/services/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not found', path: '/services/nope', routes: ['/', '/census', '/butterfly', '/metrics', ...SERVICE_ROUTES] });
  });
});

describe('methods, as hab sup run serves the gateway', () => {
  test('HEAD answers the status and headers of GET without the body; another method is 405', async () => {
    const { a } = cluster();
    const gateway = httpGateway(sourceOf(a));
    await serve(gateway, { methods: HTTP_GATEWAY_METHODS });
    const head = await request(gateway, '/census', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/json');
    expect(await head.text()).toBe('');
    expect((await request(gateway, '/nope', { method: 'HEAD' })).status).toBe(404);
    const post = await request(gateway, '/census', { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('a route that throws', () => {
  test('is a plain-text 500, logged with its path', async () => {
    const lines: [string, LogFields | undefined][] = [];
    const log: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: (msg, fields) => void lines.push([msg, fields]), child: () => log };
    const broken: GatewaySource = {
      supervisor: () => {
        throw new Error('no core yet');
      },
    };
    const res = await request(httpGateway(broken, { log }), '/census');
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=UTF-8');
    expect(await res.text()).toBe('Internal Server Error');
    expect(lines).toEqual([['http gateway request failed', { path: '/census', error: 'no core yet' }]]);
  });
});

describe('gateway auth token (HAB_SUP_GATEWAY_AUTH_TOKEN)', () => {
  const TOKEN = 's3cr3t-token';

  test('without the token every route answers 401 with an empty body', async () => {
    const { a } = cluster();
    const gateway = httpGateway(sourceOf(a), { authToken: TOKEN });
    const variants: Record<string, string>[] = [{}, { Authorization: 'Bearer wrong' }, { Authorization: `Basic ${TOKEN}` }, { Authorization: `Bearer ${TOKEN}x` }];
    for (const path of ['/', '/census', '/butterfly', '/metrics', '/nope']) {
      for (const headers of variants) {
        const res = await request(gateway, path, { headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(await res.text()).toBe('');
      }
    }
  });

  test('with the token every route answers as without auth', async () => {
    const { a } = cluster();
    const gateway = httpGateway(sourceOf(a), { authToken: TOKEN });
    const auth = { headers: { Authorization: `Bearer ${TOKEN}` } };
    expect((await request(gateway, '/census', auth)).status).toBe(200);
    expect((await request(gateway, '/butterfly', auth)).status).toBe(200);
    expect((await request(gateway, '/metrics', auth)).status).toBe(200);
    expect((await request(gateway, '/', auth)).status).toBe(200);
    expect((await request(gateway, '/nope', auth)).status).toBe(404);
    expect((await request(gateway, '/census', { headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
  });

  test('an empty token means no authentication', async () => {
    const { a } = cluster();
    expect((await request(httpGateway(sourceOf(a), { authToken: '' }), '/census')).status).toBe(200);
  });

  test('the header check compares the whole token', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN.slice(0, -1)}`, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    expect(bearerMatches('Bearer ', TOKEN)).toBe(false);
  });
});
