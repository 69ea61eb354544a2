/**
 * The command tree. Only commands that work are registered: no placeholders for Habitat verbs
 * that are not implemented yet. The program name follows the invoked binary (`murmur` or `hab`).
 */
import { Command } from '@commander-js/extra-typings';
import { addConfigCommands } from './config.js';
import type { CliDeps } from './deps.js';
import { addFileCommands } from './file.js';
import { addSvcKeyCommands, addUserCommands } from './keys.js';
import { addOriginCommands } from './origin.js';
import { addPkgCommands } from './pkg.js';
import { addRingCommands } from './ring.js';
import { addSimCommand } from './sim.js';
import { addSupCommands } from './sup.js';
import { addSupCtlCommands } from './sup-ctl.js';
import { addSvcCommands } from './svc.js';

export type { CliDeps } from './deps.js';

export function buildProgram(deps: CliDeps, name: string): Command {
  const program = new Command(name)
    .description('murmur: a Supervisor for service groups, modelled on the Chef Habitat Supervisor')
    // Set before adding commands: subcommands copy these settings when they are created.
    .configureOutput({ writeOut: deps.stdout, writeErr: deps.stderr })
    // Throw a CommanderError instead of calling process.exit, so that the caller sets the exit code.
    .exitOverride()
    .showHelpAfterError(`(run '${name} --help' for usage)`);
  addSupCtlCommands(addSupCommands(program, deps), deps);
  addSvcKeyCommands(addSvcCommands(program, deps), deps);
  addConfigCommands(program, deps);
  addFileCommands(program, deps);
  addRingCommands(program, deps);
  addOriginCommands(program, deps);
  addUserCommands(program, deps);
  addPkgCommands(program, deps);
  addSimCommand(program, deps);
  return program;
}
