/**
 * Service spec files: `$FS_ROOT/hab/sup/default/specs/<pkgname>.spec`, one per loaded package,
 * in Habitat's TOML format (reference §7 "Filesystem"). They are the source of truth for what
 * this Supervisor runs: `hab svc load` writes one, `hab svc unload` removes it, and an operator
 * may edit or remove one by hand; the manager reconciles the running services to the specs.
 *
 * Parsing is strict about values (an unknown topology is an error naming the file and the key)
 * and lenient about keys it does not use (`bldr_url`, `channel`, `update_*` are kept and written
 * back, so that a spec written by Habitat reads and round-trips).
 */
import { parse, stringify, TomlError } from 'smol-toml';
import { MurmurError } from '../core/index.js';

export type Topology = 'standalone' | 'leader';
export type BindingMode = 'strict' | 'relaxed';
export type DesiredState = 'up' | 'down';
export type UpdateStrategy = 'none' | 'at-once' | 'rolling';

export const TOPOLOGIES: readonly Topology[] = ['standalone', 'leader'];
export const BINDING_MODES: readonly BindingMode[] = ['strict', 'relaxed'];
export const DESIRED_STATES: readonly DesiredState[] = ['up', 'down'];
export const UPDATE_STRATEGIES: readonly UpdateStrategy[] = ['none', 'at-once', 'rolling'];

/**
 * Habitat's health-check interval default.
 * @default 30 (seconds)
 */
export const DEFAULT_HEALTH_CHECK_INTERVAL_SEC = 30;

export interface ServiceSpec {
  /** The ident as loaded: `origin/name[/version[/release]]`; the newest installed match runs. */
  ident: string;
  /** The group part of the service group (`prod` in `redis.prod`). */
  group: string;
  /** Organization (`@org` suffix of the service group), or null. */
  org: string | null;
  bldrUrl: string;
  channel: string;
  topology: Topology;
  updateStrategy: UpdateStrategy;
  updateCondition: string;
  /** `NAME:SERVICE.GROUP[@ORG]` strings. */
  binds: string[];
  bindingMode: BindingMode;
  /** A directory whose `config/`, `hooks/` and `default.toml` replace the package's (development). */
  configFrom: string | null;
  desiredState: DesiredState;
  /** Seconds; null takes the package's `SHUTDOWN_TIMEOUT`. */
  shutdownTimeoutSec: number | null;
  healthCheckIntervalSec: number;
}

export const DEFAULT_SPEC: Omit<ServiceSpec, 'ident'> = {
  group: 'default',
  org: null,
  bldrUrl: 'https://bldr.habitat.sh',
  channel: 'stable',
  topology: 'standalone',
  updateStrategy: 'none',
  updateCondition: 'latest',
  binds: [],
  bindingMode: 'strict',
  configFrom: null,
  desiredState: 'up',
  shutdownTimeoutSec: null,
  healthCheckIntervalSec: DEFAULT_HEALTH_CHECK_INTERVAL_SEC,
};

const NAME = /^[A-Za-z0-9_-]+$/;
const IDENT = /^[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_.+-]+(?:\/\d{14})?)?$/;
const BIND = /^([A-Za-z0-9_-]+):([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)(?:@([A-Za-z0-9_-]+))?$/;

/** A bind as `hab svc load --bind` takes it: `NAME:SERVICE.GROUP[@ORG]`. */
export interface BindSpec {
  name: string;
  /** `service.group[@org]` */
  serviceGroup: string;
}

export function parseBind(text: string): BindSpec {
  const m = BIND.exec(text);
  if (!m) {
    throw new MurmurError('BAD_INPUT', `bind must be NAME:SERVICE.GROUP[@ORG], e.g. database:postgresql.prod; got ${JSON.stringify(text)}`);
  }
  const [, name = '', service = '', group = '', org] = m;
  return { name, serviceGroup: `${service}.${group}${org ? `@${org}` : ''}` };
}

/** The package name of an ident (`redis` in `core/redis/7.0.0`): the spec file's name. */
export function specName(ident: string): string {
  return ident.split('/')[1] ?? '';
}

/** The service group a spec joins: `<pkgname>.<group>[@org]`. */
export function serviceGroupOf(spec: Pick<ServiceSpec, 'ident' | 'group' | 'org'>): string {
  return `${specName(spec.ident)}.${spec.group}${spec.org ? `@${spec.org}` : ''}`;
}

/** Checks every field of a spec built from flags or a request; throws BAD_INPUT naming the field. */
export function checkSpec(spec: ServiceSpec, source = 'service spec'): ServiceSpec {
  const bad = (what: string): never => {
    throw new MurmurError('BAD_INPUT', `${source}: ${what}`);
  };
  if (!IDENT.test(spec.ident)) bad(`ident must be ORIGIN/NAME[/VERSION[/RELEASE]], e.g. core/redis; got ${JSON.stringify(spec.ident)}`);
  if (!NAME.test(spec.group)) bad(`group must be letters, digits, _ or -; got ${JSON.stringify(spec.group)}`);
  if (spec.org !== null && !NAME.test(spec.org)) bad(`org must be letters, digits, _ or -; got ${JSON.stringify(spec.org)}`);
  if (!TOPOLOGIES.includes(spec.topology)) bad(`topology must be ${TOPOLOGIES.join(' or ')}; got ${JSON.stringify(spec.topology)}`);
  if (!UPDATE_STRATEGIES.includes(spec.updateStrategy)) bad(`update strategy must be one of ${UPDATE_STRATEGIES.join(', ')}; got ${JSON.stringify(spec.updateStrategy)}`);
  if (!BINDING_MODES.includes(spec.bindingMode)) bad(`binding mode must be strict or relaxed; got ${JSON.stringify(spec.bindingMode)}`);
  if (!DESIRED_STATES.includes(spec.desiredState)) bad(`desired state must be up or down; got ${JSON.stringify(spec.desiredState)}`);
  for (const b of spec.binds) parseBind(b);
  const names = spec.binds.map((b) => parseBind(b).name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) bad(`bind ${twice} is given twice`);
  if (spec.shutdownTimeoutSec !== null && !(Number.isSafeInteger(spec.shutdownTimeoutSec) && spec.shutdownTimeoutSec >= 0)) {
    bad(`shutdown timeout must be a whole number of seconds; got ${String(spec.shutdownTimeoutSec)}`);
  }
  if (!(Number.isFinite(spec.healthCheckIntervalSec) && spec.healthCheckIntervalSec > 0 && spec.healthCheckIntervalSec <= 86_400)) {
    bad(`health check interval must be 1 to 86400 seconds; got ${String(spec.healthCheckIntervalSec)}`);
  }
  return spec;
}

/** Habitat's spec file text (keys in Habitat's order, the health-check interval table last). */
export function formatSpec(spec: ServiceSpec): string {
  const doc: Record<string, unknown> = {
    ident: spec.ident,
    group: spec.group,
    bldr_url: spec.bldrUrl,
    channel: spec.channel,
    topology: spec.topology,
    update_strategy: spec.updateStrategy,
    update_condition: spec.updateCondition,
    binds: spec.binds,
    binding_mode: spec.bindingMode,
    desired_state: spec.desiredState,
  };
  if (spec.org !== null) doc.org = spec.org;
  if (spec.configFrom !== null) doc.config_from = spec.configFrom;
  if (spec.shutdownTimeoutSec !== null) doc.shutdown_timeout = spec.shutdownTimeoutSec;
  const secs = Math.floor(spec.healthCheckIntervalSec);
  doc.health_check_interval = { secs, nanos: Math.round((spec.healthCheckIntervalSec - secs) * 1e9) };
  return `${stringify(doc)}\n`;
}

/** Reads a spec file's text; a bad file is BAD_INPUT naming the file, the key and what is accepted. */
export function parseSpec(text: string, source: string): ServiceSpec {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text);
  } catch (err) {
    const where = err instanceof TomlError ? ` (line ${err.line}, column ${err.column})` : '';
    throw new MurmurError('BAD_INPUT', `${source} is not valid TOML${where}: ${(err as Error).message.split('\n')[0] ?? ''}`, { cause: err });
  }
  const str = (key: string, fallback: string): string => {
    const v = doc[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'string') throw new MurmurError('BAD_INPUT', `${source}: ${key} must be a string`);
    return v;
  };
  const ident = doc.ident;
  if (typeof ident !== 'string') throw new MurmurError('BAD_INPUT', `${source}: ident is missing (e.g. ident = "core/redis")`);
  const binds = doc.binds ?? [];
  if (!Array.isArray(binds) || binds.some((b) => typeof b !== 'string')) {
    throw new MurmurError('BAD_INPUT', `${source}: binds must be a list of "NAME:SERVICE.GROUP" strings`);
  }
  let shutdownTimeoutSec: number | null = null;
  if (doc.shutdown_timeout !== undefined) {
    const t = doc.shutdown_timeout;
    if (typeof t !== 'number' && typeof t !== 'bigint') throw new MurmurError('BAD_INPUT', `${source}: shutdown_timeout must be a number of seconds`);
    shutdownTimeoutSec = Number(t);
  }
  let healthCheckIntervalSec = DEFAULT_HEALTH_CHECK_INTERVAL_SEC;
  const hci = doc.health_check_interval;
  if (hci !== undefined) {
    if (typeof hci === 'number') healthCheckIntervalSec = hci;
    else if (typeof hci === 'object' && hci !== null && typeof (hci as Record<string, unknown>).secs === 'number') {
      const h = hci as { secs: number; nanos?: unknown };
      healthCheckIntervalSec = h.secs + (typeof h.nanos === 'number' ? h.nanos / 1e9 : 0);
    } else throw new MurmurError('BAD_INPUT', `${source}: health_check_interval must be a table { secs = N, nanos = 0 }`);
  }
  const org = doc.org;
  const configFrom = doc.config_from;
  return checkSpec(
    {
      ident,
      group: str('group', DEFAULT_SPEC.group),
      org: typeof org === 'string' && org !== '' ? org : null,
      bldrUrl: str('bldr_url', DEFAULT_SPEC.bldrUrl),
      channel: str('channel', DEFAULT_SPEC.channel),
      topology: str('topology', DEFAULT_SPEC.topology) as Topology,
      updateStrategy: str('update_strategy', DEFAULT_SPEC.updateStrategy) as UpdateStrategy,
      updateCondition: str('update_condition', DEFAULT_SPEC.updateCondition),
      binds: binds as string[],
      bindingMode: str('binding_mode', DEFAULT_SPEC.bindingMode) as BindingMode,
      configFrom: typeof configFrom === 'string' && configFrom !== '' ? configFrom : null,
      desiredState: str('desired_state', DEFAULT_SPEC.desiredState) as DesiredState,
      shutdownTimeoutSec,
      healthCheckIntervalSec,
    },
    source,
  );
}
