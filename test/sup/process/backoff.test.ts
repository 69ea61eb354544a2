import { describe, expect, test } from 'vitest';
import { MurmurError, seededRandom } from '../../../src/core/index.js';
import { Backoff, DEFAULT_BACKOFF } from '../../../src/sup/process/index.js';

function backoff(opts: Partial<typeof DEFAULT_BACKOFF> = {}, seed = 7) {
  const clock = { t: 0, now() { return this.t; } };
  return { clock, b: new Backoff({ clock, random: seededRandom(seed) }, opts) };
}

describe('restart backoff (decorrelated jitter)', () => {
  test('the first wait is min; each later one lies in [min, 3 × previous] and never above max', () => {
    const { b } = backoff({ minMs: 100, maxMs: 5_000 });
    const waits = Array.from({ length: 30 }, () => b.next());
    expect(waits[0]).toBe(100);
    for (let i = 1; i < waits.length; i++) {
      expect(waits[i]).toBeGreaterThanOrEqual(100);
      expect(waits[i]).toBeLessThanOrEqual(Math.min(5_000, 3 * waits[i - 1]!));
    }
    expect(Math.max(...waits)).toBeGreaterThan(2_000); // it does grow towards the cap
  });

  test('a seed replays the same sequence', () => {
    const a = backoff({}, 42).b;
    const c = backoff({}, 42).b;
    const seq = (x: Backoff) => Array.from({ length: 10 }, () => x.next());
    expect(seq(a)).toEqual(seq(c));
  });

  test('the defaults: 1 s first, capped at 60 s', () => {
    const { b } = backoff();
    expect(b.next()).toBe(1_000);
    for (let i = 0; i < 50; i++) expect(b.next()).toBeLessThanOrEqual(60_000);
  });

  test('min = max gives a fixed wait; Habitat\'s 0/0 restarts at once', () => {
    const fixed = backoff({ minMs: 500, maxMs: 500 }).b;
    expect([fixed.next(), fixed.next(), fixed.next()]).toEqual([500, 500, 500]);
    const habitat = backoff({ minMs: 0, maxMs: 0 }).b;
    expect([habitat.next(), habitat.next()]).toEqual([0, 0]);
  });

  test('staying up for the cooldown starts the sequence over; a shorter run does not', () => {
    const { b, clock } = backoff({ minMs: 100, maxMs: 10_000, cooldownMs: 1_000 });
    b.next();
    b.next();
    b.up();
    clock.t += 999;
    expect(b.attempts).toBe(2);
    b.next();
    expect(b.attempts).toBe(3);
    b.up();
    clock.t += 1_000;
    expect(b.next()).toBe(100);
    expect(b.attempts).toBe(1);
  });

  test('bad options are a BAD_INPUT error', () => {
    expect(() => backoff({ minMs: 10, maxMs: 5 })).toThrow(MurmurError);
    expect(() => backoff({ cooldownMs: -1 })).toThrow(/cooldownMs/);
  });
});
