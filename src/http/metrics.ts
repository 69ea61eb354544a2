/**
 * `/metrics` (reference §5): Prometheus text from a registry of its own per gateway, never
 * prom-client's global default, so that several Supervisors can share one process (tests).
 *
 * Every value but one is read at scrape time from the source (collect callbacks), so nothing here
 * has to be kept in step with the gossip node. The exception is the probe round-trip histogram,
 * which needs every observation: the composition root feeds it the node's `probe-acked` events
 * through `onGossipEvent` (or `observeProbeRtt`), counted here in plain numbers.
 *
 * prom-client (about 12 MB of a Supervisor's resident memory) is imported at the first scrape,
 * not at start: most Supervisors are never scraped, and each of a hundred on one host would pay it.
 *
 * | metric | type | from |
 * |---|---|---|
 * | `hab_butterfly_members{health}` | gauge | member records by health |
 * | `hab_butterfly_rumors{kind}` | gauge | rumors in the store by kind (`tombstone` apart) |
 * | `hab_butterfly_packets_total{direction="in"\|"out"}` | counter | `node.counters.packetsIn/Out` |
 * | `hab_butterfly_bytes_total{direction}` | counter | `node.counters.bytesIn/Out` |
 * | `hab_butterfly_decode_errors_total` | counter | packets that did not decode |
 * | `hab_butterfly_open_errors_total` | counter | packets that did not open with the ring key |
 * | `hab_butterfly_joins_refused_total` | counter | joins not answered: over the rate limit, or repeated |
 * | `hab_butterfly_addresses_refused_total` | counter | member records refused: address not an IP literal |
 * | `hab_butterfly_probe_rtt_seconds` | histogram | `probe-acked` events (`rttMs`) |
 * | `hab_sup_ctl_unauthorized_total` | counter | `source.ctlUnauthorized()`, else 0 |
 */
import type { Registry } from 'prom-client';
import { countRumors } from '../census/index.js';
import type { Health } from '../sup/index.js';
import type { GatewaySource } from './source.js';

const HEALTHS: readonly Health[] = ['alive', 'suspect', 'confirmed', 'departed'];

/**
 * Probe round trips, in seconds: from a loopback answer (well under 1 ms) to one that only just
 * beat the lan preset's probe deadline.
 */
export const PROBE_RTT_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface GatewayMetrics {
  /** The Prometheus text of every metric, and its content type (prom-client is loaded at the first call). */
  scrape(): Promise<{ text: string; contentType: string }>;
  /** One answered probe of ours, after `ms` milliseconds. */
  observeProbeRtt(ms: number): void;
  /**
   * A gossip event listener (`supervisor.node.onEvent(metrics.onGossipEvent)`): feeds the
   * `probe-acked` round trips into the histogram and ignores every other event.
   */
  readonly onGossipEvent: (event: { readonly type: string; readonly rttMs?: number }) => void;
}

/** Observations of the round-trip histogram: a count per bucket (not cumulative), the sum and the count. */
interface RttHistogram {
  buckets: number[];
  sum: number;
  count: number;
}

/** The metrics of one gateway over `source`; nothing is registered globally. */
export function createGatewayMetrics(source: GatewaySource): GatewayMetrics {
  const rtt: RttHistogram = { buckets: PROBE_RTT_BUCKETS.map(() => 0), sum: 0, count: 0 };
  let registry: Promise<Registry> | undefined;
  const observeProbeRtt = (ms: number): void => {
    if (!(Number.isFinite(ms) && ms >= 0)) return;
    const seconds = ms / 1000;
    const i = PROBE_RTT_BUCKETS.findIndex((le) => seconds <= le);
    if (i >= 0) rtt.buckets[i] = (rtt.buckets[i] as number) + 1;
    rtt.sum += seconds;
    rtt.count++;
  };
  return {
    async scrape() {
      registry ??= buildRegistry(source, rtt);
      const r = await registry;
      return { text: await r.metrics(), contentType: r.contentType };
    },
    observeProbeRtt,
    onGossipEvent: (event) => {
      if (event.type === 'probe-acked' && event.rttMs !== undefined) observeProbeRtt(event.rttMs);
    },
  };
}

async function buildRegistry(source: GatewaySource, rtt: RttHistogram): Promise<Registry> {
  const { Counter, Gauge, Registry } = await import('prom-client');
  const registry = new Registry();
  const registers = [registry];
  const counters = () => source.supervisor().node.counters;
  /** A label-less counter whose value is read from `read()` at each scrape. */
  const absoluteCounter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };

  new Gauge({
    name: 'hab_butterfly_members',
    help: 'Members in the member list, by health.',
    labelNames: ['health'] as const,
    registers,
    collect() {
      const counts = source.supervisor().core.healthCounts();
      for (const health of HEALTHS) this.set({ health }, counts[health]);
    },
  });
  new Gauge({
    name: 'hab_butterfly_rumors',
    help: 'Rumors in the store, by kind (tombstones as kind "tombstone").',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      for (const [kind, n] of Object.entries(countRumors(source.supervisor().core))) this.set({ kind }, n);
    },
  });
  new Counter({
    name: 'hab_butterfly_packets_total',
    help: 'Gossip packets received and sent (datagrams and stream frames).',
    labelNames: ['direction'] as const,
    registers,
    collect() {
      const c = counters();
      this.reset();
      this.inc({ direction: 'in' }, c.packetsIn);
      this.inc({ direction: 'out' }, c.packetsOut);
    },
  });
  new Counter({
    name: 'hab_butterfly_bytes_total',
    help: 'Gossip bytes received and sent, as on the wire (sealed).',
    labelNames: ['direction'] as const,
    registers,
    collect() {
      const c = counters();
      this.reset();
      this.inc({ direction: 'in' }, c.bytesIn);
      this.inc({ direction: 'out' }, c.bytesOut);
    },
  });
  absoluteCounter('hab_butterfly_decode_errors_total', 'Received packets that did not decode.', () => counters().decodeErrors);
  absoluteCounter('hab_butterfly_open_errors_total', 'Received packets that did not open with the ring key (another key, no key, tampered).', () => counters().openErrors);
  absoluteCounter('hab_butterfly_joins_refused_total', 'Joins not answered with the full state: over joinAnswerRate, or from a member or to an address answered moments ago.', () => counters().joinsRefused);
  absoluteCounter('hab_butterfly_addresses_refused_total', 'Member records and joins refused because their address is not an IP literal.', () => counters().addressesRefused);
  absoluteCounter('hab_sup_ctl_unauthorized_total', 'Ctl gateway requests refused for a missing or wrong secret.', () => source.ctlUnauthorized?.() ?? 0);
  registry.registerMetric(rttMetric(rtt) as unknown as Parameters<Registry['registerMetric']>[0]);
  return registry;
}

/**
 * The round-trip histogram as a collector of our own: prom-client's `Histogram` keeps its counts
 * inside and can only be fed one observation at a time, while ours were counted before prom-client
 * was loaded. The registry formats whatever `get()` returns (`metricName` per sample, as its own
 * histograms do).
 */
function rttMetric(rtt: RttHistogram) {
  const name = 'hab_butterfly_probe_rtt_seconds';
  return {
    name,
    help: 'Round trip of answered SWIM probes (direct or through a helper), in seconds.',
    type: 'histogram',
    aggregator: 'sum',
    get() {
      let cumulative = 0;
      const values = PROBE_RTT_BUCKETS.map((le, i) => {
        cumulative += rtt.buckets[i] as number;
        return { metricName: `${name}_bucket`, labels: { le }, value: cumulative };
      });
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' as unknown as number }, value: rtt.count });
      return {
        name,
        help: this.help,
        type: this.type,
        aggregator: this.aggregator,
        values: [...values, { metricName: `${name}_sum`, labels: {} as { le: number }, value: rtt.sum }, { metricName: `${name}_count`, labels: {} as { le: number }, value: rtt.count }],
      };
    },
  };
}
