/**
 * `hab ring key generate|export|import`: ring keys in the key cache (`$FS_ROOT/hab/cache/keys`,
 * or `HAB_CACHE_KEY_PATH`), in Habitat's `SYM-SEC-1` text format, secret files 0600.
 *
 * `hab ring key install|use|remove|list`: rotation through a Supervisor's control gateway
 * (`--remote-sup`), which gossips it to the ring (`sup/ring-keys.ts`; docs/security.md).
 */
import { join } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { MurmurError } from '../core/index.js';
import type { RingKeyJson, RingKeyResponse } from '../ctl/api.js';
import type { CtlApi } from '../ctl/client.js';
import { exportRingKey, formatKeyText, generateRingKey, importKey, keyCachePath, keyFileName, latestRingKey, readSecretKeyFile, RING_KEY_HEADER } from '../crypto/index.js';
import type { CliDeps } from './deps.js';
import { connect, REMOTE_SUP_FLAGS, REMOTE_SUP_HELP } from './remote.js';

/** `NAME-YYYYMMDDhhmmss`: a revision named in full. */
const NAME_REVISION = /^(.+)-(\d{14})$/;

/** The client's rotation calls (optional on `CtlApi` for the sake of fakes; the real client has them). */
function rotation(ctl: CtlApi): Required<Pick<CtlApi, 'ringKeyInstall' | 'ringKeyUse' | 'ringKeyRemove' | 'ringKeyList'>> {
  if (!ctl.ringKeyInstall || !ctl.ringKeyUse || !ctl.ringKeyRemove || !ctl.ringKeyList) throw new MurmurError('INTERNAL', 'this control client cannot rotate ring keys');
  return {
    ringKeyInstall: (text) => (ctl.ringKeyInstall as (t: string) => Promise<RingKeyResponse>).call(ctl, text),
    ringKeyUse: (key, force) => (ctl.ringKeyUse as (k: string, f?: boolean) => Promise<RingKeyResponse>).call(ctl, key, force),
    ringKeyRemove: (key) => (ctl.ringKeyRemove as (k: string) => Promise<RingKeyResponse>).call(ctl, key),
    ringKeyList: () => (ctl.ringKeyList as () => Promise<RingKeyResponse>).call(ctl),
  };
}

function formatKeyLine(k: RingKeyJson): string {
  return `${k.name}-${k.revision}  ${k.id ?? '--------'}  ${k.state.padEnd(9)}  ${k.holders}/${k.live} live members, ${k.sealers} sealing\n`;
}

export function addRingCommands(program: Command, deps: CliDeps): void {
  const key = program.command('ring').description('ring keys, which seal all gossip traffic').command('key').description('generate, export and import ring keys');
  key
    .command('generate')
    .description('generate a ring key and store it in the key cache')
    .argument('<name>', 'the ring name')
    .action(async (name) => {
      const dir = keyCachePath(deps.env);
      const k = await generateRingKey(dir, name, new Date());
      deps.stdout(`Generated ring key ${k.name}-${k.revision} in ${k.path}\n`);
    });
  key
    .command('export')
    .description('print the latest revision of a ring key, to import on another host')
    .argument('<name>', 'the ring name')
    .action(async (name) => {
      deps.stdout(await exportRingKey(keyCachePath(deps.env), name));
    });
  key
    .command('import')
    .description('read a ring key from standard input into the key cache')
    .action(async () => {
      const result = await importKey(keyCachePath(deps.env), await deps.readStdin(), 'standard input', 'SYM-SEC-1');
      deps.stdout(`Imported ring key ${result.name}-${result.revision} into ${result.path}\n`);
    });
  key
    .command('install')
    .description('install a ring key from the key cache on every member (it opens; the primary still seals)')
    .argument('<key>', 'NAME (its latest revision) or NAME-REVISION')
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (name, opts) => {
      const dir = keyCachePath(deps.env);
      const full = NAME_REVISION.exec(name);
      const file = full ? await readSecretKeyFile(join(dir, keyFileName({ header: RING_KEY_HEADER, name: full[1] ?? '', revision: full[2] ?? '' })), RING_KEY_HEADER) : await latestRingKey(dir, name);
      const ctl = rotation(await connect(deps, opts.remoteSup));
      const done = await ctl.ringKeyInstall(formatKeyText(file));
      for (const k of done.keys) deps.stdout(`Installing ring key ${formatKeyLine(k)}`);
    });
  key
    .command('use')
    .description('seal with an installed ring key on every member (refused until every live member holds it)')
    .argument('<key>', 'NAME-REVISION')
    .option('--force', 'use it even if some live member does not report holding it (that member is cut off)')
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (name, opts) => {
      const ctl = rotation(await connect(deps, opts.remoteSup));
      const done = await ctl.ringKeyUse(name, opts.force === true);
      for (const k of done.keys) deps.stdout(`Using ring key ${formatKeyLine(k)}`);
    });
  key
    .command('remove')
    .description('remove a ring key from every member (not the one that seals)')
    .argument('<key>', 'NAME-REVISION')
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (name, opts) => {
      const ctl = rotation(await connect(deps, opts.remoteSup));
      const done = await ctl.ringKeyRemove(name);
      for (const k of done.keys) deps.stdout(`Removing ring key ${formatKeyLine(k)}`);
    });
  key
    .command('list')
    .description('the ring keys a Supervisor knows, and how many live members hold each')
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (opts) => {
      const ctl = rotation(await connect(deps, opts.remoteSup));
      const done = await ctl.ringKeyList();
      for (const k of done.keys) deps.stdout(formatKeyLine(k));
    });
}
