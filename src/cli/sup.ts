/**
 * `hab sup run` and `hab sup term`: parse Habitat's flags and environment into a
 * `SupRunRequest`; the Supervisor itself comes in through `CliDeps.runSupervisor`.
 * `hab sup run [PKG_IDENT_OR_ARTIFACT]` takes `hab svc load`'s flags for that first service and
 * carries them as `SupRunRequest.load`, checked as `hab svc load` checks them.
 *
 * Precedence for each listen address: the flag, then its `HAB_LISTEN_*` variable, then the
 * default. Ports default as Habitat's do: gossip 9638, HTTP 9631, control 9632.
 */
import type { Command } from '@commander-js/extra-typings';
import { isIpLiteral, MurmurError } from '../core/index.js';
import type { LoadRequest } from '../ctl/client.js';
import type { CliDeps } from './deps.js';
import { ExitCode } from './errors.js';
import { addLoadOptions, hasLoadOptions, parseLoadOptions, type LoadOptions } from './svc.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface SupRunRequest {
  listenGossip: HostPort;
  listenHttp: HostPort | null;
  listenCtl: HostPort;
  /** `host:port` strings, names not yet resolved. */
  peers: HostPort[];
  permanentPeer: boolean;
  peerWatchFile: string | undefined;
  sysIpAddress: string | undefined;
  /** Ring key name (`--ring`, `HAB_RING`), or undefined. */
  ring: string | undefined;
  /** Ring key text (`HAB_RING_KEY`), or undefined. */
  ringKeyText: string | undefined;
  /** Gossip timing preset: `lan`, or `localTest` for many Supervisors on one machine. */
  gossipPreset: 'lan' | 'localTest';
  /**
   * `--org`: the organization of every service group this Supervisor runs (`demo.prod@acme`),
   * whose service keys encrypt configs and files for it. Absent: groups have no org.
   */
  org?: string;
  /**
   * `hab sup run IDENT [load flags]`: the service to load once the Supervisor runs, as
   * `hab svc load IDENT [load flags]` would send it (a `.hart` path made absolute, flags
   * checked). Absent without IDENT.
   */
  load?: LoadRequest;
  /**
   * HTTP gateway TLS (`--key`, `--certs`, `--ca-certs`, as Habitat's): file paths, read and
   * checked by the Supervisor before anything listens. Absent: plain HTTP.
   */
  httpTls?: GatewayTlsFiles;
  /** Control gateway TLS (`--ctl-server-key`, `--ctl-server-certificate`, `--ctl-client-ca-certificate`). */
  ctlTls?: GatewayTlsFiles;
}

/** A gateway's TLS files, each with the flag that named it (for error messages). */
export interface GatewayTlsFiles {
  key: { path: string; flag: string };
  cert: { path: string; flag: string };
  /** Present: clients must present a certificate signed by this CA. */
  ca?: { path: string; flag: string };
}

export const DEFAULT_PORTS = { gossip: 9638, http: 9631, ctl: 9632 } as const;

/** `HOST[:PORT]`, `[v6]:PORT` or a bare port-less host; the port must be 0–65535. */
export function parseHostPort(option: string, raw: string, defaultPort: number): HostPort {
  const text = raw.trim();
  let host: string;
  let port: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) {
    host = v6[1] as string;
    port = v6[2];
  } else if ((text.match(/:/g) ?? []).length > 1) {
    host = text; // a bare IPv6 address
  } else {
    const i = text.lastIndexOf(':');
    host = i < 0 ? text : text.slice(0, i);
    port = i < 0 ? undefined : text.slice(i + 1);
  }
  if (host === '' || /\s|\//.test(host)) {
    throw new MurmurError('BAD_INPUT', `${option} must be HOST[:PORT] (e.g. 10.0.0.2:9638), got ${JSON.stringify(raw)}`);
  }
  const portNumber = port === undefined ? defaultPort : /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(portNumber >= 0 && portNumber <= 65_535)) {
    throw new MurmurError('BAD_INPUT', `${option} has a bad port: expected 0–65535, got ${JSON.stringify(raw)}`);
  }
  return { host, port: portNumber };
}

export function formatHostPort(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export interface RawSupRunOptions {
  listenGossip?: string;
  listenHttp?: string;
  httpDisable?: boolean;
  listenCtl?: string;
  peer?: string[];
  permanentPeer?: boolean;
  peerWatchFile?: string;
  sysIpAddress?: string;
  ring?: string;
  org?: string;
  key?: string;
  certs?: string;
  caCerts?: string;
  ctlServerCertificate?: string;
  ctlServerKey?: string;
  ctlClientCaCertificate?: string;
}

/** Key and certificate go together; a CA alone means nothing. */
function tlsFiles(key: [string | undefined, string], cert: [string | undefined, string], ca: [string | undefined, string]): GatewayTlsFiles | undefined {
  const [keyPath, keyFlag] = key;
  const [certPath, certFlag] = cert;
  const [caPath, caFlag] = ca;
  if (keyPath === undefined && certPath === undefined) {
    if (caPath !== undefined) throw new MurmurError('BAD_INPUT', `${caFlag} needs ${keyFlag} and ${certFlag}: client certificates are checked only over TLS`);
    return undefined;
  }
  if (keyPath === undefined || certPath === undefined) {
    const [given, flag, missing] = keyPath !== undefined ? [keyPath, keyFlag, certFlag] : [certPath as string, certFlag, keyFlag];
    throw new MurmurError('BAD_INPUT', `${flag} ${given} was given without ${missing}: ${keyFlag} and ${certFlag} go together; give the private key and its certificate chain, or neither`);
  }
  return {
    key: { path: keyPath, flag: keyFlag },
    cert: { path: certPath, flag: certFlag },
    ...(caPath !== undefined ? { ca: { path: caPath, flag: caFlag } } : {}),
  };
}

/**
 * `hab sup run`'s flags, environment and optional PKG_IDENT_OR_ARTIFACT. Load flags without an
 * IDENT are refused rather than ignored.
 */
export function parseSupRunOptions(raw: RawSupRunOptions & LoadOptions, env: Readonly<Record<string, string | undefined>>, ident?: string): SupRunRequest {
  if (ident === undefined && hasLoadOptions(raw)) {
    throw new MurmurError('BAD_INPUT', 'the load flags (--group, --topology, --strategy, --bind, --binding-mode, --health-check-interval, --shutdown-timeout, --config-from) need a package: hab sup run ORIGIN/NAME [flags]');
  }
  const load = ident === undefined ? undefined : parseLoadOptions(ident, raw, 'hab sup run');
  const pick = (flag: string | undefined, variable: string): [string, string] | undefined => {
    if (flag !== undefined) return [flag, `--${variable.replace('HAB_', '').toLowerCase().replace(/_/g, '-')}`];
    const v = env[variable];
    return v !== undefined && v !== '' ? [v, variable] : undefined;
  };
  const listen = (flag: string | undefined, variable: string, fallback: string, port: number): HostPort => {
    const [text, name] = pick(flag, variable) ?? [fallback, 'default'];
    return parseHostPort(name, text, port);
  };
  const peers = (raw.peer ?? []).flatMap((p) => p.split(/[\s,]+/).filter((s) => s !== '')).map((p) => parseHostPort('--peer', p, DEFAULT_PORTS.gossip));
  if (raw.peerWatchFile !== undefined && peers.length > 0) {
    throw new MurmurError('BAD_INPUT', '--peer-watch-file and --peer cannot be used together: list the peers in the watch file');
  }
  const ringFlag = raw.ring ?? (env.HAB_RING !== undefined && env.HAB_RING !== '' ? env.HAB_RING : undefined);
  const ringKeyText = env.HAB_RING_KEY !== undefined && env.HAB_RING_KEY !== '' ? env.HAB_RING_KEY : undefined;
  if (ringFlag !== undefined && ringKeyText !== undefined) {
    throw new MurmurError('BAD_INPUT', '--ring (or HAB_RING) and HAB_RING_KEY cannot be used together: name a key in the cache, or pass its text, not both');
  }
  // Other members send to this address as carried in gossip, where host names are refused.
  if (raw.sysIpAddress !== undefined && !isIpLiteral(raw.sysIpAddress)) {
    throw new MurmurError('BAD_INPUT', `--sys-ip-address must be an IP address (e.g. 10.0.0.2), not a host name: other members send to it as it is, without resolving it; got ${JSON.stringify(raw.sysIpAddress)}`);
  }
  if (raw.org !== undefined && !/^[A-Za-z0-9_-]+$/.test(raw.org)) {
    throw new MurmurError('BAD_INPUT', `--org must be letters, digits, _ or - (e.g. acme), got ${JSON.stringify(raw.org)}`);
  }
  const httpTls = tlsFiles([raw.key, '--key'], [raw.certs, '--certs'], [raw.caCerts, '--ca-certs']);
  if (httpTls && raw.httpDisable) throw new MurmurError('BAD_INPUT', '--key/--certs are for the HTTP gateway, which --http-disable turns off: drop one or the other');
  const ctlTls = tlsFiles(
    [raw.ctlServerKey, '--ctl-server-key'],
    [raw.ctlServerCertificate, '--ctl-server-certificate'],
    [raw.ctlClientCaCertificate, '--ctl-client-ca-certificate'],
  );
  const preset = env.MURMUR_GOSSIP_PRESET ?? 'lan';
  if (preset !== 'lan' && preset !== 'localTest' && preset !== 'local-test') {
    throw new MurmurError('BAD_INPUT', `MURMUR_GOSSIP_PRESET must be lan or localTest, got ${JSON.stringify(preset)}`);
  }
  return {
    listenGossip: listen(raw.listenGossip, 'HAB_LISTEN_GOSSIP', '0.0.0.0', DEFAULT_PORTS.gossip),
    listenHttp: raw.httpDisable ? null : listen(raw.listenHttp, 'HAB_LISTEN_HTTP', '0.0.0.0', DEFAULT_PORTS.http),
    listenCtl: listen(raw.listenCtl, 'HAB_LISTEN_CTL', '127.0.0.1', DEFAULT_PORTS.ctl),
    peers,
    permanentPeer: raw.permanentPeer ?? false,
    peerWatchFile: raw.peerWatchFile,
    sysIpAddress: raw.sysIpAddress,
    ring: ringFlag,
    ringKeyText,
    gossipPreset: preset === 'lan' ? 'lan' : 'localTest',
    ...(raw.org !== undefined ? { org: raw.org } : {}),
    ...(load ? { load } : {}),
    ...(httpTls ? { httpTls } : {}),
    ...(ctlTls ? { ctlTls } : {}),
  };
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Adds `sup run` and `sup term`; returns the `sup` command for the others (`sup-ctl.ts`). */
export function addSupCommands(program: Command, deps: CliDeps): Command {
  const sup = program.command('sup').description('the Supervisor: run one, stop one, depart a member, make a control secret');
  const run = sup
    .command('run')
    .description('run a Supervisor: join the gossip ring and serve the HTTP and control gateways; with PKG_IDENT_OR_ARTIFACT, load that service')
    .argument('[pkg_ident_or_artifact]', 'a service to load at start: ORIGIN/NAME[/VERSION[/RELEASE]], or the path of a .hart')
    .option('--listen-gossip <addr>', 'gossip address, UDP and TCP on one port (HAB_LISTEN_GOSSIP; default 0.0.0.0:9638)')
    .option('--listen-http <addr>', 'HTTP gateway address (HAB_LISTEN_HTTP; default 0.0.0.0:9631)')
    .option('-D, --http-disable', 'do not start the HTTP gateway')
    .option('--listen-ctl <addr>', 'control gateway address (HAB_LISTEN_CTL; default 127.0.0.1:9632)')
    .option('--peer <host[:port]>', 'a member to join through; repeatable; retried until reached', collect)
    .option('-I, --permanent-peer', 'this Supervisor is a permanent peer: probed whatever its health')
    .option('--peer-watch-file <path>', 'a file of peers, one host[:port] per line, re-read when it changes')
    .option('--sys-ip-address <ip>', 'the address other members reach this one at')
    .option('-r, --ring <name>', 'seal the ring with the latest revision of this ring key (HAB_RING)')
    .option('--org <org>', 'the organization of the service groups this Supervisor runs: services join SVC.GROUP@ORG')
    .option('--key <key_file>', 'serve the HTTP gateway over TLS with this private key (PEM, mode 0600); needs --certs')
    .option('--certs <cert_file>', 'the HTTP gateway\'s certificate chain (PEM, leaf first); needs --key')
    .option('--ca-certs <ca_cert_file>', 'require HTTP gateway clients to present a certificate signed by this CA (PEM)')
    .option('--ctl-server-certificate <path>', 'serve the control gateway over TLS with this certificate chain (PEM); needs --ctl-server-key')
    .option('--ctl-server-key <path>', 'the control gateway\'s private key (PEM, mode 0600); needs --ctl-server-certificate')
    .option('--ctl-client-ca-certificate <path>', 'require control gateway clients to present a certificate signed by this CA (PEM)');
  addLoadOptions(run).action(async (ident, opts) => {
    const request = parseSupRunOptions(opts, deps.env, ident);
    const code = await deps.runSupervisor(request);
    if (code !== 0) throw new ExitCode(code);
  });
  sup
    .command('term')
    .description('stop the Supervisor of this FS_ROOT gracefully (it announces its departure)')
    .action(async () => {
      const pid = await deps.termSupervisor();
      deps.stdout(`Sent SIGTERM to the Supervisor (PID ${pid})\n`);
    });
  return sup;
}
