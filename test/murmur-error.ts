/**
 * Catching the `MurmurError` a call refuses with, for tests that then check its code and message.
 */
import { expect } from 'vitest';
import { MurmurError } from '../src/core/index.js';

/** Awaits `action` and returns the MurmurError it rejects with (fails the test if it resolves or rejects with something else). */
export async function rejection(action: Promise<unknown>): Promise<MurmurError> {
  const err: unknown = await action.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MurmurError);
  return err as MurmurError;
}

/** Calls `action` and returns the MurmurError it throws (fails the test if it returns or throws something else). */
export function thrown(action: () => unknown): MurmurError {
  try {
    action();
  } catch (err) {
    expect(err).toBeInstanceOf(MurmurError);
    return err as MurmurError;
  }
  throw new Error('expected a MurmurError');
}
