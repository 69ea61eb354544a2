/**
 * `hab sup run`, composed: the real clock, timers and sockets, the ring key, the Supervisor, the
 * HTTP and control gateways, signals, and Habitat's start-up lines. Resolves to the exit code: 0
 * after a graceful stop, 86 after this member was departed from the ring (as Habitat's).
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname, networkInterfaces } from 'node:os';
import type { GatewayTlsFiles, SupRunRequest } from '../cli/sup.js';
import { formatHostPort, parseHostPort, DEFAULT_PORTS } from '../cli/sup.js';
import type { Logger, Random } from '../core/index.js';
import { MurmurError, seededRandom } from '../core/index.js';
import { checkSecretFileMode, createKeyring, formatNamedRevision, importKey, keyCachePath, keyFileName, latestRingKey, parseKeyText, readKeyFile, readTlsFiles, RING_KEY_HEADER, ringKeyRevisions, writeNewKey, type Keyring, type RingKey } from '../crypto/index.js';
import { CtlGateway } from '../ctl/index.js';
import { presets } from '../gossip/index.js';
import { createGatewayMetrics, HTTP_GATEWAY_METHODS, httpGateway } from '../http/index.js';
import { monotonicClock, RealTimers, startHttpServer, UdpTcpTransport, type HttpTlsOptions, type RunningHttpServer } from '../net/index.js';
import { formatOutputLine, loadOrCreateCtlSecret, RingKeys, ServiceManager, Supervisor, supPaths, type ServicesApi } from '../sup/index.js';
import { lineLogger } from './log.js';

/** Before the manager exists (the HTTP gateway starts first): no services. */
const NO_SERVICES: ServicesApi = {
  load: () => Promise.reject(new MurmurError('IO', 'the Supervisor is starting')),
  unload: () => Promise.reject(new MurmurError('IO', 'the Supervisor is starting')),
  start: () => Promise.reject(new MurmurError('IO', 'the Supervisor is starting')),
  stop: () => Promise.reject(new MurmurError('IO', 'the Supervisor is starting')),
  services: () => [],
  configShow: () => {
    throw new MurmurError('IO', 'the Supervisor is starting');
  },
  groupProgress: () => [],
  onCensusChange: () => () => {},
};

/** Random for the gossip core and member ids, seeded from the OS. */
function osRandom(): Random {
  return seededRandom(randomBytes(4).readUInt32LE(0));
}

/** The address other members should use: the flag, the listen host, or this host's first IPv4. */
function advertisedAddress(request: SupRunRequest): string {
  if (request.sysIpAddress) return request.sysIpAddress;
  const host = request.listenGossip.host;
  if (host !== '0.0.0.0' && host !== '::') return host;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

async function resolvePeers(peers: { host: string; port: number }[], log: Logger): Promise<string[]> {
  const out: string[] = [];
  for (const p of peers) {
    try {
      const { address } = await lookup(p.host);
      out.push(formatHostPort({ host: address, port: p.port }));
    } catch (err) {
      log.warn('cannot resolve peer: skipping it for now', { peer: formatHostPort(p), error: (err as Error).message });
    }
  }
  return out;
}

async function readPeerFile(path: string, log: Logger): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    log.warn('cannot read the peer watch file', { file: path, error: (err as Error).message });
    return [];
  }
  const peers = [];
  for (const line of text.split('\n')) {
    const entry = line.replace(/#.*/, '').trim();
    if (entry === '') continue;
    try {
      peers.push(parseHostPort('peer watch file', entry, DEFAULT_PORTS.gossip));
    } catch (err) {
      log.warn('skipping a bad line of the peer watch file', { file: path, line: entry, error: (err as Error).message });
    }
  }
  return resolvePeers(peers, log);
}

async function loadSealer(request: SupRunRequest, env: Readonly<Record<string, string | undefined>>): Promise<{ sealer: Keyring | undefined; ring: string | undefined }> {
  if (request.ring === undefined && request.ringKeyText === undefined) return { sealer: undefined, ring: undefined };
  const dir = keyCachePath(env);
  const file = request.ringKeyText !== undefined ? parseKeyText(request.ringKeyText, { expect: RING_KEY_HEADER, source: 'HAB_RING_KEY' }) : await latestRingKey(dir, request.ring as string);
  if (request.ringKeyText === undefined) await checkSecretFileMode(join(dir, keyFileName(file)), 'the ring key');
  if (request.ringKeyText !== undefined) await importKey(dir, request.ringKeyText, 'HAB_RING_KEY').catch(() => undefined);
  // Older revisions of the ring key open too (a member restarted during a rotation); the rotation
  // commands restored from the rumor store then say which key seals and which are removed.
  const older = request.ringKeyText === undefined ? await olderRingKeys(dir, file.name, file.revision) : [];
  const keyring = await createKeyring([{ name: file.name, revision: file.revision, key: file.key }, ...older]);
  return { sealer: keyring, ring: `${file.name}-${file.revision}` };
}

async function olderRingKeys(dir: string, name: string, latest: string): Promise<RingKey[]> {
  const out: RingKey[] = [];
  for (const revision of await ringKeyRevisions(dir, name)) {
    if (revision === latest) continue;
    const path = join(dir, keyFileName({ header: RING_KEY_HEADER, name, revision }));
    try {
      await checkSecretFileMode(path, 'the ring key');
      const file = await readKeyFile(path, RING_KEY_HEADER);
      out.push({ name: file.name, revision: file.revision, key: file.key });
    } catch {
      // An unreadable old revision is not needed to start: the current one is.
    }
  }
  return out;
}

/**
 * A gateway's TLS files, read and checked before anything listens (`crypto/tls-files.ts`): the
 * private key must be private (0600), each file must hold what its flag says, and the key must
 * match the certificate. Every error names the flag and the file, never the key's text.
 */
export async function readGatewayTls(files: GatewayTlsFiles): Promise<HttpTlsOptions> {
  const pems = await readTlsFiles(files);
  return { key: pems.key as Buffer, cert: pems.cert as Buffer, ...(pems.ca ? { ca: pems.ca } : {}) };
}

export async function runSupervisor(request: SupRunRequest, env: Readonly<Record<string, string | undefined>>, out: (line: string) => void): Promise<number> {
  const log = lineLogger(out);
  const paths = supPaths(env);
  // Everything that can be refused is checked before anything listens.
  const httpTls = request.httpTls ? await readGatewayTls(request.httpTls) : undefined;
  const ctlTls = request.ctlTls ? await readGatewayTls(request.ctlTls) : undefined;
  // The control gateway's secret, which the local CLI reads from the same file (CTL_SECRET).
  const secret = await loadOrCreateCtlSecret(paths);
  const { sealer, ring } = await loadSealer(request, env);
  const clock = monotonicClock;
  const timers = new RealTimers({ clock });
  const transport = new UdpTcpTransport({ log: log.child({ component: 'net' }) }, { host: request.listenGossip.host, port: request.listenGossip.port });
  const peers = request.peerWatchFile !== undefined ? await readPeerFile(request.peerWatchFile, log) : await resolvePeers(request.peers, log);
  const intervals = new Set<NodeJS.Timeout>();
  let sup: Supervisor | undefined;
  let http: RunningHttpServer | undefined;
  let watcher: FSWatcher | undefined;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));

  const bound = await transport.start((from: string, channel: 'datagram' | 'stream', bytes: Uint8Array) => sup?.receive(from, channel, bytes));
  try {
    sup = await Supervisor.open(
      {
        clock,
        random: osRandom(),
        log,
        transport,
        timers,
        ...(sealer ? { sealer } : {}),
        every: (ms, run) => {
          const t = setInterval(run, ms);
          t.unref();
          intervals.add(t);
          return () => {
            clearInterval(t);
            intervals.delete(t);
          };
        },
      },
      {
        paths,
        address: advertisedAddress(request),
        gossipPort: bound.port,
        seeds: peers,
        permanent: request.permanentPeer,
        gossip: presets[request.gossipPreset],
      },
    );
  } catch (err) {
    await transport.stop();
    timers.stop();
    throw err;
  }
  const supervisor = sup;
  // Ring key rotation (`hab ring key install|use|remove`), applied from gossip. The commands
  // restored from disk are applied before anything is sent: they say which of the revisions
  // loaded seals (the newest may not be in use yet, or may have been removed).
  const ringKeys = sealer
    ? new RingKeys({ keyring: sealer, ring: supervisor, persist: (key) => writeNewKey(paths.keyCacheDir, { header: RING_KEY_HEADER, ...key }), log })
    : undefined;
  if (ringKeys) supervisor.node.onEvent(ringKeys.onEvent);
  ringKeys?.applyCommands();
  out(`hab-sup(MR): Supervisor Member-ID ${supervisor.id}`);
  const sealing = sealer?.primary === undefined ? ring : formatNamedRevision(sealer.primary);
  if (sealing) out(`hab-sup(MR): Using ring key ${sealing}`);
  out(`hab-sup(MR): Starting gossip-listener on ${formatHostPort(bound)}`);
  const abandon = async (err: unknown): Promise<never> => {
    await http?.stop();
    await supervisor.stop();
    await transport.stop();
    timers.stop();
    throw err;
  };
  let httpLine: string | undefined;
  // The HTTP gateway's metrics read the ctl gateway's refusals once it exists (it starts after).
  let ctlGateway: CtlGateway | undefined = undefined;
  let services: ServiceManager | undefined = undefined;
  const gatewaySource = {
    supervisor: () => supervisor,
    ctlUnauthorized: () => ctlGateway?.counters.unauthorized ?? 0,
    ...{ services: (): ServicesApi => services ?? NO_SERVICES },
  };
  const metrics = createGatewayMetrics(gatewaySource);
  supervisor.node.onEvent(metrics.onGossipEvent);
  if (request.listenHttp) {
    const gateway = httpGateway(gatewaySource, { metrics, authToken: env.HAB_SUP_GATEWAY_AUTH_TOKEN, log: log.child({ component: 'http' }) });
    const listen = request.listenHttp;
    // Read-only: GET and HEAD without bodies (405 and 413 otherwise), with the default limits.
    http = await startHttpServer(gateway, { host: listen.host, port: listen.port, tls: httpTls, methods: HTTP_GATEWAY_METHODS }).catch((err: NodeJS.ErrnoException) =>
      abandon(new MurmurError('IO', `cannot start the HTTP gateway on ${formatHostPort(listen)}: ${err.code ?? err.message} (choose another with --listen-http, or --http-disable)`, { cause: err })),
    );
    httpLine = `hab-sup(MR): Starting http-gateway on ${formatHostPort(http.address)}`;
  }
  const manager = new ServiceManager(
    { log, sink: (line) => out(formatOutputLine(line)), clock, wallNow: () => Date.now(), random: osRandom(), ring: supervisor },
    { habRoot: paths.habRoot, specsDir: paths.specsDir, keyCacheDir: paths.keyCacheDir, env, org: request.org ?? null },
  );
  services = manager;
  const ctl = new CtlGateway({
    supervisor,
    ringKeys,
    secret,
    log: log.child({ component: 'ctl' }),
    services: manager,
    // TLS when asked for, and the same timeouts and connection caps as the HTTP gateway.
    listen: (handle, at) => startHttpServer(handle, { host: at.host, port: at.port, tls: ctlTls }),
  });
  ctlGateway = ctl;
  const ctlAddress = await ctl.start(request.listenCtl).catch(abandon);
  // Printed before the http-gateway line: whoever waits for that line (tests, scripts) then has both.
  if (ctlTls) out(`hab-sup(MR): ctl-gateway uses TLS${ctlTls.ca ? ', client certificates required' : ''}`);
  if (httpTls) out(`hab-sup(MR): http-gateway uses TLS${httpTls.ca ? ', client certificates required' : ''}`);
  out(`hab-sup(MR): Starting ctl-gateway on ${formatHostPort(ctlAddress)}`);
  if (httpLine !== undefined) out(httpLine);
  const advertised = advertisedAddress(request);
  const httpAddr = http?.address;
  supervisor.sysInfo = {
    ip: advertised,
    hostname: hostname(),
    gossipIp: advertised,
    gossipPort: bound.port,
    httpGatewayIp: httpAddr?.host ?? '',
    httpGatewayPort: httpAddr?.port ?? 0,
    ctlGatewayIp: ctlAddress.host,
    ctlGatewayPort: ctlAddress.port,
  };
  supervisor.start();
  ringKeys?.reconcile();
  await manager.open();
  if (request.load) {
    const load = request.load;
    void manager.load(load).catch((err: unknown) => {
      if (err instanceof MurmurError && err.code === 'CONFLICT') log.info('service already loaded: keeping its spec', { ident: load.ident });
      else log.error('cannot load the service given to hab sup run', { ident: load.ident, error: (err as Error).message });
    });
  }
  if (request.peerWatchFile !== undefined) {
    const file = request.peerWatchFile;
    const reread = (): void => void readPeerFile(file, log).then((p) => supervisor.replaceSeeds(p));
    try {
      watcher = watch(file, { persistent: false }, reread);
    } catch (err) {
      log.warn('cannot watch the peer file: it is read once', { file, error: (err as Error).message });
    }
  }

  let stopping = false;
  const shutdown = async (code: number, graceful: boolean): Promise<void> => {
    if (stopping) return;
    stopping = true;
    watcher?.close();
    // Services stop first (shutdown signal, timeout, post-stop), while the ring still hears us.
    await manager.close();
    if (graceful) {
      out('hab-sup(MR): Leaving the ring');
      await supervisor.term();
      // Let the departure streams go out before the sockets close.
      await new Promise((r) => setTimeout(r, 300));
    } else {
      await supervisor.stop();
    }
    for (const t of intervals) clearInterval(t);
    await http?.stop();
    await ctl.stop();
    await transport.stop();
    timers.stop();
    finish(code);
  };
  const onSignal = (): void => void shutdown(0, true);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  supervisor.onDeparted = () => void shutdown(86, false);
  const code = await done;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}
