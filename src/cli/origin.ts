/**
 * `hab origin key generate|export|import`: origin signing keys in the key cache
 * (`$FS_ROOT/hab/cache/keys`, or `HAB_CACHE_KEY_PATH`): `<origin>-<revision>.sig.key` (SIG-SEC-1,
 * 0600) and `<origin>-<revision>.pub` (SIG-PUB-1), byte-compatible with Habitat's.
 */
import { Option, type Command } from '@commander-js/extra-typings';
import { MurmurError } from '../core/index.js';
import { exportOriginKey, generateOriginKeyPair, importKey, keyCachePath, parseKeyText } from '../crypto/index.js';
import type { CliDeps } from './deps.js';

export function addOriginCommands(program: Command, deps: CliDeps): void {
  const key = program
    .command('origin')
    .description('origins, which own and sign packages')
    .command('key')
    .description('generate, export and import origin signing keys');
  key
    .command('generate')
    .description('generate an origin signing key pair and store it in the key cache')
    .argument('<origin>', 'the origin name, e.g. core')
    .action(async (origin) => {
      const pair = await generateOriginKeyPair(keyCachePath(deps.env), origin, new Date());
      deps.stdout(
        `Generated origin key pair ${pair.secret.name}-${pair.secret.revision}:\n  secret ${pair.secret.path}\n  public ${pair.public.path}\n`,
      );
    });
  key
    .command('export')
    .description('print the latest revision of an origin key, to import on another host')
    .argument('<origin>', 'the origin name')
    .addOption(new Option('-t, --type <type>', 'which half of the key pair').choices(['public', 'secret'] as const).default('public' as const))
    .action(async (origin, opts) => {
      deps.stdout(await exportOriginKey(keyCachePath(deps.env), origin, opts.type));
    });
  key
    .command('import')
    .description('read a public or secret origin key from standard input into the key cache')
    .action(async () => {
      const text = await deps.readStdin();
      const { header } = parseKeyText(text, { source: 'standard input' });
      if (header !== 'SIG-PUB-1' && header !== 'SIG-SEC-1') {
        throw new MurmurError('BAD_INPUT', `standard input holds a ${header} key, not an origin signing key (SIG-PUB-1 or SIG-SEC-1)`);
      }
      const result = await importKey(keyCachePath(deps.env), text, 'standard input', header);
      const what = header === 'SIG-SEC-1' ? 'secret' : 'public';
      deps.stdout(`${result.created ? 'Imported' : 'Already had'} ${what} origin key ${result.name}-${result.revision} in ${result.path}\n`);
    });
}
