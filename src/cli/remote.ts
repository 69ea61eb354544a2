/**
 * What the commands that talk to a running Supervisor share: `--remote-sup HOST[:PORT]` (`-r`,
 * as Habitat's; default `HAB_LISTEN_CTL`, else `127.0.0.1:9632`; the port defaults to 9632), the secret lookup, version
 * arguments, and reading the FILE argument (or standard input for `-`).
 */
import { checkVersion, DEFAULT_CTL_PORT, resolveCtlSecret, type CtlApi } from '../ctl/client.js';
import { MurmurError } from '../core/index.js';
import type { CliDeps } from './deps.js';
import { formatHostPort, parseHostPort } from './sup.js';

export const REMOTE_SUP_FLAGS = '-r, --remote-sup <host[:port]>';
export const REMOTE_SUP_HELP = `the Supervisor's control gateway (default HAB_LISTEN_CTL, else 127.0.0.1:${DEFAULT_CTL_PORT}; the port defaults to ${DEFAULT_CTL_PORT})`;

/** A client of the Supervisor named by `--remote-sup`, with the secret from HAB_CTL_SECRET or CTL_SECRET. */
export async function connect(deps: CliDeps, remoteSup: string | undefined): Promise<CtlApi> {
  const fromEnv = deps.env.HAB_LISTEN_CTL !== undefined && deps.env.HAB_LISTEN_CTL !== '' ? deps.env.HAB_LISTEN_CTL : undefined;
  const [raw, name] = remoteSup !== undefined ? [remoteSup, '--remote-sup'] : fromEnv !== undefined ? [fromEnv, 'HAB_LISTEN_CTL'] : ['127.0.0.1', '--remote-sup'];
  const address = formatHostPort(parseHostPort(name, raw, DEFAULT_CTL_PORT));
  const secret = await resolveCtlSecret(deps.env, (path) => deps.readFile(path));
  return deps.ctlClient({ address, secret });
}

/** A VERSION argument: a positive integer written in decimal digits. */
export function parseVersionArgument(raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new MurmurError('BAD_INPUT', `VERSION must be a positive integer, got ${JSON.stringify(raw)}`);
  return checkVersion(Number(raw.trim()));
}

/** The bytes of a FILE argument (`-`: standard input), with a clear message when it cannot be read. */
export async function readInput(deps: CliDeps, file: string | undefined): Promise<{ bytes: Uint8Array; source: string }> {
  if (file === undefined || file === '-') return { bytes: new TextEncoder().encode(await deps.readStdin()), source: 'standard input' };
  try {
    return { bytes: await deps.readFile(file), source: file };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MurmurError('NOT_FOUND', `${file}: no such file`, { cause: err });
    if (code === 'EISDIR') throw new MurmurError('BAD_INPUT', `${file} is a directory: give a file`, { cause: err });
    throw new MurmurError('IO', `cannot read ${file}: ${code ?? (err as Error).message}`, { cause: err });
  }
}
