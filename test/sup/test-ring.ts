/**
 * An in-memory stand-in for the ring a service reads (`ServiceRing`): the group's config and
 * files as the tests set them, an empty census, and the service rumors the service publishes.
 * The gossip side itself is covered end to end (test/e2e/services.test.ts); the service tests
 * are about what a service does with what the ring holds.
 */
import type { Census } from '../../src/census/index.js';
import type { ServiceRing } from '../../src/sup/service.js';
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
