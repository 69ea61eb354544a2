import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  exportRingKey,
  formatKeyText,
  generateRingKey,
  importKey,
  keyCachePath,
  latestRingKey,
  parseKeyText,
  ringKeyRevisions,
} from '../../src/crypto/index.js';
import { rejection } from '../murmur-error.js';

const MAY_4 = new Date('2016-05-04T22:07:22Z');
const later = (date: Date, seconds: number): Date => new Date(date.getTime() + seconds * 1000);
const keyText = (name: string, fill: number, header = 'SYM-SEC-1', length = 32): string =>
  `${header}\n${name}\n\n${Buffer.alloc(length, fill).toString('base64')}`;

let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'murmur-keys-'));
  dir = path.join(root, 'hab', 'cache', 'keys');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const mode = async (file: string): Promise<number> => (await stat(file)).mode & 0o777;

describe('the key cache path', () => {
  test('HAB_CACHE_KEY_PATH wins, else $FS_ROOT/hab/cache/keys, else /hab/cache/keys', () => {
    expect(keyCachePath({ HAB_CACHE_KEY_PATH: '/keys', FS_ROOT: '/root' })).toBe('/keys');
    expect(keyCachePath({ FS_ROOT: '/tmp/sup1' })).toBe('/tmp/sup1/hab/cache/keys');
    expect(keyCachePath({ FS_ROOT: '/tmp/sup1/' })).toBe('/tmp/sup1/hab/cache/keys');
    expect(keyCachePath({})).toBe('/hab/cache/keys');
    expect(keyCachePath({ FS_ROOT: '', HAB_CACHE_KEY_PATH: '' })).toBe('/hab/cache/keys');
  });
});

describe('generating ring keys', () => {
  test('generate writes a 0600 file named <name>-<revision>.sym.key in a 0700 directory', async () => {
    const key = await generateRingKey(dir, 'foo', MAY_4);
    expect(key.path).toBe(path.join(dir, 'foo-20160504220722.sym.key'));
    expect(key).toMatchObject({ header: 'SYM-SEC-1', name: 'foo', revision: '20160504220722' });
    expect(key.key).toHaveLength(32);
    expect(await readdir(dir)).toEqual(['foo-20160504220722.sym.key']);
    expect(await mode(key.path)).toBe(0o600);
    expect(await mode(dir)).toBe(0o700);
    expect(parseKeyText(await readFile(key.path, 'utf8')).key).toEqual(key.key);
  });

  test('generate refuses to overwrite an existing revision', async () => {
    const first = await generateRingKey(dir, 'foo', MAY_4);
    const err = await rejection(generateRingKey(dir, 'foo', MAY_4));
    expect(err.code).toBe('CONFLICT');
    expect(err.message).toContain(first.path);
    expect(err.message).toMatch(/wait a second/);
    expect((await latestRingKey(dir, 'foo')).key).toEqual(first.key);
    expect(await readdir(dir)).toEqual(['foo-20160504220722.sym.key']);
  });

  test('a ring key name must be letters, digits, "-", "_" or "."', async () => {
    await expect(generateRingKey(dir, 'prod_ring-2.eu', MAY_4)).resolves.toMatchObject({ name: 'prod_ring-2.eu' });
    for (const bad of ['', 'a/b', '../up', 'with space', 'x@y']) {
      const err = await rejection(generateRingKey(dir, bad, MAY_4));
      expect(err.code).toBe('BAD_INPUT');
      expect(err.message).toMatch(/ring key name/);
    }
  });
});

describe('finding ring keys', () => {
  test('the latest revision wins', async () => {
    await generateRingKey(dir, 'foo', MAY_4);
    const newest = await generateRingKey(dir, 'foo', later(MAY_4, 86_400));
    await generateRingKey(dir, 'foo', later(MAY_4, 60));
    await generateRingKey(dir, 'foo-bar', later(MAY_4, 2 * 86_400));
    expect(await ringKeyRevisions(dir, 'foo')).toEqual(['20160505220722', '20160504220822', '20160504220722']);
    expect(await latestRingKey(dir, 'foo')).toEqual(newest);
  });

  test('a missing key says where it looked and how to make or import one', async () => {
    for (const where of [dir, root]) {
      const err = await rejection(latestRingKey(where, 'prod'));
      expect(err.code).toBe('NOT_FOUND');
      expect(err.message).toContain(where);
      expect(err.message).toContain('hab ring key generate prod');
      expect(err.message).toContain('hab ring key import');
    }
  });

  test('a damaged key file is reported by name', async () => {
    await generateRingKey(dir, 'foo', MAY_4);
    const file = path.join(dir, 'foo-20160504220722.sym.key');
    await writeFile(file, 'SYM-SEC-1\nfoo-20160504220722\n\nshort=');
    const err = await rejection(latestRingKey(dir, 'foo'));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain(`key file ${file}`);
  });

  test('export returns the text of the latest revision', async () => {
    await generateRingKey(dir, 'foo', MAY_4);
    const newest = await generateRingKey(dir, 'foo', later(MAY_4, 1));
    const text = await exportRingKey(dir, 'foo');
    expect(text).toBe(formatKeyText(newest));
    expect(text).toBe(await readFile(newest.path, 'utf8'));
    expect(text.startsWith('SYM-SEC-1\nfoo-20160504220723\n\n')).toBe(true);
  });
});

describe('importing keys', () => {
  test('import writes a Habitat key under its own name, 0600, and it becomes the latest', async () => {
    const text = 'SYM-SEC-1\nring-key-valid-20160504220722\n\nRCFaO84j41GmrzWddxMdsXpGdn3iuIy7Mw3xYrjPLsE=';
    const imported = await importKey(dir, `${text}\n`);
    expect(imported.created).toBe(true);
    expect(imported.path).toBe(path.join(dir, 'ring-key-valid-20160504220722.sym.key'));
    expect(await mode(imported.path)).toBe(0o600);
    expect(await readFile(imported.path, 'utf8')).toBe(text);
    expect(await exportRingKey(dir, 'ring-key-valid')).toBe(text);
  });

  test('import is idempotent', async () => {
    const text = keyText('foo-20160504220722', 1);
    expect((await importKey(dir, text)).created).toBe(true);
    const again = await importKey(dir, text.replaceAll('\n', '\r\n'));
    expect(again.created).toBe(false);
    expect(again.key).toEqual(new Uint8Array(32).fill(1));
    expect(await readdir(dir)).toEqual(['foo-20160504220722.sym.key']);
  });

  test('a different key under an existing name-revision is refused', async () => {
    const first = await importKey(dir, keyText('foo-20160504220722', 1));
    const err = await rejection(importKey(dir, keyText('foo-20160504220722', 2)));
    expect(err.code).toBe('CONFLICT');
    expect(err.message).toContain(first.path);
    expect((await latestRingKey(dir, 'foo')).key).toEqual(new Uint8Array(32).fill(1));
  });

  test('public keys are written 0644, secret keys 0600, with their Habitat extensions', async () => {
    const pub = await importKey(dir, keyText('redis.default@acme-20160504220722', 3, 'BOX-PUB-1'));
    const sig = await importKey(dir, keyText('core-20160504220722', 4, 'SIG-SEC-1', 64));
    expect(path.basename(pub.path)).toBe('redis.default@acme-20160504220722.pub');
    expect(await mode(pub.path)).toBe(0o644);
    expect(path.basename(sig.path)).toBe('core-20160504220722.sig.key');
    expect(await mode(sig.path)).toBe(0o600);
  });

  test('malformed text is refused before anything is written', async () => {
    const err = await rejection(importKey(dir, 'SYM-SEC-1\nfoo\n\nAAAA', 'HAB_RING_KEY'));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toMatch(/^HAB_RING_KEY: line 2/);
    await expect(readdir(dir)).rejects.toThrow();
  });

  test('an import that expects a ring key refuses other key types', async () => {
    const err = await rejection(importKey(dir, keyText('foo-20160504220722', 1, 'BOX-SEC-1'), 'standard input', 'SYM-SEC-1'));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toMatch(/^standard input: is a secret encryption key \(BOX-SEC-1\), not a ring key/);
  });

  test('no temporary files are left behind', async () => {
    await importKey(dir, keyText('foo-20160504220722', 1));
    await importKey(dir, keyText('foo-20160504220722', 1));
    await rejection(importKey(dir, keyText('foo-20160504220722', 2)));
    await generateRingKey(dir, 'bar', MAY_4);
    expect((await readdir(dir)).sort()).toEqual(['bar-20160504220722.sym.key', 'foo-20160504220722.sym.key']);
  });
});
