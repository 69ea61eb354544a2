/**
 * The chaos observer's invariants (`test/chaos/invariants.ts`) on hand-made snapshot sequences:
 * each invariant with a run that keeps it and one that breaks it.
 */
import { describe, expect, test } from 'vitest';
import {
  checkConvergence,
  checkExits,
  checkLeaders,
  checkMonotonic,
  checkSnapshots,
  formatViolations,
  majoritySide,
  type HostObservation,
  type Snapshot,
} from './invariants.js';
import { configBody, fileBody, type Schedule } from './schedule.js';

const KV = 'kv.chaos';
const WEB = 'web.chaos';

/** Three hosts; kv (leader) on all, web (standalone) on 1 and 2; kv config up to 3, web's file up to 2. */
const SCHEDULE: Schedule = {
  seed: 1,
  hosts: 3,
  durationMs: 60_000,
  quietTailMs: 10_000,
  maxDown: 1,
  maxPauseMs: 5000,
  groups: [
    { name: KV, topology: 'leader', members: [0, 1, 2], filenames: [] },
    { name: WEB, topology: 'standalone', members: [1, 2], filenames: ['index.html'] },
  ],
  actions: [
    { atMs: 1000, action: { kind: 'config-apply', group: KV, version: 1, fromHost: 0 } },
    { atMs: 2000, action: { kind: 'file-upload', group: WEB, filename: 'index.html', version: 1, fromHost: 1 } },
    { atMs: 3000, action: { kind: 'config-apply', group: KV, version: 3, fromHost: 2 } },
    { atMs: 4000, action: { kind: 'file-upload', group: WEB, filename: 'index.html', version: 2, fromHost: 0 } },
  ],
};

const ID = ['m0', 'm1', 'm2'] as const;

interface HostState {
  kv?: number;
  web?: number;
  file?: number;
  leader?: string | null;
  term?: number;
  pid?: number;
  expected?: HostObservation['expected'];
  processAlive?: boolean;
  answered?: boolean;
}

/** A host as the gateways would show it: kv at config `kv`, web holding `index.html` at `file`. */
function host(i: 0 | 1 | 2, s: HostState = {}): HostObservation {
  const answered = s.answered ?? true;
  const o: HostObservation = {
    host: i,
    expected: s.expected ?? 'running',
    processAlive: s.processAlive ?? true,
    pid: s.pid ?? 100 + i,
    memberId: ID[i],
  };
  if (!answered) return o;
  o.services = [];
  if (s.kv !== undefined) o.services.push({ service_group: KV, config_version: s.kv, files: [] });
  if (s.web !== undefined || s.file !== undefined) {
    o.services.push({ service_group: WEB, config_version: s.web ?? 0, files: s.file === undefined ? [] : [{ filename: 'index.html', version: s.file }] });
  }
  const leader = s.leader ?? null;
  o.census = { census_groups: { [KV]: { leader_id: leader, election_status: leader === null ? 'ElectionInProgress' : 'ElectionFinished' } } };
  if (s.term !== undefined) o.butterfly = { election: { list: { [KV]: { election: { member_id: leader ?? '', term: s.term, status: 'finished' } } } } };
  return o;
}

function snap(atMs: number, hosts: HostObservation[], partition?: Snapshot['partition']): Snapshot {
  return partition === undefined ? { atMs, hosts } : { atMs, hosts, partition };
}

/** The state every host must reach: kv at 3, web's file at 2, m0 leader in term 4. */
function converged(): HostObservation[] {
  return [
    host(0, { kv: 3, leader: 'm0', term: 4 }),
    host(1, { kv: 3, file: 2, leader: 'm0', term: 4 }),
    host(2, { kv: 3, file: 2, leader: 'm0', term: 4 }),
  ];
}

describe('applied versions never go down', () => {
  test('rising versions, a group not loaded yet after a restart, and equal versions pass', () => {
    const run = [
      snap(1000, [host(0, { kv: 1 }), host(1, { kv: 0, file: 1 })]),
      snap(2000, [host(0, { expected: 'killed', processAlive: false, answered: false }), host(1, { kv: 1, file: 1 })]),
      snap(3000, [host(0, { pid: 200 }), host(1, { kv: 3, file: 2 })]),
      snap(4000, [host(0, { pid: 200, kv: 1 }), host(1, { kv: 3, file: 2 })]),
      snap(5000, [host(0, { pid: 200, kv: 3 }), host(1, { kv: 3, file: 2 })]),
    ];
    expect(checkMonotonic(run)).toEqual([]);
  });

  test('a config version that drops is version-regressed', () => {
    const v = checkMonotonic([snap(1000, [host(1, { kv: 3 })]), snap(2000, [host(1, { kv: 1 })])]);
    expect(v).toEqual([expect.objectContaining({ code: 'version-regressed', host: 1, group: KV, atMs: 2000 })]);
    expect(v[0]?.message).toBe('host 1 kv.chaos: config version 1 at 2000 ms, below 3 applied at 1000 ms');
  });

  test('a file version that drops is version-regressed', () => {
    const v = checkMonotonic([snap(1000, [host(2, { file: 2 })]), snap(2000, [host(2, { file: 1 })])]);
    expect(v).toEqual([expect.objectContaining({ code: 'version-regressed', group: WEB, message: expect.stringContaining('file index.html version 1') })]);
  });

  test('a version lost across a restart is lost-on-restart', () => {
    const v = checkMonotonic([
      snap(1000, [host(0, { kv: 3 })]),
      snap(2000, [host(0, { expected: 'killed', processAlive: false, answered: false })]),
      snap(3000, [host(0, { pid: 555, kv: 0 })]),
    ]);
    expect(v).toEqual([expect.objectContaining({ code: 'lost-on-restart', host: 0, message: expect.stringContaining('from pid 100 to 555') })]);
  });
});

describe('no Supervisor exits that the suite did not kill', () => {
  test('killed, paused and running hosts pass', () => {
    expect(checkExits([
      snap(1000, [host(0, { expected: 'killed', processAlive: false }), host(1, { expected: 'paused', answered: false }), host(2)]),
    ])).toEqual([]);
  });

  test('a running host whose process is gone is an unexpected exit, reported once', () => {
    const gone = host(2, { processAlive: false, answered: false });
    const v = checkExits([snap(1000, [gone]), snap(2000, [gone])]);
    expect(v).toEqual([expect.objectContaining({ code: 'unexpected-exit', host: 2, atMs: 1000 })]);
    expect(v[0]?.message).toBe('host 2: the Supervisor (pid 102) exited at 1000 ms; the suite did not kill it (running)');
  });

  test('a paused host whose process is gone is an unexpected exit', () => {
    expect(checkExits([snap(1000, [host(1, { expected: 'paused', processAlive: false })])])).toEqual([expect.objectContaining({ code: 'unexpected-exit', host: 1 })]);
  });
});

describe('at most one leader per term on the majority side', () => {
  test('the majority side is the larger side of the partition, or everyone', () => {
    expect(majoritySide(snap(0, converged()))).toEqual(new Set([0, 1, 2]));
    expect(majoritySide(snap(0, converged(), { a: [0], b: [1, 2] }))).toEqual(new Set([1, 2]));
  });

  test('a new leader in a new term, and a cut-off minority that still names its old leader, pass', () => {
    const run = [
      snap(1000, [host(0, { leader: 'm0', term: 1 }), host(1, { leader: 'm0', term: 1 }), host(2, { leader: 'm0', term: 1 })]),
      // m0 is cut off and still thinks it leads term 1; the majority elects m1 in term 2.
      snap(2000, [host(0, { leader: 'm0', term: 1 }), host(1, { leader: 'm1', term: 2 }), host(2, { leader: 'm1', term: 2 })], { a: [0], b: [1, 2] }),
      snap(3000, [host(0, { leader: 'm1', term: 2 }), host(1, { leader: 'm1', term: 2 }), host(2, { leader: 'm1', term: 2 })]),
    ];
    expect(checkLeaders(SCHEDULE, run)).toEqual([]);
  });

  test('a minority naming another leader in the same term is not counted', () => {
    const run = [snap(1000, [host(0, { leader: 'm0', term: 2 }), host(1, { leader: 'm1', term: 2 }), host(2, { leader: 'm1', term: 2 })], { a: [0], b: [1, 2] })];
    expect(checkLeaders(SCHEDULE, run)).toEqual([]);
  });

  test('two leaders in one term on the majority side, in one snapshot, are a violation', () => {
    const v = checkLeaders(SCHEDULE, [snap(1000, [host(0, { leader: 'm0', term: 2 }), host(1, { leader: 'm1', term: 2 }), host(2, { leader: 'm1', term: 2 })])]);
    expect(v).toEqual([expect.objectContaining({ code: 'two-leaders', group: KV, host: 1 })]);
    expect(v[0]?.message).toBe('kv.chaos term 2: host 1 names m1 leader at 1000 ms, host 0 named m0 at 1000 ms (both on the majority side)');
  });

  test('two leaders in one term across snapshots are a violation', () => {
    const v = checkLeaders(SCHEDULE, [snap(1000, [host(1, { leader: 'm0', term: 5 })]), snap(9000, [host(2, { leader: 'm2', term: 5 })])]);
    expect(v).toEqual([expect.objectContaining({ code: 'two-leaders', atMs: 9000 })]);
  });
});

describe('convergence after the last heal', () => {
  test('every live member at the newest versions and contents, one leader, passes', () => {
    const hosts = converged();
    hosts[1]!.fileContents = { [WEB]: { 'index.html': fileBody(WEB, 'index.html', 2) } };
    hosts[0]!.configContents = { [KV]: configBody(KV, 3) };
    expect(checkConvergence(SCHEDULE, snap(60_000, hosts))).toEqual([]);
  });

  test('a killed member is not waited for', () => {
    const hosts = converged();
    hosts[2] = host(2, { expected: 'killed', processAlive: false, answered: false });
    expect(checkConvergence(SCHEDULE, snap(60_000, hosts))).toEqual([]);
  });

  test('a member behind on config is config-not-converged', () => {
    const hosts = converged();
    hosts[2] = host(2, { kv: 1, file: 2, leader: 'm0', term: 4 });
    expect(checkConvergence(SCHEDULE, snap(60_000, hosts))).toEqual([
      expect.objectContaining({ code: 'config-not-converged', host: 2, group: KV, message: 'host 2 kv.chaos: config version 1, want 3' }),
    ]);
  });

  test('a rendered config that is not the newest is config-not-converged', () => {
    const hosts = converged();
    hosts[0]!.configContents = { [KV]: configBody(KV, 1) };
    expect(checkConvergence(SCHEDULE, snap(60_000, hosts))).toEqual([expect.objectContaining({ code: 'config-not-converged', host: 0 })]);
  });

  test('a member behind on a file, or missing it, is file-not-converged', () => {
    const hosts = converged();
    hosts[1] = host(1, { kv: 3, file: 1, leader: 'm0', term: 4 });
    hosts[2] = host(2, { kv: 3, web: 0, leader: 'm0', term: 4 });
    expect(checkConvergence(SCHEDULE, snap(60_000, hosts))).toEqual([
      expect.objectContaining({ code: 'file-not-converged', host: 1, message: 'host 1 web.chaos: file index.html version 1, want 2' }),
      expect.objectContaining({ code: 'file-not-converged', host: 2, message: 'host 2 web.chaos: file index.html version 0, want 2' }),
    ]);
  });

  test('a file on disk with old contents is file-contents', () => {
    const hosts = converged();
    hosts[2]!.fileContents = { [WEB]: { 'index.html': fileBody(WEB, 'index.html', 1) } };
    expect(checkConvergence(SCHEDULE, snap(60_000, hosts))).toEqual([expect.objectContaining({ code: 'file-contents', host: 2 })]);
  });

  test('a live member without the service is missing-service', () => {
    const hosts = converged();
    hosts[1] = host(1, { kv: 3, leader: 'm0', term: 4 });
    expect(checkConvergence(SCHEDULE, snap(60_000, hosts))).toEqual([expect.objectContaining({ code: 'missing-service', host: 1, group: WEB })]);
  });

  test('a member with no finished election is no-leader', () => {
    const hosts = converged();
    hosts[0] = host(0, { kv: 3 });
    expect(checkConvergence(SCHEDULE, snap(60_000, hosts))).toEqual([
      expect.objectContaining({ code: 'no-leader', group: KV, message: 'kv.chaos: no finished election at host(s) 0' }),
    ]);
  });

  test('a leader that is not a live member is no-leader', () => {
    const hosts = converged().map((h) => (h.host === 0 ? host(0, { expected: 'killed', processAlive: false, answered: false }) : h));
    expect(checkConvergence(SCHEDULE, snap(60_000, hosts))).toEqual([
      expect.objectContaining({ code: 'no-leader', message: 'kv.chaos: the leader m0 is not a live member' }),
    ]);
  });

  test('members naming different leaders is leader-disagreement', () => {
    const hosts = converged();
    hosts[2] = host(2, { kv: 3, file: 2, leader: 'm2', term: 5 });
    expect(checkConvergence(SCHEDULE, snap(60_000, hosts))).toEqual([
      expect.objectContaining({ code: 'leader-disagreement', message: 'kv.chaos: live members name different leaders: m0 (hosts 0, 1) vs m2 (hosts 2)' }),
    ]);
  });
});

test('checkSnapshots gathers every run-long check, and violations print one per line', () => {
  const run = [
    snap(1000, [host(0, { kv: 3, leader: 'm0', term: 1 }), host(1, { leader: 'm1', term: 1 }), host(2, { processAlive: false })]),
    snap(2000, [host(0, { kv: 2 })]),
  ];
  const v = checkSnapshots(SCHEDULE, run);
  expect(v.map((x) => x.code).sort()).toEqual(['two-leaders', 'unexpected-exit', 'version-regressed']);
  expect(formatViolations(v).split('\n')).toHaveLength(3);
  expect(formatViolations(v)).toContain('[version-regressed] 2000 ms: host 0 kv.chaos: config version 2');
});
