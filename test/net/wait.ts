/** Bounded waiting for tests on real sockets: time only ever limits a wait, never decides a result. */

/** How long any wait here may take before giving up. Generous: a loaded CI machine is slow. */
export const WAIT_LIMIT_MS = 5_000;

/**
 * Polls until `done()` holds or `limitMs` passes; resolves either way (the assertions that follow
 * say what was wrong, which a timeout error would not).
 */
export async function waitUntil(done: () => boolean, limitMs = WAIT_LIMIT_MS): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!done() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
