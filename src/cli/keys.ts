/**
 * `hab user key generate|export|import` and `hab svc key generate|export|import`: the encryption
 * keys of group encryption, in the key cache (`$FS_ROOT/hab/cache/keys`, or
 * `HAB_CACHE_KEY_PATH`), byte-compatible with Habitat's (`crypto/box-key.ts`):
 *
 * - a user key pair `<user>-<rev>.box.key` / `.pub`: the user seals configs and files with its
 *   secret key; members that accept that user's configs hold its public key;
 * - a service key pair `<svc>.<group>@<org>-<rev>.box.key` / `.pub`: the operator seals for the
 *   public key; members that may read the group's secrets hold the secret key.
 *
 * Habitat has `generate` only; `export` and `import` are ours, as for ring and origin keys, so
 * that keys move between hosts without copying files by hand.
 */
import { Option, type Command } from '@commander-js/extra-typings';
import { MurmurError } from '../core/index.js';
import { checkPayloadSize } from '../ctl/client.js';
import {
  BOX_PUBLIC_HEADER,
  BOX_SECRET_HEADER,
  encryptBox1,
  exportBoxKey,
  generateServiceKeyPair,
  generateUserKeyPair,
  importKey,
  isServiceKeyName,
  keyCachePath,
  latestBoxPublicKey,
  latestBoxSecretKey,
  parseKeyText,
  serviceKeyName,
  validateUserName,
  type BoxKeyOwner,
} from '../crypto/index.js';
import type { CliDeps } from './deps.js';

function typeOption() {
  return new Option('-t, --type <type>', 'which half of the key pair').choices(['public', 'secret'] as const).default('public' as const);
}

/** Reads a user or service encryption key from standard input into the key cache. */
async function importBoxKey(deps: CliDeps, owner: BoxKeyOwner): Promise<void> {
  const text = await deps.readStdin();
  const { header, name } = parseKeyText(text, { source: 'standard input' });
  const what = owner === 'user' ? 'a user encryption key' : 'a service encryption key';
  if (header !== BOX_PUBLIC_HEADER && header !== BOX_SECRET_HEADER) {
    throw new MurmurError('BAD_INPUT', `standard input holds a ${header} key, not ${what} (${BOX_PUBLIC_HEADER} or ${BOX_SECRET_HEADER})`);
  }
  if (isServiceKeyName(name) !== (owner === 'service')) {
    const other = owner === 'user' ? 'hab svc key import' : 'hab user key import';
    throw new MurmurError('BAD_INPUT', `standard input holds the key ${name}, which is not ${what}: import it with \`${other}\``);
  }
  const result = await importKey(keyCachePath(deps.env), text, 'standard input', header);
  const half = header === BOX_SECRET_HEADER ? 'secret' : 'public';
  deps.stdout(`${result.created ? 'Imported' : 'Already had'} ${half} ${owner} key ${result.name}-${result.revision} in ${result.path}\n`);
}

export function addUserCommands(program: Command, deps: CliDeps): void {
  const key = program
    .command('user')
    .description('users, who encrypt configs and files for service groups')
    .command('key')
    .description('generate, export and import user encryption keys');
  key
    .command('generate')
    .description('generate a user encryption key pair and store it in the key cache')
    .argument('<user>', 'the user name, e.g. alice')
    .action(async (user) => {
      const pair = await generateUserKeyPair(keyCachePath(deps.env), user, new Date());
      deps.stdout(`Generated user encryption key pair ${pair.secret.name}-${pair.secret.revision}:\n  secret ${pair.secret.path}\n  public ${pair.public.path}\n`);
    });
  key
    .command('export')
    .description("print the latest revision of a user key (the public one by default), to import on the group's members")
    .argument('<user>', 'the user name')
    .addOption(typeOption())
    .action(async (user, opts) => {
      validateUserName(user);
      deps.stdout(await exportBoxKey(keyCachePath(deps.env), 'user', user, opts.type));
    });
  key
    .command('import')
    .description('read a public or secret user key from standard input into the key cache')
    .action(() => importBoxKey(deps, 'user'));
}

/** Adds `key generate|export|import` under `hab svc`. */
export function addSvcKeyCommands(svc: Command, deps: CliDeps): void {
  const key = svc.command('key').description('generate, export and import service group encryption keys');
  // The org: the argument, else the one in SVC.GROUP@ORG, else HABITAT_ORG (as Habitat's).
  const org = (group: string, given: string | undefined): string | undefined =>
    given ?? (group.includes('@') || deps.env.HABITAT_ORG === undefined || deps.env.HABITAT_ORG === '' ? undefined : deps.env.HABITAT_ORG);
  key
    .command('generate')
    .description('generate an encryption key pair for a service group in an org and store it in the key cache')
    .argument('<service_group>', 'SVC.GROUP, e.g. redis.prod (or SVC.GROUP@ORG)')
    .argument('[org]', 'the org (default HABITAT_ORG)')
    .action(async (group, givenOrg) => {
      const pair = await generateServiceKeyPair(keyCachePath(deps.env), group, org(group, givenOrg), new Date());
      deps.stdout(`Generated service encryption key pair ${pair.secret.name}-${pair.secret.revision}:\n  secret ${pair.secret.path}\n  public ${pair.public.path}\n`);
    });
  key
    .command('export')
    .description('print the latest revision of a service key (the public one by default); --type secret for the members that may read the group\'s secrets')
    .argument('<service_group>', 'SVC.GROUP, e.g. redis.prod (or SVC.GROUP@ORG)')
    .argument('[org]', 'the org (default HABITAT_ORG)')
    .addOption(typeOption())
    .action(async (group, givenOrg, opts) => {
      const name = serviceKeyName(group, org(group, givenOrg));
      deps.stdout(await exportBoxKey(keyCachePath(deps.env), 'service', name, opts.type));
    });
  key
    .command('import')
    .description('read a public or secret service key from standard input into the key cache')
    .action(() => importBoxKey(deps, 'service'));
}

/** What `sealForGroup` made: the `BOX-1` payload and the keys it names, for the report line. */
export interface Sealed {
  payload: Uint8Array;
  /** `alice-20240101120000` */
  user: string;
  /** `demo.prod@acme-20240101120000` */
  service: string;
}

/**
 * `--user USER` of `config apply` and `file upload`: seals `plaintext` (already checked) with the
 * latest revision of the user's secret key and of the group's public key, as Habitat's CLI does.
 * The group must carry its org (`SVC.GROUP@ORG`): service keys belong to one (Habitat's
 * `file upload` silently sends the file in the clear without it; we refuse instead).
 */
export async function sealForGroup(deps: CliDeps, group: string, user: string, plaintext: Uint8Array, what: string): Promise<Sealed> {
  validateUserName(user);
  if (!group.includes('@')) {
    throw new MurmurError(
      'BAD_INPUT',
      `--user encrypts for the service group's key, and service keys belong to an org: name the group as SVC.GROUP@ORG (e.g. ${group}@acme), as the members' \`hab sup run --org\` does`,
    );
  }
  const dir = keyCachePath(deps.env);
  const userSecret = await latestBoxSecretKey(dir, 'user', user);
  const servicePublic = await latestBoxPublicKey(dir, 'service', group);
  const payload = new TextEncoder().encode(await encryptBox1({ userSecret, servicePublic }, plaintext));
  checkPayloadSize(`${what}, once encrypted,`, payload.length);
  return { payload, user: `${userSecret.name}-${userSecret.revision}`, service: `${servicePublic.name}-${servicePublic.revision}` };
}
