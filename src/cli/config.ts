/**
 * `hab config apply SVC.GROUP VERSION [FILE]`: gossips a config to every member of a service
 * group, through a Supervisor's control gateway. The TOML is parsed here first, so that a syntax
 * error names its line and column and nothing is sent. A VERSION not above the one the
 * Supervisor holds is refused with the held version (Habitat drops it silently, #3009).
 */
import type { Command } from '@commander-js/extra-typings';
import { checkPayloadSize, checkServiceGroup, parseConfigToml } from '../ctl/client.js';
import type { CliDeps } from './deps.js';
import { connect, parseVersionArgument, readInput, REMOTE_SUP_FLAGS, REMOTE_SUP_HELP } from './remote.js';

export function addConfigCommands(program: Command, deps: CliDeps): void {
  const config = program.command('config').description('service group configuration gossiped to every member');
  config
    .command('apply')
    .description('gossip a TOML config to a service group; VERSION must be above the one the group has')
    .argument('<service_group>', 'SVC.GROUP or SVC.GROUP@ORG, e.g. redis.prod')
    .argument('<version>', 'the config version: a positive integer above the current one')
    .argument('[file]', 'a TOML file; - or nothing reads standard input')
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (group, rawVersion, file, opts) => {
      checkServiceGroup(group);
      const version = parseVersionArgument(rawVersion);
      const { bytes, source } = await readInput(deps, file);
      checkPayloadSize(`config from ${source}`, bytes.length);
      const text = new TextDecoder().decode(bytes);
      parseConfigToml(text, `config from ${source}`);
      const ctl = await connect(deps, opts.remoteSup);
      const done = await ctl.applyConfig(group, version, text);
      deps.stdout(`Applied config version ${done.version} to ${done.service_group}\n`);
    });
}
