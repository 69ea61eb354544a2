/**
 * Turning a failed command into an exit code and one line on stderr: `MurmurError` codes map
 * through the catalogue in core/errors.ts; commander's usage errors count as bad input.
 */
import { CommanderError } from '@commander-js/extra-typings';
import { ERRORS, MurmurError } from '../core/index.js';

/** Commander codes that mean "the command line was wrong" rather than help or version output. */
const USAGE_ERRORS = new Set([
  'commander.unknownOption',
  'commander.unknownCommand',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.conflictingOption',
  'commander.excessArguments',
  'commander.invalidArgument',
]);

/**
 * The exit code for `err`, after writing what the user needs to stderr. Commander has already
 * printed its own messages (help, usage errors) by the time its error arrives here.
 */
export function exitCodeFor(err: unknown, stderr: (s: string) => void): number {
  if (err instanceof ExitCode) return err.code;
  if (err instanceof CommanderError) {
    return USAGE_ERRORS.has(err.code) ? ERRORS.BAD_INPUT.exit : err.exitCode;
  }
  if (err instanceof MurmurError) {
    stderr(`error: ${err.message}\n`);
    return err.exitCode;
  }
  // Anything else is a bug: one summary line, then the stack frames a bug report needs.
  if (err instanceof Error) {
    const head = `${err.name}: ${err.message}`;
    const frames = err.stack?.startsWith(head) ? err.stack.slice(head.length) : '';
    stderr(`error: ${err.message}${frames}\n`);
  } else {
    stderr(`error: ${String(err)}\n`);
  }
  return ERRORS.INTERNAL.exit;
}

/** A command that already told the user what happened and only sets the exit code (86 after departure). */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
    this.name = 'ExitCode';
  }
}
