/**
 * `hab ring key generate|export|import`: ring keys in the key cache (`$FS_ROOT/hab/cache/keys`,
 * or `HAB_CACHE_KEY_PATH`), in Habitat's `SYM-SEC-1` text format, secret files 0600.
 */
import type { Command } from '@commander-js/extra-typings';
import { exportRingKey, generateRingKey, importKey, keyCachePath } from '../crypto/index.js';
import type { CliDeps } from './deps.js';

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
}
