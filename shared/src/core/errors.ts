/**
 * Typed domain errors with stable codes. Domain code throws these; the gRPC adapter maps each code to a status
 * (see coordinator/src/grpc/errors.ts) and the CLI prints the message. Never throw transport types from domain code.
 */

/** Stable error codes. The suffix says what kind of failure it is; the gRPC mapping follows the kind. */
export type ErrorCode =
  // Bad input: INVALID_ARGUMENT.
  | 'INVALID_ARGUMENT'
  | 'CONFIG_INVALID'
  | 'UPDATE_WRONG_LENGTH'
  | 'UPDATE_NOT_FINITE'
  | 'UPDATE_HASH_MISMATCH'
  | 'MODEL_HASH_MISMATCH'
  | 'MESSAGE_TOO_LARGE'
  | 'DATA_INVALID'
  // Identity: UNAUTHENTICATED / PERMISSION_DENIED.
  | 'UNAUTHENTICATED'
  | 'TOKEN_INVALID'
  | 'SIGNATURE_INVALID'
  | 'PERMISSION_DENIED'
  | 'CLIENT_REVOKED'
  | 'CLIENT_QUARANTINED'
  // Wrong moment: FAILED_PRECONDITION.
  | 'FAILED_PRECONDITION'
  | 'ROUND_WRONG_STAGE'
  | 'ROUND_STALE'
  | 'ROUND_NOT_SELECTED'
  | 'FEDERATION_WRONG_STATUS'
  | 'PRIVACY_BUDGET_EXHAUSTED'
  | 'PROTOCOL_VIOLATION'
  // Missing: NOT_FOUND.
  | 'NOT_FOUND'
  | 'FEDERATION_NOT_FOUND'
  | 'ROUND_NOT_FOUND'
  | 'CLIENT_NOT_FOUND'
  | 'MODEL_NOT_FOUND'
  // Duplicates: ALREADY_EXISTS.
  | 'ALREADY_EXISTS'
  // Limits: RESOURCE_EXHAUSTED.
  | 'RESOURCE_EXHAUSTED'
  // Deadlines: DEADLINE_EXCEEDED.
  | 'DEADLINE_EXCEEDED'
  // Ours: INTERNAL (message is never sent to peers).
  | 'INTERNAL';

/** A domain error: a stable code, a precise human message, optional structured details. */
export class CohortError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CohortError';
    this.code = code;
    this.details = details;
  }
}

/** Shorthand for throwing a typed error. */
export function fail(code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new CohortError(code, message, details);
}

/** Throws CONFIG_INVALID naming the field when `ok` is false. */
export function requireConfig(ok: boolean, field: string, message: string): asserts ok {
  if (!ok) throw new CohortError('CONFIG_INVALID', `${field}: ${message}`, { field });
}

export function isCohortError(error: unknown, code?: ErrorCode): error is CohortError {
  return error instanceof CohortError && (code === undefined || error.code === code);
}
