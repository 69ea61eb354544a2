/**
 * `/butterfly` in Habitat's shape (reference §5): the member list with health, and every rumor
 * store, built from a Supervisor's gossip core. Field names are Habitat's (`swim_port`,
 * `gossip_port`, `departed_members`, `Alive|Suspect|Confirmed|Departed`, `sys.gossip_ip`); a
 * service's `cfg` is its exported config parsed as a table (`{}` when it is not TOML).
 */
import { electionSlot, parseTomlBytes, toCensusSys } from '../census/index.js';
import type { Health, Rumor } from '../sup/index.js';
import type { GatewayCore } from './source.js';

const HEALTH: Record<Health, string> = { alive: 'Alive', suspect: 'Suspect', confirmed: 'Confirmed', departed: 'Departed' };

export function healthName(h: Health): string {
  return HEALTH[h];
}

type Json = Record<string, unknown>;

export function butterflyJson(core: Pick<GatewayCore, 'members' | 'store'>): Json {
  const membership: Record<string, Json> = {};
  const members: Record<string, Json> = {};
  const health: Record<string, string> = {};
  for (const m of core.members()) {
    const info = m.member;
    members[info.id] = { id: info.id, incarnation: info.incarnation, address: info.address, swim_port: info.swimPort, gossip_port: info.gossipPort, persistent: info.persistent, departed: m.health === 'departed' };
    health[info.id] = healthName(m.health);
    membership[info.id] = { address: info.address, swim_port: info.swimPort, gossip_port: info.gossipPort, incarnation: info.incarnation, persistent: info.persistent, health: healthName(m.health) };
  }
  const stores: Record<string, Record<string, Record<string, Json>>> = { service: {}, service_config: {}, service_file: {}, election: {}, election_update: {} };
  const departed: string[] = [];
  for (const entry of core.store.values()) {
    const r = entry.rumor;
    const placed = storeEntry(r);
    if (r.kind === 'departure') departed.push(r.memberId);
    if (!placed) continue;
    const [store, group, id, json] = placed;
    ((stores[store] ??= {})[group] ??= {})[id] = json;
  }
  const latest = (name: string): Record<string, Json | null> => {
    const out: Record<string, Json | null> = {};
    for (const [group, byId] of Object.entries(stores[name] ?? {})) out[group] = Object.values(byId)[0] ?? null;
    return out;
  };
  // A group's finished election (`election`) and the one running to replace it (`candidate`):
  // the latest is the running one when its term is higher.
  const latestElection = (name: string): Record<string, Json | null> => {
    const out: Record<string, Json | null> = {};
    for (const [group, byId] of Object.entries(stores[name] ?? {})) {
      const { election, candidate } = byId as { election?: Json; candidate?: Json };
      out[group] = candidate && (!election || (candidate.term as number) > (election.term as number)) ? candidate : (election ?? null);
    }
    return out;
  };
  return {
    member: { members, health },
    membership,
    service: { list: stores.service },
    services: stores.service,
    service_config: { list: stores.service_config },
    latest_service_config: latest('service_config'),
    service_file: { list: stores.service_file },
    service_files: stores.service_file,
    election: { list: stores.election },
    latest_election: latestElection('election'),
    election_update: { list: stores.election_update },
    latest_election_update: latestElection('election_update'),
    departure: departed,
    departed_members: departed,
  };
}

function bytesToArray(b: Uint8Array): number[] {
  return Array.from(b);
}

function storeEntry(r: Rumor): [string, string, string, Json] | undefined {
  switch (r.kind) {
    case 'service': {
      const cfg = parseTomlBytes(r.cfg);
      return ['service', r.group, r.memberId, { member_id: r.memberId, service_group: r.group, package: r.pkg, incarnation: r.incarnation, initialized: r.initialized, cfg: cfg.ok ? cfg.value : {}, sys: toCensusSys(r.sys) }];
    }
    case 'service-config':
      return ['service_config', r.group, 'service_config', { from_id: r.from, service_group: r.group, incarnation: r.version, encrypted: r.encrypted, config: bytesToArray(r.config) }];
    case 'service-file':
      return ['service_file', r.group, r.filename, { from_id: r.from, service_group: r.group, incarnation: r.version, encrypted: r.encrypted, filename: r.filename, body: bytesToArray(r.body) }];
    case 'election':
    case 'election-update':
      return [r.kind === 'election' ? 'election' : 'election_update', r.group, electionSlot(r.status), { member_id: r.memberId, service_group: r.group, term: r.term, suitability: r.suitability, status: r.status, votes: r.votes, roster: r.roster, roster_version: r.rosterVersion }];
    default:
      return undefined;
  }
}

