/**
 * `/services` and the routes under it (reference §5): this Supervisor's loaded services in the
 * shape of Habitat's `/services` elements (schema `http_gateway_services_schema.json`), as far
 * as the manager's `ServiceStatus` fills it, plus three fields of our own (`config_version`,
 * `files`, `last_error`).
 *
 * - `GET /services`: every loaded service, stopped ones included.
 * - `GET /services/{svc}/{group}[/{org}]`: one, or a JSON 404 when the group is not loaded here.
 * - `…/config`: the merged config (every layer) as JSON.
 * - `…/health`: `{status, stdout, stderr}` with Habitat's status codes: 200 for OK and WARNING,
 *   503 for CRITICAL, 500 for UNKNOWN; `stdout`/`stderr` are what the last `health-check` hook
 *   run wrote (empty without a hook).
 *
 * The `config` and `health` routes are matched before `{org}`, as in Habitat: an org named
 * `config` or `health` cannot be addressed.
 */
import { parse } from 'smol-toml';
import { MurmurError } from '../core/index.js';
import { jsonReply, type HttpReply, type HttpRequest, type Router } from '../core/http-router.js';
import type { ServiceStatus } from '../sup/index.js';
import type { GatewaySource } from './source.js';

/** Habitat's `PackageIdent` as JSON: the parts a partial ident lacks are null. */
export interface PackageIdentJson {
  origin: string;
  name: string;
  version: string | null;
  release: string | null;
}

/** One element of `/services`. */
export interface ServiceJson {
  service_group: string;
  /** Deprecated in Habitat in favour of `spec_identifier`; both are served. */
  spec_ident: PackageIdentJson;
  spec_identifier: string;
  pkg: PackageIdentJson & {
    /** The fully qualified ident running, or the spec's when the package is not resolved. */
    ident: string;
    /** The package's install path, or null when it is not installed. */
    path: string | null;
    svc_path: string;
  };
  process: {
    pid: number | null;
    /** Habitat knows only these two: a service still starting is `down`. */
    state: 'up' | 'down';
    /** Seconds since the epoch, or null when the manager does not know. */
    state_entered: number | null;
  };
  desired_state: 'Up' | 'Down';
  topology: ServiceStatus['topology'];
  binding_mode: ServiceStatus['bindingMode'];
  binds: string[];
  health_check: 'Ok' | 'Warning' | 'Critical' | 'Unknown';
  health_check_interval: { secs: number; nanos: number };
  /** Approximated as "the service is up": the init hook has run and the run hook started. */
  initialized: boolean;
  /** Ours: the `hab config apply` version this service runs (0: none). */
  config_version: number;
  /** Ours: the `hab file upload` versions it holds. */
  files: { filename: string; version: number }[];
  /** Ours: what keeps it from running its newest config, or null. */
  last_error: string | null;
}

const HEALTH_CHECK: Record<ServiceStatus['health'], ServiceJson['health_check']> = {
  ok: 'Ok',
  warning: 'Warning',
  critical: 'Critical',
  unknown: 'Unknown',
};

/** `…/health`: Habitat's status words and HTTP codes. */
const HEALTH_ANSWER: Record<ServiceStatus['health'], { status: string; code: number }> = {
  ok: { status: 'OK', code: 200 },
  warning: { status: 'WARNING', code: 200 },
  critical: { status: 'CRITICAL', code: 503 },
  unknown: { status: 'UNKNOWN', code: 500 },
};

function identParts(ident: string): PackageIdentJson {
  const [origin = '', name = '', version, release] = ident.split('/');
  return { origin, name, version: version ?? null, release: release ?? null };
}

export function toServiceJson(s: ServiceStatus): ServiceJson {
  const since = s.stateEnteredMs ?? (s.state !== 'down' ? s.startedAtMs : null);
  const secs = Math.floor(s.healthCheckIntervalSec);
  return {
    service_group: s.serviceGroup,
    spec_ident: identParts(s.specIdent),
    spec_identifier: s.specIdent,
    pkg: { ident: s.ident, ...identParts(s.ident), path: s.pkgPath, svc_path: s.svcPath },
    process: { pid: s.pid, state: s.state === 'up' ? 'up' : 'down', state_entered: since === null ? null : Math.floor(since / 1000) },
    desired_state: s.desired === 'up' ? 'Up' : 'Down',
    topology: s.topology,
    binding_mode: s.bindingMode,
    binds: s.binds,
    health_check: HEALTH_CHECK[s.health],
    health_check_interval: { secs, nanos: Math.round((s.healthCheckIntervalSec - secs) * 1e9) },
    initialized: s.state === 'up',
    config_version: s.configVersion,
    files: s.files.map((f) => ({ filename: f.filename, version: f.version })),
    last_error: s.lastError,
  };
}

/** The parts of a service group name in a path, as `sup/rules.ts` accepts them. */
const NAME = /^[A-Za-z0-9_-]+$/;

export function addServiceRoutes(router: Router, source: GatewaySource): void {
  const all = (): ServiceStatus[] => source.services?.().services() ?? [];

  /** The loaded service of the path's group, or the answer to give instead (400 or 404). */
  const find = (req: HttpRequest): { service: ServiceStatus } | { refused: HttpReply } => {
    const { svc = '', group = '', org } = req.params;
    for (const [what, value] of [['service', svc], ['group', group], ['org', org]] as const) {
      if (value !== undefined && !NAME.test(value)) {
        return { refused: jsonReply({ error: `bad ${what} ${JSON.stringify(value)}: letters, digits, _ and - only`, path: req.path }, 400) };
      }
    }
    const serviceGroup = `${svc}.${group}${org !== undefined ? `@${org}` : ''}`;
    const found = all().find((s) => s.serviceGroup === serviceGroup);
    if (found) return { service: found };
    return { refused: jsonReply({ error: `no service of group ${serviceGroup} is loaded on this Supervisor`, service_group: serviceGroup, path: req.path }, 404) };
  };

  const one = (req: HttpRequest): HttpReply => {
    const found = find(req);
    return 'refused' in found ? found.refused : jsonReply(toServiceJson(found.service));
  };

  const config = (req: HttpRequest): HttpReply => {
    const found = find(req);
    if ('refused' in found) return found.refused;
    try {
      const api = source.services?.();
      if (!api) return jsonReply({ error: 'this Supervisor has no service manager', path: req.path }, 404);
      return jsonReply(parse(api.configShow(found.service.specIdent)));
    } catch (err) {
      const status = err instanceof MurmurError ? err.httpStatus : 500;
      return jsonReply({ error: (err as Error).message, path: req.path }, status);
    }
  };

  const health = (req: HttpRequest): HttpReply => {
    const found = find(req);
    if ('refused' in found) return found.refused;
    const answer = HEALTH_ANSWER[found.service.health];
    const output = found.service.healthCheckOutput ?? { stdout: '', stderr: '' };
    return jsonReply({ status: answer.status, stdout: output.stdout, stderr: output.stderr }, answer.code);
  };

  router.get('/services', () => jsonReply(all().map(toServiceJson)));
  router.get('/services/{svc}/{group}/config', config);
  router.get('/services/{svc}/{group}/health', health);
  router.get('/services/{svc}/{group}/{org}/config', config);
  router.get('/services/{svc}/{group}/{org}/health', health);
  router.get('/services/{svc}/{group}/{org}', one);
  router.get('/services/{svc}/{group}', one);
}
