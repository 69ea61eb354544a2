/**
 * Socket addresses as the gossip layer writes them (`PeerAddress`: `host:port`, `[v6]:port`) and
 * as sockets report them. One spelling per endpoint, so that an address read off a socket can be
 * compared with, and used as a key for, an address the gossip core asks to send to: IPv4-mapped
 * IPv6 (`::ffff:10.0.0.2`, what a dual-stack socket reports for an IPv4 peer) becomes plain IPv4.
 */
import { isIP, isIPv4 } from 'node:net';
import type { PeerAddress } from '../wire/index.js';

export interface HostPort {
  host: string;
  port: number;
}

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/** `::ffff:1.2.3.4` → `1.2.3.4`; any other host as given. */
export function normalizeHost(host: string): string {
  const mapped = MAPPED_V4.exec(host);
  return mapped?.[1] ?? host;
}

/** `host:port`, with brackets around an IPv6 host; the host is normalised first. */
export function formatAddress(host: string, port: number): PeerAddress {
  const h = normalizeHost(host);
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}

/**
 * `host:port` or `[v6]:port` → its parts, or `undefined` when it is not one (no port, a port
 * outside 1..65535, an unbracketed IPv6 address, an empty host). Never throws.
 */
export function parseAddress(address: string): HostPort | undefined {
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0 || address[close + 1] !== ':') return undefined;
    host = address.slice(1, close);
    portText = address.slice(close + 2);
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = address.lastIndexOf(':');
    if (colon <= 0) return undefined;
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (host.includes(':')) return undefined;
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65_535) return undefined;
  return { host: normalizeHost(host), port };
}

/**
 * The host as an IPv6 socket must be given it: an IPv4 literal becomes IPv4-mapped, so that a
 * dual-stack (`udp6` bound to `::`) socket can reach IPv4 peers.
 */
export function toIPv6Socket(host: string): string {
  return isIPv4(host) ? `::ffff:${host}` : host;
}
