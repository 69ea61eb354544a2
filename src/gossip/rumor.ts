/**
 * Rumors as values: their key, their version, a fingerprint for anti-entropy digests, and one
 * pure merge per kind that says whether anything changed (Habitat's `merge() -> changed`,
 * butterfly `src/rumor.rs`). The store and the core never compare rumors any other way.
 */
import type { ElectionRumor, ElectionStatus, Rumor, RumorKind } from '../wire/index.js';
import { memberRecordWins } from './health.js';

/** (kind, group, id) as one string; a tombstone takes the key of the rumor it removes. */
export function rumorKey(r: Rumor): string {
  switch (r.kind) {
    case 'member':
      return keyOf('member', '', r.member.id);
    case 'service':
      return keyOf('service', r.group, r.memberId);
    case 'service-config':
      return keyOf('service-config', r.group, 'service_config');
    case 'service-file':
      return keyOf('service-file', r.group, r.filename);
    case 'election':
    case 'election-update':
      return keyOf(r.kind, r.group, electionSlot(r.status));
    case 'departure':
      return keyOf('departure', '', r.memberId);
    case 'ring-key':
      return keyOf('ring-key', r.memberId, `${r.name}-${r.revision}`);
    case 'tombstone':
      return keyOf(r.target, r.group, r.id);
  }
}

/**
 * The id of an election's key: a group holds two, `election` for its finished election (the
 * leader, its roster) and `candidate` for the election running to replace it, so that a
 * candidacy never displaces a finished election before it has itself finished
 * (docs/protocol.md §16.2).
 */
export function electionSlot(status: ElectionStatus): 'election' | 'candidate' {
  return status === 'finished' ? 'election' : 'candidate';
}

export function keyOf(kind: RumorKind, group: string, id: string): string {
  return `${kind}\u0000${group}\u0000${id}`;
}

/** The number that orders rumors of one key: incarnation, version or term. */
export function versionOf(r: Rumor): number {
  switch (r.kind) {
    case 'member':
      return r.member.incarnation;
    case 'service':
      return r.incarnation;
    case 'service-config':
    case 'service-file':
    case 'ring-key':
    case 'tombstone':
      return r.version;
    case 'election':
    case 'election-update':
      return r.term;
    case 'departure':
      return 0;
  }
}

/**
 * A short text that changes whenever the rumor's standing in the merge order changes. Two
 * members whose fingerprints agree for every key hold equivalent stores. (A suspect's `from`
 * is deliberately left out: it is a hint for confirmations, not state.)
 */
export function fingerprintText(r: Rumor): string {
  switch (r.kind) {
    case 'member':
      return `${r.member.incarnation}/${r.health}`;
    case 'election':
    case 'election-update':
      return `${r.term}/${r.status}/${r.memberId}/${r.suitability}/${sortedIds(r.votes).join(',')}/${r.rosterVersion}/${sortedIds(r.roster).join(',')}`;
    case 'tombstone':
      return `t${r.version}`;
    case 'service-config':
      return `${r.version}/${contentHash(r.config)}`;
    case 'service-file':
      return `${r.version}/${contentHash(r.body)}`;
    case 'ring-key':
      return `${r.version}/${r.state}`;
    default:
      return String(versionOf(r));
  }
}

export interface MergeResult {
  changed: boolean;
  value: Rumor;
}

const unchanged = (value: Rumor): MergeResult => ({ changed: false, value });
const replaced = (value: Rumor): MergeResult => ({ changed: true, value });

/**
 * Merges `incoming` into `current` (absent when the key is new). Pure: never mutates either.
 * - member: higher incarnation, or equal incarnation and worse health;
 * - service: strictly higher incarnation only;
 * - service-config, service-file: strictly higher version; two payloads at one version are
 *   ordered by their bytes, so that every member keeps the same one;
 * - election, election-update: the election merge, a join-semilattice (see `mergeElection`);
 * - ring-key: strictly higher version; at one version removed > primary > installed, then the
 *   greater key bytes;
 * - departure: the first one stays;
 * - tombstone: wins at an equal or higher version; a live rumor beats a tombstone only with a
 *   strictly higher version.
 */
export function mergeRumor(current: Rumor | undefined, incoming: Rumor): MergeResult {
  if (current === undefined) return replaced(taken(incoming));
  if (incoming.kind === 'tombstone') {
    if (current.kind === 'tombstone') return incoming.version > current.version ? replaced(incoming) : unchanged(current);
    return incoming.version >= versionOf(current) ? replaced(incoming) : unchanged(current);
  }
  if (current.kind === 'tombstone') {
    return versionOf(incoming) > current.version ? replaced(taken(incoming)) : unchanged(current);
  }
  switch (incoming.kind) {
    case 'member':
      if (current.kind !== 'member') return unchanged(current);
      return memberRecordWins(current, incoming) ? replaced(incoming) : unchanged(current);
    case 'service':
      return versionOf(incoming) > versionOf(current) ? replaced(incoming) : unchanged(current);
    case 'service-config':
    case 'service-file': {
      // Strictly higher versions only. Two different payloads at one version (two members applied
      // the same version at once) are ordered by their bytes, so that every member keeps the same.
      const v = versionOf(incoming) - versionOf(current);
      if (v !== 0) return v > 0 ? replaced(incoming) : unchanged(current);
      return compareBytes(payloadOf(incoming), payloadOf(current)) > 0 ? replaced(incoming) : unchanged(current);
    }
    case 'election':
    case 'election-update':
      if (current.kind !== incoming.kind) return unchanged(current);
      return mergeElection(current, incoming);
    case 'ring-key': {
      // A higher version wins; at one version removed > primary > installed, then the greater key
      // bytes, so that two members that issued one version at once still agree.
      if (current.kind !== 'ring-key') return unchanged(current);
      const v = incoming.version - current.version;
      if (v !== 0) return v > 0 ? replaced(incoming) : unchanged(current);
      const s = RING_KEY_STATE_ORDER[incoming.state] - RING_KEY_STATE_ORDER[current.state];
      if (s !== 0) return s > 0 ? replaced(incoming) : unchanged(current);
      return compareBytes(incoming.key, current.key) > 0 ? replaced(incoming) : unchanged(current);
    }
    case 'departure':
      return unchanged(current);
  }
}

/** A rumor as the store keeps it: an election with its votes and roster sorted, anything else as is. */
function taken(r: Rumor): Rumor {
  return r.kind === 'election' || r.kind === 'election-update' ? canonicalElection(r) : r;
}

const RING_KEY_STATE_ORDER = { installed: 0, primary: 1, removed: 2 } as const;

/**
 * The election merge (docs/protocol.md §5.4). Habitat's merge (butterfly `src/rumor/election.rs`)
 * made a join-semilattice, so that any order of arrival gives the same value, with the roster
 * of `src/election/`:
 *
 * 1. the higher term wins outright;
 * 2. at one term a finished election wins over an unfinished one (they are kept under different
 *    keys, `electionSlot`, so this only orders stray values); two finished ones are ordered by
 *    (roster version, roster size, suitability, candidate id, roster ids), and only the same
 *    finished value unions its votes (they are acknowledgements of that roster version);
 * 3. two unfinished ones merge part by part: the candidate with the higher (suitability, id,
 *    status), the roster with the higher (roster version, size, ids), and the union of votes.
 *
 * Each part is the maximum of a total order or a union, so the merge is commutative,
 * associative and idempotent. Votes and rosters come out sorted and without repeats.
 */
export function mergeElection(s: ElectionRumor, o: ElectionRumor): MergeResult {
  if (electionsEqual(s, o)) return unchanged(s);
  if (o.term !== s.term) return o.term > s.term ? replaced(canonicalElection(o)) : unchanged(s);
  const sFinished = s.status === 'finished';
  const oFinished = o.status === 'finished';
  if (sFinished !== oFinished) return oFinished ? replaced(canonicalElection(o)) : unchanged(s);
  if (sFinished) {
    const c = compareFinished(o, s);
    if (c !== 0) return c > 0 ? replaced(canonicalElection(o)) : unchanged(s);
    return settle(s, { ...s, votes: unionIds(s.votes, o.votes) });
  }
  const candidate = compareCandidate(o, s) > 0 ? o : s;
  const basis = compareRosters(o, s) > 0 ? o : s;
  return settle(s, {
    ...candidate,
    roster: sortedIds(basis.roster),
    rosterVersion: basis.rosterVersion,
    votes: unionIds(s.votes, o.votes),
  });
}

/** The same election with its votes and roster sorted and without repeats. */
export function canonicalElection(e: ElectionRumor): ElectionRumor {
  return { ...e, votes: sortedIds(e.votes), roster: sortedIds(e.roster) };
}

/**
 * Orders two rosters as the merge does: the higher roster version, then the larger roster, then
 * the greater ids (sorted, compared one by one). 0 only when version and set are equal.
 */
export function compareRosters(a: Pick<ElectionRumor, 'roster' | 'rosterVersion'>, b: Pick<ElectionRumor, 'roster' | 'rosterVersion'>): number {
  if (a.rosterVersion !== b.rosterVersion) return a.rosterVersion > b.rosterVersion ? 1 : -1;
  const ra = sortedIds(a.roster);
  const rb = sortedIds(b.roster);
  if (ra.length !== rb.length) return ra.length > rb.length ? 1 : -1;
  for (let i = 0; i < ra.length; i++) {
    const x = ra[i] as string;
    const y = rb[i] as string;
    if (x !== y) return x > y ? 1 : -1;
  }
  return 0;
}

/** Unfinished elections of one term: (suitability, candidate id, status). */
function compareCandidate(a: ElectionRumor, b: ElectionRumor): number {
  if (a.suitability !== b.suitability) return a.suitability > b.suitability ? 1 : -1;
  if (a.memberId !== b.memberId) return a.memberId > b.memberId ? 1 : -1;
  return STATUS_ORDER[a.status] - STATUS_ORDER[b.status];
}

/**
 * Finished elections of one term: (roster version, roster size, suitability, candidate id,
 * roster ids). A leader's later roster wins over its earlier one; and a member that elected
 * itself alone before it had synced with the ring loses to the ring's election of that term.
 */
function compareFinished(a: ElectionRumor, b: ElectionRumor): number {
  if (a.rosterVersion !== b.rosterVersion) return a.rosterVersion > b.rosterVersion ? 1 : -1;
  const sizeA = new Set(a.roster).size;
  const sizeB = new Set(b.roster).size;
  if (sizeA !== sizeB) return sizeA > sizeB ? 1 : -1;
  if (a.suitability !== b.suitability) return a.suitability > b.suitability ? 1 : -1;
  if (a.memberId !== b.memberId) return a.memberId > b.memberId ? 1 : -1;
  return compareRosters(a, b);
}

const STATUS_ORDER = { running: 0, 'no-quorum': 1, finished: 2 } as const;

function payloadOf(r: Rumor): Uint8Array {
  return r.kind === 'service-config' ? r.config : r.kind === 'service-file' ? r.body : new Uint8Array(0);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** FNV-1a over the bytes, as hex: enough to tell two payloads of one version apart in a digest. */
function contentHash(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return `${bytes.length}.${(h >>> 0).toString(16)}`;
}

function settle(previous: ElectionRumor, merged: ElectionRumor): MergeResult {
  return electionsEqual(previous, merged) ? unchanged(previous) : replaced(merged);
}

/** Member ids sorted, without repeats. */
export function sortedIds(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort();
}

function unionIds(a: readonly string[], b: readonly string[]): string[] {
  return sortedIds([...a, ...b]);
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  const sa = sortedIds(a);
  const sb = sortedIds(b);
  return sa.length === sb.length && sa.every((v, i) => v === sb[i]);
}

/** Equal as election values: every field, votes and roster as sets. */
function electionsEqual(a: ElectionRumor, b: ElectionRumor): boolean {
  if (a.memberId !== b.memberId || a.term !== b.term || a.suitability !== b.suitability || a.status !== b.status) return false;
  return a.rosterVersion === b.rosterVersion && sameIds(a.votes, b.votes) && sameIds(a.roster, b.roster);
}
