/**
 * Spec files: Habitat's format read and written, and every bad value refused with the file and
 * the key named.
 */
import { describe, expect, test } from 'vitest';
import { MurmurError } from '../../src/core/index.js';
import { DEFAULT_SPEC, formatSpec, parseBind, parseSpec, serviceGroupOf, type ServiceSpec } from '../../src/sup/index.js';

/** A spec file as Habitat 1.6 writes it (`hab svc load core/redis --group prod --bind db:postgresql.prod`). */
const HABITAT_SPEC = `ident = "core/redis"
group = "prod"
bldr_url = "https://bldr.habitat.sh"
channel = "stable"
topology = "leader"
update_strategy = "at-once"
update_condition = "latest"
binds = ["db:postgresql.prod"]
binding_mode = "relaxed"
desired_state = "down"
shutdown_timeout = 12

[health_check_interval]
secs = 45
nanos = 0
`;

describe('spec files', () => {
  test("a spec written by Habitat reads with every field", () => {
    const spec = parseSpec(HABITAT_SPEC, 'redis.spec');
    expect(spec).toEqual<ServiceSpec>({
      ident: 'core/redis',
      group: 'prod',
      org: null,
      bldrUrl: 'https://bldr.habitat.sh',
      channel: 'stable',
      topology: 'leader',
      updateStrategy: 'at-once',
      updateCondition: 'latest',
      binds: ['db:postgresql.prod'],
      bindingMode: 'relaxed',
      configFrom: null,
      desiredState: 'down',
      shutdownTimeoutSec: 12,
      healthCheckIntervalSec: 45,
    });
    expect(serviceGroupOf(spec)).toBe('redis.prod');
  });

  test('a spec round-trips through its text, and a minimal one takes the defaults', () => {
    const spec = parseSpec(HABITAT_SPEC, 'redis.spec');
    expect(parseSpec(formatSpec(spec), 'again.spec')).toEqual(spec);
    expect(formatSpec(spec)).toMatch(/\[health_check_interval\]\nsecs = 45\nnanos = 0\n/);
    expect(parseSpec('ident = "core/demo"\n', 'demo.spec')).toEqual({ ...DEFAULT_SPEC, ident: 'core/demo' });
    const withOrg = parseSpec('ident = "core/demo"\norg = "acme"\n', 'demo.spec');
    expect(serviceGroupOf(withOrg)).toBe('demo.default@acme');
  });

  test.each([
    ['not TOML', 'ident = = 1', /demo\.spec is not valid TOML \(line 1, column/],
    ['no ident', 'group = "prod"', /demo\.spec: ident is missing/],
    ['a bad ident', 'ident = "core"', /ident must be ORIGIN\/NAME/],
    ['an unknown topology', 'ident = "core/demo"\ntopology = "mesh"', /topology must be standalone or leader; got "mesh"/],
    ['a bad bind', 'ident = "core/demo"\nbinds = ["db=postgresql.prod"]', /bind must be NAME:SERVICE\.GROUP\[@ORG\]/],
    ['a bind given twice', 'ident = "core/demo"\nbinds = ["db:a.b", "db:c.d"]', /bind db is given twice/],
    ['a desired state that is neither up nor down', 'ident = "core/demo"\ndesired_state = "sideways"', /desired state must be up or down/],
    ['a negative shutdown timeout', 'ident = "core/demo"\nshutdown_timeout = -1', /shutdown timeout must be a whole number of seconds/],
    ['a zero health-check interval', 'ident = "core/demo"\n[health_check_interval]\nsecs = 0\nnanos = 0', /health check interval must be 1 to 86400 seconds/],
    ['a group with a dot', 'ident = "core/demo"\ngroup = "a.b"', /group must be letters, digits/],
  ])('%s is refused, naming the file and the key', (_what, text, message) => {
    let caught: unknown;
    try {
      parseSpec(text, 'demo.spec');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MurmurError);
    expect((caught as MurmurError).code).toBe('BAD_INPUT');
    expect((caught as MurmurError).message).toMatch(message);
  });

  test('binds name a bind and a service group, with or without an org', () => {
    expect(parseBind('db:postgresql.prod')).toEqual({ name: 'db', serviceGroup: 'postgresql.prod' });
    expect(parseBind('cache:redis.prod@acme')).toEqual({ name: 'cache', serviceGroup: 'redis.prod@acme' });
    expect(() => parseBind('redis.prod')).toThrow(/NAME:SERVICE\.GROUP/);
  });
});
