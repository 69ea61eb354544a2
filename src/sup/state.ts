/**
 * What a Supervisor keeps across restarts, under `$FS_ROOT/hab/sup/default`: its member id
 * (`MEMBER_ID`, 32 hex characters, as Habitat), the control gateway's secret (`CTL_SECRET`,
 * Habitat's format), its incarnation (`data/INCARNATION`, decimal) and its whole rumor store
 * (`data/rumors.dat`: one encoded `state` packet). Every write is atomic. A corrupt or truncated file is reported, moved aside, and the Supervisor starts empty
 * and re-syncs from its peers.
 */
import { randomBytes } from 'node:crypto';
import { rename } from 'node:fs/promises';
import type { Logger, MemberId, Random } from '../core/index.js';
import { MurmurError, isMemberId, newMemberId } from '../core/index.js';
import { checkSecretFileMode } from '../crypto/secret-file.js';
import type { Rumor } from '../wire/index.js';
import { decodePacket, encodePacket } from '../wire/index.js';
import { ensureDir, readIfExists, writeFileAtomic } from './files.js';
import type { SupPaths } from './paths.js';

export async function loadOrCreateMemberId(paths: SupPaths, random: Random): Promise<MemberId> {
  const held = await readIfExists(paths.memberIdFile);
  if (held !== undefined) {
    const id = held.toString('utf8').trim();
    if (isMemberId(id)) return id;
    throw new MurmurError('BAD_INPUT', `${paths.memberIdFile} does not hold a member id (32 lowercase hex characters): fix it, or delete it to join as a new member`);
  }
  const id = newMemberId(random);
  await writeFileAtomic(paths.memberIdFile, `${id}\n`);
  return id;
}

/** Random bytes in a control secret, as Habitat's (`hab sup secret generate`). */
export const CTL_SECRET_BYTES = 64;

/**
 * A new control gateway secret: base64 of 64 bytes from the OS's cryptographic generator (never
 * the seeded `Random` of the gossip core, which is not meant for secrets).
 */
export function generateCtlSecret(): string {
  return randomBytes(CTL_SECRET_BYTES).toString('base64');
}

/**
 * The control gateway's secret, `CTL_SECRET`: created at first start (mode 0600) and kept while
 * the file exists, so that the CLI on this host, which reads the same file, keeps working across
 * restarts. An empty file (nothing could authenticate against it) is replaced. A file that other
 * users may read or write is refused (BAD_INPUT, with the `chmod 600` to run).
 */
export async function loadOrCreateCtlSecret(paths: SupPaths): Promise<string> {
  const held = await readIfExists(paths.ctlSecretFile);
  if (held !== undefined) await checkSecretFileMode(paths.ctlSecretFile, 'the control gateway secret');
  const secret = held?.toString('utf8').trim();
  if (secret !== undefined && secret !== '') return secret;
  await ensureDir(paths.supDir);
  const fresh = generateCtlSecret();
  await writeFileAtomic(paths.ctlSecretFile, fresh, 0o600);
  return fresh;
}

export interface RestoredState {
  incarnation: number;
  rumors: Rumor[];
}

export async function loadState(paths: SupPaths, log: Logger): Promise<RestoredState> {
  await ensureDir(paths.dataDir);
  let incarnation = 0;
  const incText = await readIfExists(paths.incarnationFile);
  if (incText !== undefined) {
    const n = Number(incText.toString('utf8').trim());
    if (Number.isSafeInteger(n) && n >= 0) incarnation = n;
    else await moveAside(paths.incarnationFile, 'not a decimal incarnation', log);
  }
  const bytes = await readIfExists(paths.rumorFile);
  if (bytes === undefined) return { incarnation, rumors: [] };
  const decoded = decodePacket(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (!decoded.ok || decoded.value.type !== 'state') {
    await moveAside(paths.rumorFile, decoded.ok ? 'not a state record' : decoded.error.message, log);
    return { incarnation, rumors: [] };
  }
  return { incarnation, rumors: decoded.value.rumors };
}

export async function saveState(paths: SupPaths, id: MemberId, incarnation: number, rumors: Rumor[]): Promise<void> {
  await writeFileAtomic(paths.incarnationFile, `${incarnation}\n`);
  // 0600: the store may hold ring keys being rotated in (`ring-key` rumors carry their bytes).
  await writeFileAtomic(paths.rumorFile, encodePacket({ type: 'state', from: id, rumors }), 0o600);
}

async function moveAside(path: string, reason: string, log: Logger): Promise<void> {
  const aside = `${path}.corrupt-${Date.now()}`;
  await rename(path, aside).catch(() => {});
  log.warn('state file is corrupt: moved aside, starting empty and re-syncing from peers', { file: path, movedTo: aside, reason });
}
