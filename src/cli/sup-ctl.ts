/**
 * `hab sup depart MEMBER_ID` (through a Supervisor's control gateway: that member is departed
 * everywhere and its Supervisor exits 86) and `hab sup secret generate` (a new control secret in
 * Habitat's format: base64 of 64 random bytes, to put in CTL_SECRET or HAB_CTL_SECRET).
 */
import { randomBytes } from 'node:crypto';
import type { Command } from '@commander-js/extra-typings';
import { checkMemberId } from '../ctl/client.js';
import type { CliDeps } from './deps.js';
import { connect, REMOTE_SUP_FLAGS, REMOTE_SUP_HELP } from './remote.js';

export function addSupCtlCommands(sup: Command, deps: CliDeps): void {
  sup
    .command('depart')
    .description('depart a member from the ring for good: every member marks it departed, and its Supervisor exits 86')
    .argument('<member_id>', 'the member id (32 lowercase hex characters, as in MEMBER_ID or /butterfly)')
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (memberId, opts) => {
      checkMemberId(memberId);
      const ctl = await connect(deps, opts.remoteSup);
      const done = await ctl.depart(memberId);
      deps.stdout(done.already_departed ? `Member ${done.member_id} was already departed\n` : `Departed member ${done.member_id}\n`);
    });
  sup
    .command('secret')
    .description('control gateway secrets')
    .command('generate')
    .description('print a new control secret (base64 of 64 random bytes), for CTL_SECRET or HAB_CTL_SECRET')
    .action(() => {
      deps.stdout(`${randomBytes(64).toString('base64')}\n`);
    });
}
