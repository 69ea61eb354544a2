/**
 * The real transport: SWIM datagrams over UDP and stream messages (rumor pushes, large rumors,
 * state sync) over TCP, both on one port number (ARCHITECTURE.md §2), the same host:port a peer
 * knows this member by. It carries bytes and nothing else: it never decodes a packet, and it
 * reports every packet to one handler as `(from, channel, bytes)`, the way `SimNetwork` does,
 * so that the gossip shell cannot tell which network it runs on (test/net/ runs one compliance
 * suite against both).
 *
 * Datagrams: one UDP socket sends and receives, so a datagram's source port is the gossip port
 * and `from` is an address a peer can answer. Each send is one `sendto`; nothing is retried.
 *
 * Streams: each message is a frame (`frame.ts`) on a TCP connection. Outbound connections are
 * pooled per destination and reused; messages sent while one connects wait in order, and are
 * dropped (counted) if it fails. `from` of a stream message is the connection's remote address,
 * which for an inbound connection carries the peer's ephemeral port, so a send to such an address
 * goes back on that connection rather than to a port nobody listens on; frames arriving on an
 * outbound connection are reported too. Connections close after `idleConnectionMs` without
 * traffic (the side that opened it first: inbound ones wait twice as long, so that a sender
 * rarely writes into a connection its peer is closing).
 *
 * Nothing here throws at a sender: unreachable networks, refused connections, oversized
 * datagrams and a stopped transport are counted in `counters` and logged (at most once a minute
 * per destination and kind), and the gossip core's timeouts deal with what did not arrive.
 *
 * Compare hashicorp/memberlist `net_transport.go` (one UDP and one TCP listener on the same port,
 * with the same port-0 retry) and Habitat butterfly, which keeps its SWIM and gossip ports apart.
 */
import dgram from 'node:dgram';
import net, { isIP } from 'node:net';
import type { Clock, Logger } from '../core/index.js';
import { MurmurError } from '../core/index.js';
import type { PeerAddress } from '../wire/index.js';
import { formatAddress, parseAddress, toIPv6Socket, type HostPort } from './address.js';
import { FRAME_HEADER_BYTES, FrameDecoder, MAX_FRAME_LENGTH, encodeFrameHeader } from './frame.js';
import { monotonicClock } from './timers.js';

/** The two ways bytes travel: identical to gossip's `Channel` (net may not import gossip). */
export type Channel = 'datagram' | 'stream';

/** Called for every packet that arrives. */
export type PacketHandler = (from: PeerAddress, channel: Channel, bytes: Uint8Array) => void;

/**
 * What the gossip shell sends through: structurally gossip's `Transport`, which the composition
 * root passes this for.
 */
export interface PacketTransport {
  send(to: PeerAddress, channel: Channel, bytes: Uint8Array): void;
}

export interface TransportCounters {
  /** Datagrams handed to the handler, and their bytes. */
  datagramsIn: number;
  datagramBytesIn: number;
  /** Datagrams the OS accepted for sending, and their bytes. */
  datagramsOut: number;
  datagramBytesOut: number;
  /** Stream messages handed to the handler, and their bytes (prefixes not counted). */
  streamsIn: number;
  streamBytesIn: number;
  /** Stream messages written to a connection, and their bytes (prefixes not counted). */
  streamsOut: number;
  streamBytesOut: number;
  /**
   * Sends that failed at once or when the OS answered: a bad address, a stopped transport, a
   * datagram the OS refused (EMSGSIZE, ENETUNREACH, EPERM…), a stream message over
   * `maxFrameBytes` or over `maxQueuedBytes` of backlog.
   */
  sendErrors: number;
  /** Outbound connections that failed or timed out before connecting. */
  connectErrors: number;
  /** Stream messages that were waiting for a connection that then failed. */
  streamsDropped: number;
  /** Inbound frames whose length prefix was over `maxFrameBytes` (the connection was closed). */
  oversizedFrames: number;
  /** Datagrams received over `maxDatagramBytes` (dropped). */
  oversizedDatagrams: number;
  /** Packets whose handler threw (the exception is logged and the transport carries on). */
  handlerErrors: number;
}

export interface UdpTcpTransportDeps {
  /** This component's logger (the composition root binds `component: 'net'`). */
  log: Logger;
  /** For rate-limiting logs. @default monotonicClock */
  clock?: Clock;
}

export interface UdpTcpTransportOptions {
  /**
   * The IP address to listen on (`0.0.0.0`, `::` for dual stack, or one of this host's
   * addresses); an IPv6 address selects `udp6`. A specific address is also the source address
   * of outbound TCP connections, so that peers see the same host on both channels.
   */
  host: string;
  /** The port for both UDP and TCP; 0 picks one that is free for both. */
  port: number;
  /**
   * Largest datagram accepted; larger ones are dropped and counted. Sends are limited only by
   * the OS (65 507 bytes over IPv4); the gossip core keeps its own datagrams under ~1400.
   * @default 65_507
   */
  maxDatagramBytes?: number;
  /**
   * Largest stream message, in bytes, sent or received; an inbound length prefix over it closes
   * the connection. @default 33_554_432 (32 MiB)
   */
  maxFrameBytes?: number;
  /**
   * An outbound connection without traffic for this long is closed; inbound ones after twice
   * this. @default 30_000 (ms)
   */
  idleConnectionMs?: number;
  /** An outbound connection not established after this long fails. @default 5_000 (ms) */
  connectTimeoutMs?: number;
  /**
   * Bytes of stream messages that may wait per connection (while it connects, or unread by a
   * slow peer) before further messages to it are refused. Must be at least
   * `maxFrameBytes + 4`. @default 2 * maxFrameBytes + 8 (64 MiB + 8)
   */
  maxQueuedBytes?: number;
}

/** How many ports to try, with port 0, before giving up on one free for both UDP and TCP. */
const PORT_TRIES = 20;
/** Logs about one destination and kind of failure are written at most once per this window. */
const LOG_WINDOW_MS = 60_000;

type Phase = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** One TCP connection, either way. */
class Connection {
  state: 'connecting' | 'open' | 'closed';
  /** `end()` was called (idle close): no more writes. */
  ending = false;
  /** Messages sent while connecting. */
  queue: Uint8Array[] = [];
  queuedBytes = 0;
  lastError: Error | undefined = undefined;
  readonly decoder: FrameDecoder;
  readonly closed: Promise<void>;

  constructor(
    /** The peer's address, normalised: what `from` says and what the pool is keyed by. */
    readonly key: PeerAddress,
    readonly socket: net.Socket,
    readonly outbound: boolean,
    maxFrameBytes: number,
  ) {
    this.state = outbound ? 'connecting' : 'open';
    this.decoder = new FrameDecoder(maxFrameBytes);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  get writable(): boolean {
    return this.state === 'connecting' || (this.state === 'open' && !this.ending && this.socket.writable);
  }
}

export class UdpTcpTransport implements PacketTransport {
  readonly counters: TransportCounters = {
    datagramsIn: 0,
    datagramBytesIn: 0,
    datagramsOut: 0,
    datagramBytesOut: 0,
    streamsIn: 0,
    streamBytesIn: 0,
    streamsOut: 0,
    streamBytesOut: 0,
    sendErrors: 0,
    connectErrors: 0,
    streamsDropped: 0,
    oversizedFrames: 0,
    oversizedDatagrams: 0,
    handlerErrors: 0,
  };

  private readonly log: Logger;
  private readonly logLimit: OncePerWindow;
  private readonly host: string;
  private readonly port: number;
  private readonly udpType: 'udp4' | 'udp6';
  /** Source address for outbound connections: the listen host unless it is a wildcard. */
  private readonly localAddress: string | undefined;
  private readonly maxDatagramBytes: number;
  private readonly maxFrameBytes: number;
  private readonly idleConnectionMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxQueuedBytes: number;

  private phase: Phase = 'new';
  private startPromise: Promise<HostPort> | undefined = undefined;
  private stopPromise: Promise<void> | undefined = undefined;
  private bound: HostPort | undefined = undefined;
  private handler: PacketHandler = () => {};
  private udp: dgram.Socket | undefined = undefined;
  private server: net.Server | undefined = undefined;
  private readonly outbound = new Map<PeerAddress, Connection>();
  private readonly inbound = new Map<PeerAddress, Connection>();
  private readonly connections = new Set<Connection>();

  constructor(deps: UdpTcpTransportDeps, opts: UdpTcpTransportOptions) {
    this.log = deps.log;
    this.logLimit = new OncePerWindow(deps.clock ?? monotonicClock, LOG_WINDOW_MS);
    const host = opts.host.startsWith('[') && opts.host.endsWith(']') ? opts.host.slice(1, -1) : opts.host;
    const family = net.isIP(host);
    if (family === 0) {
      throw new MurmurError('BAD_INPUT', `listen address ${opts.host} is not an IP address`);
    }
    this.host = host;
    this.udpType = family === 6 ? 'udp6' : 'udp4';
    this.localAddress = host === '0.0.0.0' || host === '::' ? undefined : host;
    this.port = checkInteger('port', opts.port, 0, 65_535);
    this.maxDatagramBytes = checkInteger('maxDatagramBytes', opts.maxDatagramBytes ?? 65_507, 1, 65_535);
    this.maxFrameBytes = checkInteger('maxFrameBytes', opts.maxFrameBytes ?? 32 * 1024 * 1024, 0, MAX_FRAME_LENGTH);
    this.idleConnectionMs = checkInteger('idleConnectionMs', opts.idleConnectionMs ?? 30_000, 1, 2 ** 30);
    this.connectTimeoutMs = checkInteger('connectTimeoutMs', opts.connectTimeoutMs ?? 5_000, 1, 2 ** 31 - 1);
    this.maxQueuedBytes = checkInteger(
      'maxQueuedBytes',
      opts.maxQueuedBytes ?? 2 * (this.maxFrameBytes + FRAME_HEADER_BYTES),
      this.maxFrameBytes + FRAME_HEADER_BYTES,
      Number.MAX_SAFE_INTEGER,
    );
  }

  /** The address bound by `start`, while running. */
  get address(): HostPort | undefined {
    return this.phase === 'running' ? this.bound : undefined;
  }

  /** Open TCP connections, by who opened them (for metrics and tests). */
  connectionCounts(): { outbound: number; inbound: number } {
    let outbound = 0;
    for (const conn of this.connections) if (conn.outbound) outbound++;
    return { outbound, inbound: this.connections.size - outbound };
  }

  /**
   * Binds UDP and TCP on `host:port` and starts handing packets to `onPacket`; resolves to the
   * bound address (the real port when `port` was 0). Calling it again returns the same promise.
   * Rejects with `MurmurError('IO')` naming the address when it cannot bind; after a rejection
   * it may be called again. A transport that was stopped does not start again.
   */
  start(onPacket: PacketHandler): Promise<HostPort> {
    if (this.phase === 'stopping' || this.phase === 'stopped') {
      return Promise.reject(new MurmurError('INTERNAL', 'a stopped transport cannot start again'));
    }
    if (this.startPromise !== undefined) return this.startPromise;
    this.phase = 'starting';
    this.handler = onPacket;
    const started = this.bind();
    this.startPromise = started;
    started.catch(() => {
      if (this.phase === 'starting') {
        this.phase = 'new';
        this.startPromise = undefined;
      }
    });
    return started;
  }

  /** Closes the sockets and every connection; what is queued is dropped. Idempotent. */
  stop(): Promise<void> {
    this.stopPromise ??= this.close();
    return this.stopPromise;
  }

  /** Sends `bytes` to `to`; never throws (failures are counted and logged). */
  send(to: PeerAddress, channel: Channel, bytes: Uint8Array): void {
    try {
      if (channel === 'datagram') this.sendDatagram(to, bytes);
      else this.sendStream(to, bytes);
    } catch (err) {
      this.sendFailed(to, channel, err);
    }
  }

  // ------------------------------------------------------------------------------ datagrams

  private sendDatagram(to: PeerAddress, bytes: Uint8Array): void {
    const udp = this.udp;
    if (this.phase !== 'running' || udp === undefined) {
      this.sendFailed(to, 'datagram', 'the transport is not running');
      return;
    }
    const target = this.target(to, 'datagram');
    if (target === undefined) return;
    const host = this.udpType === 'udp6' ? toIPv6Socket(target.host) : target.host;
    const length = bytes.length;
    udp.send(bytes, target.port, host, (err) => {
      if (err) {
        this.sendFailed(to, 'datagram', err);
      } else {
        this.counters.datagramsOut++;
        this.counters.datagramBytesOut += length;
      }
    });
  }

  private handleDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.phase !== 'running') return;
    const from = formatAddress(rinfo.address, rinfo.port);
    if (msg.length > this.maxDatagramBytes) {
      this.counters.oversizedDatagrams++;
      if (this.logLimit.allow(`oversized-datagram ${from}`)) {
        this.log.warn('datagram over maxDatagramBytes dropped', { from, bytes: msg.length, max: this.maxDatagramBytes });
      }
      return;
    }
    this.counters.datagramsIn++;
    this.counters.datagramBytesIn += msg.length;
    this.deliver(from, 'datagram', new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
  }

  // -------------------------------------------------------------------------------- streams

  private sendStream(to: PeerAddress, bytes: Uint8Array): void {
    if (this.phase !== 'running') {
      this.sendFailed(to, 'stream', 'the transport is not running');
      return;
    }
    if (bytes.length > this.maxFrameBytes) {
      this.sendFailed(to, 'stream', `a message of ${bytes.length} bytes is over maxFrameBytes (${this.maxFrameBytes})`);
      return;
    }
    const target = this.target(to, 'stream');
    if (target === undefined) return;
    const key = formatAddress(target.host, target.port);
    let conn = this.outbound.get(key);
    if (conn !== undefined && !conn.writable) {
      this.forget(conn);
      conn = undefined;
    }
    if (conn === undefined) {
      const back = this.inbound.get(key);
      if (back !== undefined && back.writable) conn = back;
    }
    conn ??= this.connect(key, target);
    const size = FRAME_HEADER_BYTES + bytes.length;
    const backlog = conn.state === 'connecting' ? conn.queuedBytes : conn.socket.writableLength;
    if (backlog + size > this.maxQueuedBytes) {
      this.sendFailed(to, 'stream', `over maxQueuedBytes (${this.maxQueuedBytes}) waiting for this peer`);
      return;
    }
    if (conn.state === 'connecting') {
      conn.queue.push(bytes);
      conn.queuedBytes += size;
    } else {
      this.write(conn, bytes);
    }
  }

  private connect(key: PeerAddress, target: HostPort): Connection {
    const options: net.TcpNetConnectOpts = { host: target.host, port: target.port, noDelay: true };
    if (this.localAddress !== undefined && net.isIP(target.host) === net.isIP(this.localAddress)) {
      options.localAddress = this.localAddress;
    }
    const socket = net.connect(options);
    const conn = new Connection(key, socket, true, this.maxFrameBytes);
    this.outbound.set(key, conn);
    this.track(conn);
    const timer = setTimeout(() => {
      socket.destroy(new Error(`not connected after ${this.connectTimeoutMs} ms`));
    }, this.connectTimeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.once('connect', () => {
      clearTimeout(timer);
      conn.state = 'open';
      socket.setTimeout(this.idleConnectionMs);
      const queue = conn.queue;
      conn.queue = [];
      conn.queuedBytes = 0;
      socket.cork();
      for (const bytes of queue) this.write(conn, bytes);
      socket.uncork();
    });
    return conn;
  }

  private handleConnection(socket: net.Socket): void {
    const { remoteAddress, remotePort } = socket;
    if (this.phase !== 'running' || remoteAddress === undefined || remotePort === undefined) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.setTimeout(2 * this.idleConnectionMs);
    const conn = new Connection(formatAddress(remoteAddress, remotePort), socket, false, this.maxFrameBytes);
    this.inbound.set(conn.key, conn);
    this.track(conn);
  }

  /** The handlers every connection gets, either way. */
  private track(conn: Connection): void {
    const { socket } = conn;
    this.connections.add(conn);
    socket.on('data', (chunk: Buffer) => this.handleData(conn, chunk));
    socket.on('error', (err) => (conn.lastError = err));
    socket.on('end', () => this.forget(conn));
    socket.on('timeout', () => this.handleIdle(conn));
    socket.once('close', () => this.handleClose(conn));
  }

  private write(conn: Connection, bytes: Uint8Array): void {
    const { socket } = conn;
    socket.cork();
    socket.write(encodeFrameHeader(bytes.length));
    socket.write(bytes);
    socket.uncork();
    this.counters.streamsOut++;
    this.counters.streamBytesOut += bytes.length;
  }

  private handleData(conn: Connection, chunk: Buffer): void {
    const { frames, error } = conn.decoder.push(chunk);
    for (const frame of frames) {
      if (this.phase !== 'running' || conn.state === 'closed') return;
      this.counters.streamsIn++;
      this.counters.streamBytesIn += frame.length;
      this.deliver(conn.key, 'stream', frame);
    }
    if (error !== undefined) {
      this.counters.oversizedFrames++;
      if (this.logLimit.allow(`oversized-frame ${conn.key}`)) {
        this.log.warn('stream frame over maxFrameBytes: closing the connection', {
          from: conn.key,
          length: error.length,
          max: error.max,
        });
      }
      conn.socket.destroy();
    }
  }

  /** No traffic for the idle time: close gracefully, or for good if it was already closing. */
  private handleIdle(conn: Connection): void {
    this.forget(conn);
    if (conn.ending || conn.socket.writableLength > 0) {
      conn.socket.destroy();
    } else {
      conn.ending = true;
      conn.socket.end();
    }
  }

  private handleClose(conn: Connection): void {
    const wasConnecting = conn.state === 'connecting';
    conn.state = 'closed';
    this.forget(conn);
    this.connections.delete(conn);
    if (wasConnecting && this.phase === 'running') {
      const dropped = conn.queue.length;
      this.counters.connectErrors++;
      this.counters.streamsDropped += dropped;
      if (this.logLimit.allow(`connect ${conn.key}`)) {
        this.log.warn('stream connection failed', {
          to: conn.key,
          error: conn.lastError?.message ?? 'closed while connecting',
          code: errorCode(conn.lastError),
          dropped,
        });
      }
    } else if (conn.lastError !== undefined && this.phase === 'running') {
      this.log.debug('stream connection closed on error', { peer: conn.key, error: conn.lastError.message });
    }
    conn.queue = [];
    conn.queuedBytes = 0;
  }

  /** Takes a connection out of the pools, so that new messages go elsewhere. */
  private forget(conn: Connection): void {
    const pool = conn.outbound ? this.outbound : this.inbound;
    if (pool.get(conn.key) === conn) pool.delete(conn.key);
  }

  // ------------------------------------------------------------------------------ lifecycle

  private async bind(): Promise<HostPort> {
    const { udp, server, port } = this.port === 0 ? await this.openAnyPort() : await this.openPort(this.port);
    if (this.phase !== 'starting') {
      await Promise.all([closeUdp(udp), closeServer(server)]);
      throw new MurmurError('IO', `the transport on ${formatAddress(this.host, port)} was stopped while starting`);
    }
    udp.on('message', (msg, rinfo) => this.handleDatagram(msg, rinfo));
    udp.on('error', (err) => this.log.warn('udp socket error', { error: err.message }));
    server.on('connection', (socket) => this.handleConnection(socket));
    server.on('error', (err) => this.log.warn('tcp server error', { error: err.message }));
    this.udp = udp;
    this.server = server;
    this.bound = { host: this.host, port };
    this.phase = 'running';
    this.log.info('listening', { address: formatAddress(this.host, port) });
    return this.bound;
  }

  /** Binds both on a fixed port. */
  private async openPort(port: number): Promise<Listeners> {
    const udp = await bindUdp(this.udpType, this.host, port).catch((err: unknown) => {
      throw bindError(this.host, port, err);
    });
    try {
      const server = await listenTcp(this.host, port);
      return { udp, server, port };
    } catch (err) {
      await closeUdp(udp);
      throw bindError(this.host, port, err);
    }
  }

  /**
   * Port 0: lets the OS pick a free UDP port, then binds TCP to the same number; another program
   * may hold that number for TCP, so it tries again with another, up to PORT_TRIES times.
   */
  private async openAnyPort(): Promise<Listeners> {
    let lastError: unknown;
    for (let i = 0; i < PORT_TRIES; i++) {
      const udp = await bindUdp(this.udpType, this.host, 0).catch((err: unknown) => {
        throw bindError(this.host, 0, err);
      });
      const port = udp.address().port;
      try {
        const server = await listenTcp(this.host, port);
        return { udp, server, port };
      } catch (err) {
        await closeUdp(udp);
        if (errorCode(err) !== 'EADDRINUSE') throw bindError(this.host, port, err);
        lastError = err;
      }
    }
    throw new MurmurError(
      'IO',
      `found no port free for both UDP and TCP on ${this.host} in ${PORT_TRIES} tries: choose one with --listen-gossip`,
      { cause: lastError },
    );
  }

  private async close(): Promise<void> {
    const starting = this.startPromise;
    this.phase = 'stopping';
    if (starting !== undefined) await starting.catch(() => {});
    const closing: Promise<void>[] = [];
    for (const conn of this.connections) {
      conn.socket.destroy();
      closing.push(conn.closed);
    }
    if (this.udp !== undefined) closing.push(closeUdp(this.udp));
    if (this.server !== undefined) closing.push(closeServer(this.server));
    await Promise.all(closing);
    this.outbound.clear();
    this.inbound.clear();
    this.udp = undefined;
    this.server = undefined;
    this.phase = 'stopped';
    if (this.bound !== undefined) this.log.info('stopped', { address: formatAddress(this.bound.host, this.bound.port) });
  }

  // -------------------------------------------------------------------------------- helpers

  private deliver(from: PeerAddress, channel: Channel, bytes: Uint8Array): void {
    try {
      this.handler(from, channel, bytes);
    } catch (err) {
      this.counters.handlerErrors++;
      this.log.error('packet handler threw', { from, channel, error: describe(err) });
    }
  }

  /**
   * Where a send goes: an IP literal and a port, or a failed send (counted). A host name is never
   * resolved here: one per packet would queue on libuv's four resolver threads, for names that a
   * gossiped record could choose (the core refuses such records; the Supervisor resolves `--peer`
   * once).
   */
  private target(to: PeerAddress, channel: Channel): HostPort | undefined {
    const target = parseAddress(to);
    if (target === undefined) {
      this.sendFailed(to, channel, 'not a host:port address');
      return undefined;
    }
    if (isIP(target.host) === 0) {
      this.sendFailed(to, channel, 'not an IP address: host names are not resolved per packet');
      return undefined;
    }
    return target;
  }

  private sendFailed(to: PeerAddress, channel: Channel, reason: unknown): void {
    this.counters.sendErrors++;
    const code = typeof reason === 'string' ? undefined : errorCode(reason);
    if (this.logLimit.allow(`send ${channel} ${to} ${code ?? 'refused'}`)) {
      this.log.warn('send failed', { to, channel, error: describe(reason), ...(code === undefined ? {} : { code }) });
    }
  }
}

interface Listeners {
  udp: dgram.Socket;
  server: net.Server;
  port: number;
}

function bindUdp(type: 'udp4' | 'udp6', host: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type, reuseAddr: false });
    const onError = (err: Error): void => {
      void closeUdp(socket).then(() => reject(err));
    };
    socket.once('error', onError);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function listenTcp(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ noDelay: true });
    const onError = (err: Error): void => {
      server.close();
      reject(err);
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}

function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed, or never bound
    }
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The operator-facing error for a failed bind: the address, what it means, what to do. */
function bindError(host: string, port: number, cause: unknown): MurmurError {
  const address = formatAddress(host, port);
  const code = errorCode(cause);
  const message =
    code === 'EADDRINUSE'
      ? `address ${address} is in use: is another Supervisor running? choose another with --listen-gossip`
      : code === 'EADDRNOTAVAIL'
        ? `address ${address} is not an address of this host: choose another with --listen-gossip`
        : code === 'EACCES'
          ? `not allowed to listen on ${address} (ports below 1024 need privileges): choose another with --listen-gossip`
          : `cannot listen on ${address}: ${describe(cause)}`;
  return new MurmurError('IO', message, { cause });
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new MurmurError('BAD_INPUT', `${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/** Says yes to a key at most once per window: keeps a flood of one failure out of the log. */
class OncePerWindow {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
  ) {}

  allow(key: string): boolean {
    const now = this.clock.now();
    const last = this.last.get(key);
    if (last !== undefined && now - last < this.windowMs) return false;
    if (this.last.size >= 1024) {
      for (const [k, t] of this.last) if (now - t >= this.windowMs) this.last.delete(k);
      if (this.last.size >= 1024) this.last.clear();
    }
    this.last.set(key, now);
    return true;
  }
}
