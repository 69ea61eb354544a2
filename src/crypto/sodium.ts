/**
 * sodium: the one place that waits for libsodium (libsodium-wrappers 0.8.4, a WebAssembly build
 * of the real libsodium, so every primitive is byte-compatible with Habitat's sodiumoxide).
 *
 * The WebAssembly module is instantiated once per process by libsodium-wrappers itself; nothing
 * may call a primitive before `sodium.ready` settles. Code that needs libsodium either takes the
 * loaded module as a parameter (`Keyring`) or awaits `loadSodium()` (the key cache).
 *
 * The module is imported on first use, not with this file: its JavaScript and WebAssembly cost
 * a process about 11 MB, which a Supervisor without a ring key or encrypted rumors never needs.
 */
import type sodium from 'libsodium-wrappers';

/** The loaded libsodium module: pass this to constructors that need primitives. */
export type Sodium = typeof sodium;

/**
 * Memoized readiness. This is module-level state on purpose: it only records that the
 * process-wide WebAssembly instance (already a singleton inside libsodium-wrappers) has finished
 * loading, holds nothing a test could want to vary, and never changes once set.
 */
let loading: Promise<Sodium> | undefined;

/** libsodium, ready to use. Every call returns the same promise. */
export function loadSodium(): Promise<Sodium> {
  loading ??= import('libsodium-wrappers').then(async ({ default: lib }) => {
    await lib.ready;
    return lib;
  });
  return loading;
}
