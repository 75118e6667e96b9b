/** Assertions about thrown errors, shared by unit and integration tests. */
import { expect } from 'vitest';
import { isCohortError } from '../../shared/src/core/errors.js';
import type { ErrorCode } from '../../shared/src/core/errors.js';

/** What `fn` throws; fails the test when it returns normally. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

/** Runs fn and checks it throws CohortError `code` with a message matching `message` (a string must match exactly). */
export function expectCohortError(fn: () => unknown, code: ErrorCode, message?: RegExp | string): void {
  const caught = thrown(fn);
  expect(isCohortError(caught, code), `expected CohortError ${code}, got ${String(caught)}`).toBe(true);
  if (typeof message === 'string') expect((caught as Error).message).toBe(message);
  else if (message !== undefined) expect((caught as Error).message).toMatch(message);
}
