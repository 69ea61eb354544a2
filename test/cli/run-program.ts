/**
 * Runs the CLI in process, as `hab ARGS`, against fake or real `CliDeps`: what the command
 * printed goes to `deps.stdout`/`deps.stderr`, and the exit code it would have is returned (a
 * thrown error becomes its code and its one line on stderr, as `bin/hab` does).
 */
import { buildProgram, exitCodeFor, type CliDeps } from '../../src/cli/index.js';

export async function runProgram(deps: CliDeps, args: string[]): Promise<number> {
  try {
    await buildProgram(deps, 'hab').parseAsync(args, { from: 'user' });
    return 0;
  } catch (e) {
    return exitCodeFor(e, deps.stderr);
  }
}
