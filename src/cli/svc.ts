/**
 * `hab svc load|unload|start|stop|status`: a Supervisor's services, through its control gateway
 * (reference §6 "Service commands"). Flags are checked here with the Supervisor's own spec rules
 * before anything is sent; the messages are Habitat's (`The core/redis service was successfully
 * loaded`, `Unloading core/redis`, …).
 *
 * The load flags are shared with `hab sup run [IDENT]` (`addLoadOptions`, `parseLoadOptions`).
 */
import path from 'node:path';
import { InvalidArgumentError, Option, type Command, type OptionValues } from '@commander-js/extra-typings';
import type { BindingMode, LoadRequest, ServiceStatusJson, Topology, UpdateStrategy } from '../ctl/client.js';
import { BINDING_MODES, checkLoadRequest, checkPackageIdent, isHartPath, TOPOLOGIES, UPDATE_STRATEGIES } from '../ctl/client.js';
import type { CliDeps } from './deps.js';
import { connect, REMOTE_SUP_FLAGS, REMOTE_SUP_HELP } from './remote.js';

const IDENT_HELP = 'a package identifier: ORIGIN/NAME[/VERSION[/RELEASE]], e.g. core/redis';

/** The longest health-check interval a spec accepts (seconds), as `sup/spec.ts` checks it. */
const MAX_HEALTH_CHECK_INTERVAL_SEC = 86_400;

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** A whole number of seconds, `min` or more, for `flag`; commander reports the error as a usage error (exit 2). */
function seconds(flag: string, min: number, max = Number.MAX_SAFE_INTEGER): (raw: string) => number {
  return (raw) => {
    const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!(n >= min && n <= max)) throw new InvalidArgumentError(`${flag} must be a whole number of seconds from ${min} to ${max}.`);
    return n;
  };
}

/** `--shutdown-timeout S`, for load, unload and stop. */
export function shutdownTimeoutOption(): Option<'--shutdown-timeout <seconds>', undefined, undefined, number> {
  return new Option('--shutdown-timeout <seconds>', "seconds to wait after the shutdown signal before killing the service (default: the package's SHUTDOWN_TIMEOUT)").argParser(
    seconds('--shutdown-timeout', 0),
  );
}

/** The shared load flags of `hab svc load` and `hab sup run` (Habitat's "shared load flags"). */
export function addLoadOptions<Args extends unknown[], Opts extends OptionValues, Globals extends OptionValues>(command: Command<Args, Opts, Globals>) {
  return command
    .option('--group <group>', 'the group part of the service group (NAME.GROUP), default "default"')
    .addOption(new Option('-t, --topology <topology>', 'service group topology').choices(TOPOLOGIES))
    .addOption(new Option('-s, --strategy <strategy>', 'update strategy (default none)').choices(UPDATE_STRATEGIES))
    .option('--bind <bind>', 'a bind, NAME:SERVICE.GROUP[@ORG]; repeatable', collect)
    .addOption(new Option('--binding-mode <mode>', 'strict: start only once every bind is satisfied (default); relaxed: start anyway').choices(BINDING_MODES))
    .option('--health-check-interval <seconds>', 'seconds between health checks (default 30)', seconds('--health-check-interval', 1, MAX_HEALTH_CHECK_INTERVAL_SEC))
    .addOption(shutdownTimeoutOption())
    .option('--config-from <dir>', "use the config/, hooks/ and default.toml of this directory instead of the package's (development)");
}

/** The load flags as commander parses them. */
export interface LoadOptions {
  group?: string | undefined;
  topology?: Topology | undefined;
  strategy?: UpdateStrategy | undefined;
  bind?: string[] | undefined;
  bindingMode?: BindingMode | undefined;
  healthCheckInterval?: number | undefined;
  shutdownTimeout?: number | undefined;
  configFrom?: string | undefined;
  force?: boolean | undefined;
}

/** True when any load flag was given (they need an IDENT on `hab sup run`). */
export function hasLoadOptions(opts: LoadOptions): boolean {
  return [opts.group, opts.topology, opts.strategy, opts.bind, opts.bindingMode, opts.healthCheckInterval, opts.shutdownTimeout, opts.configFrom].some((v) => v !== undefined);
}

/**
 * A `LoadRequest` from IDENT and the load flags, checked. A `.hart` path and `--config-from` are
 * made absolute: the Supervisor reads them, from its own working directory.
 */
export function parseLoadOptions(ident: string, opts: LoadOptions, source: string): LoadRequest {
  const request: LoadRequest = { ident: isHartPath(ident) ? path.resolve(ident) : ident };
  if (opts.group !== undefined) request.group = opts.group;
  if (opts.topology !== undefined) request.topology = opts.topology;
  if (opts.strategy !== undefined) request.strategy = opts.strategy;
  if (opts.bind !== undefined) request.binds = opts.bind;
  if (opts.bindingMode !== undefined) request.bindingMode = opts.bindingMode;
  if (opts.healthCheckInterval !== undefined) request.healthCheckIntervalSec = opts.healthCheckInterval;
  if (opts.shutdownTimeout !== undefined) request.shutdownTimeoutSec = opts.shutdownTimeout;
  if (opts.configFrom !== undefined) request.configFrom = path.resolve(opts.configFrom);
  if (opts.force) request.force = true;
  return checkLoadRequest(request, source);
}

const STATUS_HEADER = ['package', 'type', 'desired', 'state', 'elapsed (s)', 'pid', 'group'];

/**
 * `hab svc status` as Habitat prints it: its columns through a tab writer (each column as wide as
 * its widest cell plus two spaces), `<none>` for what is not known, and "No services loaded."
 * for an empty list. Habitat's `type` column is always the literal `standalone` (a leftover of
 * composites); ours shows the topology, which is `standalone` unless the service is a leader
 * group.
 */
export function renderServiceStatus(services: readonly ServiceStatusJson[]): string {
  if (services.length === 0) return 'No services loaded.\n';
  const rows = [
    STATUS_HEADER,
    ...services.map((s) => [
      s.ident,
      s.topology,
      s.desired_state,
      s.state,
      s.elapsed_sec === null ? '<none>' : String(s.elapsed_sec),
      s.pid === null ? '<none>' : String(s.pid),
      s.service_group,
    ]),
  ];
  const widths = STATUS_HEADER.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)) + 2);
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('')).join('\n') + '\n';
}

/** Adds `svc load|unload|start|stop|status`; returns the `svc` command for `svc key` (`keys.ts`). */
export function addSvcCommands(program: Command, deps: CliDeps): Command {
  const svc = program.command('svc').description("a Supervisor's services: load, unload, start, stop, status");

  addLoadOptions(
    svc
      .command('load')
      .description('load a service: write its spec and start it; with --force, reload (and restart) a loaded one')
      .argument('<pkg_ident>', `${IDENT_HELP}, or the path of a .hart artifact to install first`),
  )
    .option('-f, --force', 'reload and restart the service if it is loaded already')
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (ident, opts) => {
      const request = parseLoadOptions(ident, opts, 'hab svc load');
      const ctl = await connect(deps, opts.remoteSup);
      const done = await ctl.loadService(request);
      deps.stdout(`The ${done.spec.ident} service was successfully loaded\n`);
    });

  svc
    .command('unload')
    .description('stop a service and remove its spec; it leaves the census')
    .argument('<pkg_ident>', IDENT_HELP)
    .addOption(shutdownTimeoutOption())
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (ident, opts) => {
      checkPackageIdent(ident, 'hab svc unload');
      const ctl = await connect(deps, opts.remoteSup);
      await ctl.unloadService(ident, opts.shutdownTimeout);
      deps.stdout(`Unloading ${ident}\n`);
    });

  svc
    .command('start')
    .description('start a loaded service (its desired state becomes up)')
    .argument('<pkg_ident>', IDENT_HELP)
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (ident, opts) => {
      checkPackageIdent(ident, 'hab svc start');
      const ctl = await connect(deps, opts.remoteSup);
      await ctl.startService(ident);
      deps.stdout(`Supervisor starting ${ident}. See the Supervisor output for more details.\n`);
    });

  svc
    .command('stop')
    .description('stop a loaded service (its desired state becomes down); it stays loaded')
    .argument('<pkg_ident>', IDENT_HELP)
    .addOption(shutdownTimeoutOption())
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (ident, opts) => {
      checkPackageIdent(ident, 'hab svc stop');
      const ctl = await connect(deps, opts.remoteSup);
      await ctl.stopService(ident, opts.shutdownTimeout);
      deps.stdout(`Supervisor stopping ${ident}. See the Supervisor output for more details.\n`);
    });

  svc
    .command('status')
    .description('the loaded services: package, topology, desired and actual state, seconds in that state, PID, service group')
    .argument('[pkg_ident]', `${IDENT_HELP}; without it, every loaded service`)
    .option('--json', 'print one JSON object, {"services": [...]}, as the control gateway answers it')
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (ident, opts) => {
      if (ident !== undefined) checkPackageIdent(ident, 'hab svc status');
      const ctl = await connect(deps, opts.remoteSup);
      const answer = await ctl.serviceStatus(ident);
      deps.stdout(opts.json ? `${JSON.stringify(answer)}\n` : renderServiceStatus(answer.services));
    });
  return svc;
}
