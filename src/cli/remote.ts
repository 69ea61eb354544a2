/**
 * What the commands that talk to a running Supervisor share: `--remote-sup HOST[:PORT]` (`-r`,
 * as Habitat's; default `HAB_LISTEN_CTL`, else `127.0.0.1:9632`; the port defaults to 9632), the secret lookup, version
 * arguments, and reading the FILE argument (or standard input for `-`).
 */
import { checkVersion, DEFAULT_CTL_PORT, resolveCtlSecret, type CtlApi, type CtlTlsOptions } from '../ctl/client.js';
import { MurmurError } from '../core/index.js';
import { readTlsFiles, type TlsFileRef, type TlsFileRefs } from '../crypto/index.js';
import type { CliDeps } from './deps.js';
import { formatHostPort, parseHostPort } from './sup.js';

export const REMOTE_SUP_FLAGS = '-r, --remote-sup <host[:port]>';
export const REMOTE_SUP_HELP = `the Supervisor's control gateway (default HAB_LISTEN_CTL, else 127.0.0.1:${DEFAULT_CTL_PORT}; the port defaults to ${DEFAULT_CTL_PORT})`;

/**
 * A client of the Supervisor named by `--remote-sup`, with the secret from HAB_CTL_SECRET or
 * CTL_SECRET. TLS (a gateway started with `--ctl-server-certificate`) when the address is written
 * `https://HOST[:PORT]` or any of the variables below is set; they stand for Habitat's `cli.toml`
 * keys of the same names: `HAB_CTL_SERVER_CA_CERTIFICATE` (the CA file that signed the gateway's
 * certificate; else the system's CAs), `HAB_CTL_CLIENT_CERTIFICATE` and `HAB_CTL_CLIENT_KEY` (for
 * a gateway started with `--ctl-client-ca-certificate`). The secret is sent over TLS as well.
 */
export async function connect(deps: CliDeps, remoteSup: string | undefined): Promise<CtlApi> {
  const fromEnv = deps.env.HAB_LISTEN_CTL !== undefined && deps.env.HAB_LISTEN_CTL !== '' ? deps.env.HAB_LISTEN_CTL : undefined;
  const [given, name] = remoteSup !== undefined ? [remoteSup, '--remote-sup'] : fromEnv !== undefined ? [fromEnv, 'HAB_LISTEN_CTL'] : ['127.0.0.1', '--remote-sup'];
  const scheme = /^(https?):\/\//i.exec(given)?.[1]?.toLowerCase();
  const raw = scheme === undefined ? given : given.slice(scheme.length + 3).replace(/\/+$/, '');
  const address = formatHostPort(parseHostPort(name, raw, DEFAULT_CTL_PORT));
  const secret = await resolveCtlSecret(deps.env, (path) => deps.readFile(path));
  const tls = await ctlTlsOptions(deps);
  if (scheme === 'http' && tls) throw new MurmurError('BAD_INPUT', `${name} says http:// but HAB_CTL_SERVER_CA_CERTIFICATE (or a client certificate) is set: use https://, or unset them`);
  if (scheme === 'https' || tls) return deps.ctlClient({ address, secret, tls: tls ?? {} });
  return deps.ctlClient({ address, secret });
}

const CTL_TLS_VARIABLES = { ca: 'HAB_CTL_SERVER_CA_CERTIFICATE', cert: 'HAB_CTL_CLIENT_CERTIFICATE', key: 'HAB_CTL_CLIENT_KEY' } as const;

/**
 * The PEM files the TLS variables name, read and checked before connecting (`readTlsFiles`: each
 * parses as what its variable says, the client key is private to its owner and belongs to the
 * client certificate), each error naming the variable and the file; undefined when none is set.
 */
async function ctlTlsOptions(deps: CliDeps): Promise<CtlTlsOptions | undefined> {
  const refs: TlsFileRefs = {};
  for (const [field, variable] of Object.entries(CTL_TLS_VARIABLES) as [keyof TlsFileRefs, string][]) {
    const file = deps.env[variable];
    if (file !== undefined && file !== '') refs[field] = { path: file, flag: variable };
  }
  if (refs.ca === undefined && refs.cert === undefined && refs.key === undefined) return undefined;
  if ((refs.cert === undefined) !== (refs.key === undefined)) {
    const [given, missing] = refs.cert !== undefined ? [refs.cert, 'HAB_CTL_CLIENT_KEY'] : [refs.key as TlsFileRef, 'HAB_CTL_CLIENT_CERTIFICATE'];
    throw new MurmurError('BAD_INPUT', `${given.flag} ${given.path} was given without ${missing}: HAB_CTL_CLIENT_CERTIFICATE and HAB_CTL_CLIENT_KEY go together; set both, or neither`);
  }
  const pems = await readTlsFiles(refs, { read: (file) => deps.readFile(file) });
  const out: CtlTlsOptions = {};
  if (pems.ca) out.ca = pems.ca;
  if (pems.cert) out.cert = pems.cert;
  if (pems.key) out.key = pems.key;
  return out;
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
