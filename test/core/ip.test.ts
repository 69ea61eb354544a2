/**
 * IP literals as the gossip core and `--sys-ip-address` take them (`core/ip.ts`): the same answer
 * as Node's `net.isIP`, which the core may not import, save for zones (`%eth0`), which are refused.
 */
import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { isIPv4Literal, isIPv6Literal, isIpLiteral } from '../../src/core/index.js';

describe('IP literals', () => {
  test('examples', () => {
    for (const yes of ['10.0.0.2', '0.0.0.0', '255.255.255.255', '::', '::1', '2001:db8::8:800:200c:417a', '::ffff:10.0.0.2', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4']) {
      expect(isIpLiteral(yes), yes).toBe(true);
    }
    for (const no of ['', 'localhost', 'node-1.example', '10.0.0.256', '010.0.0.1', '10.0.0', '10.0.0.1.5', '10.0.0.1:9638', '[::1]', 'fe80::1%eth0', ':::', '1::2::3', '1.2.3.4::', '1:2:3:4:5:6:7:8::', 'g::1', '00000::1', ' 10.0.0.1']) {
      expect(isIpLiteral(no), no).toBe(false);
    }
    expect(isIPv4Literal('::1')).toBe(false);
    expect(isIPv6Literal('10.0.0.1')).toBe(false);
  });

  test('agree with net.isIP on generated addresses and near misses', () => {
    const hexGroup = fc.stringMatching(/^[0-9a-fA-F]{0,5}$/);
    const v4 = fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((parts) => parts.join('.'));
    const v6 = fc.array(fc.oneof(hexGroup, fc.constant(''), v4), { minLength: 1, maxLength: 10 }).map((groups) => groups.join(':'));
    const noise = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.%g '.split('')), maxLength: 40 });
    fc.assert(
      fc.property(fc.oneof(v4, v6, noise), (text) => {
        const node = isIP(text) !== 0 && !text.includes('%');
        expect(isIpLiteral(text), text).toBe(node);
      }),
      { numRuns: 20_000, seed: 7 },
    );
  });
});
