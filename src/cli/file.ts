/**
 * `hab file upload SVC.GROUP VERSION FILE [--user USER]`: gossips a file to every member of a
 * service group, through a Supervisor's control gateway. Members write it as
 * `files/<base name of FILE>`; versions are per (group, file name) and must go up, as for
 * config. With `--user` the file travels as a `BOX-1` payload sealed for the group's service key
 * (`keys.ts`); its name and version stay in the clear, as in Habitat.
 */
import { basename } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { checkFileName, checkPayloadSize, checkServiceGroup } from '../ctl/client.js';
import type { CliDeps } from './deps.js';
import { sealForGroup } from './keys.js';
import { connect, parseVersionArgument, readInput, REMOTE_SUP_FLAGS, REMOTE_SUP_HELP } from './remote.js';

export function addFileCommands(program: Command, deps: CliDeps): void {
  const file = program.command('file').description('files gossiped to every member of a service group');
  file
    .command('upload')
    .description('gossip a file to a service group; VERSION must be above the one the group has for that file name')
    .argument('<service_group>', 'SVC.GROUP or SVC.GROUP@ORG, e.g. redis.prod')
    .argument('<version>', 'the file version: a positive integer above the current one for this file name')
    .argument('<file>', 'the file to upload; members store it under its base name')
    .option('-u, --user <user>', "encrypt it for the group (SVC.GROUP@ORG) with this user's secret key and the group's public key; only members holding the group's secret key read it")
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (group, rawVersion, path, opts) => {
      checkServiceGroup(group);
      const version = parseVersionArgument(rawVersion);
      const filename = checkFileName(basename(path));
      const { bytes, source } = await readInput(deps, path);
      checkPayloadSize(source, bytes.length);
      const sealed = opts.user === undefined ? undefined : await sealForGroup(deps, group, opts.user, bytes, source);
      const ctl = await connect(deps, opts.remoteSup);
      const done = await ctl.uploadFile(group, version, filename, sealed?.payload ?? bytes, { encrypted: sealed !== undefined });
      deps.stdout(
        sealed === undefined
          ? `Uploaded ${done.filename} version ${done.version} to ${done.service_group}\n`
          : `Uploaded encrypted ${done.filename} version ${done.version} to ${done.service_group} (sealed by ${sealed.user} for ${sealed.service})\n`,
      );
    });
}
