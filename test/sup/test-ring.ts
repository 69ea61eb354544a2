/**
 * An in-memory stand-in for the ring a service reads (`ServiceRing`): the group's config and
 * files as the tests set them, a census whose groups and members the tests set by hand
 * (`setMember`: another member joins, changes its exports or health, becomes leader), and the
 * service rumors the service publishes. The gossip side itself is covered end to end
 * (test/e2e/services.test.ts); the service tests are about what a service does with what the
 * ring holds.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Census, CensusGroup, CensusMember } from '../../src/census/index.js';
import { splitPackageIdent, splitServiceGroup } from '../../src/census/index.js';
import type { LogFields, Logger } from '../../src/core/index.js';
import { seededRandom } from '../../src/core/index.js';
import type { InstalledPackage } from '../../src/pkg/index.js';
import type { ServiceSpec } from '../../src/sup/index.js';
import { DEFAULT_SPEC } from '../../src/sup/index.js';
import type { ServiceRing } from '../../src/sup/service.js';
import { Service } from '../../src/sup/service.js';
import { createTemplateEngine } from '../../src/sup/template/index.js';
import { childEnv, recordingSink, tempDir } from './process/helpers.js';
import type { ServiceConfigRumor, ServiceFileRumor, ServiceRumor, SysInfo } from '../../src/wire/index.js';

export class TestRing implements ServiceRing {
  readonly memberId = '0123456789abcdef0123456789abcdef';
  readonly permanent = false;
  configs = new Map<string, ServiceConfigRumor>();
  fileList: ServiceFileRumor[] = [];
  published: Omit<ServiceRumor, 'incarnation' | 'kind' | 'memberId'>[] = [];
  /** The census groups, by service group; `setMember` fills them. */
  groups: Record<string, CensusGroup> = {};
  sys(): SysInfo {
    return { ip: '127.0.0.1', hostname: 'test', gossipIp: '127.0.0.1', gossipPort: 9638, httpGatewayIp: '127.0.0.1', httpGatewayPort: 9631, ctlGatewayIp: '127.0.0.1', ctlGatewayPort: 9632 };
  }
  config(group: string): ServiceConfigRumor | undefined {
    return this.configs.get(group);
  }
  files(group: string): ServiceFileRumor[] {
    return this.fileList.filter((f) => f.group === group);
  }
  census(): Census {
    return { changed: true, local_member_id: this.memberId, last_service_counter: 0, last_election_counter: 0, last_election_update_counter: 0, last_membership_counter: 0, last_service_config_counter: 0, last_service_file_counter: 0, census_groups: structuredClone(this.groups) };
  }
  /**
   * Puts a member of another Supervisor into `group`'s census, or changes the one there:
   * `ip` is its `sys.ip`, `cfg` its exported config; alive, not leader, health `ok` unless said.
   */
  setMember(group: string, id: string, over: Partial<Omit<CensusMember, 'sys'>> & { ip?: string } = {}): void {
    const { ip, ...fields } = over;
    const held = this.groups[group]?.population[id];
    const { service, group: groupName, org } = splitServiceGroup(group);
    const pkg = `test/${service}/1.0.0/20260101000000`;
    const member: CensusMember = held
      ? { ...held, ...fields }
      : {
          member_id: id, pkg: splitPackageIdent(pkg), pkg_incarnation: 0, package: pkg, service, group: groupName, org, persistent: false,
          leader: false, follower: false, update_leader: false, update_follower: false,
          election_is_running: false, election_is_no_quorum: false, election_is_finished: false,
          update_election_is_running: false, update_election_is_no_quorum: false, update_election_is_finished: false,
          sys: { ip: '10.0.0.1', hostname: id, gossip_ip: '10.0.0.1', gossip_port: 9638, http_gateway_ip: '10.0.0.1', http_gateway_port: 9631, ctl_gateway_ip: '127.0.0.1', ctl_gateway_port: 9632 },
          alive: true, suspect: false, confirmed: false, departed: false, cfg: {}, initialized: true, config_version: 0, file_versions: {}, process_state: 'up', health_check: 'ok',
          ...fields,
        };
    if (ip !== undefined) member.sys = { ...member.sys, ip, gossip_ip: ip };
    this.groups[group] ??= {
      service_group: group, election_status: 'None', update_election_status: 'None', pkg_incarnation: 0, leader_id: null, update_leader_id: null,
      local_member_id: this.memberId, service_config: null, service_files: {}, changed_service_files: [], population: {},
    };
    this.groups[group].population[id] = member;
  }
  /** Makes `id` the one member of `group` flagged leader, as the census shows a finished election. */
  setLeader(group: string, id: string): void {
    for (const m of Object.values(this.groups[group]?.population ?? {})) {
      m.leader = m.member_id === id;
      m.follower = m.member_id !== id;
    }
  }
  /** Takes a member out of `group`'s census (its service was unloaded). */
  removeMember(group: string, id: string): void {
    delete this.groups[group]?.population[id];
  }
  serviceRumor(): ServiceRumor | undefined {
    return undefined;
  }
  publishService(rumor: Omit<ServiceRumor, 'incarnation' | 'kind' | 'memberId'>): void {
    this.published.push(rumor);
  }
  /** `hab config apply GROUP VERSION` as the ring would hold it. */
  applyConfig(group: string, version: number, toml: string): void {
    this.configs.set(group, { kind: 'service-config', group, version, encrypted: false, config: new TextEncoder().encode(toml), from: '' });
  }
}

export interface PackageFiles {
  defaultToml?: string;
  config?: Record<string, string>;
  hooks?: Record<string, string>;
  /** Hooks written without the executable bit. */
  notExecutable?: string[];
  /** `pkg_exports`. @default { port: 'port' } */
  exports?: Record<string, string>;
  /** `pkg_binds`: bind name → export keys. @default {} */
  binds?: Record<string, string[]>;
  /** `pkg_binds_optional`. @default {} */
  bindsOptional?: Record<string, string[]>;
}

/** An installed package laid out by hand: the metadata the Supervisor reads, and its templates. */
export async function makePackage(files: PackageFiles): Promise<InstalledPackage> {
  const path = await tempDir('murmur-pkg-');
  const configDir = join(path, 'config');
  const hooksDir = join(path, 'hooks');
  await mkdir(configDir);
  await mkdir(hooksDir);
  for (const [name, text] of Object.entries(files.config ?? {})) await writeFile(join(configDir, name), text);
  for (const [name, text] of Object.entries(files.hooks ?? {})) {
    await writeFile(join(hooksDir, name), text);
    await chmod(join(hooksDir, name), files.notExecutable?.includes(name) ? 0o644 : 0o755);
  }
  return {
    ident: { origin: 'test', name: 'svc', version: '1.0.0', release: '20260101000000' },
    identText: 'test/svc/1.0.0/20260101000000',
    path,
    exports: files.exports ?? { port: 'port' },
    exposes: [],
    binds: files.binds ?? {},
    bindsOptional: files.bindsOptional ?? {},
    svcUser: 'nobody-here',
    svcGroup: 'nobody-here',
    shutdownSignal: 'TERM',
    shutdownTimeoutSec: 2,
    deps: [],
    defaultToml: files.defaultToml ?? null,
    configDir,
    hooksDir,
    runFile: null,
  };
}

/**
 * A package installed under `$FS_ROOT/hab/pkgs` the way `hab pkg install` lays it out (the
 * metadata files the package store reads), for tests that go through the service manager.
 * Returns the fully qualified ident.
 */
export async function installPackage(habRoot: string, name: string, files: PackageFiles): Promise<string> {
  const ident = `test/${name}/1.0.0/20260101000000`;
  const dir = join(habRoot, 'pkgs', ident);
  await mkdir(join(dir, 'config'), { recursive: true });
  await mkdir(join(dir, 'hooks'), { recursive: true });
  const lines = (table: Record<string, string | string[]>): string =>
    Object.entries(table)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(' ') : v}\n`)
      .join('');
  await writeFile(join(dir, 'IDENT'), `${ident}\n`);
  await writeFile(join(dir, 'EXPORTS'), lines(files.exports ?? { port: 'port' }));
  await writeFile(join(dir, 'BINDS'), lines(files.binds ?? {}));
  await writeFile(join(dir, 'BINDS_OPTIONAL'), lines(files.bindsOptional ?? {}));
  await writeFile(join(dir, 'SVC_USER'), 'nobody-here\n');
  await writeFile(join(dir, 'SVC_GROUP'), 'nobody-here\n');
  await writeFile(join(dir, 'SHUTDOWN_TIMEOUT'), '2\n');
  if (files.defaultToml !== undefined) await writeFile(join(dir, 'default.toml'), files.defaultToml);
  for (const [file, text] of Object.entries(files.config ?? {})) await writeFile(join(dir, 'config', file), text);
  for (const [hook, text] of Object.entries(files.hooks ?? {})) {
    await writeFile(join(dir, 'hooks', hook), text);
    await chmod(join(dir, 'hooks', hook), files.notExecutable?.includes(hook) ? 0o644 : 0o755);
  }
  return ident;
}

const running: Service[] = [];

/** Closes every service `startService` made (for `afterEach`). */
export async function closeServices(): Promise<void> {
  for (const s of running.splice(0)) await s.close();
}

/**
 * A real `Service` of `pkg` in `svc.prod` against `ring`, after its first update pass: short
 * restart backoff, and the spec's fields as given (binds, binding mode, health-check interval).
 */
export async function startService(
  pkg: InstalledPackage,
  opts: { ring?: TestRing; spec?: Partial<ServiceSpec>; backoff?: { minMs?: number; maxMs?: number; cooldownMs?: number } } = {},
): Promise<{ service: Service; ring: TestRing; svcPath: string; output: () => string[]; log: string[] }> {
  const ring = opts.ring ?? new TestRing();
  const svcPath = await tempDir('murmur-svc-');
  const { sink, text } = recordingSink();
  const log: string[] = [];
  const service = new Service(
    { log: recordingLogger(log), sink, clock: { now: () => performance.now() }, wallNow: () => Date.now(), random: seededRandom(1), ring, engine: createTemplateEngine() },
    {
      spec: { ...DEFAULT_SPEC, ident: 'test/svc', group: 'prod', ...opts.spec },
      pkg,
      svcPath,
      userToml: join(svcPath, 'no-user.toml'),
      env: childEnv,
      processTuning: { backoff: opts.backoff ?? { minMs: 20, maxMs: 50, cooldownMs: 60_000 } },
    },
  );
  running.push(service);
  await service.update();
  return { service, ring, svcPath, output: text, log };
}

/** A logger that keeps `LEVEL message k=v` lines. */
export function recordingLogger(into: string[]): Logger {
  const make = (bindings: LogFields): Logger => {
    const line = (level: string) => (msg: string, fields?: LogFields) => {
      const all = { ...bindings, ...fields };
      into.push(`${level} ${msg}${Object.entries(all).map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('')}`);
    };
    return { debug: () => {}, info: line('INFO'), warn: line('WARN'), error: line('ERROR'), child: (more) => make({ ...bindings, ...more }) };
  };
  return make({});
}
