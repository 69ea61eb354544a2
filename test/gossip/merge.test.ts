import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { RumorStore, compareHealth, fingerprintText, keyOf, mergeRumor, rumorKey } from '../../src/gossip/index.js';
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

describe('elections (Habitat merge, a join-semilattice)', () => {
  const D = 'd'.repeat(32);
  const fold = (list: readonly Rumor[]): Rumor => list.reduce<Rumor | undefined>((acc, r) => mergeRumor(acc, r).value, undefined) as Rumor;

  test('a group keeps its finished election and the running one under two keys', () => {
    const finished = election(A, { status: 'finished', roster: [A, B] });
    const running = election(B, { term: 1, roster: [A, B] });
    expect(rumorKey(finished)).toBe(keyOf('election', 'redis.prod', 'election'));
    expect(rumorKey(running)).toBe(keyOf('election', 'redis.prod', 'candidate'));
    expect(rumorKey(election(B, { status: 'no-quorum' }))).toBe(rumorKey(running));
    expect(rumorKey({ ...finished, kind: 'election-update' })).toBe(keyOf('election-update', 'redis.prod', 'election'));
  });

  test('the higher term wins outright, whatever its status', () => {
    expect(mergeRumor(election(A, { term: 2 }), election(B, { term: 1, suitability: 99 })).changed).toBe(false);
    expect(mergeRumor(election(A, { term: 1, votes: [A, C] }), election(B, { term: 2 })).value).toMatchObject({ memberId: B, term: 2, votes: [B] });
    expect(mergeRumor(election(A, { status: 'finished' }), election(B, { term: 1 })).value).toMatchObject({ memberId: B, status: 'running' });
  });

  test('at one term a finished election wins over a running one and keeps only its own votes', () => {
    const r = mergeRumor(election(A, { votes: [A, C] }), election(B, { status: 'finished', votes: [B] }));
    expect(r).toMatchObject({ changed: true, value: { memberId: B, status: 'finished', votes: [B] } });
    expect(mergeRumor(r.value, election(A, { votes: [A, C, D] })).changed).toBe(false);
  });

  test('the same finished value unions its votes: the acknowledgements of that roster version', () => {
    const f = election(A, { status: 'finished', roster: [A, B, C], rosterVersion: 3, votes: [A] });
    const r = mergeRumor(f, { ...f, votes: [C] });
    expect(r).toMatchObject({ changed: true, value: { votes: [A, C] } });
    expect(mergeRumor(r.value, { ...f, votes: [A] }).changed).toBe(false);
  });

  test("a leader's later roster version wins, and its acknowledgements start again", () => {
    const v3 = election(A, { status: 'finished', roster: [A, B, C], rosterVersion: 3, votes: [A, B, C] });
    const v4 = election(A, { status: 'finished', roster: [A, B], rosterVersion: 4, votes: [A] });
    expect(mergeRumor(v3, v4).value).toEqual(v4);
    expect(mergeRumor(v4, v3).changed).toBe(false);
  });

  test('a member that elected itself alone loses to the larger roster of the same term and version', () => {
    const ring = election(A, { status: 'finished', roster: [A, B, C], votes: [A, B, C] });
    const alone = election(D, { status: 'finished', roster: [D], votes: [D], suitability: 1000 });
    expect(fold([ring, alone])).toEqual(ring);
    expect(fold([alone, ring])).toEqual(ring);
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

  test('running candidacies keep the roster of the highest version, whoever the candidate', () => {
    const best = election(A, { suitability: 9, roster: [A, B, C, D], rosterVersion: 2 });
    const fresher = election(B, { suitability: 1, roster: [A, B, C], rosterVersion: 5 });
    for (const r of [fold([best, fresher]), fold([fresher, best])]) {
      expect(r).toMatchObject({ memberId: A, suitability: 9, roster: [A, B, C], rosterVersion: 5, votes: [A, B] });
    }
    // At one version the larger roster wins, then the greater ids.
    expect(fold([election(A, { roster: [A] }), election(B, { roster: [A, C] })])).toMatchObject({ memberId: B, roster: [A, C] });
    expect(fold([election(A, { roster: [A, D] }), election(B, { roster: [A, C] })])).toMatchObject({ memberId: B, roster: [A, D] });
  });

  test('the same candidate’s rumor merges the same whatever the order', () => {
    const one = election(A, { status: 'no-quorum', votes: [A, B], suitability: 2 });
    const two = election(A, { status: 'running', votes: [A, C], suitability: 1 });
    const a = mergeRumor(one, two).value;
    const b = mergeRumor(two, one).value;
    expect(a).toEqual(b);
    expect(a).toMatchObject({ status: 'no-quorum', suitability: 2, votes: [A, B, C] });
  });

  test('votes and rosters are kept sorted and without repeats, so equal values are equal', () => {
    expect(mergeRumor(undefined, election(B, { votes: [C, A, C], roster: [B, A, B] })).value).toMatchObject({ votes: [A, C], roster: [A, B] });
    expect(mergeRumor(election(B, { votes: [A, C], roster: [A, B] }), election(B, { votes: [C, A, A], roster: [B, A] })).changed).toBe(false);
  });

  test('the fingerprint covers the roster and its version', () => {
    const f = election(A, { status: 'finished', roster: [A, B], rosterVersion: 1 });
    expect(fingerprintText(f)).not.toBe(fingerprintText({ ...f, roster: [A, B, C] }));
    expect(fingerprintText(f)).not.toBe(fingerprintText({ ...f, rosterVersion: 2 }));
    expect(fingerprintText(f)).toBe(fingerprintText({ ...f, roster: [B, A, B] }));
  });

  describe('order independence (properties)', () => {
    const ids = [A, B, C, D];
    const anyElection = fc.record({
      kind: fc.constant('election' as const),
      group: fc.constant('redis.prod'),
      memberId: fc.constantFrom(...ids),
      term: fc.integer({ min: 0, max: 2 }),
      suitability: fc.constantFrom(0, 1, 7, Number.MAX_SAFE_INTEGER),
      status: fc.constantFrom('running' as const, 'no-quorum' as const, 'finished' as const),
      votes: fc.array(fc.constantFrom(...ids), { maxLength: 5 }),
      roster: fc.array(fc.constantFrom(...ids), { maxLength: 5 }),
      rosterVersion: fc.integer({ min: 0, max: 3 }),
    });
    const merge = (a: Rumor, b: Rumor): Rumor => mergeRumor(a, b).value;
    const canonical = (r: Rumor): unknown => (r.kind === 'election' ? { ...r, votes: [...new Set(r.votes)].sort(), roster: [...new Set(r.roster)].sort() } : r);

    test('any order of merging the same rumors gives the same value', () => {
      fc.assert(
        fc.property(fc.array(anyElection, { minLength: 1, maxLength: 8 }), fc.func(fc.integer()), (rumors, rank) => {
          const shuffled = rumors.map((r, i) => ({ r, k: rank(i) })).sort((x, y) => x.k - y.k).map((x) => x.r);
          expect(canonical(fold(shuffled))).toEqual(canonical(fold(rumors)));
          expect(canonical(fold([...rumors].reverse()))).toEqual(canonical(fold(rumors)));
        }),
        { numRuns: 500 },
      );
    });

    test('the merge is commutative, associative and idempotent', () => {
      fc.assert(
        fc.property(anyElection, anyElection, anyElection, (a, b, c) => {
          expect(canonical(merge(a, b))).toEqual(canonical(merge(b, a)));
          expect(canonical(merge(merge(a, b), c))).toEqual(canonical(merge(a, merge(b, c))));
          expect(mergeRumor(merge(a, b), a).changed).toBe(false);
          expect(mergeRumor(a, a).changed).toBe(false);
        }),
        { numRuns: 1000 },
      );
    });

    test('stores that took the same rumors in any order hold the same digest', () => {
      fc.assert(
        fc.property(fc.array(anyElection, { minLength: 1, maxLength: 8 }), (rumors) => {
          const digest = (list: readonly Rumor[]): string => {
            const store = new RumorStore({ buckets: 16 });
            for (const r of list) store.merge(r, 0);
            const root = store.root();
            return `${root.hi}/${root.lo}/${store.size}`;
          };
          expect(digest([...rumors].reverse())).toBe(digest(rumors));
        }),
        { numRuns: 300 },
      );
    });
  });
});
