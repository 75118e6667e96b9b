/**
 * A real Coordinator in this process for contract tests: loopback gRPC on an ephemeral port, a temp data dir, a known
 * admin token and an adjustable clock. Raw generated clients (no agent logic in between) let tests send exactly the
 * malformed or out-of-order input they mean to; `snapshot()` reads every table through a second, read-only SQLite
 * connection plus the model-file directory, so "the store is unchanged" is checked from outside the coordinator.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import type { ClientDuplexStream, ClientReadableStream, ServiceError, status, StatusObject } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { sha256 } from '../../shared/src/crypto/hash.js';
import { sign, signingKeyPairFromSeed } from '../../shared/src/crypto/sodium.js';
import type { SigningKeyPair } from '../../shared/src/crypto/sodium.js';
import { ClientServiceClient } from '../../shared/src/gen/fl/v1/client.pb.js';
import type { ClientMessage, CoordinatorMessage, EnrollRequest, EnrollResponse, UpdateChunk, UploadReceipt } from '../../shared/src/gen/fl/v1/client.pb.js';
import type { ClientCapabilities } from '../../shared/src/gen/fl/v1/common.pb.js';
import { OperatorServiceClient } from '../../shared/src/gen/fl/v1/operator.pb.js';
import type { FederationSpec } from '../../shared/src/gen/fl/v1/operator.pb.js';
import { HealthClient } from '../../shared/src/gen/grpc/health/v1/health.pb.js';
import { OPERATOR_METADATA_KEY, SESSION_METADATA_KEY } from '../../shared/src/protocol/constants.js';
import { clientIdFromPublicKey } from '../../shared/src/protocol/identity.js';
import { enrollmentProofPayload, sessionChallengePayload } from '../../shared/src/protocol/signing.js';
import { Coordinator } from '../../coordinator/src/coordinator.js';
import type { CoordinatorInfo, CoordinatorOptions } from '../../coordinator/src/coordinator.js';
import { parseFederationConfig } from '../../coordinator/src/federation/config.js';
import type { FederationConfigInput } from '../../coordinator/src/federation/config.js';
import { federationConfigToProto } from '../../coordinator/src/federation/spec-proto.js';
import { OperatorClient } from '../../coordinator/src/operator-client.js';
import { denseClassifierTopology } from '../../client/src/training/index.js';

/** The admin token every test coordinator is started with. */
export const ADMIN_TOKEN = 'contract-admin-token-0123456789abcdef';

/** Every table's rows (blobs as hex) and the model-file directory (name:size), for before/after comparisons. */
export interface StoreSnapshot {
  tables: Record<string, Record<string, unknown>[]>;
  modelFiles: string[];
}

export interface TestCoordinator {
  readonly coordinator: Coordinator;
  readonly info: CoordinatorInfo;
  readonly address: string;
  readonly dir: string;
  /** Raw generated clients: no validation or retries between the test and the wire. */
  readonly client: ClientServiceClient;
  readonly operatorRaw: OperatorServiceClient;
  readonly health: HealthClient;
  /** Promise-based operator client authenticated with ADMIN_TOKEN. */
  readonly operator: OperatorClient;
  /** Everything the coordinator logged. */
  readonly logs: string[];
  /** Moves the coordinator's clock forward (token expiry without sleeping). */
  advanceClock(ms: number): void;
  snapshot(): StoreSnapshot;
  /** Stops the coordinator, closes every client and removes the data dir; safe to call twice. */
  close(): Promise<void>;
}

/** Starts a coordinator on 127.0.0.1:0 with a temp data dir; `options` override the test defaults. */
export async function startCoordinator(options: Partial<CoordinatorOptions> = {}): Promise<TestCoordinator> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-grpc-'));
  const logs: string[] = [];
  let clockOffset = 0;
  let coordinator: Coordinator;
  try {
    coordinator = await Coordinator.create({
      dataDir: dir,
      listen: '127.0.0.1:0',
      adminToken: ADMIN_TOKEN,
      log: (line) => logs.push(line),
      now: () => Date.now() + clockOffset,
      schedulerPollMs: 20,
      ...options,
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let info: CoordinatorInfo;
  try {
    info = await coordinator.start();
  } catch (error) {
    await coordinator.stop('test coordinator failed to start');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const insecure = credentials.createInsecure();
  const client = new ClientServiceClient(info.address, insecure);
  const operatorRaw = new OperatorServiceClient(info.address, insecure);
  const health = new HealthClient(info.address, insecure);
  const operator = new OperatorClient(info.address, ADMIN_TOKEN, null, 20_000);
  let reader: Database.Database | null = null;
  let closed = false;
  const modelDir = path.join(dir, 'models');

  return {
    coordinator,
    info,
    address: info.address,
    dir,
    client,
    operatorRaw,
    health,
    operator,
    logs,
    advanceClock(ms) {
      clockOffset += ms;
    },
    snapshot() {
      reader ??= new Database(info.databasePath, { readonly: true, fileMustExist: true });
      const names = reader
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .all() as { name: string }[];
      const tables: StoreSnapshot['tables'] = {};
      for (const { name } of names) {
        const rows = (reader.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]).map((row) =>
          Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Buffer.isBuffer(v) ? `hex:${v.toString('hex')}` : v])),
        );
        tables[name] = rows.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
      }
      return { tables, modelFiles: listFiles(modelDir) };
    },
    async close() {
      if (closed) return;
      closed = true;
      reader?.close();
      client.close();
      operatorRaw.close();
      health.close();
      operator.close();
      await coordinator.stop('test finished');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listFiles(root: string, prefix = ''): string[] {
  let entries: string[];
  try {
    entries = readdirSync(path.join(root, prefix));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const entry of entries.sort()) {
    const rel = path.join(prefix, entry);
    const stats = statSync(path.join(root, rel));
    if (stats.isDirectory()) out.push(...listFiles(root, rel));
    else out.push(`${rel}:${stats.size}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Calls and assertions

/** Awaits a callback-style gRPC call. */
export function call<Res>(invoke: (callback: (error: ServiceError | null, response: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    invoke((error, response) => (error !== null ? reject(error) : resolve(response)));
  });
}

/** The error a call fails with; throws when it succeeds. */
export async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Asserts a gRPC status code (by name in failures) and that the message contains every fragment. */
export function expectStatus(error: Pick<StatusObject, 'code' | 'details'> | ServiceError, code: status, ...fragments: string[]): void {
  expect({ code: codeName(error.code), details: error.details }).toMatchObject({ code: codeName(code) });
  for (const fragment of fragments) expect(error.details).toContain(fragment);
}

const STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS',
  'UNAUTHENTICATED',
];

function codeName(code: number): string {
  return STATUS_NAMES[code] ?? String(code);
}

/** Metadata with one key, or none. */
export function metadata(key: string, value: string | null): Metadata {
  const md = new Metadata();
  if (value !== null) md.set(key, value);
  return md;
}

/** Operator credential metadata ("authorization"); null sends none. */
export function operatorMetadata(value: string | null = `Bearer ${ADMIN_TOKEN}`): Metadata {
  return metadata(OPERATOR_METADATA_KEY, value);
}

/** Session-token metadata ("x-cohort-session"); null sends none. */
export function sessionMetadata(token: string | null): Metadata {
  return metadata(SESSION_METADATA_KEY, token);
}

/** Reads a server stream to its end: every message and the final status. */
export function collectStream<T>(stream: ClientReadableStream<T>): Promise<{ messages: T[]; status: StatusObject }> {
  return new Promise((resolve) => {
    const messages: T[] = [];
    stream.on('data', (message: T) => messages.push(message));
    stream.on('error', () => undefined);
    // The status follows the last message; let queued 'data' events drain first.
    stream.on('status', (s: StatusObject) => setImmediate(() => resolve({ messages, status: s })));
  });
}

/** Polls until `check` returns a value other than undefined/false, or fails after timeoutMs. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | null, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false && value !== null) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Identities, tokens, enrollment

export interface TestIdentity {
  keys: SigningKeyPair;
  clientId: string;
}

/** A deterministic Ed25519 identity for `name`. */
export function identity(name: string): TestIdentity {
  const keys = signingKeyPairFromSeed(sha256(`contract-test-identity/${name}`));
  return { keys, clientId: clientIdFromPublicKey(keys.publicKey) };
}

/** Capabilities of a raw test client whose data fits a model with input `inputShape`. */
export function testCapabilities(inputShape: number[] = [4], overrides: Partial<ClientCapabilities> = {}): ClientCapabilities {
  return {
    backend: 'raw-test',
    platform: 'vitest',
    agentVersion: '0.0.0',
    numExamples: 10,
    inputShape,
    numClasses: 3,
    features: ['plaintext'],
    tasks: [],
    ...overrides,
  };
}

/** A fresh one-time enrollment token (issued through the OperatorService). */
export async function createToken(tc: TestCoordinator, ttlSeconds = 600, label = 'contract test'): Promise<string> {
  return (await tc.operator.createEnrollmentToken(label, ttlSeconds)).token;
}

/** A well-formed EnrollRequest with a valid proof; `overrides` replace fields after signing. */
export function enrollRequest(token: string, id: TestIdentity, overrides: Partial<EnrollRequest> = {}): EnrollRequest {
  const proof = sign(enrollmentProofPayload(token, id.keys.publicKey), id.keys.secretKey);
  return {
    token,
    identityPublicKey: Buffer.from(id.keys.publicKey),
    proof: Buffer.from(proof),
    capabilities: testCapabilities(),
    displayName: `raw ${id.clientId}`,
    ...overrides,
  };
}

/** Sends an EnrollRequest on the raw client. */
export function enrollRaw(tc: TestCoordinator, request: EnrollRequest): Promise<EnrollResponse> {
  return call<EnrollResponse>((cb) => tc.client.enroll(request, cb));
}

/** Enrolls `id` with a fresh token; returns the client id the coordinator assigned. */
export async function enroll(tc: TestCoordinator, id: TestIdentity, capabilities: ClientCapabilities = testCapabilities()): Promise<string> {
  const token = await createToken(tc);
  const response = await enrollRaw(tc, enrollRequest(token, id, { capabilities }));
  return response.clientId;
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions

/** A raw Session stream: what the coordinator sends is buffered; `status` resolves with the final status. */
export interface RawStream {
  readonly call: ClientDuplexStream<ClientMessage, CoordinatorMessage>;
  readonly status: Promise<StatusObject>;
  send(roundId: string, body: ClientMessage['body']): void;
  /** The next unread coordinator message matching `predicate`; rejects if the stream ends first. */
  next(predicate?: (message: CoordinatorMessage) => boolean, timeoutMs?: number): Promise<CoordinatorMessage>;
  /** Cancels the stream from the client side. */
  close(): void;
}

export interface RawSession extends RawStream {
  readonly clientId: string;
  readonly token: string;
}

type BodyCase = NonNullable<CoordinatorMessage['body']>['$case'];

/** Predicate for a coordinator message with the given body case. */
export function bodyIs(bodyCase: BodyCase): (message: CoordinatorMessage) => boolean {
  return (message) => message.body?.$case === bodyCase;
}

/** Opens a Session stream and sends nothing. */
export function openStream(tc: TestCoordinator): RawStream {
  const stream = tc.client.session();
  const unread: CoordinatorMessage[] = [];
  const waiters = new Set<() => void>();
  let final: StatusObject | null = null;
  let heartbeat: NodeJS.Timeout | null = null;
  const statusPromise = new Promise<StatusObject>((resolve) => {
    stream.on('status', (s: StatusObject) => {
      final = s;
      if (heartbeat !== null) clearInterval(heartbeat);
      setImmediate(() => {
        for (const wake of [...waiters]) wake();
      });
      resolve(s);
    });
  });
  stream.on('error', () => undefined);
  stream.on('data', (message: CoordinatorMessage) => {
    unread.push(message);
    for (const wake of [...waiters]) wake();
  });
  const raw: RawStream & { startHeartbeat(ms: number): void } = {
    call: stream,
    status: statusPromise,
    send(roundId, body) {
      if (final === null && !stream.writableEnded) stream.write({ roundId, body });
    },
    next(predicate = () => true, timeoutMs = 10_000) {
      return new Promise<CoordinatorMessage>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching coordinator message within ${timeoutMs} ms`));
        }, timeoutMs);
        function check(): void {
          const index = unread.findIndex(predicate);
          if (index >= 0) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(unread.splice(index, 1)[0]!);
          } else if (final !== null) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`session ended (${codeName(final.code)}: ${final.details}) before a matching message arrived`));
          }
        }
        waiters.add(check);
        check();
      });
    },
    close() {
      if (heartbeat !== null) clearInterval(heartbeat);
      if (final === null) stream.cancel();
    },
    startHeartbeat(ms) {
      heartbeat = setInterval(() => raw.send('', { $case: 'heartbeat', value: { clientTimeMs: Date.now() } }), ms);
      heartbeat.unref();
    },
  };
  return raw;
}

/** Answers the challenge of `id` (or with `signatureOverride`). */
export function challengeAnswer(id: TestIdentity, challenge: CoordinatorMessage, signatureOverride?: Uint8Array): ClientMessage['body'] {
  if (challenge.body?.$case !== 'challenge') throw new Error(`expected a challenge, got ${challenge.body?.$case}`);
  const signature = signatureOverride ?? sign(sessionChallengePayload(id.clientId, new Uint8Array(challenge.body.value.nonce)), id.keys.secretKey);
  return { $case: 'challengeAnswer', value: { signature: Buffer.from(signature) } };
}

/** Hello, challenge, signed answer, ready: an authenticated session that heartbeats until closed. */
export async function openSession(tc: TestCoordinator, id: TestIdentity, capabilities: ClientCapabilities = testCapabilities()): Promise<RawSession> {
  const stream = openStream(tc) as RawStream & { startHeartbeat(ms: number): void };
  try {
    stream.send('', { $case: 'hello', value: { clientId: id.clientId, capabilities } });
    const challenge = await stream.next(bodyIs('challenge'));
    stream.send('', challengeAnswer(id, challenge));
    const ready = await stream.next(bodyIs('ready'));
    if (ready.body?.$case !== 'ready') throw new Error('unreachable');
    stream.startHeartbeat(Math.max(50, Math.floor(ready.body.value.heartbeatIntervalMs / 2)));
    return Object.assign(stream, { clientId: id.clientId, token: ready.body.value.sessionToken });
  } catch (error) {
    stream.close();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Uploads

/** Sends `chunks` on one UploadUpdate call (then half-closes) and resolves with the receipt or the error. */
export function upload(tc: TestCoordinator, sessionToken: string | null, chunks: UpdateChunk[]): Promise<{ receipt: UploadReceipt | null; error: ServiceError | null }> {
  return new Promise((resolve) => {
    const stream = tc.client.uploadUpdate(sessionMetadata(sessionToken), (error, receipt) => resolve({ receipt: error === null ? receipt : null, error }));
    stream.on('error', () => undefined);
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Federations

/** TF.js layers JSON of a one-layer classifier: input [inputSize] → dense(units, softmax); (inputSize+1)·units weights. */
export function denseTopology(inputSize: number, units: number, layerName = 'dense_out'): string {
  return denseClassifierTopology(inputSize, units, layerName);
}

/** An fl.v1.FederationSpec from the friendly config form (validated the way the operator API validates it). */
export function federationSpec(input: FederationConfigInput, initialWeights: Uint8Array | null = null): FederationSpec {
  return federationConfigToProto(parseFederationConfig(input), initialWeights);
}
