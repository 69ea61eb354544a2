import { describe, expect, test } from 'vitest';
import { MurmurError } from '../../../src/core/index.js';
import {
  ConfigDate,
  type ConfigTable,
  envLayer,
  envLayerName,
  exportedConfig,
  isFloatEntry,
  MAX_MERGE_DEPTH,
  mergeLayers,
  parseTomlLayer,
  toTomlText,
} from '../../../src/sup/template/index.js';

function ok<T>(value: T | MurmurError | undefined): T {
  if (value instanceof MurmurError) throw value;
  if (value === undefined) throw new Error('expected a value');
  return value;
}

function err(value: unknown): MurmurError {
  expect(value).toBeInstanceOf(MurmurError);
  return value as MurmurError;
}

/** `{a: {a: … {leaf: 1}}}` with `levels` tables above the leaf. */
function nested(levels: number, leaf: Record<string, unknown>): Record<string, unknown> {
  let t: Record<string, unknown> = leaf;
  for (let i = 0; i < levels; i++) t = { a: t };
  return t;
}

describe('a TOML layer', () => {
  test('parses to plain data', () => {
    const cfg = ok(parseTomlLayer('port = 6379\nname = "redis"\n[tls]\nenabled = true\nciphers = ["a", "b"]\n', 'default.toml'));
    expect(cfg).toEqual({ port: 6379, name: 'redis', tls: { enabled: true, ciphers: ['a', 'b'] } });
    expect(JSON.stringify(cfg)).toBe('{"port":6379,"name":"redis","tls":{"enabled":true,"ciphers":["a","b"]}}');
  });

  test('a syntax error names the source, the line and the column', () => {
    const e = err(parseTomlLayer('a = 1\nb = = 2\n', 'user.toml'));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toMatch(/^user\.toml is not valid TOML: line 2, column \d+: /);
  });

  test('keeps integers and integral floats apart without bigints', () => {
    const cfg = ok(parseTomlLayer('ratio = 1.0\nport = 80\nhalf = 0.5\nlist = [1.0, 2]\n', 'x'));
    expect(cfg).toEqual({ ratio: 1, port: 80, half: 0.5, list: [1, 2] });
    expect(typeof cfg.port).toBe('number');
    expect(isFloatEntry(cfg, 'ratio')).toBe(true);
    expect(isFloatEntry(cfg, 'port')).toBe(false);
    expect(isFloatEntry(cfg.list as object, 0)).toBe(true);
    expect(toTomlText(cfg)).toBe('ratio = 1.0\nport = 80\nhalf = 0.5\nlist = [ 1.0, 2 ]\n');
  });

  test('refuses an integer beyond 2^53, naming the key', () => {
    expect(err(parseTomlLayer('[limits]\nbig = 9007199254740993\n', 'x')).message).toContain('limits.big');
  });

  test('a date renders as its TOML text', () => {
    const cfg = ok(parseTomlLayer('day = 1979-05-27\nat = 1979-05-27T07:32:00Z\n', 'x'));
    expect(cfg.day).toBeInstanceOf(ConfigDate);
    expect((cfg.day as ConfigDate).toString()).toBe('1979-05-27');
    expect((cfg.at as ConfigDate).toString()).toBe('1979-05-27T07:32:00.000Z');
    expect(toTomlText(cfg)).toBe('day = 1979-05-27\nat = 1979-05-27T07:32:00.000Z\n');
  });
});

describe('the environment layer', () => {
  test('is named HAB_<PKGNAME>, upper-cased, - as _', () => {
    expect(envLayerName('redis-ha')).toBe('HAB_REDIS_HA');
  });

  test('is absent when the variable is not set', () => {
    expect(envLayer('redis', {})).toBeUndefined();
  });

  test('is TOML first', () => {
    expect(ok(envLayer('redis', { HAB_REDIS: 'port = 1\n[tls]\non = true' }))).toEqual({ port: 1, tls: { on: true } });
  });

  test('falls back to JSON', () => {
    expect(ok(envLayer('my-app', { HAB_MY_APP: '{"port": 2, "tls": {"on": false}, "hosts": ["a"]}' }))).toEqual({
      port: 2,
      tls: { on: false },
      hosts: ['a'],
    });
  });

  test('neither TOML nor JSON is an error naming the variable, not the value', () => {
    const e = err(envLayer('redis', { HAB_REDIS: 'secret-password {' }));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toMatch(/^HAB_REDIS is neither TOML \(.*\) nor JSON \(.*\)$/);
    expect(e.message).not.toContain('secret-password');
  });

  test('JSON that is not an object, or holds null, is refused', () => {
    expect(err(envLayer('redis', { HAB_REDIS: '[1, 2]' })).message).toContain('HAB_REDIS');
    expect(err(envLayer('redis', { HAB_REDIS: '{"a": {"b": null}}' })).message).toMatch(/HAB_REDIS: a\.b is null/);
  });
});

describe('merging layers', () => {
  const defaults = ok(parseTomlLayer('port = 1\nmode = "default"\nhosts = ["a", "b", "c"]\n[tls]\nenabled = false\ncert = "d.crt"\n', 'default.toml'));
  const env = ok(envLayer('redis', { HAB_REDIS: 'port = 2\nmode = "env"' }));
  const user = ok(parseTomlLayer('port = 3\nhosts = ["x"]\n[tls]\nenabled = true\n', 'user.toml'));
  const gossip = ok(parseTomlLayer('port = 4\n', 'gossip'));

  test('later layers win: default < env < user < gossip', () => {
    expect(ok(mergeLayers([defaults, env, user, gossip]))).toEqual({
      port: 4,
      mode: 'env',
      hosts: ['x'],
      tls: { enabled: true, cert: 'd.crt' },
    });
    expect(ok(mergeLayers([defaults, env, user])).port).toBe(3);
    expect(ok(mergeLayers([defaults, env])).port).toBe(2);
    expect(ok(mergeLayers([defaults, undefined])).port).toBe(1);
  });

  test('tables merge key by key, an array replaces', () => {
    const merged = ok(mergeLayers([defaults, user]));
    expect(merged.tls).toEqual({ enabled: true, cert: 'd.crt' });
    expect(merged.hosts).toEqual(['x']);
  });

  test('any other type replaces, a table included', () => {
    expect(ok(mergeLayers([{ tls: { on: true } }, { tls: 'off' }]))).toEqual({ tls: 'off' });
    expect(ok(mergeLayers([{ tls: 'off' }, { tls: { on: true } }]))).toEqual({ tls: { on: true } });
  });

  test('inputs are left as they were', () => {
    const a = { t: { x: 1 } };
    const merged = ok(mergeLayers([a, { t: { y: 2 } }]));
    expect(a).toEqual({ t: { x: 1 } });
    expect(merged).toEqual({ t: { x: 1, y: 2 } });
  });

  test('float marks survive the merge', () => {
    const merged = ok(mergeLayers([ok(parseTomlLayer('[t]\nratio = 1.0\nport = 1.0\n', 'd')), ok(parseTomlLayer('[t]\nport = 2\n', 'u'))]));
    expect(toTomlText(merged)).toBe('[t]\nratio = 1.0\nport = 2\n');
  });

  test(`merges through ${MAX_MERGE_DEPTH} levels of tables`, () => {
    const merged = ok(mergeLayers([nested(MAX_MERGE_DEPTH, { x: 1 }), nested(MAX_MERGE_DEPTH, { y: 2 })]));
    let t: unknown = merged;
    for (let i = 0; i < MAX_MERGE_DEPTH; i++) t = (t as Record<string, unknown>).a;
    expect(t).toEqual({ x: 1, y: 2 });
  });

  test('refuses to recurse deeper, naming the key path', () => {
    const e = err(mergeLayers([nested(MAX_MERGE_DEPTH + 1, { x: 1 }), nested(MAX_MERGE_DEPTH + 1, { y: 2 })]));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toContain(`deeper than ${MAX_MERGE_DEPTH} levels at ${Array(MAX_MERGE_DEPTH + 1).fill('a').join('.')}`);
  });

  test('a key named __proto__ is just a key', () => {
    const merged = ok(mergeLayers([ok(parseTomlLayer('[__proto__]\npolluted = true\n', 'x'))]));
    expect(Object.keys(merged)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('exported config', () => {
  const cfg = ok(parseTomlLayer('port = 6379\nratio = 1.0\n[tls]\ncert = "a.crt"\n', 'x'));

  test('picks the value at each dotted path into a flat table', () => {
    expect(exportedConfig(cfg, { port: 'port', cert: 'tls.cert', tls: 'tls' })).toEqual({ port: 6379, cert: 'a.crt', tls: { cert: 'a.crt' } });
  });

  test('leaves out a path that leads nowhere', () => {
    expect(exportedConfig(cfg, { nope: 'tls.missing', deeper: 'port.x', gone: 'missing' })).toEqual({});
  });

  test('writes as TOML, floats kept', () => {
    expect(toTomlText(exportedConfig(cfg, { port: 'port', ratio: 'ratio', cert: 'tls.cert' }))).toBe('port = 6379\nratio = 1.0\ncert = "a.crt"\n');
  });
});

describe('TOML text', () => {
  test('an empty table is empty text', () => {
    expect(toTomlText({})).toBe('');
  });

  test('only a table can be written', () => {
    expect(() => toTomlText(['a'])).toThrow(/only a table/);
    expect(() => toTomlText('a')).toThrow(MurmurError);
  });

  test('round-trips through the parser', () => {
    const text = 'a = 1\nb = 1.5\nc = 2.0\nd = "x"\n\n[t]\nlist = [ 1, 2 ]\n';
    const parsed: ConfigTable = ok(parseTomlLayer(text, 'x'));
    expect(toTomlText(parsed)).toBe(text);
  });
});
