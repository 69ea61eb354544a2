import { describe, expect, test } from 'vitest';
import { compareHealth, mergeRumor, rumorKey } from '../../src/gossip/index.js';
import type { Health, Rumor } from '../../src/wire/index.js';
import { A, B, C, election, member } from './fixtures.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const config = (version: number): Rumor => ({ kind: 'service-config', group: 'redis.prod', version, encrypted: false, config: bytes(`v = ${version}`), from: '' });
const file = (filename: string, version: number): Rumor => ({ kind: 'service-file', group: 'redis.prod', filename, version, encrypted: false, body: bytes('x'), from: '' });

describe('health ordering', () => {
  const order: Health[] = ['alive', 'suspect', 'confirmed', 'departed'];
  test.each(order.flatMap((a, i) => order.map((b, j) => [a, b, Math.sign(i - j)] as const)))('%s against %s compares as %i', (a, b, sign) => {
    expect(Math.sign(compareHealth(a, b))).toBe(sign);
  });
});

describe('member records', () => {
  test.each([
    ['a higher incarnation wins even when healthier', member(A, 1, 'confirmed'), member(A, 2, 'alive'), true],
    ['a lower incarnation never wins', member(A, 2, 'alive'), member(A, 1, 'departed'), false],
    ['a worse health wins at equal incarnation', member(A, 3, 'alive'), member(A, 3, 'suspect'), true],
    ['confirmed beats suspect at equal incarnation', member(A, 3, 'suspect'), member(A, 3, 'confirmed'), true],
    ['a better health loses at equal incarnation', member(A, 3, 'suspect'), member(A, 3, 'alive'), false],
    ['departed is not undone at the same incarnation', member(A, 3, 'departed'), member(A, 3, 'alive'), false],
    ['the same record changes nothing', member(A, 3, 'alive'), member(A, 3, 'alive'), false],
  ] as const)('%s', (_name, current, incoming, changed) => {
    expect(mergeRumor(current, incoming).changed).toBe(changed);
  });

  test('an unknown member is always taken', () => {
    expect(mergeRumor(undefined, member(A, 0, 'alive'))).toEqual({ changed: true, value: member(A, 0, 'alive') });
  });
});

describe('versioned rumors', () => {
  test.each([
    ['service-config replaces only with a strictly higher version', config(2), config(3), true],
    ['service-config ignores an equal version', config(2), config(2), false],
    ['service-config ignores a lower version', config(2), config(1), false],
    ['service-file replaces only with a strictly higher version', file('a.crt', 1), file('a.crt', 2), true],
    ['service-file ignores an equal version', file('a.crt', 1), file('a.crt', 1), false],
  ] as const)('%s', (_name, current, incoming, changed) => {
    expect(mergeRumor(current, incoming).changed).toBe(changed);
  });

  test('two payloads at one version settle on the same one whatever the order', () => {
    const x: Rumor = { kind: 'service-config', group: 'redis.prod', version: 4, encrypted: false, config: bytes('a = 1'), from: A };
    const y: Rumor = { kind: 'service-config', group: 'redis.prod', version: 4, encrypted: false, config: bytes('a = 2'), from: B };
    const xy = mergeRumor(mergeRumor(undefined, x).value, y).value;
    const yx = mergeRumor(mergeRumor(undefined, y).value, x).value;
    expect(xy).toBe(y);
    expect(yx).toBe(y);
  });

  test('files are keyed per file name', () => {
    expect(rumorKey(file('a.crt', 1))).not.toBe(rumorKey(file('b.crt', 1)));
  });

  test('the first departure stays', () => {
    expect(mergeRumor({ kind: 'departure', memberId: A }, { kind: 'departure', memberId: A }).changed).toBe(false);
  });
});

describe('tombstones', () => {
  const stone = (version: number): Rumor => ({ kind: 'tombstone', target: 'service-config', group: 'redis.prod', id: 'service_config', version });

  test('a tombstone takes the key of the rumor it removes', () => {
    expect(rumorKey(stone(1))).toBe(rumorKey(config(1)));
  });

  test.each([
    ['a tombstone at the same version removes the rumor', config(2), stone(2), true],
    ['a tombstone at an older version does not', config(2), stone(1), false],
    ['a live rumor at the tombstone version stays removed', stone(2), config(2), false],
    ['a live rumor at a higher version comes back', stone(2), config(3), true],
    ['a newer tombstone replaces an older one', stone(2), stone(3), true],
  ] as const)('%s', (_name, current, incoming, changed) => {
    expect(mergeRumor(current, incoming).changed).toBe(changed);
  });
});

describe('elections (Habitat merge)', () => {
  test('a finished election at a term at least ours wins', () => {
    const r = mergeRumor(election(A, { votes: [A, B] }), election(B, { status: 'finished', votes: [B] }));
    expect(r.changed).toBe(true);
    expect(r.value).toMatchObject({ memberId: B, status: 'finished' });
  });

  test('a finished election absorbs the votes of a running one of the same term', () => {
    const r = mergeRumor(election(A, { status: 'finished', votes: [A] }), election(B, { votes: [B, C] }));
    expect(r.value).toMatchObject({ memberId: A, status: 'finished', votes: [A, B, C] });
  });

  test('the higher term is kept', () => {
    expect(mergeRumor(election(A, { term: 2 }), election(B, { term: 1, suitability: 99 })).changed).toBe(false);
    expect(mergeRumor(election(A, { term: 1 }), election(B, { term: 2 })).value).toMatchObject({ memberId: B, term: 2 });
  });

  test('the higher suitability wins and takes the loser’s votes', () => {
    const r = mergeRumor(election(A, { suitability: 1, votes: [A, C] }), election(B, { suitability: 5 }));
    expect(r.value).toMatchObject({ memberId: B, votes: [A, B, C].sort() });
  });

  test('a tie goes to the higher member id, votes merged', () => {
    const r = mergeRumor(election(B), election(A));
    expect(r.value).toMatchObject({ memberId: B, votes: [A, B] });
    expect(mergeRumor(r.value, election(A)).changed).toBe(false);
  });

  test('the same candidate’s rumor merges the same whatever the order', () => {
    const one = election(A, { status: 'no-quorum', votes: [A, B], suitability: 2 });
    const two = election(A, { status: 'running', votes: [A, C], suitability: 1 });
    const a = mergeRumor(one, two).value;
    const b = mergeRumor(two, one).value;
    expect(a).toEqual(b);
    expect(a).toMatchObject({ status: 'no-quorum', suitability: 2, votes: [A, B, C] });
  });

  test('finished and running rumors of one term merge the same whatever the order', () => {
    const xs = [election(A, { status: 'finished', votes: [A, B] }), election(A, { status: 'finished', votes: [A, C] }), election(B, { votes: [B] })];
    const fold = (list: Rumor[]): Rumor => list.reduce<Rumor | undefined>((acc, r) => mergeRumor(acc, r).value, undefined) as Rumor;
    const orders = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]].map((o) => fold(o.map((i) => xs[i]!)));
    for (const r of orders) expect(r).toEqual(orders[0]);
    expect(orders[0]).toMatchObject({ memberId: A, status: 'finished', votes: [A, B, C] });
  });

  test('merging is order-independent for three running candidates', () => {
    const xs = [election(A, { suitability: 1 }), election(B, { suitability: 3 }), election(C, { suitability: 2 })];
    const fold = (list: Rumor[]): Rumor => list.reduce<Rumor | undefined>((acc, r) => mergeRumor(acc, r).value, undefined) as Rumor;
    const one = fold(xs);
    const two = fold([...xs].reverse());
    expect(one).toEqual(two);
    expect(one).toMatchObject({ memberId: B, votes: [A, B, C].sort() });
  });
});
