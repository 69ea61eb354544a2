import { describe, expect, test } from 'vitest';
import { MurmurError } from '../../../src/core/index.js';
import { createTemplateEngine, mergeLayers, parseTomlLayer, rewriteIndexing } from '../../../src/sup/template/index.js';

const engine = createTemplateEngine();

/** Renders `text` with `context`; a compile or render error comes back as the error. */
function render(text: string, context: unknown = {}, name = 't.conf'): string | MurmurError {
  const compiled = engine.compile(name, text);
  if (compiled instanceof MurmurError) return compiled;
  return compiled.render(context);
}

function ok(text: string, context: unknown = {}): string {
  const out = render(text, context);
  if (out instanceof MurmurError) throw out;
  return out;
}

function member(id: string, alive: boolean, ip: string) {
  return { member_id: id, alive, suspect: !alive, sys: { ip } };
}

const members = [member('a', true, '10.0.0.1'), member('b', false, '10.0.0.2'), member('c', true, '10.0.0.3'), member('d', true, '10.0.0.4')];

describe('rendering', () => {
  test('does not escape HTML', () => {
    expect(ok('{{x}} {{{x}}}', { x: '<a href="q?a=1&b=2">' })).toBe('<a href="q?a=1&b=2"> <a href="q?a=1&b=2">');
  });

  test('adjacent numbers and booleans are written side by side, not added', () => {
    expect(ok('{{a}}{{b}}{{t}}{{f}}', { a: 1, b: 2, t: true, f: false })).toBe('12truefalse');
    expect(ok('{{#each list}}{{@index}}{{@first}}{{this}};{{/each}}', { list: [7, 8] })).toBe('0true7;1false8;');
  });

  test('a TOML date renders as its TOML text, a table as handlebars.js writes objects', () => {
    const cfg = parseTomlLayer('day = 1979-05-27\n[t]\na = 1\n', 'x') as Record<string, unknown>;
    expect(ok('{{cfg.day}} {{cfg.t}}', { cfg })).toBe('1979-05-27 [object Object]');
  });

  test('a missing value renders empty', () => {
    expect(ok('[{{cfg.nope.deeper}}]', { cfg: {} })).toBe('[]');
  });

  test('#if follows handlebars-rust: an empty table is false', () => {
    expect(ok('{{#if t}}y{{else}}n{{/if}}{{#if z}}y{{else}}n{{/if}}{{#if full}}y{{else}}n{{/if}}', { t: {}, z: 0, full: { a: 1 } })).toBe('nny');
    expect(ok('{{#unless t}}empty{{/unless}}', { t: {} })).toBe('empty');
  });

  test('each engine is isolated from the global Handlebars and from the others', async () => {
    const { default: Handlebars } = await import('handlebars');
    expect(Handlebars.helpers.eachAlive).toBeUndefined();
    expect(Handlebars.compile('{{a}}{{b}}', { noEscape: true })({ a: 1, b: 2 })).toBe('3');
    expect(createTemplateEngine().compile('x', '{{toUppercase "a"}}')).not.toBeInstanceOf(MurmurError);
  });
});

describe('indexing', () => {
  test('members[0].sys.ip works as in Habitat', () => {
    expect(ok('{{svc.members[0].sys.ip}} {{svc.members[2].sys.ip}}', { svc: { members } })).toBe('10.0.0.1 10.0.0.3');
    expect(ok('{{bind.db.members[1].sys.ip}}', { bind: { db: { members } } })).toBe('10.0.0.2');
  });

  test('the handlebars.js forms still work', () => {
    expect(ok('{{svc.members.[1].sys.ip}} {{svc.members.3.sys.ip}}', { svc: { members } })).toBe('10.0.0.2 10.0.0.4');
  });

  test('indexing inside helper arguments and blocks', () => {
    expect(ok('{{toUppercase list[1]}} {{#with list[0]}}{{this}}{{/with}}', { list: ['a', 'b'] })).toBe('B a');
  });

  test('the rewrite leaves strings, comments, raw blocks, escapes and text alone', () => {
    expect(rewriteIndexing('a[0] {{x[0][1]}} {{f "s[0]" \'t[1]\'}} {{!-- y[0] --}} {{! z[0] }} \\{{e[0]}} {{{{raw}}}}{{q[0]}}{{{{/raw}}}} {{[w x][0]}} {{a.[0]}}')).toBe(
      'a[0] {{x.[0].[1]}} {{f "s[0]" \'t[1]\'}} {{!-- y[0] --}} {{! z[0] }} \\{{e[0]}} {{{{raw}}}}{{q[0]}}{{{{/raw}}}} {{[w x].[0]}} {{a.[0]}}',
    );
    expect(ok('{{strConcat "[" x "]"}}', { x: 'mid' })).toBe('[mid]');
  });
});

describe('eachAlive', () => {
  test('iterates alive members only, with @index, @first and @last counting those', () => {
    expect(ok('{{#eachAlive svc.members}}{{@index}}:{{sys.ip}}:{{@first}}:{{@last}} {{/eachAlive}}', { svc: { members } })).toBe(
      '0:10.0.0.1:true:false 1:10.0.0.3:false:false 2:10.0.0.4:false:true ',
    );
  });

  test('takes a block parameter', () => {
    expect(ok('{{#eachAlive svc.members as |m|}}{{m.member_id}}{{/eachAlive}}', { svc: { members } })).toBe('acd');
  });

  test('{{else}} when no member is alive, or there are none', () => {
    const tpl = '{{#eachAlive members}}{{member_id}}{{else}}nobody{{/eachAlive}}';
    expect(ok(tpl, { members: [member('b', false, '1')] })).toBe('nobody');
    expect(ok(tpl, { members: [] })).toBe('nobody');
    expect(ok(tpl, {})).toBe('nobody');
  });

  test('over a table, its alive values with @key', () => {
    expect(ok('{{#eachAlive m}}{{@key}}={{sys.ip}};{{/eachAlive}}', { m: { x: member('x', true, '1'), y: member('y', false, '2') } })).toBe('x=1;');
  });
});

describe('eachHealthy', () => {
  const checked = (id: string, alive: boolean, health: string) => ({ ...member(id, alive, id), health_check: health });
  const group = [checked('a', true, 'ok'), checked('b', true, 'critical'), checked('c', true, 'warning'), checked('d', false, 'ok'), checked('e', true, 'unknown')];

  test('iterates the alive members whose health check is OK or WARNING, with @first and @last counting those', () => {
    expect(ok('{{#eachHealthy members as |m|}}{{m.member_id}}{{#unless @last}},{{/unless}}{{/eachHealthy}}', { members: group })).toBe('a,c');
  });

  test('{{else}} when no member is healthy', () => {
    expect(ok('{{#eachHealthy members}}{{member_id}}{{else}}none{{/eachHealthy}}', { members: [checked('b', true, 'critical')] })).toBe('none');
  });
});

describe('helpers', () => {
  const deps = [
    { origin: 'core', name: 'openssl', version: '1.0.2', release: '20170101000000', path: '/hab/pkgs/core/openssl/1.0.2/20170101000000' },
    { origin: 'core', name: 'acl', version: '2.2.52', release: '20161208223311', path: '/hab/pkgs/core/acl/2.2.52/20161208223311' },
  ];

  test('pkgPathFor gives the install path of a dependency, empty when there is none', () => {
    expect(ok('{{pkgPathFor "core/acl"}}', { pkg: { deps } })).toBe('/hab/pkgs/core/acl/2.2.52/20161208223311');
    expect(ok('{{pkgPathFor "core/acl/2.2.52"}}', { pkg: { deps } })).toBe('/hab/pkgs/core/acl/2.2.52/20161208223311');
    expect(ok('[{{pkgPathFor "core/acl/9.9"}}][{{pkgPathFor "core/zlib"}}]', { pkg: { deps } })).toBe('[][]');
    expect(ok('{{#with svc}}{{pkgPathFor "core/openssl"}}{{/with}}', { pkg: { deps }, svc: {} })).toBe('/hab/pkgs/core/openssl/1.0.2/20170101000000');
  });

  test('pkgPathFor refuses something that is not an ident', () => {
    expect((render('{{pkgPathFor "openssl"}}', { pkg: { deps } }) as MurmurError).message).toContain('pkgPathFor needs a package ident');
  });

  test('strConcat joins any number of values', () => {
    expect(ok('{{strConcat "a" b 3 "-" c}}', { b: 'B', c: true })).toBe('aB3-true');
    expect(ok('{{strConcat "only"}}')).toBe('only');
  });

  test('strJoin joins a list with a separator', () => {
    expect(ok('{{strJoin ports ","}}', { ports: [80, 443, 8080] })).toBe('80,443,8080');
    expect(ok('{{strJoin names " | "}}', { names: ['a', 'b'] })).toBe('a | b');
    expect(ok('[{{strJoin empty ","}}]', { empty: [] })).toBe('[]');
  });

  test('strReplace replaces every occurrence', () => {
    expect(ok('{{strReplace s "old" "new"}}', { s: 'old is old' })).toBe('new is new');
  });

  test('toUppercase and toLowercase', () => {
    expect(ok('{{toUppercase s}} {{toLowercase s}}', { s: 'MiXed' })).toBe('MIXED mixed');
  });

  test('toJson is pretty-printed with 2 spaces', () => {
    expect(ok('{{toJson x}}', { x: { test: 'something' } })).toBe('{\n  "test": "something"\n}');
    expect(ok('{{toJson x}}', { x: { a: [1, { b: null }], e: {}, l: [] } })).toBe('{\n  "a": [\n    1,\n    {\n      "b": null\n    }\n  ],\n  "e": {},\n  "l": []\n}');
  });

  test('toToml writes a table', () => {
    expect(ok('{{toToml x}}', { x: { test: 'something' } })).toBe('test = "something"\n');
    expect(ok('{{toToml x}}', { x: { port: 80, tls: { on: true } } })).toBe('port = 80\n\n[tls]\non = true\n');
  });

  test('toYaml starts with ---', () => {
    expect(ok('{{toYaml x}}', { x: { test: 'something' } })).toBe('---\ntest: something');
    expect(ok('{{toYaml x}}', { x: { hosts: ['a', 'b'], flag: 'yes' } })).toBe('---\nhosts:\n  - a\n  - b\nflag: "yes"');
  });

  test('floats keep their fraction in toJson, toToml and toYaml', () => {
    const cfg = mergeLayers([parseTomlLayer('ratio = 1.0\nport = 80\n', 'default.toml') as Record<string, unknown>]);
    expect(ok('{{toJson cfg}}', { cfg })).toBe('{\n  "ratio": 1.0,\n  "port": 80\n}');
    expect(ok('{{toToml cfg}}', { cfg })).toBe('ratio = 1.0\nport = 80\n');
    expect(ok('{{toYaml cfg}}', { cfg })).toBe('---\nratio: 1.0\nport: 80');
  });

  test('{{log}} writes nothing', () => {
    expect(ok('a{{log "hello"}}b')).toBe('ab');
  });
});

describe('errors', () => {
  test('a syntax error names the template and the line', () => {
    const e = render('line one\nport = {{cfg.port}\nline three\n', {}, 'config/app.conf') as MurmurError;
    expect(e).toBeInstanceOf(MurmurError);
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toMatch(/^template config\/app\.conf: Parse error on line 2:/);
  });

  test('a helper that fails is an error value naming the template', () => {
    const e = render('{{toToml list}}', { list: [1] }, 'x.toml') as MurmurError;
    expect(e).toBeInstanceOf(MurmurError);
    expect(e.message).toMatch(/^template x\.toml: only a table/);
    expect((render('{{nosuchhelper 1}}') as MurmurError).message).toContain('Missing helper');
  });

  test('output beyond the limit is an error, and a huge loop stops early', () => {
    const small = createTemplateEngine({ maxOutputBytes: 1000 });
    const loop = small.compile('big', '{{#each items}}{{this}}{{/each}}');
    if (loop instanceof MurmurError) throw loop;
    const items = Array.from({ length: 1_000_000 }, () => 'xxxxxxxxxx');
    const e = loop.render({ items }) as MurmurError;
    expect(e).toBeInstanceOf(MurmurError);
    expect(e.code).toBe('TOO_LARGE');
    expect(e.message).toContain('template big');
    const plain = small.compile('plain', '{{s}}');
    if (plain instanceof MurmurError) throw plain;
    expect((plain.render({ s: 'é'.repeat(600) }) as MurmurError).code).toBe('TOO_LARGE');
    expect(plain.render({ s: 'é'.repeat(500) })).toBe('é'.repeat(500));
  });
});
