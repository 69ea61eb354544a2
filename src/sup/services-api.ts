/**
 * What a Supervisor offers about its services to the gateways (ctl and HTTP): load, unload,
 * start and stop them, their status, their merged config, and how far a group has got with a
 * config version (`hab config apply --wait`). The service manager implements it; the gateways
 * and their tests depend only on this.
 */
import type { MemberId } from '../core/index.js';
import type { FileVersion, ServiceHealth, ServiceState } from '../wire/index.js';
import type { BindingMode, DesiredState, ServiceSpec, Topology, UpdateStrategy } from './spec.js';

/** `hab svc load`: what the CLI sends. Unset fields take the spec defaults (or the package's). */
export interface LoadRequest {
  /** `origin/name[/version[/release]]` of an installed package, or the path of a `.hart` to install first. */
  ident: string;
  group?: string;
  topology?: Topology;
  strategy?: UpdateStrategy;
  /** `NAME:SERVICE.GROUP[@ORG]` */
  binds?: string[];
  bindingMode?: BindingMode;
  healthCheckIntervalSec?: number;
  shutdownTimeoutSec?: number;
  configFrom?: string;
  /** Reload (and restart) a service that is already loaded. */
  force?: boolean;
}

export interface LoadResult {
  spec: ServiceSpec;
  /** The fully qualified ident that will run. */
  ident: string;
  serviceGroup: string;
  /** True when the service was already loaded and `force` replaced its spec. */
  reloaded: boolean;
}

/** One loaded service on this Supervisor (`hab svc status`, `/services`). */
export interface ServiceStatus {
  /** The fully qualified ident running (or to run), or the spec's ident when not resolved. */
  ident: string;
  /** The spec's ident as loaded. */
  specIdent: string;
  serviceGroup: string;
  topology: Topology;
  bindingMode: BindingMode;
  binds: string[];
  desired: DesiredState;
  state: ServiceState;
  pid: number | null;
  /** When the process last started (ms since the epoch), or null. */
  startedAtMs: number | null;
  /**
   * When the service entered its current `state` (ms since the epoch), or null when unknown.
   * Optional (added by the gateways' author): `hab svc status` shows the seconds since then and
   * `/services` shows it as `process.state_entered`; without it they fall back to `startedAtMs`
   * while the service is up, and to nothing while it is down.
   */
  stateEnteredMs?: number | null;
  /** The `hab config apply` version applied (0: none). */
  configVersion: number;
  files: FileVersion[];
  health: ServiceHealth;
  /**
   * What the last `health-check` hook run wrote (the start of `logs/health-check.stdout.log` and
   * `.stderr.log`), for `…/health`; null (or absent) before the first check or without a hook run.
   */
  healthCheckOutput?: { stdout: string; stderr: string } | null;
  /**
   * What keeps the service from running its newest config, if anything: a template that does
   * not render, a missing package, binds not satisfied (strict binding mode: `waiting for service
   * binds …`, naming each), an encrypted config it cannot read.
   */
  lastError: string | null;
  /** Seconds between health checks. */
  healthCheckIntervalSec: number;
  /** The service's directory (`$FS_ROOT/hab/svc/<name>`). */
  svcPath: string;
  /** The package's install path, or null when the package is not installed. */
  pkgPath: string | null;
}

/** One member of a group and the config version it has applied (`--wait`). */
export interface GroupMemberProgress {
  memberId: MemberId;
  /** Host (sys.ip) of the member, for messages. */
  host: string;
  configVersion: number;
  files: FileVersion[];
  /** Alive or suspect: the members `--wait` waits for. */
  live: boolean;
}

export interface ServicesApi {
  load(request: LoadRequest): Promise<LoadResult>;
  /** Stops and removes the service; resolves when it has stopped. NOT_FOUND when not loaded. */
  unload(ident: string, shutdownTimeoutSec?: number): Promise<ServiceStatus>;
  /** Sets the desired state up (and starts it). */
  start(ident: string): Promise<ServiceStatus>;
  /** Sets the desired state down; resolves when it has stopped. */
  stop(ident: string, shutdownTimeoutSec?: number): Promise<ServiceStatus>;
  /** Every loaded service, or the one matching `ident` (NOT_FOUND when none does). */
  services(ident?: string): ServiceStatus[];
  /** The merged config of a loaded service, as TOML text (`hab config show`). */
  configShow(ident: string): string;
  /** Every member of `serviceGroup` known to this Supervisor's census, with what it applied. */
  groupProgress(serviceGroup: string): GroupMemberProgress[];
  /** Calls `listener` whenever the census may have changed; returns an unsubscribe function. */
  onCensusChange(listener: () => void): () => void;
}
