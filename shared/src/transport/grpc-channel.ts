/**
 * Client-side gRPC channel settings shared by the client agent, the operator CLI and the simulator: the same 4 MiB
 * limits and NAT-friendly keepalive as the server, TLS with a pinned CA, and client certificates for mutual TLS.
 */
import { credentials as grpcCredentials, Metadata, status } from '@grpc/grpc-js';
import type { ChannelCredentials, ServiceError } from '@grpc/grpc-js';
import { CohortError } from '../core/errors.js';
import { KEEPALIVE_OPTIONS, MAX_MESSAGE_BYTES } from '../protocol/constants.js';
import { readPemFile } from './pem.js';

export interface ChannelTls {
  /** PEM CA bundle that the coordinator's certificate must chain to (default: system roots). */
  caFile?: string;
  /** PEM client certificate and key, for mutual TLS. */
  certFile?: string;
  keyFile?: string;
}

export const CHANNEL_OPTIONS = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  ...KEEPALIVE_OPTIONS,
  // Reconnection is the agent's job (jittered backoff); keep grpc's own retries short.
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 5_000,
} as const;

/** Insecure when tls is null (loopback, tests); otherwise TLS, with a client certificate when given. */
export function channelCredentials(tls: ChannelTls | null): ChannelCredentials {
  if (tls === null) return grpcCredentials.createInsecure();
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new CohortError('CONFIG_INVALID', '--tls-cert and --tls-key go together (mutual TLS needs both)');
  }
  const ca = tls.caFile === undefined ? null : readPemFile(tls.caFile, '--tls-ca');
  const key = tls.keyFile === undefined ? null : readPemFile(tls.keyFile, '--tls-key');
  const cert = tls.certFile === undefined ? null : readPemFile(tls.certFile, '--tls-cert');
  return grpcCredentials.createSsl(ca, key, cert);
}

/** Checks "host:port" and returns it; the error names the flag. */
export function parseAddress(value: string, flag = '--coordinator'): string {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (match === null || Number(match[2]) > 65535) throw new CohortError('CONFIG_INVALID', `${flag}: expected HOST:PORT, got "${value}"`);
  return value;
}

/** Metadata with one key set. */
export function metadataWith(key: string, value: string): Metadata {
  const metadata = new Metadata();
  metadata.set(key, value);
  return metadata;
}

/** True for failures worth retrying after a backoff (coordinator down, network blip, overload). */
export function isTransient(error: unknown): boolean {
  const code = (error as Partial<ServiceError>)?.code;
  return code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED || code === status.RESOURCE_EXHAUSTED || code === status.ABORTED || code === status.CANCELLED || code === status.UNKNOWN || code === status.INTERNAL;
}

/** "CODE: details" for a gRPC error (the operator and agent CLIs print this). */
export function describeGrpcError(error: unknown): string {
  const e = error as Partial<ServiceError>;
  if (typeof e?.code === 'number') return `${status[e.code] ?? e.code}: ${e.details ?? e.message ?? ''}`;
  return error instanceof Error ? error.message : String(error);
}
