/** Wire-level constants shared by coordinator and client agent. */

/** Largest gRPC message either side accepts (DESIGN §3: nothing over 4 MiB in one frame). */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Data bytes per chunk in model downloads and update uploads (leaves room for framing under MAX_MESSAGE_BYTES). */
export const CHUNK_BYTES = 1024 * 1024;
/** Metadata key carrying the session token on DownloadModel and UploadUpdate. */
export const SESSION_METADATA_KEY = 'x-cohort-session';
/** Metadata key carrying the operator credential ("Bearer <admin token>"). */
export const OPERATOR_METADATA_KEY = 'authorization';
/** Default heartbeat interval the coordinator asks for; a session silent for 3 intervals is dead. */
export const DEFAULT_HEARTBEAT_MS = 5_000;
/** gRPC keepalive suited to edge NATs: ping every 20 s, give up after 10 s without an answer. */
export const KEEPALIVE_OPTIONS = {
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.max_pings_without_data': 0,
} as const;
export const COHORT_VERSION = '0.1.0';
