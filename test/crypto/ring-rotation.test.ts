import { describe, expect, test } from 'vitest';
import { Keyring, type RingKey } from '../../src/crypto/index.js';
import { mergeRumor } from '../../src/gossip/rumor.js';
import type { RingKeyRumor } from '../../src/wire/index.js';

const keyA: RingKey = { name: 'prod', revision: '20240101000000', key: new Uint8Array(32).fill(1) };
const keyB: RingKey = { name: 'prod', revision: '20250101000000', key: new Uint8Array(32).fill(2) };
const plain = new TextEncoder().encode('hello ring');

describe('Keyring install, use, remove', () => {
  test('an installed key opens but the primary still seals', () => {
    const ring = new Keyring([keyA]);
    const onlyB = new Keyring([keyB]);
    expect(ring.install(keyB)).toBe(true);
    expect(ring.install(keyB)).toBe(false);
    expect(ring.primary?.revision).toBe(keyA.revision);
    expect(ring.open(onlyB.seal(plain)).ok).toBe(true);
    expect(onlyB.open(ring.seal(plain)).ok).toBe(false);
  });

  test('use needs an installed key, then seals with it', () => {
    const ring = new Keyring([keyA]);
    expect(() => ring.use('prod-20250101000000')).toThrow(/not installed/);
    ring.install(keyB);
    expect(ring.use('prod-20250101000000')).toBe(true);
    expect(new Keyring([keyB]).open(ring.seal(plain)).ok).toBe(true);
  });

  test('the primary cannot be removed; a removed key no longer opens', () => {
    const ring = new Keyring([keyA]);
    ring.install(keyB);
    expect(() => ring.remove('prod-20240101000000')).toThrow(/primary/);
    ring.use('prod-20250101000000');
    const underA = new Keyring([keyA]).seal(plain);
    expect(ring.open(underA).ok).toBe(true);
    expect(ring.remove('prod-20240101000000')).toBe(true);
    expect(ring.remove('prod-20240101000000')).toBe(false);
    const opened = ring.open(underA);
    expect(opened.ok ? 'opened' : opened.error.code).toBe('unknown-key');
  });

  test('an unkeyed ring refuses to install, and a name-revision cannot change its bytes', () => {
    expect(() => new Keyring([]).install(keyA)).toThrow(/no ring key/);
    const ring = new Keyring([keyA]);
    expect(() => ring.install({ ...keyB, revision: keyA.revision })).toThrow(/other bytes/);
  });
});

describe('ring-key rumor merge', () => {
  const base: RingKeyRumor = { kind: 'ring-key', memberId: '', name: 'prod', revision: '20250101000000', version: 2, state: 'installed', key: keyB.key };
  test('a higher version wins, whatever the state', () => {
    expect(mergeRumor(base, { ...base, version: 3, state: 'removed', key: new Uint8Array(0) }).changed).toBe(true);
    expect(mergeRumor({ ...base, version: 3 }, { ...base, state: 'primary' }).changed).toBe(false);
  });
  test('at one version removed beats primary beats installed, in either order', () => {
    const removed = { ...base, state: 'removed' as const, key: new Uint8Array(0) };
    expect(mergeRumor(base, removed).value).toBe(removed);
    expect(mergeRumor(removed, base).value).toBe(removed);
    const primary = { ...base, state: 'primary' as const };
    expect(mergeRumor(base, primary).value).toBe(primary);
    expect(mergeRumor(primary, base).value).toBe(primary);
  });
});
