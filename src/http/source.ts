/**
 * What the HTTP gateway reads, as narrow interfaces: a real `Supervisor` satisfies them, and so
 * does a test's `{core, node: {counters}}` around a real `GossipCore`. The gateway reads through
 * `supervisor()` at request time, so every answer is built from the state of that moment.
 */
import type { MemberId } from '../core/index.js';
import type { Health, MemberRumor, Rumor, ServicesApi, Supervisor } from '../sup/index.js';

/** The part of a gossip core the gateway reads (a `GossipCore` fits). */
export interface GatewayCore {
  readonly id: MemberId;
  members(): Iterable<MemberRumor>;
  /** Member records by health, this member included. */
  healthCounts(): Readonly<Record<Health, number>>;
  readonly store: {
    values(): Iterable<{ readonly rumor: Rumor }>;
    /** The anti-entropy digest root: it changes whenever a rumor does. */
    root(): { hi: number; lo: number };
    readonly size: number;
  };
}

/** The packet counters of a gossip node (`GossipNode.counters`). */
export type GatewayCounters = Readonly<Supervisor['node']['counters']>;

/** The part of a Supervisor the gateway reads (a `Supervisor` fits). */
export interface GatewaySupervisor {
  readonly core: GatewayCore;
  readonly node: { readonly counters: GatewayCounters };
}

export interface GatewaySource {
  supervisor(): GatewaySupervisor;
  /**
   * Requests the ctl gateway refused for a bad or missing secret, so far
   * (`hab_sup_ctl_unauthorized_total`). Absent: the metric reads 0.
   */
  ctlUnauthorized?: () => number;
  /**
   * The service manager, read at request time (`/services` and the routes under it). Absent:
   * `/services` is an empty list and every service is not found.
   */
  services?: () => ServicesApi;
}
