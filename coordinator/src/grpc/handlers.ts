/**
 * Every gRPC handler goes through one of these wrappers: they await the async body, map thrown errors through
 * toServiceError, and answer exactly once (grpc-js itself only catches synchronous throws).
 */
import type {
  handleBidiStreamingCall,
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
} from '@grpc/grpc-js';
import { toServiceError } from './errors.js';
import { requireDecoded } from './malformed.js';
import type { ErrorLogger } from './errors.js';

export function unaryHandler<Req, Res>(log: ErrorLogger, body: (call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let answered = false;
    const answer = (error: Parameters<typeof callback>[0], value?: Res): void => {
      if (answered) return;
      answered = true;
      callback(error, value);
    };
    Promise.resolve()
      .then(() => {
        requireDecoded(call.request);
        return body(call);
      })
      .then((value) => answer(null, value), (error: unknown) => answer(toServiceError(error, log)));
  };
}

export function clientStreamHandler<Req, Res>(
  log: ErrorLogger,
  body: (call: ServerReadableStream<Req, Res>) => Promise<Res>,
): handleClientStreamingCall<Req, Res> {
  return (call, callback) => {
    let answered = false;
    Promise.resolve()
      .then(() => body(call))
      .then(
        (value) => {
          if (!answered) {
            answered = true;
            callback(null, value);
          }
        },
        (error: unknown) => {
          if (!answered) {
            answered = true;
            callback(toServiceError(error, log));
          }
        },
      );
  };
}

/** Ends a server-side stream with the mapped error status, once. */
export function failStream(call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>, error: unknown, log: ErrorLogger): void {
  if (call.writableEnded || call.destroyed) return;
  call.emit('error', toServiceError(error, log));
}

export function serverStreamHandler<Req, Res>(
  log: ErrorLogger,
  body: (call: ServerWritableStream<Req, Res>) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    Promise.resolve()
      .then(() => {
        requireDecoded(call.request);
        return body(call);
      })
      .then(
        () => {
          if (!call.writableEnded && !call.destroyed) call.end();
        },
        (error: unknown) => failStream(call as ServerWritableStream<unknown, unknown>, error, log),
      );
  };
}

export function bidiHandler<Req, Res>(log: ErrorLogger, body: (call: ServerDuplexStream<Req, Res>) => Promise<void>): handleBidiStreamingCall<Req, Res> {
  return (call) => {
    Promise.resolve()
      .then(() => body(call))
      .then(
        () => {
          if (!call.writableEnded && !call.destroyed) call.end();
        },
        (error: unknown) => failStream(call as ServerDuplexStream<unknown, unknown>, error, log),
      );
  };
}
