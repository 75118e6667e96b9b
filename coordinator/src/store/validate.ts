/**
 * Input checks at the store's edge. The database has constraints too, but their errors name no field; these throw
 * INVALID_ARGUMENT with a message that says which value is wrong, before anything is written.
 */
import { CohortError } from '../../../shared/src/core/errors.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

function invalid(field: string, message: string): never {
  throw new CohortError('INVALID_ARGUMENT', `${field} ${message}`, { field });
}

/** A lowercase SHA-256 hex digest (64 characters). */
export function requireSha256(field: string, value: string): void {
  if (!SHA256_HEX.test(value)) invalid(field, `must be a lowercase SHA-256 hex digest (64 characters), got "${value}"`);
}

/** A time in milliseconds since the Unix epoch: a non-negative safe integer. */
export function requireTime(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) invalid(field, `must be a non-negative integer time in ms, got ${value}`);
}

/** A count (bytes, examples, rounds): a non-negative safe integer. */
export function requireCount(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) invalid(field, `must be a non-negative integer, got ${value}`);
}

/** A finite number (JSON cannot carry NaN or Infinity, so they are refused rather than silently stored as null). */
export function requireFinite(field: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) invalid(field, `must be a finite number, got ${String(value)}`);
}

/** A non-empty string (after trimming). */
export function requireNonEmpty(field: string, value: string): void {
  if (typeof value !== 'string' || value.trim().length === 0) invalid(field, 'must be a non-empty string');
}

/** Every value of a metrics-like record is a finite number. */
export function requireFiniteRecord(field: string, record: Record<string, number>): void {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) invalid(field, 'must be an object of numbers');
  for (const [key, value] of Object.entries(record)) requireFinite(`${field}.${key}`, value);
}

/**
 * A JSON-serialisable value that survives a round trip unchanged: plain objects, arrays, strings, booleans, null
 * and finite numbers. Anything else (undefined inside arrays, NaN, bigint, Date, typed arrays) would be altered or
 * dropped by JSON, so it is refused with the path of the offending value.
 */
export function requireJson(field: string, value: unknown): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    requireFinite(field, value);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item: unknown, i) => requireJson(`${field}[${i}]`, item));
    return;
  }
  const proto: unknown = typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
  if (proto === Object.prototype || proto === null) {
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (item !== undefined) requireJson(`${field}.${key}`, item);
    }
    return;
  }
  invalid(field, `must be JSON-serialisable (plain objects, arrays, strings, finite numbers, booleans, null), got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'object' && value !== null) return value.constructor?.name ?? 'object';
  return typeof value;
}
