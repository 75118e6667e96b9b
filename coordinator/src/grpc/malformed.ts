/**
 * grpc-js answers a request it cannot decode with INTERNAL before any handler runs. Bad bytes from a peer are bad
 * input, not our failure: these deserializers never throw; they hand the handler a MalformedMessage, which
 * requireDecoded turns into INVALID_ARGUMENT naming the method and what was wrong.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { CohortError } from '../../../shared/src/core/errors.js';

export class MalformedMessage {
  constructor(
    readonly method: string,
    readonly reason: string,
  ) {}
}

/** The same service definition with request deserializers that return MalformedMessage instead of throwing. */
export function withTolerantDeserializers<T extends ServiceDefinition>(definition: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return decode(bytes);
        } catch (error) {
          return new MalformedMessage(method.path, error instanceof Error ? error.message : String(error));
        }
      },
    };
  }
  return wrapped as T;
}

/** The decoded message, or INVALID_ARGUMENT when the peer sent bytes that are not a valid message. */
export function requireDecoded<T>(message: T | MalformedMessage): T {
  if (message instanceof MalformedMessage) {
    throw new CohortError('INVALID_ARGUMENT', `request to ${message.method} is not a valid protobuf message: ${message.reason}`);
  }
  return message;
}
