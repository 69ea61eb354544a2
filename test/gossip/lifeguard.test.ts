import { describe, expect, test } from 'vitest';
import { Awareness, Suspicion, lanPreset, retransmitLimit, suspicionBounds, suspicionTimeout } from '../../src/gossip/index.js';
import { A, B, C } from './fixtures.js';

describe('suspicion timeout', () => {
  // min = 2 s, max = 12 s, K = 3.
  test.each([
    [0, 12_000],
    [1, 7000],
    [2, 4075],
    [3, 2000],
    [4, 2000],
  ])('with %i confirmations it is %i ms', (confirmations, expected) => {
    expect(suspicionTimeout(2000, 12_000, 3, confirmations)).toBe(expected);
  });

  test.each([
    [1, 1000, 6000],
    [10, 1000, 6000],
    [100, 2000, 12_000],
    [1000, 3000, 18_000],
    [10_000, 4000, 24_000],
  ])('bounds for %i members are min %i and max %i (lan)', (n, min, max) => {
    expect(suspicionBounds(lanPreset, n)).toEqual({ min, max });
  });

  test('only independent members confirm, each once', () => {
    const me = 'd'.repeat(32);
    const s = new Suspicion(A, 4, 1000, B, me, 2000, 12_000, 3);
    expect(s.deadline()).toBe(13_000);
    expect(s.confirm(B)).toBe(false); // the member that started it
    expect(s.confirm(me)).toBe(false); // ourselves
    expect(s.confirm(A)).toBe(false); // the suspect
    expect(s.confirm('')).toBe(false);
    expect(s.confirm(C)).toBe(true);
    expect(s.confirm(C)).toBe(false);
    expect(s.deadline()).toBe(8000);
  });
});

describe('local health (awareness)', () => {
  test.each([
    [[1], 1, 2000],
    [[1, 1, 1], 3, 4000],
    [[5, 5], 7, 8000],
    [[3, -1, -1, -1, -1], 0, 1000],
  ])('deltas %j give score %i and stretch a 1000 ms interval to %i ms', (deltas, score, interval) => {
    const a = new Awareness(8);
    for (const d of deltas) a.apply(d);
    expect(a.value).toBe(score);
    expect(a.scale(1000)).toBe(interval);
  });
});

describe('retransmit limit', () => {
  test.each([
    [1, 4],
    [9, 4],
    [10, 8],
    [100, 12],
    [10_000, 20],
  ])('a ring of %i members sends each rumor %i times', (n, limit) => {
    expect(retransmitLimit(lanPreset, n)).toBe(limit);
  });
});
