import { describe, expect, test } from 'vitest';
import { MurmurError } from '../../src/core/index.js';
import {
  compareIdents,
  compareVersions,
  formatIdent,
  identMatches,
  isFullyQualified,
  newestFirst,
  parseIdent,
} from '../../src/pkg/index.js';

function parseError(text: string): MurmurError {
  try {
    parseIdent(text);
  } catch (err) {
    expect(err).toBeInstanceOf(MurmurError);
    return err as MurmurError;
  }
  throw new Error(`parseIdent("${text}") did not throw`);
}

describe('parsing idents', () => {
  test('origin/name, with an optional version and release', () => {
    expect(parseIdent('core/redis')).toEqual({ origin: 'core', name: 'redis' });
    expect(parseIdent('core/redis/7.0.0')).toEqual({ origin: 'core', name: 'redis', version: '7.0.0' });
    expect(parseIdent('core/redis/7.0.0/20240101120000')).toEqual({
      origin: 'core',
      name: 'redis',
      version: '7.0.0',
      release: '20240101120000',
    });
    expect(parseIdent('my-org/my_app/1.2.3-rc1+build.5')).toMatchObject({ version: '1.2.3-rc1+build.5' });
  });

  test('format is the inverse of parse', () => {
    for (const text of ['core/redis', 'core/redis/7.0.0', 'core/redis/7.0.0/20240101120000']) {
      expect(formatIdent(parseIdent(text))).toBe(text);
    }
  });

  test.each([
    ['', 'is empty'],
    ['redis', 'has no name'],
    ['core/redis/1/20240101120000/extra', 'has 5 parts'],
    ['Core/redis', 'origin "Core" is not valid'],
    ['core/', 'name "" is not valid'],
    ['core/re dis', 'name "re dis" is not valid'],
    ['core/redis/', 'version "" is not valid'],
    ['core/redis/.1', 'version ".1" is not valid'],
    ['core/redis/1.0/2024', 'release "2024" is not a 14-digit UTC timestamp'],
  ])('"%s" is refused: %s', (text, problem) => {
    const err = parseError(text);
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain(problem);
    expect(err.message).toContain('origin/name[/version[/release]]');
  });

  test('fully qualified means version and release', () => {
    expect(isFullyQualified(parseIdent('core/redis/1.0.0/20240101120000'))).toBe(true);
    expect(isFullyQualified(parseIdent('core/redis/1.0.0'))).toBe(false);
  });

  test('a partial ident matches the packages it names', () => {
    const full = parseIdent('core/redis/1.0.0/20240101120000');
    expect(identMatches(parseIdent('core/redis'), full)).toBe(true);
    expect(identMatches(parseIdent('core/redis/1.0.0'), full)).toBe(true);
    expect(identMatches(parseIdent('core/redis/1.0.1'), full)).toBe(false);
    expect(identMatches(parseIdent('acme/redis'), full)).toBe(false);
  });
});

describe('ordering versions as Habitat does', () => {
  const order = (a: string, b: string): number => Math.sign(compareVersions(a, b));

  test('numeric segments compare as numbers, not strings', () => {
    expect(order('1.10.0', '1.9.0')).toBe(1);
    expect(order('2', '10')).toBe(-1);
    expect(order('1.2.3', '1.2.3')).toBe(0);
  });

  test('a missing segment counts as 0', () => {
    expect(order('1.2', '1.2.0')).toBe(0);
    expect(order('1.2', '1.2.1')).toBe(-1);
  });

  test('an extension is older than the bare version; two extensions compare as strings', () => {
    expect(order('1.2.0-rc1', '1.2.0')).toBe(-1);
    expect(order('1.2.0', '1.2.0-rc1')).toBe(1);
    expect(order('1.2.0-rc1', '1.2.0-rc2')).toBe(-1);
    expect(order('1.2.0-rc1', '1.1.9')).toBe(1);
  });

  test('versions that are not numeric fall back to string order', () => {
    expect(order('master', 'main')).toBe(1);
    expect(order('1..2', '1.3')).toBe(-1);
  });

  test('newestFirst sorts by version, then release', () => {
    const idents = [
      'core/redis/1.9.0/20240101000000',
      'core/redis/1.10.0/20230101000000',
      'core/redis/1.10.0/20240101000000',
      'core/redis/1.10.0-rc1/20250101000000',
    ].map((text) => parseIdent(text));
    expect(newestFirst(idents).map(formatIdent)).toEqual([
      'core/redis/1.10.0/20240101000000',
      'core/redis/1.10.0/20230101000000',
      'core/redis/1.10.0-rc1/20250101000000',
      'core/redis/1.9.0/20240101000000',
    ]);
    expect(compareIdents(parseIdent('core/redis'), parseIdent('core/redis/1'))).toBeLessThan(0);
  });
});
