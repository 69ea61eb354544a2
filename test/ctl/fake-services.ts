/**
 * A TEST DOUBLE of the service manager (`ServicesApi`, src/sup/services-api.ts), for the gateway
 * tests while the real manager is being written: loaded services are plain records in a Map, and
 * a group's members (with the config version each has applied) are set by hand. Nothing runs.
 * It records its calls, and counts census listeners so that tests can see unsubscription.
 */
import { MurmurError } from '../../src/core/index.js';
import type { GroupMemberProgress, LoadRequest, LoadResult, ServicesApi, ServiceStatus } from '../../src/sup/index.js';
import { DEFAULT_SPEC, serviceGroupOf } from '../../src/sup/index.js';

export const NOW = 1_700_000_000_000;

/** A service record as the manager would report it; `ident` picks the name and group. */
export function status(over: Partial<ServiceStatus> = {}): ServiceStatus {
  return {
    ident: 'core/redis/7.2.4/20240101000000',
    specIdent: 'core/redis',
    serviceGroup: 'redis.default',
    topology: 'standalone',
    bindingMode: 'strict',
    binds: [],
    desired: 'up',
    state: 'up',
    pid: 4242,
    startedAtMs: NOW - 75_000,
    configVersion: 0,
    files: [],
    health: 'ok',
    lastError: null,
    healthCheckIntervalSec: 30,
    svcPath: '/hab/svc/redis',
    pkgPath: '/hab/pkgs/core/redis/7.2.4/20240101000000',
    ...over,
  };
}

export function member(id: string, host: string, configVersion: number, live = true): GroupMemberProgress {
  return { memberId: id.padEnd(32, '0'), host, configVersion, files: [], live };
}

export class FakeServices implements ServicesApi {
  readonly loaded = new Map<string, ServiceStatus>();
  readonly groups = new Map<string, GroupMemberProgress[]>();
  readonly calls: [string, ...unknown[]][] = [];
  readonly listeners = new Set<() => void>();
  /** Thrown by `groupProgress` when set (an `error` line mid-stream). */
  progressError: Error | undefined;

  add(s: ServiceStatus): this {
    this.loaded.set(s.specIdent, s);
    return this;
  }

  load(request: LoadRequest): Promise<LoadResult> {
    this.calls.push(['load', request]);
    const spec = { ...DEFAULT_SPEC, ident: request.ident, group: request.group ?? DEFAULT_SPEC.group, topology: request.topology ?? DEFAULT_SPEC.topology };
    const reloaded = this.loaded.has(request.ident);
    if (reloaded && !request.force) return Promise.reject(new MurmurError('CONFLICT', `${request.ident} is loaded already; use --force to reload it`));
    const serviceGroup = serviceGroupOf(spec);
    this.add(status({ specIdent: request.ident, ident: `${request.ident}/1.0.0/20240101000000`, serviceGroup, topology: spec.topology }));
    return Promise.resolve({ spec, ident: `${request.ident}/1.0.0/20240101000000`, serviceGroup, reloaded });
  }

  unload(ident: string, shutdownTimeoutSec?: number): Promise<ServiceStatus> {
    this.calls.push(['unload', ident, shutdownTimeoutSec]);
    const s = this.get(ident);
    this.loaded.delete(ident);
    return Promise.resolve({ ...s, desired: 'down', state: 'down', pid: null });
  }

  start(ident: string): Promise<ServiceStatus> {
    this.calls.push(['start', ident]);
    const s = { ...this.get(ident), desired: 'up' as const };
    this.loaded.set(ident, s);
    return Promise.resolve(s);
  }

  stop(ident: string, shutdownTimeoutSec?: number): Promise<ServiceStatus> {
    this.calls.push(['stop', ident, shutdownTimeoutSec]);
    const s = { ...this.get(ident), desired: 'down' as const, state: 'down' as const, pid: null, stateEnteredMs: NOW - 5_000 };
    this.loaded.set(ident, s);
    return Promise.resolve(s);
  }

  services(ident?: string): ServiceStatus[] {
    return ident === undefined ? [...this.loaded.values()] : [this.get(ident)];
  }

  configShow(ident: string): string {
    this.get(ident);
    return 'port = 6379\n\n[tls]\nenabled = false\n';
  }

  groupProgress(serviceGroup: string): GroupMemberProgress[] {
    if (this.progressError) throw this.progressError;
    return this.groups.get(serviceGroup) ?? [];
  }

  onCensusChange(listener: () => void): () => void {
    const wrapped = () => listener();
    this.listeners.add(wrapped);
    return () => this.listeners.delete(wrapped);
  }

  /** Sets a member's applied version; tells the listeners unless `quietly` (the backstop's case). */
  apply(group: string, memberId: string, version: number, quietly = false): void {
    const members = this.groups.get(group) ?? [];
    this.groups.set(
      group,
      members.map((m) => (m.memberId === memberId ? { ...m, configVersion: version } : m)),
    );
    if (!quietly) for (const l of [...this.listeners]) l();
  }

  private get(ident: string): ServiceStatus {
    const s = this.loaded.get(ident);
    if (!s) throw new MurmurError('NOT_FOUND', `no service ${ident} is loaded`);
    return s;
  }
}
