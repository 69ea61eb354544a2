/** Addresses: one spelling per endpoint, whichever socket reported it. */
import { describe, expect, test } from 'vitest';
import { formatAddress, normalizeHost, parseAddress, toIPv6Socket } from '../../src/net/address.js';

describe('addresses', () => {
  test('host:port and [v6]:port parse; IPv4-mapped hosts come out as IPv4', () => {
    expect(parseAddress('10.0.0.2:9638')).toEqual({ host: '10.0.0.2', port: 9638 });
    expect(parseAddress('[::1]:9638')).toEqual({ host: '::1', port: 9638 });
    expect(parseAddress('[::ffff:10.0.0.2]:9638')).toEqual({ host: '10.0.0.2', port: 9638 });
    expect(parseAddress('node-1.example:9638')).toEqual({ host: 'node-1.example', port: 9638 });
  });

  test('anything else is undefined, never a throw', () => {
    for (const bad of ['', ':9638', '10.0.0.2', '10.0.0.2:', '10.0.0.2:0', '10.0.0.2:65536', '10.0.0.2:96x', '::1:9638', '[::1]', '[::1]9638', '[nothost]:1', '[::1:9638']) {
      expect(parseAddress(bad), bad).toBeUndefined();
    }
  });

  test('formatting brackets IPv6 and unmaps IPv4-mapped addresses', () => {
    expect(formatAddress('10.0.0.2', 9638)).toBe('10.0.0.2:9638');
    expect(formatAddress('::1', 9638)).toBe('[::1]:9638');
    expect(formatAddress('::ffff:127.0.0.1', 9638)).toBe('127.0.0.1:9638');
    expect(formatAddress('::FFFF:127.0.0.1', 1)).toBe('127.0.0.1:1');
    expect(normalizeHost('::ffff:7f00:1')).toBe('::ffff:7f00:1');
  });

  test('an IPv6 socket is given IPv4 hosts as mapped addresses', () => {
    expect(toIPv6Socket('10.0.0.2')).toBe('::ffff:10.0.0.2');
    expect(toIPv6Socket('::1')).toBe('::1');
    expect(toIPv6Socket('node-1.example')).toBe('node-1.example');
  });
});
