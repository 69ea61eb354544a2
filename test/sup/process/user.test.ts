import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { decideRunAs, parseGroup, parsePasswd, resolveUser } from '../../../src/sup/process/index.js';
import { removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

const PASSWD = ['root:x:0:0:root:/root:/bin/bash', '# a comment', 'broken line', 'hab:x:42:43::/hab:/bin/false', 'solo:x:50:51::/:/bin/sh', ''].join('\n');
const GROUP = ['root:x:0:', 'hab:x:43:', 'wheel:x:10:root,hab', 'bad:x:notanumber:'].join('\n');

async function files() {
  const dir = await tempDir();
  await writeFile(join(dir, 'passwd'), PASSWD);
  await writeFile(join(dir, 'group'), GROUP);
  return { passwd: join(dir, 'passwd'), group: join(dir, 'group') };
}

describe('which user a service runs as', () => {
  test('passwd and group files parse, and junk lines are skipped', () => {
    expect(parsePasswd(PASSWD).map((u) => [u.name, u.uid, u.gid])).toEqual([['root', 0, 0], ['hab', 42, 43], ['solo', 50, 51]]);
    expect(parseGroup(GROUP).find((g) => g.name === 'wheel')).toEqual({ name: 'wheel', gid: 10, members: ['root', 'hab'] });
    expect(parseGroup(GROUP).some((g) => g.name === 'bad')).toBe(false);
  });

  test('a user and group resolve to ids; a missing group falls back to the primary group', async () => {
    const f = await files();
    expect(await resolveUser('hab', 'wheel', f)).toEqual({ user: 'hab', group: 'wheel', uid: 42, gid: 10 });
    expect(await resolveUser('hab', 'nogroup', f)).toEqual({ user: 'hab', group: 'hab', uid: 42, gid: 43 });
    expect(await resolveUser('solo', null, f)).toEqual({ user: 'solo', group: '51', uid: 50, gid: 51 });
    expect(await resolveUser('ghost', 'hab', f)).toBeNull();
  });

  test('a root Supervisor runs the service as its user when it exists, else as root and says so', async () => {
    const f = await files();
    expect(await decideRunAs('hab', 'hab', { ...f, currentUid: 0 })).toEqual({
      user: { uid: 42, gid: 43 },
      description: 'Starting service as user=hab, group=hab',
      fallback: false,
    });
    const missing = await decideRunAs('ghost', 'ghost', { ...f, currentUid: 0 });
    expect(missing.user).toBeUndefined();
    expect(missing.fallback).toBe(true);
    expect(missing.description).toContain('ghost does not exist');
  });

  test('a Supervisor that is not root runs the service as itself', async () => {
    const f = await files();
    const runAs = await decideRunAs('hab', 'hab', { ...f, currentUid: 1000 });
    expect(runAs.user).toBeUndefined();
    expect(runAs.description).toContain('uid=1000');
  });
});
