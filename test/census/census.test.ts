/**
 * The census is rebuilt from the rumor store: groups come from service, config and file rumors,
 * the population from service rumors, health from the member list (Habitat's `/census` shape).
 */
import { describe, expect, test } from 'vitest';
import { buildCensus, countRumors, splitPackageIdent, splitServiceGroup } from '../../src/census/index.js';
import { seededRandom } from '../../src/core/index.js';
import { GossipCore, RumorStore, lanPreset } from '../../src/gossip/index.js';
import type { ElectionRumor, Rumor } from '../../src/wire/index.js';
import { A, B, C, info, member } from '../gossip/fixtures.js';
import { BOX, config, file, service, sys } from './fixtures.js';

const D = 'd'.repeat(32);

function storeOf(rumors: Rumor[]): { store: RumorStore } {
  const store = new RumorStore({ buckets: 16 });
  for (const r of rumors) store.merge(r, 0);
  return { store };
}

describe('service group and package names', () => {
  test('a service group splits into service, group and org', () => {
    expect(splitServiceGroup('redis.prod@acme')).toEqual({ service: 'redis', group: 'prod', org: 'acme' });
    expect(splitServiceGroup('redis.prod')).toEqual({ service: 'redis', group: 'prod', org: null });
    expect(splitServiceGroup('app.env#redis.prod')).toEqual({ service: 'redis', group: 'prod', org: null });
    expect(splitServiceGroup('nodot')).toEqual({ service: 'nodot', group: '', org: null });
  });

  test('a package ident splits into origin, name, version and release', () => {
    expect(splitPackageIdent('core/redis/4.0.14/20190319155852')).toEqual({ origin: 'core', name: 'redis', version: '4.0.14', release: '20190319155852' });
    expect(splitPackageIdent('core/redis')).toEqual({ origin: 'core', name: 'redis', version: null, release: null });
  });
});

describe('census', () => {
  test('a group shows its parsed config, its files and its population with health from the member list', () => {
    const core = storeOf([
      member(A, 0, 'alive'),
      { ...member(B, 2, 'suspect'), member: { ...info(B, 2), persistent: true } },
      service(A, 'redis.prod@acme', { sys: sys('10.0.0.1') }),
      service(B, 'redis.prod@acme', { sys: sys('10.0.0.2'), cfg: new TextEncoder().encode('port = 6380\n[tls]\nenabled = true\n') }),
      config('redis.prod@acme', 2, 'maxmemory = "1gb"\n[tuning]\ntcp-backlog = 511\n'),
      file('redis.prod@acme', 'app.crt', 1, 'CERT'),
    ]);
    const census = buildCensus(core, A);
    expect(census).toMatchObject({ changed: true, local_member_id: A, last_membership_counter: 2, last_service_counter: 2, last_service_config_counter: 1, last_service_file_counter: 1, last_election_counter: 0, last_election_update_counter: 0 });
    expect(Object.keys(census.census_groups)).toEqual(['redis.prod@acme']);
    const group = census.census_groups['redis.prod@acme']!;
    expect(group).toMatchObject({ service_group: 'redis.prod@acme', election_status: 'None', leader_id: null, local_member_id: A, changed_service_files: [] });
    expect(group.service_config).toEqual({ incarnation: 2, value: { maxmemory: '1gb', tuning: { 'tcp-backlog': 511 } } });
    expect(group.service_files).toEqual({ 'app.crt': { filename: 'app.crt', incarnation: 1, body: [67, 69, 82, 84] } });
    expect(Object.keys(group.population)).toEqual([A, B]);
    expect(group.population[A]).toMatchObject({
      member_id: A,
      service: 'redis',
      group: 'prod',
      org: 'acme',
      package: 'core/redis/4.0.14/20190319155852',
      pkg: { origin: 'core', name: 'redis', version: '4.0.14', release: '20190319155852' },
      sys: { ip: '10.0.0.1', hostname: 'host-10.0.0.1', gossip_ip: '10.0.0.1', gossip_port: 9638, http_gateway_ip: '0.0.0.0', http_gateway_port: 9631, ctl_gateway_ip: '127.0.0.1', ctl_gateway_port: 9632 },
      cfg: { port: 6379 },
      alive: true,
      suspect: false,
      confirmed: false,
      departed: false,
      leader: false,
      follower: false,
      persistent: false,
    });
    expect(group.population[B]).toMatchObject({ alive: false, suspect: true, persistent: true, cfg: { port: 6380, tls: { enabled: true } } });
  });

  test('an encrypted config has a null value and says it is encrypted; an unparsable one says why', () => {
    const census = buildCensus(
      storeOf([config('redis.prod@acme', 3, BOX, { encrypted: true }), config('web.default', 1, 'this is = = not toml'), file('web.default', 'key.pem', 4, BOX, { encrypted: true })]),
      A,
    );
    expect(census.census_groups['redis.prod@acme']!.service_config).toEqual({ incarnation: 3, value: null, encrypted: true });
    const web = census.census_groups['web.default']!;
    expect(web.service_config).toMatchObject({ incarnation: 1, value: null, error: expect.stringContaining('not valid TOML') });
    expect(web.service_files['key.pem']).toMatchObject({ filename: 'key.pem', incarnation: 4, encrypted: true });
    expect(web.population).toEqual({});
  });

  test('a member unknown to the member list has every health flag false; a departed one is departed', () => {
    const census = buildCensus(storeOf([member(C, 0, 'alive'), { kind: 'departure', memberId: C }, service(C, 'redis.prod'), service(D, 'redis.prod')]), A);
    const population = census.census_groups['redis.prod']!.population;
    expect(population[C]).toMatchObject({ alive: false, departed: true, org: null });
    expect(population[D]).toMatchObject({ alive: false, suspect: false, confirmed: false, departed: false });
  });

  test('a removed service (tombstone) leaves the population', () => {
    const census = buildCensus(
      storeOf([service(A, 'redis.prod'), service(B, 'redis.prod'), { kind: 'tombstone', target: 'service', group: 'redis.prod', id: B, version: 1 }]),
      A,
    );
    expect(Object.keys(census.census_groups['redis.prod']!.population)).toEqual([A]);
    expect(census.last_service_counter).toBe(1);
  });

  test('a newer config version replaces the census value: the census is rebuilt, not patched', () => {
    const core = new GossipCore({ random: seededRandom(3) }, { self: info(A), options: lanPreset, announce: false });
    core.publish(service(A, 'redis.prod'), 0);
    core.publish(config('redis.prod', 1, 'maxmemory = "1gb"'), 0);
    const before = buildCensus(core, core.id);
    core.publish(config('redis.prod', 2, 'maxmemory = "2gb"'), 1);
    const after = buildCensus(core, core.id);
    expect(before.census_groups['redis.prod']!.service_config).toEqual({ incarnation: 1, value: { maxmemory: '1gb' } });
    expect(after.census_groups['redis.prod']!.service_config).toEqual({ incarnation: 2, value: { maxmemory: '2gb' } });
    expect(after.census_groups['redis.prod']!.population[A]).toMatchObject({ alive: true, member_id: A });
  });

  test('the census is plain JSON data and the same store gives the same census', () => {
    const rumors: Rumor[] = [member(A, 0, 'alive'), service(B, 'b.default'), service(A, 'a.default'), config('a.default', 1, 'x = 1')];
    const one = buildCensus(storeOf(rumors), A);
    const two = buildCensus(storeOf([...rumors].reverse()), A);
    expect(JSON.stringify(one)).toEqual(JSON.stringify(two));
    expect(JSON.parse(JSON.stringify(one))).toEqual(one);
    expect(Object.keys(one.census_groups)).toEqual(['a.default', 'b.default']);
  });

  test('rumors are counted by kind, tombstones apart', () => {
    const counts = countRumors(storeOf([member(A, 0, 'alive'), service(A, 'x.y'), { kind: 'tombstone', target: 'service', group: 'x.y', id: B, version: 0 }]));
    expect(counts).toEqual({ member: 1, service: 1, 'service-config': 0, 'service-file': 0, election: 0, 'election-update': 0, departure: 0, 'ring-key': 0, tombstone: 1 });
  });
});

describe('census: elections', () => {
  const E = 'e'.repeat(32);
  const group = 'redis.prod';
  const leaderOf = (id: string) => service(id, group, { topology: 'leader' });
  const finished = (leader: string, roster: string[], over: Partial<ElectionRumor> = {}): ElectionRumor => ({
    kind: 'election', group, memberId: leader, term: 2, suitability: 0, status: 'finished', votes: roster, roster, rosterVersion: 1, ...over,
  });
  const running = (candidate: string, roster: string[], over: Partial<ElectionRumor> = {}): ElectionRumor => ({
    kind: 'election', group, memberId: candidate, term: 3, suitability: 0, status: 'running', votes: [candidate], roster, rosterVersion: 1, ...over,
  });
  const ring = (health: Record<string, 'alive' | 'suspect' | 'confirmed'>): Rumor[] => Object.entries(health).flatMap(([id, h]) => [member(id, 0, h), leaderOf(id)]);

  test('a finished election names the leader; the others are followers; every member says it is finished', () => {
    const census = buildCensus(storeOf([...ring({ [A]: 'alive', [B]: 'alive', [C]: 'suspect' }), finished(B, [A, B, C])]), A);
    const g = census.census_groups[group]!;
    expect(g).toMatchObject({ election_status: 'ElectionFinished', leader_id: B, update_election_status: 'None', update_leader_id: null });
    expect(g.population[B]).toMatchObject({ leader: true, follower: false, election_is_finished: true, election_is_running: false, election_is_no_quorum: false, update_leader: false, update_election_is_finished: false });
    for (const id of [A, C]) expect(g.population[id]).toMatchObject({ leader: false, follower: true, election_is_finished: true });
    expect(census.last_election_counter).toBe(1);
  });

  test('a running election has no leader yet', () => {
    const g = buildCensus(storeOf([...ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive' }), running(C, [A, B, C], { term: 0 })]), A).census_groups[group]!;
    expect(g).toMatchObject({ election_status: 'ElectionInProgress', leader_id: null });
    for (const id of [A, B, C]) expect(g.population[id]).toMatchObject({ leader: false, follower: false, election_is_running: true, election_is_finished: false });
  });

  test('a finished election whose roster lost quorum here has no leader: the leader steps down in every view', () => {
    const g = buildCensus(storeOf([...ring({ [A]: 'alive', [B]: 'alive', [C]: 'confirmed', [D]: 'confirmed', [E]: 'confirmed' }), finished(A, [A, B, C, D, E])]), A).census_groups[group]!;
    expect(g).toMatchObject({ election_status: 'ElectionNoQuorum', leader_id: null });
    for (const id of [A, B]) expect(g.population[id]).toMatchObject({ leader: false, follower: false, election_is_no_quorum: true, election_is_finished: false });
  });

  test('a roster member that unloaded its service does not count toward quorum', () => {
    const rumors = [...ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive' }), finished(A, [A, B, C])];
    expect(buildCensus(storeOf(rumors), A).census_groups[group]!.election_status).toBe('ElectionFinished');
    const unloaded = [...rumors, { kind: 'tombstone' as const, target: 'service' as const, group, id: B, version: 1 }, { kind: 'tombstone' as const, target: 'service' as const, group, id: C, version: 1 }];
    expect(buildCensus(storeOf(unloaded), A).census_groups[group]).toMatchObject({ election_status: 'ElectionNoQuorum', leader_id: null });
  });

  test('an election running to replace a live leader leaves it the leader; once the leader is gone it shows', () => {
    const rumors = [...ring({ [A]: 'alive', [B]: 'alive', [C]: 'alive' }), finished(A, [A, B, C]), running(C, [A, B, C])];
    const census = buildCensus(storeOf(rumors), B);
    expect(census.census_groups[group]).toMatchObject({ election_status: 'ElectionFinished', leader_id: A });
    expect(census.last_election_counter).toBe(2);
    const gone = buildCensus(storeOf([...rumors, member(A, 0, 'confirmed')]), B).census_groups[group]!;
    expect(gone).toMatchObject({ election_status: 'ElectionInProgress', leader_id: null });
    expect(gone.population[C]).toMatchObject({ election_is_running: true, leader: false });
  });

  test('update elections are not reported yet', () => {
    const g = buildCensus(storeOf([...ring({ [A]: 'alive' }), { ...finished(A, [A]), kind: 'election-update' }]), A).census_groups[group]!;
    expect(g).toMatchObject({ election_status: 'None', update_election_status: 'None', leader_id: null, update_leader_id: null });
    expect(g.population[A]).toMatchObject({ leader: false, update_leader: false, election_is_finished: false });
  });
});
