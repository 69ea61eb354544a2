/**
 * The service manager: spec files in, running services out (reference §7, Habitat's
 * `Manager`). The specs directory is the source of truth: `hab svc load` writes a spec,
 * `unload` removes it, `start`/`stop` change its `desired_state`, and an operator may edit or
 * remove one by hand. `reconcile()` reads the directory and brings the services in line; it runs
 * after every request, when the directory changes (`fs.watch`), and once a second as a backstop.
 *
 * The ring drives the rest: a changed config, file, service rumor or member health makes every
 * service re-render (`Service.update`, which does nothing when nothing it renders changed).
 * A spec that does not parse, or names a package that is not installed, is reported once and
 * listed in the status with its error; it never stops the Supervisor or the other services.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Clock, Logger, Random } from '../core/index.js';
import { MurmurError } from '../core/index.js';
import type { InstalledPackage, PackageIdent, PackageStore, installHart } from '../pkg/index.js';
import type { TemplateEngine } from './template/index.js';
import { parseIdent } from '../pkg/ident.js';
import { checkBinds } from './binds.js';
import { ensureDir, writeFileAtomic } from './files.js';
import type { OutputSink, Timers } from './process/index.js';
import { realTimers } from './process/index.js';
import type { ServiceRing } from './service.js';
import type { Service } from './service.js';
import type { GroupMemberProgress, LoadRequest, LoadResult, ServicesApi, ServiceStatus } from './services-api.js';
import type { ServiceSpec } from './spec.js';
import { checkSpec, DEFAULT_SPEC, formatSpec, parseSpec, serviceGroupOf, specName } from './spec.js';

export interface ManagerRing extends ServiceRing {
  /** Calls `listener` when a rumor that services render from changed; returns an unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Removes this member's rumor for a service group from the ring (unload). */
  withdrawService(serviceGroup: string): void;
}

export interface ManagerDeps {
  log: Logger;
  sink: OutputSink;
  clock: Clock;
  wallNow: () => number;
  random: Random;
  timers?: Timers;
  ring: ManagerRing;
}

export interface ManagerOptions {
  /** `$FS_ROOT/hab` */
  habRoot: string;
  specsDir: string;
  keyCacheDir: string;
  env: Readonly<Record<string, string | undefined>>;
  /** `--org`: the organization of every service group this Supervisor runs. */
  org: string | null;
  /** Backstop reconcile period (ms). @default 1000 (Habitat's manager tick) */
  tickMs?: number;
  /** For tests: restart backoff of the services. */
  processTuning?: { backoff?: { minMs?: number; maxMs?: number; cooldownMs?: number } };
}

interface ServiceModules {
  Service: typeof Service;
  engine: TemplateEngine;
  packages: PackageStore;
  installHart: typeof installHart;
}

interface Loaded {
  /** The spec file's text, to tell an edit from a re-read. */
  text: string;
  spec: ServiceSpec;
  service: Service | null;
  /** Why the spec does not run (bad file, package not installed). */
  error: string | null;
  /** The spec is fine but its package is not installed (yet). */
  packageMissing?: boolean;
}

export class ServiceManager implements ServicesApi {
  private readonly deps: ManagerDeps;
  private readonly opts: ManagerOptions;
  private readonly pkgsRoot: string;
  private loadedModules: Promise<ServiceModules> | undefined;
  private readonly loaded = new Map<string, Loaded>();
  private readonly listeners = new Set<() => void>();
  private reconciling: Promise<void> = Promise.resolve();
  private reconcileQueued = false;
  private watcher: FSWatcher | undefined;
  private tick: unknown;
  private stopRing: () => void = () => {};
  private updateScheduled = false;
  private stopped = false;
  private readonly reported = new Map<string, string>();
  /** Specs to stop and start again on the next pass even if their text did not change (`--force`). */
  private readonly forced = new Set<string>();

  constructor(deps: ManagerDeps, opts: ManagerOptions) {
    this.deps = deps;
    this.opts = opts;
    this.pkgsRoot = join(opts.habRoot, 'pkgs');
  }

  private get timers(): Timers {
    return this.deps.timers ?? realTimers;
  }

  /** Starts reconciling: reads the specs, starts their services, watches the directory. */
  async open(): Promise<void> {
    await ensureDir(this.opts.specsDir);
    this.stopRing = this.deps.ring.onChange(() => this.ringChanged());
    try {
      this.watcher = watch(this.opts.specsDir, () => void this.reconcile());
      this.watcher.on('error', () => undefined);
    } catch {
      // The tick below still reconciles.
    }
    const every = this.opts.tickMs ?? 1000;
    const loop = (): void => {
      if (this.stopped) return;
      void this.reconcile().then(() => this.checkUserConfigs());
      this.tick = this.timers.setTimeout(loop, every);
    };
    await this.reconcile();
    this.tick = this.timers.setTimeout(loop, every);
  }

  /** Stops every service (shutdown signal, timeout, SIGKILL) and stops watching. */
  async close(): Promise<void> {
    this.stopped = true;
    this.stopRing();
    this.watcher?.close();
    if (this.tick !== undefined) this.timers.clearTimeout(this.tick);
    await this.reconciling;
    await Promise.all([...this.loaded.values()].flatMap((l) => (l.service ? [l.service.close()] : [])));
  }

  // ------------------------------------------------------------------------------ ServicesApi

  async load(request: LoadRequest): Promise<LoadResult> {
    let identText = request.ident;
    if (identText.endsWith('.hart')) {
      if (!isAbsolute(identText)) throw new MurmurError('BAD_INPUT', `a .hart path must be absolute; got ${identText}`);
      const { installHart } = await this.modules();
      const installed = await installHart(identText, { pkgsRoot: this.pkgsRoot, keyCacheDir: this.opts.keyCacheDir });
      this.deps.log.info(installed.alreadyInstalled ? 'package already installed' : 'package installed', { ident: installed.identText });
      identText = installed.identText;
    }
    const ident = parseIdent(identText);
    const { packages } = await this.modules();
    const pkg = await packages.load(await packages.resolve(ident));
    const name = ident.name;
    const spec = checkSpec({
      ...DEFAULT_SPEC,
      ident: identText,
      org: this.opts.org,
      ...(request.group !== undefined ? { group: request.group } : {}),
      ...(request.topology !== undefined ? { topology: request.topology } : {}),
      ...(request.strategy !== undefined ? { updateStrategy: request.strategy } : {}),
      ...(request.binds !== undefined ? { binds: request.binds } : {}),
      ...(request.bindingMode !== undefined ? { bindingMode: request.bindingMode } : {}),
      ...(request.healthCheckIntervalSec !== undefined ? { healthCheckIntervalSec: request.healthCheckIntervalSec } : {}),
      ...(request.shutdownTimeoutSec !== undefined ? { shutdownTimeoutSec: request.shutdownTimeoutSec } : {}),
      ...(request.configFrom !== undefined ? { configFrom: request.configFrom } : {}),
    });
    checkBinds(spec, pkg);
    if (spec.configFrom !== null) await withConfigFrom(pkg, spec.configFrom);
    await this.reconciling;
    const existing = this.loaded.get(name);
    if (existing && request.force) this.forced.add(name);
    if (existing && !request.force) {
      throw new MurmurError(
        'CONFLICT',
        `${name} is already loaded (${existing.spec.ident} in ${serviceGroupOf(existing.spec)}); use --force to reload it with the new settings`,
      );
    }
    await this.writeSpec(name, spec);
    await this.reconcile();
    return { spec, ident: pkg.identText, serviceGroup: serviceGroupOf(spec), reloaded: existing !== undefined };
  }

  async unload(ident: string, shutdownTimeoutSec?: number): Promise<ServiceStatus> {
    const name = this.nameOf(ident);
    const l = this.requireLoaded(name, ident);
    const status = this.statusOf(name, l);
    if (shutdownTimeoutSec !== undefined && l.service) await this.writeSpec(name, { ...l.spec, shutdownTimeoutSec });
    await rm(this.specFile(name), { force: true });
    await this.reconcile();
    return { ...status, desired: 'down', state: 'down', pid: null };
  }

  async start(ident: string): Promise<ServiceStatus> {
    return this.setDesired(ident, 'up');
  }

  async stop(ident: string, shutdownTimeoutSec?: number): Promise<ServiceStatus> {
    return this.setDesired(ident, 'down', shutdownTimeoutSec);
  }

  services(ident?: string): ServiceStatus[] {
    if (ident !== undefined) {
      const name = this.nameOf(ident);
      return [this.statusOf(name, this.requireLoaded(name, ident))];
    }
    return [...this.loaded].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, l]) => this.statusOf(name, l));
  }

  configShow(ident: string): string {
    const name = this.nameOf(ident);
    const l = this.requireLoaded(name, ident);
    if (!l.service) throw new MurmurError('CONFLICT', `${name} is not running: ${l.error ?? 'no config yet'}`);
    return l.service.configText();
  }

  groupProgress(serviceGroup: string): GroupMemberProgress[] {
    const group = this.deps.ring.census().census_groups[serviceGroup];
    if (!group) return [];
    const out: GroupMemberProgress[] = [];
    for (const m of Object.values(group.population)) {
      const rumor = this.deps.ring.serviceRumor(serviceGroup, m.member_id);
      out.push({
        memberId: m.member_id,
        host: m.sys.ip,
        configVersion: rumor?.configVersion ?? 0,
        files: rumor?.files ?? [],
        live: m.alive || m.suspect,
      });
    }
    return out;
  }

  onCensusChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ------------------------------------------------------------------------------ reconcile

  /** Reads the specs directory and brings the services in line. Calls during one fold into one more. */
  reconcile(): Promise<void> {
    if (this.reconcileQueued) return this.reconciling;
    this.reconcileQueued = true;
    this.reconciling = this.reconciling.then(async () => {
      this.reconcileQueued = false;
      if (this.stopped) return;
      try {
        await this.reconcileOnce();
      } catch (err) {
        this.deps.log.error('cannot read the service specs', { dir: this.opts.specsDir, error: (err as Error).message });
      }
    });
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    const files = (await readdir(this.opts.specsDir)).filter((f) => f.endsWith('.spec'));
    const wanted = new Map<string, string>();
    for (const f of files) {
      const text = await readFile(join(this.opts.specsDir, f), 'utf8').catch(() => null);
      if (text !== null) wanted.set(f.slice(0, -'.spec'.length), text);
    }
    for (const [name, l] of [...this.loaded]) {
      if (!wanted.has(name)) {
        this.loaded.delete(name);
        await this.retire(name, l);
      }
    }
    for (const [name, text] of wanted) {
      const held = this.loaded.get(name);
      // Unchanged and running (or unchanged and unreadable): nothing to do. A spec whose package
      // was missing is tried again on every pass, so `hab pkg install` is enough to start it.
      if (held && held.text === text && !this.forced.has(name) && (held.service !== null || held.packageMissing !== true)) continue;
      const force = this.forced.delete(name);
      await this.apply(name, text, held, force);
    }
  }

  private async apply(name: string, text: string, held: Loaded | undefined, force = false): Promise<void> {
    const file = this.specFile(name);
    let spec: ServiceSpec;
    try {
      spec = parseSpec(text, file);
      if (specName(spec.ident) !== name) throw new MurmurError('BAD_INPUT', `${file} names package ${spec.ident}, but the file is for ${name}`);
    } catch (err) {
      this.report(name, (err as Error).message);
      // A bad edit keeps a running service as it is.
      if (held) this.loaded.set(name, { ...held, text, error: (err as Error).message });
      else this.loaded.set(name, { text, spec: { ...DEFAULT_SPEC, ident: `unknown/${name}` }, service: null, error: (err as Error).message });
      return;
    }
    // Only the desired state changed: act on the running service.
    if (held?.service && sameExceptDesired(held.spec, spec) && !force) {
      held.service.spec.desiredState = spec.desiredState;
      if (spec.shutdownTimeoutSec !== held.spec.shutdownTimeoutSec) held.service.spec.shutdownTimeoutSec = spec.shutdownTimeoutSec;
      this.loaded.set(name, { text, spec, service: held.service, error: null });
      await held.service.update();
      this.censusChanged();
      return;
    }
    const leavesGroup = held !== undefined && serviceGroupOf(held.spec) !== serviceGroupOf(spec);
    let pkg: InstalledPackage;
    try {
      const { packages } = await this.modules();
      pkg = await packages.load(await packages.resolve(parseIdent(spec.ident)));
      if (spec.configFrom !== null) pkg = await withConfigFrom(pkg, spec.configFrom);
    } catch (err) {
      if (held) await this.retire(name, held, leavesGroup);
      this.report(name, (err as Error).message);
      this.loaded.set(name, { text, spec, service: null, error: (err as Error).message, packageMissing: true });
      return;
    }
    // A spec written by hand gets the check `hab svc load` makes; as a spec that does not parse,
    // one that fails it keeps a running service as it is.
    try {
      checkBinds(spec, pkg);
    } catch (err) {
      const message = `${file}: ${(err as Error).message}`;
      this.report(name, message);
      this.loaded.set(name, held?.service ? { ...held, text, error: message } : { text, spec, service: null, error: message });
      return;
    }
    if (held) await this.retire(name, held, leavesGroup);
    this.reported.delete(name);
    const { Service, engine } = await this.modules();
    const service = new Service(
      {
        log: this.deps.log.child({ preamble: serviceGroupOf(spec), logkey: 'SR' }),
        sink: this.deps.sink,
        clock: this.deps.clock,
        wallNow: this.deps.wallNow,
        random: this.deps.random,
        ...(this.deps.timers ? { timers: this.deps.timers } : {}),
        ring: this.deps.ring,
        engine,
      },
      {
        spec: { ...spec },
        pkg,
        svcPath: join(this.opts.habRoot, 'svc', name),
        userToml: join(this.opts.habRoot, 'user', name, 'config', 'user.toml'),
        env: this.opts.env,
        keyCacheDir: this.opts.keyCacheDir,
        ...(this.opts.processTuning ? { processTuning: this.opts.processTuning } : {}),
      },
    );
    this.loaded.set(name, { text, spec, service, error: null });
    this.deps.log.info(held ? 'service reloaded' : 'service loaded', { ident: pkg.identText, group: service.serviceGroup });
    await service.update();
    this.censusChanged();
  }

  /** Stops a service whose spec went away or changed; withdraws its rumor when it leaves the group. */
  private async retire(name: string, l: Loaded, leavesGroup = true): Promise<void> {
    this.reported.delete(name);
    if (!l.service) return;
    this.deps.log.info('stopping service', { ident: l.service.pkg.identText, group: l.service.serviceGroup });
    await l.service.close();
    if (leavesGroup) this.deps.ring.withdrawService(l.service.serviceGroup);
    this.censusChanged();
  }

  private async setDesired(ident: string, desired: 'up' | 'down', shutdownTimeoutSec?: number): Promise<ServiceStatus> {
    const name = this.nameOf(ident);
    const l = this.requireLoaded(name, ident);
    await this.writeSpec(name, { ...l.spec, desiredState: desired, ...(shutdownTimeoutSec !== undefined ? { shutdownTimeoutSec } : {}) });
    await this.reconcile();
    return this.statusOf(name, this.requireLoaded(name, ident));
  }

  private async checkUserConfigs(): Promise<void> {
    for (const l of this.loaded.values()) {
      await l.service?.checkUserToml().catch(() => undefined);
      // An encrypted config or file waiting for a key: try again, the key may have been imported.
      await l.service?.retryEncrypted().catch(() => undefined);
    }
  }

  /** A rumor changed: every service re-renders once, soon (changes in a burst fold into one pass). */
  private ringChanged(): void {
    this.censusChanged();
    if (this.updateScheduled || this.stopped) return;
    this.updateScheduled = true;
    this.timers.setTimeout(() => {
      this.updateScheduled = false;
      for (const l of this.loaded.values()) void l.service?.update();
    }, 0);
  }

  private censusChanged(): void {
    for (const listener of this.listeners) listener();
  }

  // ------------------------------------------------------------------------------ helpers

  /**
   * Services, templates and packages, imported on first use: Handlebars, YAML, tar and xz cost a
   * Supervisor about 10 MB of memory, which one that runs no service never needs.
   */
  private modules(): Promise<ServiceModules> {
    this.loadedModules ??= Promise.all([import('./service.js'), import('./template/index.js'), import('../pkg/index.js')]).then(([service, template, pkg]) => ({
      Service: service.Service,
      engine: template.createTemplateEngine(),
      packages: new pkg.PackageStore(this.pkgsRoot),
      installHart: pkg.installHart,
    }));
    return this.loadedModules;
  }

  private specFile(name: string): string {
    return join(this.opts.specsDir, `${name}.spec`);
  }

  private async writeSpec(name: string, spec: ServiceSpec): Promise<void> {
    await ensureDir(this.opts.specsDir);
    await writeFileAtomic(this.specFile(name), formatSpec(spec));
  }

  /** `redis`, `core/redis` or `core/redis/7.0.0/…` all name the service `redis`. */
  private nameOf(ident: string): string {
    if (/^[A-Za-z0-9_-]+$/.test(ident)) return ident;
    const parsed: PackageIdent = parseIdent(ident);
    return parsed.name;
  }

  private requireLoaded(name: string, ident: string): Loaded {
    const l = this.loaded.get(name);
    if (!l) throw new MurmurError('NOT_FOUND', `${ident} is not loaded on this Supervisor (hab svc status lists what is)`);
    return l;
  }

  private statusOf(name: string, l: Loaded): ServiceStatus {
    if (l.service) {
      const s = l.service.status();
      return l.error ? { ...s, lastError: l.error } : s;
    }
    return {
      ident: l.spec.ident,
      specIdent: l.spec.ident,
      serviceGroup: serviceGroupOf(l.spec),
      topology: l.spec.topology,
      bindingMode: l.spec.bindingMode,
      binds: l.spec.binds,
      desired: l.spec.desiredState,
      state: 'down',
      pid: null,
      startedAtMs: null,
      configVersion: 0,
      files: [],
      health: 'unknown',
      lastError: l.error,
      healthCheckIntervalSec: l.spec.healthCheckIntervalSec,
      svcPath: join(this.opts.habRoot, 'svc', name),
      pkgPath: null,
    };
  }

  private report(name: string, message: string): void {
    if (this.reported.get(name) === message) return;
    this.reported.set(name, message);
    this.deps.log.error('service spec not loaded', { spec: this.specFile(name), error: message });
  }
}

function sameExceptDesired(a: ServiceSpec, b: ServiceSpec): boolean {
  const strip = (s: ServiceSpec): string => JSON.stringify({ ...s, desiredState: '', shutdownTimeoutSec: 0 });
  return strip(a) === strip(b);
}

/**
 * `--config-from DIR` (development, as Habitat's `config_from`): the service's templates and
 * defaults come from DIR instead of the package — `DIR/config/`, `DIR/hooks/` and
 * `DIR/default.toml`, each absent when DIR lacks it — so that they can be edited without building
 * a package; every pass renders them again. DIR is on the Supervisor's host, an absolute path to a
 * directory.
 */
export async function withConfigFrom(pkg: InstalledPackage, dir: string): Promise<InstalledPackage> {
  const isDir = async (p: string): Promise<boolean> => (await stat(p).catch(() => null))?.isDirectory() === true;
  if (!isAbsolute(dir) || !(await isDir(dir))) {
    throw new MurmurError('NOT_FOUND', `--config-from ${dir}: not a directory on this Supervisor's host; give the absolute path of a directory holding config/, hooks/ or default.toml`);
  }
  let defaultToml: string | null = null;
  try {
    defaultToml = await readFile(join(dir, 'default.toml'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new MurmurError('IO', `--config-from ${dir}: cannot read default.toml: ${(err as Error).message}`, { cause: err });
  }
  return {
    ...pkg,
    configDir: (await isDir(join(dir, 'config'))) ? join(dir, 'config') : null,
    hooksDir: (await isDir(join(dir, 'hooks'))) ? join(dir, 'hooks') : null,
    defaultToml,
  };
}
