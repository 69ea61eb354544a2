/**
 * Target (a), in-process: the wire decoders and what sits right behind them.
 *
 * For each input:
 * - `decodePacket` on the raw bytes never throws and gives a typed error or a packet; a packet
 *   it gives re-encodes, and decodes again to the same value (round trip);
 * - the bytes in an unsealed envelope, and sealed with a ring key and then mutated, go through
 *   `Keyring.open` (never throws; a sealed envelope that was changed never opens), then
 *   `decodePacket` on what opened;
 * - a decoded packet goes into a `GossipCore` whose id is in the pools (so rumors about the
 *   receiver itself arrive), whose timers fire as virtual time advances: nothing may throw;
 * - every few inputs, rumor bytes (generated and mutated) go through `decodeRumor`.
 */
import { isDeepStrictEqual } from 'node:util';
import { seededRandom } from '../../src/core/index.js';
import { Keyring, sealWithNonce, type RingKey } from '../../src/crypto/index.js';
import { GossipCore, presets, type Effect, type Timer } from '../../src/gossip/index.js';
import { decodePacket, decodeRumor, encodePacket, type DecodeErrorCode } from '../../src/wire/index.js';
import { makePools } from './inputs.js';
import { Mutator } from './mutate.js';
import { addFinding, emptyReport, hexOf, type TargetReport } from './report.js';
import { PacketSource, RumorSource } from './source.js';

const DECODE_CODES: readonly DecodeErrorCode[] = ['too-large', 'truncated', 'malformed', 'invalid'];
const OPEN_CODES = ['truncated', 'bad-magic', 'bad-version', 'not-sealed', 'sealed-without-key', 'unknown-key', 'bad-mac'];
/** One input slower than this is a hang. */
const HANG_MS = 1000;
const SELF = 'f0'.repeat(16);

export function ringKey(seed: number): RingKey {
  const key = new Uint8Array(32);
  const r = seededRandom(seed);
  for (let i = 0; i < 32; i++) key[i] = r.int(256);
  return { name: 'fuzz', revision: '20260101000000', key };
}

export async function fuzzWire(opts: { inputs: number; seed: number; onProgress?: (done: number) => void }): Promise<TargetReport> {
  const report = emptyReport('wire');
  const pools = makePools(opts.seed, SELF);
  const source = new PacketSource(pools, opts.seed);
  const rumors = new RumorSource(pools, opts.seed + 1);
  const mutator = new Mutator(seededRandom(opts.seed + 2));
  const key = ringKey(opts.seed);
  const keyed = new Keyring([key]);
  const unkeyed = new Keyring([]);
  const nonceRandom = seededRandom(opts.seed + 3);
  const core = new GossipCore(
    { random: seededRandom(opts.seed + 4) },
    { self: { id: SELF, incarnation: 0, address: '127.0.0.1', swimPort: 9638, gossipPort: 9638, persistent: false }, options: presets.lan, seeds: ['127.0.0.2:9638'] },
  );
  const timers: { at: number; timer: Timer }[] = [];
  let now = 0;
  const notes = { decoded: 0, decodeErrors: 0, opened: 0, openErrors: 0, rumorsDecoded: 0, rumorErrors: 0, events: 0, sends: 0 };
  const run = (what: string, bytes: Uint8Array, f: () => Effect[]): void => {
    try {
      for (const e of f()) {
        if (e.type === 'schedule') timers.push({ at: e.at, timer: e.timer });
        else if (e.type === 'send') notes.sends++;
        else notes.events++;
      }
    } catch (err) {
      addFinding(report, { target: 'wire', kind: 'crash', detail: `${what} threw: ${(err as Error).stack ?? String(err)}`, input: hexOf(bytes) });
    }
  };
  run('GossipCore.start', new Uint8Array(0), () => core.start(now));

  const started = performance.now();
  for (let i = 0; i < opts.inputs; i++) {
    const input = source.next();
    const t0 = performance.now();

    // The raw bytes.
    const decoded = decodePacket(input.bytes);
    if (decoded.ok) {
      notes.decoded++;
      checkRoundTrip(report, input.bytes, decoded.value);
      run('GossipCore.handlePacket', input.bytes, () => core.handlePacket('127.0.0.9:9638', decoded.value, now, i % 2 === 0 ? 'datagram' : 'stream'));
    } else {
      notes.decodeErrors++;
      if (!DECODE_CODES.includes(decoded.error.code)) {
        addFinding(report, { target: 'wire', kind: 'property', detail: `unknown decode error code ${decoded.error.code}`, input: hexOf(input.bytes) });
      }
    }
    // The pools hold names with NUL, which decoders refuse by rule (docs/protocol.md §13).
    if (input.packet !== undefined && !decoded.ok && !decoded.error.message.includes('NUL character')) {
      addFinding(report, { target: 'wire', kind: 'property', detail: `a generated packet does not decode: ${decoded.error.message}`, input: hexOf(input.bytes) });
    }

    // Envelopes: unsealed through an unkeyed ring, sealed (and every other time mutated) through a keyed one.
    const unsealed = unkeyed.open(unkeyed.seal(input.bytes));
    if (!unsealed.ok || !isDeepStrictEqual(new Uint8Array(unsealed.value), new Uint8Array(input.bytes))) {
      addFinding(report, { target: 'wire', kind: 'property', detail: 'an unsealed envelope does not open to its packet', input: hexOf(input.bytes) });
    }
    const nonce = new Uint8Array(24);
    for (let k = 0; k < 24; k++) nonce[k] = nonceRandom.int(256);
    const sealed = sealWithNonce(key, nonce, input.bytes);
    const envelope = i % 2 === 0 ? sealed : mutator.mutate(sealed, source.corpus, 2).bytes;
    for (const ring of [keyed, unkeyed]) {
      let opened: ReturnType<Keyring['open']>;
      try {
        opened = ring.open(envelope);
      } catch (err) {
        addFinding(report, { target: 'wire', kind: 'crash', detail: `Keyring.open threw: ${(err as Error).message}`, input: hexOf(envelope) });
        continue;
      }
      if (!opened.ok) {
        notes.openErrors++;
        if (!OPEN_CODES.includes(opened.error.code)) addFinding(report, { target: 'wire', kind: 'property', detail: `unknown open error ${opened.error.code}`, input: hexOf(envelope) });
        continue;
      }
      notes.opened++;
      if (ring === keyed && !isDeepStrictEqual(new Uint8Array(envelope), new Uint8Array(sealed))) {
        addFinding(report, { target: 'wire', kind: 'property', detail: 'a changed sealed envelope opened', input: hexOf(envelope) });
      }
      const inner = decodePacket(opened.value, { maxBytes: 65_507 });
      if (inner.ok !== decoded.ok && ring === keyed && opened.value.length === input.bytes.length && input.bytes.length <= 65_507) {
        addFinding(report, { target: 'wire', kind: 'property', detail: 'the opened packet decodes differently from the raw one', input: hexOf(input.bytes) });
      }
    }

    // Rumors, every fourth input.
    if (i % 4 === 0) {
      const bytes = rumors.next();
      const r = decodeRumor(bytes);
      if (r.ok) notes.rumorsDecoded++;
      else notes.rumorErrors++;
    }

    const ms = performance.now() - t0;
    if (ms > HANG_MS) addFinding(report, { target: 'wire', kind: 'hang', detail: `one input took ${ms.toFixed(0)} ms`, input: hexOf(input.bytes) });

    // Virtual time: 100 ms per 50 inputs; due timers fire in order.
    if (i % 50 === 49) {
      now += 100;
      timers.sort((a, b) => a.at - b.at);
      while (timers.length > 0 && (timers[0] as { at: number }).at <= now) {
        const { at, timer } = timers.shift() as { at: number; timer: Timer };
        run(`GossipCore.handleTimer(${timer.kind})`, new Uint8Array(0), () => core.handleTimer(timer, Math.max(at, now - 100)));
      }
      if (i % 5000 === 4999) {
        checkCounts(report, core);
        opts.onProgress?.(i + 1);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    report.inputs++;
  }
  report.seconds = (performance.now() - started) / 1000;
  report.notes = { ...notes, ...prefixed('kind.', source.counts), members: core.healthCounts().alive, incarnation: core.incarnation };
  return report;
}

/** The core's health counts agree with the member records it holds. */
function checkCounts(report: TargetReport, core: GossipCore): void {
  const held = { alive: 0, suspect: 0, confirmed: 0, departed: 0 };
  for (const m of core.members()) held[m.health]++;
  const counts = core.healthCounts();
  if (!isDeepStrictEqual({ ...counts }, held)) {
    addFinding(report, { target: 'wire', kind: 'property', detail: `health counts ${JSON.stringify(counts)} differ from the records held ${JSON.stringify(held)}` });
  }
}

/** A decoded packet re-encodes, and decodes again to the same value. */
function checkRoundTrip(report: TargetReport, input: Uint8Array, packet: Parameters<typeof encodePacket>[0]): void {
  let again: Uint8Array;
  try {
    again = encodePacket(packet);
  } catch (err) {
    addFinding(report, { target: 'wire', kind: 'property', detail: `a decoded packet does not re-encode: ${(err as Error).message}`, input: hexOf(input) });
    return;
  }
  const twice = decodePacket(again);
  if (!twice.ok || !isDeepStrictEqual(twice.value, packet)) {
    addFinding(report, { target: 'wire', kind: 'property', detail: 'decode(encode(decode(x))) differs from decode(x)', input: hexOf(input) });
  }
}

function prefixed(prefix: string, counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [`${prefix}${k}`, v]));
}
