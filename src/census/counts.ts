/**
 * How many rumors of each kind a store holds: the census's `last_*_counter` fields and the
 * `hab_butterfly_rumors{kind}` gauge both read this one count. Tombstones are counted apart, under
 * `tombstone`, and never as the kind they remove.
 */
import type { StoredRumor } from '../gossip/index.js';
import type { RumorKind } from '../wire/index.js';
import { RUMOR_KINDS } from '../wire/index.js';

export type RumorCounts = Record<RumorKind | 'tombstone', number>;

/** What a count needs of a gossip core (a `GossipCore` fits, and so does `{store: RumorStore}`). */
export interface RumorSource {
  readonly store: { values(): Iterable<Pick<StoredRumor, 'rumor'>> };
}

export function countRumors(core: RumorSource): RumorCounts {
  const counts = Object.fromEntries([...RUMOR_KINDS, 'tombstone'].map((k) => [k, 0])) as RumorCounts;
  for (const { rumor } of core.store.values()) counts[rumor.kind]++;
  return counts;
}
