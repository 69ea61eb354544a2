import { describe, expect, test } from 'vitest';
import { RumorStore, memberKey } from '../../src/gossip/index.js';
import { seededRandom, newMemberId } from '../../src/core/index.js';
import { member } from './fixtures.js';

const ids = (n: number, seed = 1): string[] => {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => newMemberId(r));
};

describe('rumor store digest', () => {
  test('two stores with the same rumors in another order have the same root and buckets', () => {
    const list = ids(200).map((id, i) => member(id, i % 3, 'alive'));
    const a = new RumorStore({ buckets: 64 });
    const b = new RumorStore({ buckets: 64 });
    for (const r of list) a.merge(r, 0);
    for (const r of [...list].reverse()) b.merge(r, 5);
    expect(a.root()).toEqual(b.root());
    expect(a.differingBuckets(b.bucketHashes())).toEqual([]);
  });

  test('one changed rumor shows up as exactly one differing bucket', () => {
    const list = ids(200).map((id) => member(id, 0, 'alive'));
    const a = new RumorStore({ buckets: 64 });
    const b = new RumorStore({ buckets: 64 });
    for (const r of list) {
      a.merge(r, 0);
      b.merge(r, 0);
    }
    const changed = member(list[17]!.member.id, 0, 'suspect');
    expect(b.merge(changed, 1).changed).toBe(true);
    expect(a.root()).not.toEqual(b.root());
    const diff = a.differingBuckets(b.bucketHashes());
    expect(diff).toHaveLength(1);
    expect(b.inBuckets(new Set(diff))).toContainEqual(changed);
  });

  test('a store built on a frozen base keeps its own changes apart from the base', () => {
    const list = ids(50).map((id) => member(id, 0, 'alive'));
    const seed = new RumorStore({ buckets: 16 });
    for (const r of list) seed.merge(r, 0);
    const base = seed.freeze();
    const x = new RumorStore({ buckets: 16, base });
    const y = new RumorStore({ buckets: 16, base });
    x.merge(member(list[0]!.member.id, 1, 'alive'), 1);
    expect(x.get(memberKey(list[0]!.member.id))?.rumor).toMatchObject({ member: { incarnation: 1 } });
    expect(y.get(memberKey(list[0]!.member.id))?.rumor).toMatchObject({ member: { incarnation: 0 } });
    expect(x.size).toBe(50);
    expect(x.root()).not.toEqual(y.root());
    expect(base.memberHealth.alive).toBe(50);
  });

  test('deleting and re-adding a member keeps the id index free of duplicates', () => {
    const list = ids(100).map((id) => member(id, 0, 'alive'));
    const s = new RumorStore({ buckets: 16 });
    for (const r of list) s.merge(r, 0);
    for (const r of list.slice(0, 80)) s.delete(memberKey(r.member.id));
    for (const r of list.slice(0, 10)) s.merge(r, 1);
    const seen: string[] = [];
    for (let i = 0; i < s.memberIdCount(); i++) {
      const id = s.memberIdAt(i)!;
      if (s.get(memberKey(id))) seen.push(id);
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toHaveLength(30);
    expect(s.size).toBe(30);
  });

  test('an emptied store has a zero root', () => {
    const s = new RumorStore({ buckets: 16 });
    const r = member(ids(1)[0]!, 0, 'alive');
    s.merge(r, 0);
    s.delete(memberKey(r.member.id));
    expect(s.root()).toEqual({ hi: 0, lo: 0 });
  });
});
