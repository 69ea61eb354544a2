/**
 * The chaos fault schedule (`test/chaos/schedule.ts`): deterministic from its seed, every
 * generated schedule keeps its constraints, and the text form reads back to the same schedule.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  faultStateAt,
  formatSchedule,
  generateSchedule,
  parseSchedule,
  publishedBy,
  validateSchedule,
  type ChaosGroup,
  type Schedule,
  type ScheduleOptions,
  type TimedAction,
} from './schedule.js';

const GROUPS: ChaosGroup[] = [
  { name: 'kv.chaos', topology: 'leader', members: [0, 1, 2, 3, 4], filenames: ['tls.pem', 'motd.txt'] },
  { name: 'web.chaos@acme', topology: 'standalone', members: [2, 3, 4, 5, 6], filenames: ['index.html'] },
];

const SEVEN: ScheduleOptions = { seed: 7, hosts: 7, durationMs: 120_000, groups: GROUPS };

/** A schedule that breaks nothing, for the validator's failing cases to change one thing in. */
function base(actions: Schedule['actions']): Schedule {
  return { seed: 1, hosts: 5, durationMs: 100_000, quietTailMs: 10_000, maxDown: 2, maxPauseMs: 5000, groups: GROUPS.map((g) => ({ ...g, members: g.members.filter((m) => m < 5) })), actions };
}

describe('generating a schedule', () => {
  test('the same seed gives the same schedule, another seed another one', () => {
    expect(formatSchedule(generateSchedule(SEVEN))).toBe(formatSchedule(generateSchedule(SEVEN)));
    expect(formatSchedule(generateSchedule({ ...SEVEN, seed: 8 }))).not.toBe(formatSchedule(generateSchedule(SEVEN)));
  });

  test('a two-minute run on seven hosts holds every kind of action', () => {
    const s = generateSchedule(SEVEN);
    const kinds = new Set(s.actions.map((a) => a.action.kind));
    for (const k of ['kill-sup', 'restart-sup', 'kill-service', 'partition', 'heal', 'loss-start', 'loss-end', 'pause', 'resume', 'config-apply', 'file-upload']) {
      expect(kinds, k).toContain(k);
    }
    expect(s.maxDown).toBe(3);
    expect(validateSchedule(s)).toEqual([]);
  });

  test('every generated schedule keeps its constraints', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1000, max: 200_000 }),
        fc.integer({ min: 100, max: 5000 }),
        (seed, hosts, durationMs, meanGapMs) => {
          const s = generateSchedule({ seed, hosts, durationMs, meanGapMs, quietTailMs: Math.floor(durationMs / 4) });
          expect(validateSchedule(s)).toEqual([]);
          expect(s.actions.every((a) => a.atMs <= durationMs - s.quietTailMs)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a mix with every fault off but publishing holds only publishes, with rising versions', () => {
    const s = generateSchedule({ ...SEVEN, mix: { killSup: 0, killService: 0, partition: 0, loss: 0, pause: 0 } });
    expect(new Set(s.actions.map((a) => a.action.kind))).toEqual(new Set(['config-apply', 'file-upload']));
    const p = publishedBy(s);
    const kvConfigs = s.actions.flatMap((a) => (a.action.kind === 'config-apply' && a.action.group === 'kv.chaos' ? [a.action.version] : []));
    expect(kvConfigs).toEqual(kvConfigs.map((_, i) => i + 1));
    expect(p.config.get('kv.chaos')).toBe(kvConfigs.length);
  });

  test('maxDown bounds the hosts killed or paused at once', () => {
    const s = generateSchedule({ ...SEVEN, maxDown: 1, mix: { killSup: 5, pause: 5 } });
    expect(validateSchedule(s)).toEqual([]);
    expect(validateSchedule({ ...s, maxDown: 0 }).some((p) => p.includes('hosts down, more than 0'))).toBe(true);
  });

  test('options out of range are refused', () => {
    expect(() => generateSchedule({ ...SEVEN, hosts: 0 })).toThrow(/hosts/);
    expect(() => generateSchedule({ ...SEVEN, pauseMs: [5000, 100] })).toThrow(/pauseMs/);
    expect(() => generateSchedule({ ...SEVEN, groups: [{ ...GROUPS[0]!, filenames: ['a b'] }] })).toThrow(/file name/);
    expect(() => generateSchedule({ ...SEVEN, groups: [{ ...GROUPS[0]!, members: [9] }] })).toThrow(/host 9/);
  });
});

test('faultStateAt follows the faults in force, and nothing is in force after the last action', () => {
  const s = base([
    { atMs: 1, action: { kind: 'kill-sup', host: 1 } },
    { atMs: 2, action: { kind: 'partition', a: [0, 1], b: [2, 3, 4] } },
    { atMs: 3, action: { kind: 'loss-start', hosts: [4], percent: 30 } },
    { atMs: 4, action: { kind: 'pause', host: 2 } },
    { atMs: 5, action: { kind: 'resume', host: 2 } },
    { atMs: 6, action: { kind: 'restart-sup', host: 1 } },
    { atMs: 7, action: { kind: 'heal' } },
    { atMs: 8, action: { kind: 'loss-end', hosts: [4] } },
  ]);
  expect(faultStateAt(s, 4)).toEqual({ killed: new Set([1]), paused: new Set([2]), partition: { a: [0, 1], b: [2, 3, 4] }, loss: { hosts: [4], percent: 30 } });
  expect(faultStateAt(s, 8)).toEqual({ killed: new Set(), paused: new Set() });
  const g = generateSchedule(SEVEN);
  expect(faultStateAt(g, g.durationMs - g.quietTailMs)).toEqual({ killed: new Set(), paused: new Set() });
});

describe('validating a schedule: each constraint can fail', () => {
  const cases: [string, Schedule['actions'], RegExp][] = [
    ['a killed host acted on', [{ atMs: 1, action: { kind: 'kill-sup', host: 1 } }, { atMs: 2, action: { kind: 'pause', host: 1 } }, { atMs: 3, action: { kind: 'restart-sup', host: 1 } }, { atMs: 3, action: { kind: 'resume', host: 1 } }], /host 1 is killed/],
    ['a publish from a paused host', [{ atMs: 1, action: { kind: 'pause', host: 2 } }, { atMs: 2, action: { kind: 'config-apply', group: 'kv.chaos', version: 1, fromHost: 2 } }, { atMs: 3, action: { kind: 'resume', host: 2 } }], /paused/],
    ['a pause past its bound', [{ atMs: 1, action: { kind: 'pause', host: 2 } }, { atMs: 6000, action: { kind: 'resume', host: 2 } }], /more than 5000 ms/],
    ['a host never restarted', [{ atMs: 1, action: { kind: 'kill-sup', host: 2 } }], /still killed/],
    ['a host never resumed', [{ atMs: 1, action: { kind: 'pause', host: 2 } }], /still paused/],
    ['a partition never healed', [{ atMs: 1, action: { kind: 'partition', a: [0, 1], b: [2, 3, 4] } }], /not healed/],
    ['a partition with no majority', [{ atMs: 1, action: { kind: 'partition', a: [0, 1], b: [2, 3] } }, { atMs: 2, action: { kind: 'heal' } }], /split every host/],
    ['a loss burst never ended', [{ atMs: 1, action: { kind: 'loss-start', hosts: [1], percent: 30 } }], /loss burst has not ended/],
    ['too many hosts down', [...[0, 1, 2].map((host): TimedAction => ({ atMs: host, action: { kind: 'kill-sup', host } })), ...[0, 1, 2].map((host): TimedAction => ({ atMs: 10, action: { kind: 'restart-sup', host } }))], /3 hosts down, more than 2/],
    ['a version that does not rise', [{ atMs: 1, action: { kind: 'file-upload', group: 'kv.chaos', filename: 'tls.pem', version: 2, fromHost: 0 } }, { atMs: 2, action: { kind: 'file-upload', group: 'kv.chaos', filename: 'motd.txt', version: 2, fromHost: 0 } }], /does not rise above 2/],
    ['an action in the quiet tail', [{ atMs: 95_000, action: { kind: 'kill-service', host: 0, group: 'kv.chaos' } }], /quiet tail/],
    ['actions out of time order', [{ atMs: 5, action: { kind: 'heal' } }, { atMs: 4, action: { kind: 'heal' } }], /out of time order/],
    ['a restart of a host not killed', [{ atMs: 1, action: { kind: 'restart-sup', host: 1 } }], /was not killed/],
    ['a resume of a host not paused', [{ atMs: 1, action: { kind: 'resume', host: 1 } }], /was not paused/],
    ['a heal with no partition', [{ atMs: 1, action: { kind: 'heal' } }], /no partition to heal/],
    ['two partitions at once', [{ atMs: 1, action: { kind: 'partition', a: [0], b: [1, 2, 3, 4] } }, { atMs: 2, action: { kind: 'partition', a: [1], b: [0, 2, 3, 4] } }, { atMs: 3, action: { kind: 'heal' } }], /already in force/],
    ['two loss bursts at once', [{ atMs: 1, action: { kind: 'loss-start', hosts: [0], percent: 30 } }, { atMs: 2, action: { kind: 'loss-start', hosts: [1], percent: 30 } }, { atMs: 3, action: { kind: 'loss-end', hosts: [0] } }], /already in force/],
    ['a loss of 100 %', [{ atMs: 1, action: { kind: 'loss-start', hosts: [0], percent: 100 } }, { atMs: 2, action: { kind: 'loss-end', hosts: [0] } }], /percent 100/],
    ['a host out of range', [{ atMs: 1, action: { kind: 'kill-service', host: 9, group: 'kv.chaos' } }], /host 9 is not in 0…4/],
    ['a publish to an unknown group', [{ atMs: 1, action: { kind: 'config-apply', group: 'nope.chaos', version: 1, fromHost: 0 } }], /unknown group/],
    ['an upload of a file the group does not have', [{ atMs: 1, action: { kind: 'file-upload', group: 'kv.chaos', filename: 'x.txt', version: 1, fromHost: 0 } }], /not a file of kv.chaos/],
    ['a service killed where it does not run', [{ atMs: 1, action: { kind: 'kill-service', host: 0, group: 'web.chaos@acme' } }], /does not run/],
  ];
  test.each(cases)('%s', (_name, actions, problem) => {
    const problems = validateSchedule(base(actions));
    expect(problems.some((p) => problem.test(p)), problems.join('\n')).toBe(true);
  });

  test('the same actions, kept within the rules, pass', () => {
    expect(validateSchedule(base([
      { atMs: 1, action: { kind: 'kill-sup', host: 1 } },
      { atMs: 2, action: { kind: 'pause', host: 2 } },
      { atMs: 3, action: { kind: 'partition', a: [0, 1], b: [2, 3, 4] } },
      { atMs: 4, action: { kind: 'config-apply', group: 'kv.chaos', version: 1, fromHost: 0 } },
      { atMs: 5, action: { kind: 'file-upload', group: 'kv.chaos', filename: 'tls.pem', version: 1, fromHost: 3 } },
      { atMs: 6, action: { kind: 'resume', host: 2 } },
      { atMs: 7, action: { kind: 'restart-sup', host: 1 } },
      { atMs: 8, action: { kind: 'heal' } },
    ]))).toEqual([]);
  });
});

describe('the text form', () => {
  test('round-trips generated schedules', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 1, max: 9 }), (seed, hosts) => {
        const s = generateSchedule({ seed, hosts, durationMs: 60_000, meanGapMs: 700 });
        const text = formatSchedule(s);
        const back = parseSchedule(text);
        expect(back).toEqual({ ok: true, schedule: s });
        if (back.ok) expect(formatSchedule(back.schedule)).toBe(text);
      }),
      { numRuns: 100 },
    );
    const s = generateSchedule(SEVEN);
    expect(parseSchedule(formatSchedule(s))).toEqual({ ok: true, schedule: s });
  });

  test('reads as documented', () => {
    const text = [
      '# a hand-written schedule',
      'seed 12345',
      'hosts 7',
      'duration-ms 120000',
      'quiet-tail-ms 24000',
      'max-down 3',
      'max-pause-ms 5000',
      'group kv.chaos topology=leader members=0,1,2,3,4 files=tls.pem,motd.txt',
      '',
      '1523 kill-sup host=3',
      '2210 partition a=1,5 b=0,2,3,4,6',
      '3000 loss-start hosts=2,4 percent=30',
      '4100 config-apply group=kv.chaos version=1 from=0',
      '4800 file-upload group=kv.chaos file=tls.pem version=1 from=6',
    ].join('\n');
    const r = parseSchedule(text);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.schedule.groups).toEqual([{ name: 'kv.chaos', topology: 'leader', members: [0, 1, 2, 3, 4], filenames: ['tls.pem', 'motd.txt'] }]);
    expect(r.schedule.actions).toEqual([
      { atMs: 1523, action: { kind: 'kill-sup', host: 3 } },
      { atMs: 2210, action: { kind: 'partition', a: [1, 5], b: [0, 2, 3, 4, 6] } },
      { atMs: 3000, action: { kind: 'loss-start', hosts: [2, 4], percent: 30 } },
      { atMs: 4100, action: { kind: 'config-apply', group: 'kv.chaos', version: 1, fromHost: 0 } },
      { atMs: 4800, action: { kind: 'file-upload', group: 'kv.chaos', filename: 'tls.pem', version: 1, fromHost: 6 } },
    ]);
    // It parses, but breaks the rules: host 3 is never restarted, the partition never heals.
    expect(validateSchedule(r.schedule).length).toBeGreaterThan(0);
  });

  test('junk is an error naming its line, never a throw', () => {
    const head = 'seed 1\nhosts 3\nduration-ms 10\nquiet-tail-ms 1\nmax-down 1\nmax-pause-ms 5\n';
    expect(parseSchedule(head + '5 explode host=1\n')).toEqual({ ok: false, error: { line: 7, message: 'unknown action "explode"' } });
    expect(parseSchedule(head + '5 kill-sup\n')).toMatchObject({ ok: false, error: { line: 7 } });
    expect(parseSchedule(head + '5 kill-sup host=x\n')).toMatchObject({ ok: false, error: { line: 7, message: 'host must be a whole number' } });
    expect(parseSchedule(head + '5 kill-sup host=1 host=2\n')).toMatchObject({ ok: false, error: { message: 'host is given twice' } });
    expect(parseSchedule(head + '5 partition a=1,,2 b=0\n')).toMatchObject({ ok: false, error: { line: 7 } });
    expect(parseSchedule(head + 'group g topology=mesh members=0 files=\n')).toMatchObject({ ok: false, error: { message: 'topology must be leader or standalone' } });
    expect(parseSchedule('seed 1\n')).toMatchObject({ ok: false, error: { line: 0, message: 'missing "hosts" line' } });
    expect(parseSchedule('seed -1\n')).toMatchObject({ ok: false, error: { line: 1 } });
    fc.assert(fc.property(fc.string(), (junk) => void parseSchedule(junk)));
  });
});
