/**
 * The composition root of the `murmur` (alias `hab`) command: builds the real dependencies,
 * hands them to the command tree and turns the outcome into an exit code. `bin/murmur` and
 * `bin/hab` call `main` from the build in dist/.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildProgram, exitCodeFor, type CliDeps } from '../cli/index.js';
import { CtlClient } from '../ctl/client.js';
import { tlsFetch } from '../net/tls-fetch.js';

/** The name the user typed: `hab` when invoked as hab (the Habitat habit), `murmur` otherwise. */
export function invokedName(script: string | undefined): 'hab' | 'murmur' {
  return script !== undefined && path.basename(script, path.extname(script)) === 'hab'
    ? 'hab'
    : 'murmur';
}

/** Runs one command line (`argv` as in `process.argv`) and resolves to its exit code. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const deps: CliDeps = {
    // Loaded on use: help, usage errors and other commands never load the simulator.
    simulate: async (options) => {
      const { runSimulation } = await import('../testkit/simulate.js');
      return runSimulation(options);
    },
    runSupervisor: async (request) => {
      const { runSupervisor } = await import('./sup-run.js');
      return runSupervisor(request, process.env, (line) => void process.stdout.write(`${line}\n`));
    },
    termSupervisor: async () => {
      const { termSupervisor } = await import('./sup-term.js');
      return termSupervisor(process.env);
    },
    env: process.env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    readFile: async (file) => new Uint8Array(await readFile(file)),
    ctlClient: (options) => new CtlClient(options.tls ? { ...options, fetch: tlsFetch(options.tls) } : options),
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    stderrIsTTY: process.stderr.isTTY,
  };
  const program = buildProgram(deps, invokedName(argv[1]));
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    return exitCodeFor(err, deps.stderr);
  }
}
