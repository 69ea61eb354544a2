/**
 * An in-memory stand-in for the ring a service reads (`ServiceRing`): the group's config and
 * files as the tests set them, an empty census, and the service rumors the service publishes.
 * The gossip side itself is covered end to end (test/e2e/services.test.ts); the service tests
 * are about what a service does with what the ring holds.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Census } from '../../src/census/index.js';
import type { InstalledPackage } from '../../src/pkg/index.js';
import type { ServiceRing } from '../../src/sup/service.js';
import { tempDir } from './process/helpers.js';
import type { ServiceConfigRumor, ServiceFileRumor, ServiceRumor, SysInfo } from '../../src/wire/index.js';

export class TestRing implements ServiceRing {
  readonly memberId = '0123456789abcdef0123456789abcdef';
  readonly permanent = false;
  configs = new Map<string, ServiceConfigRumor>();
  fileList: ServiceFileRumor[] = [];
  published: Omit<ServiceRumor, 'incarnation' | 'kind' | 'memberId'>[] = [];
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
    return { changed: true, local_member_id: this.memberId, last_service_counter: 0, last_election_counter: 0, last_election_update_counter: 0, last_membership_counter: 0, last_service_config_counter: 0, last_service_file_counter: 0, census_groups: {} };
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
    exports: { port: 'port' },
    exposes: [],
    binds: {},
    bindsOptional: {},
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
