/** Rumors for census and gateway tests: a `redis.prod@acme` group with two members and more. */
import type { ServiceConfigRumor, ServiceFileRumor, ServiceRumor, SysInfo } from '../../src/wire/index.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

export function sys(ip: string): SysInfo {
  return { ip, hostname: `host-${ip}`, gossipIp: ip, gossipPort: 9638, httpGatewayIp: '0.0.0.0', httpGatewayPort: 9631, ctlGatewayIp: '127.0.0.1', ctlGatewayPort: 9632 };
}

export function service(memberId: string, group: string, over: Partial<ServiceRumor> = {}): ServiceRumor {
  return { kind: 'service', group, memberId, incarnation: 1, pkg: 'core/redis/4.0.14/20190319155852', cfg: text('port = 6379\n'), sys: sys('10.0.0.1'), initialized: false, configVersion: 0, files: [], state: 'up', health: 'unknown', topology: 'standalone', ...over };
}

export function config(group: string, version: number, toml: string, over: Partial<ServiceConfigRumor> = {}): ServiceConfigRumor {
  return { kind: 'service-config', group, version, encrypted: false, config: text(toml), from: '', ...over };
}

export function file(group: string, filename: string, version: number, body: string, over: Partial<ServiceFileRumor> = {}): ServiceFileRumor {
  return { kind: 'service-file', group, filename, version, encrypted: false, body: text(body), from: '', ...over };
}

export const BOX = 'BOX-1\nalice-20240101000000\nredis.prod@acme-20240101000000\nbm9uY2U=\nY2lwaGVy';
