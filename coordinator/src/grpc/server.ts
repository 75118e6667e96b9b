/**
 * The coordinator's gRPC server: explicit message-size limits (4 MiB, DESIGN §3), keepalive suited to edge NATs,
 * optional TLS and mutual TLS from PEM files.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { CohortError } from '../../../shared/src/core/errors.js';
import { MAX_MESSAGE_BYTES } from '../../../shared/src/protocol/constants.js';
import { readPemFile } from '../../../shared/src/transport/pem.js';

export interface TlsFiles {
  /** PEM certificate chain of the coordinator. */
  certFile: string;
  /** PEM private key of the coordinator. */
  keyFile: string;
  /** PEM CA bundle that client certificates must chain to; set to require mutual TLS. */
  clientCaFile?: string;
}

export const SERVER_OPTIONS = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  // Clients behind NATs ping every 20 s; allow it, and ping them too.
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
} as const;

/** Server credentials: insecure without TLS files; TLS; or mutual TLS when a client CA is given. */
export function serverCredentials(tls: TlsFiles | null): ServerCredentials {
  if (tls === null) return ServerCredentials.createInsecure();
  const cert = readPemFile(tls.certFile, 'tls.certFile');
  const key = readPemFile(tls.keyFile, 'tls.keyFile');
  const ca = tls.clientCaFile === undefined ? null : readPemFile(tls.clientCaFile, 'tls.clientCaFile');
  return ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], ca !== null);
}

export function createServer(): Server {
  return new Server(SERVER_OPTIONS);
}

/** Binds and resolves the bound port (0 picks an ephemeral one). */
export function bindServer(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => {
      if (error !== null) reject(new CohortError('CONFIG_INVALID', `cannot listen on ${address}: ${error.message}`));
      else resolve(port);
    });
  });
}
