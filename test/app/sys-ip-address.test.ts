/**
 * Member addresses travel as IP literals (docs/security.md "Fuzzing"): peers refuse a gossiped
 * record naming a host name, so `hab sup run --sys-ip-address` must be an IP address, refused
 * with a message before anything starts; `--peer` may name hosts, which the Supervisor resolves
 * once itself.
 */
import { describe, expect, test } from 'vitest';
import { parseSupRunOptions } from '../../src/cli/sup.js';
import { MurmurError } from '../../src/core/index.js';

describe('hab sup run --sys-ip-address', () => {
  test('a host name is BAD_INPUT naming the flag and why', () => {
    for (const bad of ['node-1.example', 'localhost', '10.0.0.1:9638', '[::1]', '']) {
      let err: unknown;
      try {
        parseSupRunOptions({ sysIpAddress: bad }, {});
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(MurmurError);
      expect((err as MurmurError).code).toBe('BAD_INPUT');
      expect((err as MurmurError).message).toBe(
        `--sys-ip-address must be an IP address (e.g. 10.0.0.2), not a host name: other members send to it as it is, without resolving it; got ${JSON.stringify(bad)}`,
      );
    }
  });

  test('IPv4 and IPv6 literals are taken; --peer may still name hosts (resolved once by the Supervisor)', () => {
    expect(parseSupRunOptions({ sysIpAddress: '10.0.0.2' }, {}).sysIpAddress).toBe('10.0.0.2');
    expect(parseSupRunOptions({ sysIpAddress: '2001:db8::2' }, {}).sysIpAddress).toBe('2001:db8::2');
    expect(parseSupRunOptions({ peer: ['seed.example:9638'] }, {}).peers).toEqual([{ host: 'seed.example', port: 9638 }]);
  });
});
