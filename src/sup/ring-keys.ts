/**
 * Ring key rotation, driven by gossip (docs/security.md "Ring key rotation"; Habitat cannot rotate,
 * habitat-sh/habitat#8056). The model is Serf's keyring (`serf keys -install/-use/-remove`):
 *
 * 1. `install`: every member adds the key; all installed keys open envelopes;
 * 2. `use`: every member seals with it (refused until every live member reports the key);
 * 3. `remove`: every member drops the old key; envelopes sealed with it no longer open.
 *
 * An operator's command becomes a `ring-key` **command** rumor (`memberId` empty), keyed by the
 * key's `name-revision`, that spreads like any rumor and survives restarts in the rumor store;
 * each member applies the commands it holds to its `Keyring` (`reconcile`, idempotent and
 * order-independent), writes newly installed keys to its key cache (0600), and gossips a
 * **report** rumor per key (`memberId` = itself) saying what it holds, which `hab ring key list`
 * counts. A member holds a key only with the bytes the ring's command carries: one that holds other
 * bytes under the same `name-revision` (a stale or forged key file) cannot install the ring's key
 * and is not counted, so that `use` is refused rather than cutting it off. A command's version is
 * taken above every ring-key command held here, so that among the `primary` commands the highest
 * version names the key that seals.
 *
 * At start (`applyCommands`, before anything is sent) the commands restored from disk choose the
 * key that seals: a Supervisor started with `--ring NAME` loads every revision of NAME and would
 * otherwise seal with the newest, which the ring may not use yet, or may have removed.
 */
import type { Logger, MemberId } from '../core/index.js';
import { MurmurError, nullLogger } from '../core/index.js';
import type { Keyring, RingKey } from '../crypto/index.js';
import { formatNamedRevision, parseKeyText, parseNamedRevision, RING_KEY_HEADER } from '../crypto/index.js';
import type { GossipCore, GossipEvent } from '../gossip/index.js';
import type { RingKeyRumor, RingKeyState, Rumor } from '../wire/index.js';

/** What rotation needs of a Supervisor (`Supervisor` has all of it). */
export interface RingKeysRing {
  readonly id: MemberId;
  readonly core: GossipCore;
  publish(rumor: Rumor): void;
}

export interface RingKeysDeps {
  keyring: Keyring;
  ring: RingKeysRing;
  /** Writes a newly installed key to the key cache (`<name>-<rev>.sym.key`, 0600). */
  persist?: (key: RingKey) => Promise<unknown>;
  log?: Logger;
}

/** One key as `hab ring key list` shows it. */
export interface RingKeyStatus {
  name: string;
  revision: string;
  /** The key id (8 hex characters), when this member holds the key. */
  id: string | undefined;
  /** This member's view: `primary` (it seals), `installed` (it opens), `removed`, or `absent` (a command for it was not applied). */
  state: RingKeyState | 'absent';
  /** Live (alive or suspect) members, this one included, that report holding the key. */
  holders: number;
  /** Live members, this one included, that report sealing with the key. */
  sealers: number;
  /** Live members, this one included. */
  live: number;
}

export class RingKeys {
  private readonly keyring: Keyring;
  private readonly ring: RingKeysRing;
  private readonly log: Logger;
  /** Labels whose failure to apply was logged, so that each is logged once. */
  private readonly warned = new Set<string>();

  constructor(private readonly deps: RingKeysDeps) {
    this.keyring = deps.keyring;
    this.ring = deps.ring;
    this.log = (deps.log ?? nullLogger).child({ component: 'ring-keys' });
  }

  /**
   * For `GossipNode.onEvent`: a changed command is applied at once; a report about this member
   * that came from elsewhere (an older life's, after its rumor store was lost) is answered with
   * what it holds now, so that no peer counts it holding a key it lacks.
   */
  readonly onEvent = (event: GossipEvent): void => {
    if (event.type !== 'rumor-changed' || event.rumor.kind !== 'ring-key') return;
    if (event.rumor.memberId === '') this.reconcile();
    else if (event.rumor.memberId === this.ring.id) this.report();
  };

  /** The key ids this member opens with (hex), primary first. */
  keyIds(): string[] {
    const primary = this.keyring.primary;
    const rest = this.keyring.keys.filter((k) => k.id !== primary?.id).map((k) => k.id);
    return primary === undefined ? rest : [primary.id, ...rest];
  }

  /** `hab ring key install` through the control gateway: the text of a `SYM-SEC-1` key file. */
  installText(keyText: string): RingKeyStatus {
    const file = parseKeyText(keyText, { expect: RING_KEY_HEADER, source: 'key_text' });
    return this.install({ name: file.name, revision: file.revision, key: file.key });
  }

  /** `hab ring key install`: install here and gossip the key to the ring. */
  install(key: RingKey): RingKeyStatus {
    const label = formatNamedRevision(key);
    const held = this.command(label);
    if (held !== undefined && held.state !== 'removed' && equal(held.key, key.key) && this.holds(label)) return this.status(label);
    this.installHere(key); // throws on an unkeyed ring, a clash of name or id, a bad length
    this.publishCommand(key, 'installed');
    return this.status(label);
  }

  /**
   * `hab ring key use`: seal with an installed key everywhere. Refused (CONFLICT) while some live
   * member does not report holding it, unless `force`: that member could not open what we send.
   */
  use(nameRevision: string, force = false): RingKeyStatus {
    checkNameRevision(nameRevision);
    const key = this.keyring.get(nameRevision);
    if (key === undefined) {
      throw new MurmurError('NOT_FOUND', `ring key ${nameRevision} is not installed on this Supervisor (it holds ${this.heldLabels()}); run hab ring key install first`);
    }
    const s = this.status(nameRevision);
    if (!force && s.holders < s.live) {
      throw new MurmurError(
        'CONFLICT',
        `only ${s.holders} of ${s.live} live members report ring key ${nameRevision}; wait until hab ring key list shows every member (or pass --force: a member without it is cut off)`,
      );
    }
    this.publishCommand(key, 'primary');
    return this.status(nameRevision);
  }

  /** `hab ring key remove`: drop a key everywhere. The key that seals cannot be removed (CONFLICT). */
  remove(nameRevision: string): RingKeyStatus {
    checkNameRevision(nameRevision);
    if (this.keyring.primary !== undefined && formatNamedRevision(this.keyring.primary) === nameRevision) {
      throw new MurmurError('CONFLICT', `cannot remove ring key ${nameRevision}: it is the primary, which seals every packet; use another key first`);
    }
    const held = this.command(nameRevision);
    if (!this.keyring.has(nameRevision) && held === undefined) {
      throw new MurmurError('NOT_FOUND', `ring key ${nameRevision} is not held by this Supervisor (it holds ${this.heldLabels()})`);
    }
    // As Serf refuses: a member still sealing with the key would be cut off by its removal.
    const sealers = this.sealers(nameRevision);
    if (held?.state !== 'removed' && sealers.length > 0) {
      throw new MurmurError(
        'CONFLICT',
        `cannot remove ring key ${nameRevision}: ${sealers.length} live member${sealers.length > 1 ? 's' : ''} still seal${sealers.length > 1 ? '' : 's'} with it (${sealers.map((id) => id.slice(0, 8)).join(', ')}); wait until hab ring key list shows 0 sealing with it`,
      );
    }
    if (held?.state !== 'removed') {
      const dash = nameRevision.lastIndexOf('-');
      this.publishCommand({ name: nameRevision.slice(0, dash), revision: nameRevision.slice(dash + 1), key: new Uint8Array(0) }, 'removed');
    }
    return this.status(nameRevision);
  }

  /** Every key held here or named by a command, with how many live members hold it. */
  list(): RingKeyStatus[] {
    const labels = new Set<string>(this.keyring.keys.map(formatNamedRevision));
    for (const c of this.commands()) labels.add(label(c));
    return [...labels].sort().map((l) => this.status(l));
  }

  /**
   * Applies every command held to the keyring, then reports what this member holds. Idempotent:
   * called at start (commands restored from disk) and on every changed command.
   */
  reconcile(): void {
    this.applyCommands();
    this.report();
  }

  /**
   * Applies every command held to the keyring, reporting nothing: at start, before the first
   * packet is sealed, so that a Supervisor restarted during a rotation seals with the key the
   * ring uses rather than the newest revision in its key cache.
   */
  applyCommands(): void {
    const commands = this.commands().sort((a, b) => a.version - b.version);
    for (const c of commands) {
      if (c.state === 'removed') continue;
      try {
        this.installHere({ name: c.name, revision: c.revision, key: c.key });
      } catch (err) {
        this.warnOnce(label(c), 'cannot install a ring key', err);
      }
    }
    const primary = commands.filter((c) => c.state === 'primary').at(-1);
    const current = this.keyring.primary === undefined ? undefined : formatNamedRevision(this.keyring.primary);
    if (primary !== undefined && this.holds(label(primary)) && current !== label(primary)) {
      this.keyring.use(label(primary));
      this.log.info('sealing with a new ring key', { key: label(primary), was: current });
    } else if (primary === undefined && current !== undefined && this.command(current) !== undefined) {
      // No key was ever used, yet this member seals with one a command installed (or removed):
      // restarted mid-rotation, or after an abandoned one, with that key as the newest revision
      // in its key cache. Go back to a key the ring was started with (one no command names).
      const original = this.keyring.keys.map(formatNamedRevision).filter((l) => this.command(l) === undefined).sort().at(-1);
      if (original !== undefined) {
        this.keyring.use(original);
        this.log.info('sealing with the ring key the ring uses', { key: original, was: current });
      }
    }
    for (const c of commands) {
      if (c.state !== 'removed' || !this.keyring.has(label(c))) continue;
      try {
        this.keyring.remove(label(c));
        this.log.info('removed a ring key', { key: label(c) });
      } catch (err) {
        this.warnOnce(label(c), 'cannot remove a ring key', err);
      }
    }
  }

  /** One report rumor per key held (and one `removed` per key no longer held) when it changed. */
  private report(): void {
    const self = this.ring.id;
    const primary = this.keyring.primary === undefined ? undefined : formatNamedRevision(this.keyring.primary);
    const wanted = new Map<string, RingKeyState>();
    for (const k of this.keyring.keys) {
      const l = formatNamedRevision(k);
      if (this.holds(l)) wanted.set(l, l === primary ? 'primary' : 'installed');
    }
    for (const r of this.rumors()) if (r.memberId === self && !wanted.has(label(r))) wanted.set(label(r), 'removed');
    for (const [l, state] of wanted) {
      const held = this.rumor(self, l);
      if (held?.state === state) continue;
      const dash = l.lastIndexOf('-');
      this.ring.publish({ kind: 'ring-key', memberId: self, name: l.slice(0, dash), revision: l.slice(dash + 1), version: (held?.version ?? 0) + 1, state, key: new Uint8Array(0) });
    }
  }

  /** Adds `key` to the keyring; a key new here is logged and written to the key cache. Throws as `Keyring.install`. */
  private installHere(key: RingKey): void {
    if (!this.keyring.install(key)) return;
    const l = label(key);
    this.log.info('installed a ring key', { key: l });
    void this.deps.persist?.(key).catch((err: unknown) => this.log.warn('cannot write the ring key to the key cache', { key: l, error: (err as Error).message }));
  }

  /**
   * Whether this member holds the ring's key `nameRevision`: its keyring has it, with the bytes of
   * the ring's command for it (when there is one; a key the ring was started with has none).
   */
  /** Live members other than this one whose report says they seal with `nameRevision`. */
  private sealers(nameRevision: string): MemberId[] {
    const out: MemberId[] = [];
    for (const m of this.ring.core.members()) {
      if (m.member.id === this.ring.id || (m.health !== 'alive' && m.health !== 'suspect')) continue;
      if (this.rumor(m.member.id, nameRevision)?.state === 'primary') out.push(m.member.id);
    }
    return out;
  }

  private holds(nameRevision: string): boolean {
    const mine = this.keyring.get(nameRevision);
    if (mine === undefined) return false;
    const command = this.command(nameRevision);
    return command === undefined || command.state === 'removed' || equal(command.key, mine.key);
  }

  private heldLabels(): string {
    return this.keyring.keys.map(formatNamedRevision).join(', ') || 'none';
  }

  private publishCommand(key: RingKey, state: RingKeyState): void {
    const version = Math.max(0, ...this.commands().map((c) => c.version)) + 1;
    this.ring.publish({ kind: 'ring-key', memberId: '', name: key.name, revision: key.revision, version, state, key: state === 'removed' ? new Uint8Array(0) : key.key });
    // Publishing emits `rumor-changed`, which reconciles; reconcile again in case no listener is wired.
    this.reconcile();
  }

  private status(nameRevision: string): RingKeyStatus {
    const info = this.keyring.keys.find((k) => formatNamedRevision(k) === nameRevision);
    const primary = this.keyring.primary;
    const state: RingKeyStatus['state'] =
      info === undefined ? (this.command(nameRevision)?.state === 'removed' ? 'removed' : 'absent') : primary?.id === info.id ? 'primary' : 'installed';
    let live = 0;
    let holders = 0;
    let sealers = 0;
    for (const m of this.ring.core.members()) {
      if (m.health !== 'alive' && m.health !== 'suspect') continue;
      live++;
      const held = m.member.id === this.ring.id ? (this.holds(nameRevision) ? state : undefined) : this.rumor(m.member.id, nameRevision)?.state;
      if (held === 'installed' || held === 'primary') holders++;
      if (held === 'primary') sealers++;
    }
    const dash = nameRevision.lastIndexOf('-');
    return { name: nameRevision.slice(0, dash), revision: nameRevision.slice(dash + 1), id: info?.id, state, holders, sealers, live };
  }

  private rumors(): RingKeyRumor[] {
    const out: RingKeyRumor[] = [];
    for (const { rumor } of this.ring.core.store.values()) if (rumor.kind === 'ring-key') out.push(rumor);
    return out;
  }

  private commands(): RingKeyRumor[] {
    return this.rumors().filter((r) => r.memberId === '');
  }

  private command(nameRevision: string): RingKeyRumor | undefined {
    return this.rumor('', nameRevision);
  }

  private rumor(memberId: MemberId | '', nameRevision: string): RingKeyRumor | undefined {
    const stored = this.ring.core.store.get(`ring-key\u0000${memberId}\u0000${nameRevision}`)?.rumor;
    return stored?.kind === 'ring-key' ? stored : undefined;
  }

  private warnOnce(key: string, what: string, err: unknown): void {
    if (this.warned.has(`${what}/${key}`)) return;
    this.warned.add(`${what}/${key}`);
    this.log.warn(what, { key, error: (err as Error).message });
  }
}

/** BAD_INPUT unless `nameRevision` is `NAME-YYYYMMDDhhmmss`, as `hab ring key list` prints keys. */
function checkNameRevision(nameRevision: string): void {
  try {
    parseNamedRevision(nameRevision, 'ring key');
  } catch (err) {
    throw new MurmurError('BAD_INPUT', `${(err as Error).message}; hab ring key list shows the ring's keys as NAME-REVISION`, { cause: err });
  }
}

function label(r: { name: string; revision: string }): string {
  return formatNamedRevision(r);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
