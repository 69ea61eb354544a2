/**
 * Ring key rotation as one member applies it (`src/sup/ring-keys.ts`): a real gossip core that
 * already knows two live peers, rumors handed in by hand, a real keyring, and a key cache that
 * records what it is asked to write. The ring-wide behaviour is tested with real Supervisors
 * (test/e2e/ring-rotation.test.ts, test/lab/rotation.test.ts).
 */
import { describe, expect, test } from 'vitest';
import { MurmurError, seededRandom } from '../../src/core/index.js';
import { formatKeyText, Keyring, RING_KEY_HEADER, type RingKey } from '../../src/crypto/index.js';
import { GossipCore, lanPreset } from '../../src/gossip/index.js';
import { RingKeys } from '../../src/sup/index.js';
import type { RingKeyRumor, RingKeyState, Rumor } from '../../src/wire/index.js';
import { A, B, info, member } from '../gossip/fixtures.js';

const SELF = 'f'.repeat(32);
const OLD: RingKey = { name: 'prod', revision: '20260101000000', key: new Uint8Array(32).fill(1) };
const NEW: RingKey = { name: 'prod', revision: '20260201000000', key: new Uint8Array(32).fill(2) };
/** Other bytes under NEW's name-revision: a stale or forged key file. */
const FORGED: RingKey = { ...NEW, key: new Uint8Array(32).fill(3) };

function command(key: RingKey, version: number, state: RingKeyState): RingKeyRumor {
  return { kind: 'ring-key', memberId: '', name: key.name, revision: key.revision, version, state, key: state === 'removed' ? new Uint8Array(0) : key.key };
}

function report(memberId: string, key: RingKey, state: RingKeyState, version = 1): RingKeyRumor {
  return { kind: 'ring-key', memberId, name: key.name, revision: key.revision, version, state, key: new Uint8Array(0) };
}

/** This member (SELF) with `keys` (the first seals), peers A and B alive, and `restored` rumors as if read from disk. */
function member3(keys: RingKey[], restored: Rumor[] = []) {
  const keyring = new Keyring(keys);
  const core = new GossipCore(
    { random: seededRandom(1) },
    { self: info(SELF), options: lanPreset, restored: [member(A, 0, 'alive'), member(B, 0, 'alive'), ...restored], announce: false },
  );
  const written: string[] = [];
  const deliver = (rumor: Rumor): void => {
    for (const e of core.publish(rumor, 0)) if (e.type === 'emit') ringKeys.onEvent(e.event);
  };
  const ringKeys: RingKeys = new RingKeys({
    keyring,
    ring: { id: SELF, core, publish: deliver },
    persist: (key) => Promise.resolve(void written.push(`${key.name}-${key.revision}`)),
  });
  /** What this member's own report says of `key`. */
  const reported = (key: RingKey): RingKeyState | undefined => {
    const r = core.store.get(`ring-key\u0000${SELF}\u0000${key.name}-${key.revision}`)?.rumor;
    return r?.kind === 'ring-key' ? r.state : undefined;
  };
  return { keyring, ringKeys, written, deliver, reported };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof MurmurError ? `${err.code}: ${err.message}` : String(err);
  }
  return 'no error';
}

describe('hab ring key install', () => {
  test('the Supervisor the operator installs through writes the key to its key cache, as every other member does', () => {
    const through = member3([OLD]);
    through.ringKeys.installText(formatKeyText({ header: RING_KEY_HEADER, ...NEW }));
    expect(through.written).toEqual(['prod-20260201000000']);

    const other = member3([OLD]);
    other.deliver(command(NEW, 1, 'installed'));
    expect(other.written).toEqual(['prod-20260201000000']);
  });

  test('a member that holds other bytes under the key name is not counted as holding it, and says why it cannot install it', () => {
    const m = member3([OLD, FORGED], [report(A, NEW, 'installed'), report(B, NEW, 'installed')]);
    m.ringKeys.reconcile();
    m.deliver(command(NEW, 1, 'installed'));
    // Its own report no longer claims the key, so the rest of the ring refuses `use` (3 of 3 otherwise).
    expect(m.reported(NEW)).toBe('removed');
    const listed = m.ringKeys.list().find((k) => k.revision === NEW.revision);
    expect(listed).toMatchObject({ holders: 2, live: 3 });
    expect(codeOf(() => m.ringKeys.use('prod-20260201000000'))).toMatch(/^CONFLICT: only 2 of 3 live members report ring key prod-20260201000000/);
    // Installing the ring's key here names the clash instead of answering that all is well.
    expect(codeOf(() => m.ringKeys.install(NEW))).toMatch(/^CONFLICT: ring key prod-20260201000000 is already installed with other bytes/);
  });

  test('a member whose peers all report the key may use it, and then seals with it', () => {
    const m = member3([OLD], [report(A, NEW, 'installed'), report(B, NEW, 'installed')]);
    m.ringKeys.install(NEW);
    expect(m.ringKeys.use('prod-20260201000000')).toMatchObject({ state: 'primary', holders: 3, live: 3 });
    expect(m.keyring.primary?.revision).toBe(NEW.revision);
  });
});

describe('what a member reports', () => {
  test('a stale report about itself, from an older life, is answered with what it holds now', () => {
    const m = member3([OLD]);
    m.ringKeys.reconcile();
    expect(m.reported(OLD)).toBe('primary');
    // Its rumor store was lost; a peer still holds its report of a key it no longer has.
    m.deliver(report(SELF, NEW, 'installed', 5));
    expect(m.reported(NEW)).toBe('removed');
    m.deliver(report(SELF, OLD, 'removed', 9));
    expect(m.reported(OLD)).toBe('primary');
  });
});

describe('hab ring key use and remove', () => {
  test('a key named without its revision is refused as bad input, naming the form wanted', () => {
    const m = member3([OLD]);
    expect(codeOf(() => m.ringKeys.use('prod'))).toMatch(/^BAD_INPUT: ring key: "prod" is not <name>-<revision>.*hab ring key list shows the ring's keys as NAME-REVISION/);
    expect(codeOf(() => m.ringKeys.remove('prod'))).toMatch(/^BAD_INPUT: /);
  });

  test('an unknown key names the keys this Supervisor holds', () => {
    const m = member3([OLD]);
    expect(codeOf(() => m.ringKeys.use('prod-20990101000000'))).toMatch(/^NOT_FOUND: .*it holds prod-20260101000000/);
  });
});

describe('hab ring key remove while a member still seals with the key', () => {
  test('is refused, naming how many still seal with it, until their reports say another key is primary', () => {
    // SELF already seals with NEW; A has switched, B has not reported the switch yet.
    const m = member3([NEW, OLD], [command(OLD, 1, 'installed'), command(NEW, 2, 'installed'), command(NEW, 3, 'primary'), report(A, OLD, 'installed', 2), report(B, OLD, 'primary')]);
    m.ringKeys.reconcile();
    expect(codeOf(() => m.ringKeys.remove('prod-20260101000000'))).toMatch(/^CONFLICT: cannot remove ring key prod-20260101000000: 1 live member still seals with it \(bbbbbbbb\)/);
    expect(m.keyring.has('prod-20260101000000')).toBe(true);
    m.deliver(report(B, OLD, 'installed', 2));
    expect(m.ringKeys.remove('prod-20260101000000')).toMatchObject({ state: 'removed' });
    expect(m.keyring.has('prod-20260101000000')).toBe(false);
  });
});

describe('a Supervisor restarted with every revision of the ring key', () => {
  // `hab sup run --ring prod` loads the newest revision first (it seals) and the older ones.
  test('mid-rotation (installed, not used) it seals with the key the ring uses', () => {
    const m = member3([NEW, OLD], [command(NEW, 1, 'installed')]);
    m.ringKeys.applyCommands();
    expect(m.keyring.primary?.revision).toBe(OLD.revision);
    expect(m.keyring.has('prod-20260201000000')).toBe(true);
  });

  test('after an abandoned rotation (installed, then removed unused) it seals with the key the ring uses', () => {
    const m = member3([NEW, OLD], [command(NEW, 2, 'removed')]);
    m.ringKeys.applyCommands();
    expect(m.keyring.primary?.revision).toBe(OLD.revision);
    expect(m.keyring.has('prod-20260201000000')).toBe(false);
  });

  test('after a finished rotation it seals with the new key and drops the old one', () => {
    const m = member3([NEW, OLD], [command(NEW, 2, 'primary'), command(OLD, 3, 'removed')]);
    m.ringKeys.applyCommands();
    expect(m.keyring.primary?.revision).toBe(NEW.revision);
    expect(m.keyring.has('prod-20260101000000')).toBe(false);
  });
});
