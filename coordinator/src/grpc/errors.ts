/**
 * The one place domain errors become gRPC statuses. Handlers are wrapped so async failures are caught, mapped, and
 * answered exactly once; unknown errors become INTERNAL with a generic message (the cause is logged, never sent).
 */
import { Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { CohortError } from '../../../shared/src/core/errors.js';
import type { ErrorCode } from '../../../shared/src/core/errors.js';

const STATUS_BY_CODE: Record<ErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  CONFIG_INVALID: status.INVALID_ARGUMENT,
  UPDATE_WRONG_LENGTH: status.INVALID_ARGUMENT,
  UPDATE_NOT_FINITE: status.INVALID_ARGUMENT,
  UPDATE_HASH_MISMATCH: status.INVALID_ARGUMENT,
  MODEL_HASH_MISMATCH: status.INVALID_ARGUMENT,
  MESSAGE_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  DATA_INVALID: status.INVALID_ARGUMENT,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  TOKEN_INVALID: status.UNAUTHENTICATED,
  SIGNATURE_INVALID: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  CLIENT_REVOKED: status.PERMISSION_DENIED,
  CLIENT_QUARANTINED: status.PERMISSION_DENIED,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  ROUND_WRONG_STAGE: status.FAILED_PRECONDITION,
  ROUND_STALE: status.FAILED_PRECONDITION,
  ROUND_NOT_SELECTED: status.FAILED_PRECONDITION,
  FEDERATION_WRONG_STATUS: status.FAILED_PRECONDITION,
  PRIVACY_BUDGET_EXHAUSTED: status.FAILED_PRECONDITION,
  PROTOCOL_VIOLATION: status.FAILED_PRECONDITION,
  NOT_FOUND: status.NOT_FOUND,
  FEDERATION_NOT_FOUND: status.NOT_FOUND,
  ROUND_NOT_FOUND: status.NOT_FOUND,
  CLIENT_NOT_FOUND: status.NOT_FOUND,
  MODEL_NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  INTERNAL: status.INTERNAL,
};

/** gRPC status for a domain error code. */
export function grpcStatusFor(code: ErrorCode): status {
  return STATUS_BY_CODE[code];
}

export type ErrorLogger = (message: string, error: unknown) => void;

/** Maps any thrown value to a gRPC ServiceError; the domain code travels in the "x-cohort-error" trailer. */
export function toServiceError(error: unknown, log: ErrorLogger): Partial<ServiceError> {
  const metadata = new Metadata();
  if (error instanceof CohortError && error.code !== 'INTERNAL') {
    metadata.set('x-cohort-error', error.code);
    return { code: grpcStatusFor(error.code), details: error.message, metadata };
  }
  log('internal error in a gRPC handler', error);
  metadata.set('x-cohort-error', 'INTERNAL');
  return { code: status.INTERNAL, details: 'internal error (logged on the coordinator)', metadata };
}
