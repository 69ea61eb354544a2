/**
 * Rumors as values: their key, their version, a fingerprint for anti-entropy digests, and one
 * pure merge per kind that says whether anything changed (Habitat's `merge() -> changed`,
 * butterfly `src/rumor.rs`). The store and the core never compare rumors any other way.
 */
import type { ElectionRumor, Rumor, RumorKind } from '../wire/index.js';
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
      return keyOf(r.kind, r.group, 'election');
    case 'departure':
      return keyOf('departure', '', r.memberId);
    case 'ring-key':
      return keyOf('ring-key', r.memberId, `${r.name}-${r.revision}`);
    case 'tombstone':
      return keyOf(r.target, r.group, r.id);
  }
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
      return `${r.term}/${r.status}/${r.memberId}/${r.suitability}/${[...r.votes].sort().join(',')}`;
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
 * - election, election-update: Habitat's election merge (see `mergeElection`);
 * - ring-key: strictly higher version; at one version removed > primary > installed, then the
 *   greater key bytes;
 * - departure: the first one stays;
 * - tombstone: wins at an equal or higher version; a live rumor beats a tombstone only with a
 *   strictly higher version.
 */
export function mergeRumor(current: Rumor | undefined, incoming: Rumor): MergeResult {
  if (current === undefined) return replaced(incoming);
  if (incoming.kind === 'tombstone') {
    if (current.kind === 'tombstone') return incoming.version > current.version ? replaced(incoming) : unchanged(current);
    return incoming.version >= versionOf(current) ? replaced(incoming) : unchanged(current);
  }
  if (current.kind === 'tombstone') {
    return versionOf(incoming) > current.version ? replaced(incoming) : unchanged(current);
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

const RING_KEY_STATE_ORDER = { installed: 0, primary: 1, removed: 2 } as const;

/**
 * Habitat's election merge (butterfly `src/rumor/election.rs`), made order-independent; stored
 * `s`, incoming `o`: 1. equal: nothing; 2. the higher term wins; 3. at one term a finished
 * election wins over a running one and absorbs its votes; 4. two finished elections of different
 * candidates: the order of rules 5–6 picks one; 5. higher suitability wins and takes the loser's
 * votes; 6. on a tie the higher member id wins, votes merged; 7. the same candidate twice: union
 * of votes, the further status, the higher suitability.
 */
export function mergeElection(s: ElectionRumor, o: ElectionRumor): MergeResult {
  if (electionsEqual(s, o)) return unchanged(s);
  const sFinished = s.status === 'finished';
  const oFinished = o.status === 'finished';
  if (o.term > s.term) return replaced(o);
  if (s.term > o.term) return unchanged(s);
  // Same term from here on. A finished election wins over a running one and takes its votes.
  if (oFinished && !sFinished) return absorbVotes(o, s.votes, s);
  if (sFinished && !oFinished) return absorbVotes(s, o.votes);
  const oWins = o.suitability !== s.suitability ? o.suitability > s.suitability : o.memberId > s.memberId;
  if (sFinished && oFinished && s.memberId !== o.memberId) return oWins ? replaced(o) : unchanged(s);
  if (s.memberId === o.memberId) {
    // The same candidate's rumor twice (running or finished): the union of votes, the further
    // status, the higher suitability, whatever the order they arrive in.
    const status = STATUS_ORDER[o.status] > STATUS_ORDER[s.status] ? o.status : s.status;
    return absorbVotes({ ...s, status, suitability: Math.max(s.suitability, o.suitability) }, o.votes, s);
  }
  return oWins ? absorbVotes(o, s.votes, s) : absorbVotes(s, o.votes);
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

function absorbVotes(winner: ElectionRumor, extra: readonly string[], previous: ElectionRumor = winner): MergeResult {
  const votes = new Set(winner.votes);
  for (const v of extra) votes.add(v);
  const merged: ElectionRumor = { ...winner, votes: [...votes].sort() };
  return electionsEqual(previous, merged) ? unchanged(previous) : replaced(merged);
}

function electionsEqual(a: ElectionRumor, b: ElectionRumor): boolean {
  if (a.memberId !== b.memberId || a.term !== b.term || a.suitability !== b.suitability || a.status !== b.status) return false;
  if (a.votes.length !== b.votes.length) return false;
  const va = [...a.votes].sort();
  const vb = [...b.votes].sort();
  return va.every((v, i) => v === vb[i]);
}
