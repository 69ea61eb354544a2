/**
 * Which user a service runs as. Habitat runs a service (its hooks and its run command) as the
 * package's `SVC_USER`/`SVC_GROUP` when the Supervisor is root. Habitat refuses to start when
 * that user is missing; murmur runs the service as the Supervisor's own user instead and says so
 * once, so that a package built for `hab` still runs on a machine without that account.
 *
 * Users and groups come from `/etc/passwd` and `/etc/group` (no native modules, no NSS: users
 * that only LDAP knows are not found).
 */
import { readFile } from 'node:fs/promises';
import type { SpawnUser } from './child.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** The lines of a passwd file that parse (`name:x:uid:gid:gecos:home:shell`); others are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 7) continue;
    const uid = toId(f[2]);
    const gid = toId(f[3]);
    if (!f[0] || uid === null || gid === null) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

/** The lines of a group file that parse (`name:x:gid:member,member`); others are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const gid = toId(f[2]);
    if (!f[0] || gid === null) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').filter((m) => m !== '') });
  }
  return out;
}

function toId(field: string | undefined): number | null {
  if (field === undefined || !/^\d+$/.test(field)) return null;
  const n = Number(field);
  return n <= 0xffffffff ? n : null;
}

export interface UserFiles {
  /** @default '/etc/passwd' */
  passwd?: string;
  /** @default '/etc/group' */
  group?: string;
}

export interface ResolvedUser extends SpawnUser {
  user: string;
  group: string;
}

/**
 * The uid and gid of `name` and `group`. A missing group falls back to the user's primary group.
 * `null` if the user does not exist (or the files cannot be read).
 */
export async function resolveUser(name: string, group: string | null, files: UserFiles = {}): Promise<ResolvedUser | null> {
  const [passwd, groups] = await Promise.all([
    readFile(files.passwd ?? '/etc/passwd', 'utf8').catch(() => ''),
    readFile(files.group ?? '/etc/group', 'utf8').catch(() => ''),
  ]);
  const user = parsePasswd(passwd).find((u) => u.name === name);
  if (user === undefined) return null;
  const groupList = parseGroup(groups);
  const named = group === null ? undefined : groupList.find((g) => g.name === group);
  if (named !== undefined) return { user: user.name, group: named.name, uid: user.uid, gid: named.gid };
  const primary = groupList.find((g) => g.gid === user.gid);
  return { user: user.name, group: primary?.name ?? String(user.gid), uid: user.uid, gid: user.gid };
}

/** What `decideRunAs` chose: `user` to pass to the spawn (absent: the Supervisor's own). */
export interface RunAs {
  user?: SpawnUser;
  /** One line for the operator: `Starting service as user=hab, group=hab`. */
  description: string;
  /** The package asked for a user that could not be used. */
  fallback: boolean;
}

export interface DecideRunAsOptions extends UserFiles {
  /** The Supervisor's uid. @default process.getuid() */
  currentUid?: number;
}

/**
 * Habitat's rule, with murmur's fallback: a root Supervisor runs the service as `svcUser` if it
 * exists, otherwise as root; a Supervisor that is not root runs it as itself.
 */
export async function decideRunAs(svcUser: string | null, svcGroup: string | null, opts: DecideRunAsOptions = {}): Promise<RunAs> {
  const uid = opts.currentUid ?? process.getuid?.() ?? -1;
  if (svcUser === null || svcUser === '') {
    return { description: `Starting service as the Supervisor's user (uid=${uid})`, fallback: false };
  }
  if (uid !== 0) {
    return {
      description: `Starting service as the Supervisor's user (uid=${uid}): running as ${svcUser} needs a root Supervisor`,
      fallback: true,
    };
  }
  const found = await resolveUser(svcUser, svcGroup, opts);
  if (found === null) {
    return {
      description: `Starting service as root: the package's user ${svcUser} does not exist on this system (create it to run the service as ${svcUser})`,
      fallback: true,
    };
  }
  return {
    user: { uid: found.uid, gid: found.gid },
    description: `Starting service as user=${found.user}, group=${found.group}`,
    fallback: false,
  };
}
