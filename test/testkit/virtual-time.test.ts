import { describe, test, expect } from 'vitest';
import { seededRandom } from '../../src/core/random.js';
import { VirtualScheduler } from '../../src/testkit/virtual-time.js';

describe('VirtualScheduler', () => {
  test('time starts at 0, or at the given start', () => {
    expect(new VirtualScheduler().now).toBe(0);
    expect(new VirtualScheduler({ start: 1000 }).now).toBe(1000);
  });

  test('events run in time order whatever order they were queued in', () => {
    const scheduler = new VirtualScheduler();
    const log: string[] = [];
    scheduler.at(30, () => log.push(`c@${scheduler.now}`));
    scheduler.at(10, () => log.push(`a@${scheduler.now}`));
    scheduler.after(20.5, () => log.push(`b@${scheduler.now}`));
    scheduler.runUntil(100);
    expect(log).toEqual(['a@10', 'b@20.5', 'c@30']);
  });

  test('events at the same time run in the order they were queued', () => {
    const scheduler = new VirtualScheduler();
    const log: number[] = [];
    for (let i = 0; i < 100; i++) {
      scheduler.at(i % 2 === 0 ? 5 : 7, () => log.push(i));
    }
    scheduler.runUntil(10);
    const evens = Array.from({ length: 50 }, (_, k) => 2 * k);
    const odds = evens.map((n) => n + 1);
    expect(log).toEqual([...evens, ...odds]);
  });

  test('many events at random times with many ties come out sorted by time, then queue order', () => {
    const scheduler = new VirtualScheduler();
    const random = seededRandom(42);
    const ran: { time: number; order: number }[] = [];
    for (let order = 0; order < 20_000; order++) {
      const time = random.int(500); // 20 000 events over 500 instants: ties everywhere
      scheduler.at(time, () => ran.push({ time: scheduler.now, order }));
    }
    scheduler.runUntil(1000);
    const expected = ran
      .slice()
      .sort((x, y) => x.time - y.time || x.order - y.order);
    expect(ran).toEqual(expected);
    expect(ran).toHaveLength(20_000);
  });

  test('an event queued at the current time runs after the events already queued for it', () => {
    const scheduler = new VirtualScheduler();
    const log: string[] = [];
    scheduler.at(5, () => {
      log.push('first');
      scheduler.after(0, () => log.push('queued by first'));
    });
    scheduler.at(5, () => log.push('second'));
    scheduler.runUntil(5);
    expect(log).toEqual(['first', 'second', 'queued by first']);
  });

  test('the callback gets the argument it was queued with', () => {
    const scheduler = new VirtualScheduler();
    const seen: string[] = [];
    const record = (what: string): void => {
      seen.push(what);
    };
    scheduler.at(1, record, 'one');
    scheduler.after(2, record, 'two');
    scheduler.runUntil(2);
    expect(seen).toEqual(['one', 'two']);
  });

  test('runUntil runs events at the bound, leaves later ones queued and ends at the bound', () => {
    const scheduler = new VirtualScheduler();
    const log: number[] = [];
    for (const time of [10, 20, 20.000001, 30]) scheduler.at(time, () => log.push(time));
    const ran = scheduler.runUntil(20);
    expect(ran).toBe(2);
    expect(log).toEqual([10, 20]);
    expect(scheduler.now).toBe(20);
    expect(scheduler.pending).toBe(2);
    expect(scheduler.nextEventTime).toBe(20.000001);
  });

  test('a periodic timer runs only as often as fits before the bound', () => {
    const scheduler = new VirtualScheduler();
    let ticks = 0;
    const tick = (): void => {
      ticks++;
      scheduler.after(10, tick);
    };
    scheduler.after(10, tick);
    scheduler.runUntil(1000);
    expect(ticks).toBe(100);
    expect(scheduler.pending).toBe(1);
    expect(scheduler.now).toBe(1000);
  });

  test('runUntil on an empty queue just moves time to the bound', () => {
    const scheduler = new VirtualScheduler();
    expect(scheduler.runUntil(250)).toBe(0);
    expect(scheduler.now).toBe(250);
  });

  test('runFor runs for a duration from now', () => {
    const scheduler = new VirtualScheduler({ start: 100 });
    const log: number[] = [];
    scheduler.after(50, () => log.push(scheduler.now));
    scheduler.after(150, () => log.push(scheduler.now));
    scheduler.runFor(100);
    expect(log).toEqual([150]);
    expect(scheduler.now).toBe(200);
    scheduler.runFor(100);
    expect(log).toEqual([150, 250]);
    expect(scheduler.now).toBe(300);
  });

  test('runWhile stops at the event that makes the predicate false, at that event’s time', () => {
    const scheduler = new VirtualScheduler();
    let done = false;
    let later = false;
    scheduler.at(40, () => (done = true));
    scheduler.at(40, () => (later = true));
    expect(scheduler.runWhile(() => !done, 1000)).toBe(true);
    expect(scheduler.now).toBe(40);
    expect(later).toBe(false);
    expect(scheduler.pending).toBe(1);
  });

  test('runWhile stops at the time limit when the predicate stays true', () => {
    const scheduler = new VirtualScheduler();
    let ticks = 0;
    const tick = (): void => {
      ticks++;
      scheduler.after(1, tick);
    };
    scheduler.after(1, tick);
    expect(scheduler.runWhile(() => true, 500)).toBe(false);
    expect(scheduler.now).toBe(500);
    expect(ticks).toBe(500);
  });

  test('runWhile checks the predicate before running anything', () => {
    const scheduler = new VirtualScheduler();
    scheduler.at(1, () => {});
    expect(scheduler.runWhile(() => false, 100)).toBe(true);
    expect(scheduler.now).toBe(0);
    expect(scheduler.eventsRun).toBe(0);
  });

  test('runWhile reports a predicate that turns false at the limit itself', () => {
    const scheduler = new VirtualScheduler();
    expect(scheduler.runWhile(() => scheduler.now < 300, 300)).toBe(true);
    expect(scheduler.now).toBe(300);
  });

  test('pending and eventsRun count queued and run events', () => {
    const scheduler = new VirtualScheduler();
    for (let i = 1; i <= 5; i++) scheduler.at(i, () => {});
    expect(scheduler.pending).toBe(5);
    expect(scheduler.eventsRun).toBe(0);
    scheduler.runUntil(3);
    expect(scheduler.pending).toBe(2);
    expect(scheduler.eventsRun).toBe(3);
    scheduler.runUntil(10);
    expect(scheduler.pending).toBe(0);
    expect(scheduler.eventsRun).toBe(5);
  });

  test('clear drops every queued event but keeps the time', () => {
    const scheduler = new VirtualScheduler();
    let ran = false;
    scheduler.at(5, () => (ran = true));
    scheduler.runUntil(2);
    scheduler.clear();
    expect(scheduler.pending).toBe(0);
    scheduler.runUntil(10);
    expect(ran).toBe(false);
    scheduler.at(12, () => (ran = true));
    scheduler.runUntil(12);
    expect(ran).toBe(true);
  });

  test('an event that re-queues itself at now forever is stopped with an error', () => {
    const scheduler = new VirtualScheduler({ maxEventsPerInstant: 1000 });
    const spin = (): void => scheduler.after(0, spin);
    scheduler.at(7, spin);
    expect(() => scheduler.runUntil(100)).toThrow(/stalled at 7 ms/);
    expect(scheduler.eventsRun).toBe(1000);
  });

  test('many events at one instant are fine when time moves on between them', () => {
    const scheduler = new VirtualScheduler({ maxEventsPerInstant: 100 });
    for (let i = 0; i < 100; i++) scheduler.at(1, () => {});
    for (let i = 0; i < 100; i++) scheduler.at(2, () => {});
    expect(scheduler.runUntil(2)).toBe(200);
  });

  test('scheduling in the past, a negative delay or a non-finite time is refused', () => {
    const scheduler = new VirtualScheduler({ start: 10 });
    expect(() => scheduler.at(9, () => {})).toThrow(RangeError);
    expect(() => scheduler.at(Number.NaN, () => {})).toThrow(RangeError);
    expect(() => scheduler.at(Infinity, () => {})).toThrow(RangeError);
    expect(() => scheduler.after(-1, () => {})).toThrow(RangeError);
    expect(() => scheduler.runUntil(5)).toThrow(RangeError);
    expect(() => scheduler.runFor(-1)).toThrow(RangeError);
    expect(scheduler.pending).toBe(0);
  });

  test('running the scheduler from inside an event is refused', () => {
    const scheduler = new VirtualScheduler();
    let error: unknown;
    scheduler.at(1, () => {
      try {
        scheduler.runUntil(2);
      } catch (e) {
        error = e;
      }
    });
    scheduler.runUntil(5);
    expect(error).toBeInstanceOf(Error);
    expect(scheduler.now).toBe(5);
  });

  test('an event that throws leaves the scheduler usable', () => {
    const scheduler = new VirtualScheduler();
    const log: number[] = [];
    scheduler.at(1, () => {
      throw new Error('boom');
    });
    scheduler.at(2, () => log.push(2));
    expect(() => scheduler.runUntil(5)).toThrow('boom');
    expect(scheduler.now).toBe(1);
    scheduler.runUntil(5);
    expect(log).toEqual([2]);
  });
});
