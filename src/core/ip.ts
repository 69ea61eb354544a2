/**
 * IP literals, as pure string checks (no `node:net`, so that every layer, the gossip core
 * included, may use them).
 *
 * The gossip core sends only to member addresses that are IP literals (docs/security.md
 * "Fuzzing"). A member's address comes from whoever gossiped its record, and every member sends
 * to it (probes, pushes, state): a host name there would make every Supervisor that holds the
 * record resolve it before each send, on libuv's four resolver threads, for any name any sender
 * chooses — a way to stall the ring and to point its traffic wherever that name leads. So a record
 * whose address is not an IPv4 or IPv6 literal is refused where it comes in (`GossipCore`,
 * counted), `--sys-ip-address` must be one, and host names given by the operator (`--peer`,
 * `--peer-watch-file`) are resolved once by the Supervisor before they reach the core.
 */

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

/** `10.0.0.2`: four decimal octets, 0–255, without leading zeros. */
export function isIPv4Literal(text: string): boolean {
  return IPV4.test(text);
}

/**
 * `fe80::1`, `2001:db8::8:800:200c:417a`, `::ffff:10.0.0.2`: RFC 4291 §2.2 text, unbracketed. A
 * zone (`%eth0`) is refused: it names an interface of the host that wrote it, not of ours.
 */
export function isIPv6Literal(text: string): boolean {
  if (text.length < 2 || text.length > 45) return false;
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groups = (half: string): string[] => (half === '' ? [] : half.split(':'));
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  const all = [...head, ...tail];
  // The last group may be an embedded IPv4 address, worth two groups.
  let count = all.length;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes('.')) {
    if (!isIPv4Literal(last) || text.endsWith(':')) return false;
    all.pop();
    count += 1;
  }
  if (!all.every((g) => HEX_GROUP.test(g))) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** An IPv4 or IPv6 literal, nothing that would need resolving. */
export function isIpLiteral(text: string): boolean {
  return isIPv4Literal(text) || isIPv6Literal(text);
}
