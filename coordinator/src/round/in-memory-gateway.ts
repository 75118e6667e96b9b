/**
 * The in-memory transport behind the round workflow's ClientGateway (CONVENTIONS habit 3): simulated clients are
 * plain callbacks in this process, with no sockets and no serialisation. They receive the OutboundMessages the
 * workflow sends and answer through the RoundHub exactly as the gRPC adapters do (dispatch for acks and failures,
 * beginUpload + deliver for updates, recordDownload for model downloads, disconnected when a session ends), so a test
 * or a simulation exercises the same round code paths as a real deployment.
 *
 * Messages reach a client's handler in a microtask, never inside the workflow's send(): a remote client cannot
 * answer before the coordinator has finished sending either, and re-entrant answers would test orderings that
 * cannot happen over a network.
 */
import { CohortError } from '../../../shared/src/core/errors.js';
import { bytesToFloat32, float32ToBytes } from '../../../shared/src/core/tensor/bytes.js';
import { sha256Hex } from '../../../shared/src/crypto/hash.js';
import type { ModelRepository } from '../models.js';
import type { ClientCapabilitiesRecord } from '../store/types.js';
import type { ClientGateway, RoundHub, UploadSink } from './hub.js';
import type { SecAggReply } from '../../../shared/src/core/secagg/messages.js';
import type { ConnectedClient, ModelReference, OutboundMessage, UpdateKind } from './messages.js';

/** What a simulated client does with each message the coordinator sends it; it answers through `client`. */
export type InMemoryClientHandler = (message: OutboundMessage, client: InMemoryClient) => void | Promise<void>;

export interface InMemoryGatewayOptions {
  /** The hub the workflow registers its rounds with; clients answer through it. */
  hub: RoundHub;
  /** Where download() reads model weights; without it, download() throws. */
  models?: ModelRepository;
  /** Clock for connectedAt, ms since the epoch. Default Date.now. */
  now?: () => number;
  /**
   * Called when a handler throws or rejects. The error never reaches the workflow (a remote client's could not);
   * default: kept in `gateway.handlerErrors` for the test to inspect.
   */
  onHandlerError?: (clientId: string, error: unknown) => void;
}

/** Header fields of an in-memory upload; all optional, defaults describe an honest upload of the given vector. */
export interface InMemoryUploadOptions {
  /** Training examples behind the update (its FedAvg weight). Default 1. */
  numExamples?: number;
  metrics?: Record<string, number>;
  /** Default 'delta-float32'. */
  kind?: UpdateKind;
  /** Declared size in bytes; default the vector's byteLength (tests set it to exercise header validation). */
  totalBytes?: number;
}

/** One simulated client: its inbox and the answers it can give. */
export class InMemoryClient {
  /** Every message the coordinator sent this client, in order. */
  readonly received: OutboundMessage[] = [];

  constructor(
    readonly clientId: string,
    readonly capabilities: ClientCapabilitiesRecord,
    readonly connectedAt: number,
    private readonly gateway: InMemoryGateway,
    private readonly hub: RoundHub,
    readonly handler: InMemoryClientHandler | null,
    private readonly models: ModelRepository | null,
  ) {}

  /** True while this object is the client's live session. */
  get connected(): boolean {
    return this.gateway.clientOf(this.clientId) === this;
  }

  /**
   * The weights a model reference names, as the gRPC download serves them: read from the content-addressed files
   * (hash-checked) and counted as this client's download traffic in its running round. A copy: the client may
   * train on it in place.
   */
  download(model: ModelReference): Float32Array {
    this.requireSession();
    if (this.models === null) throw new CohortError('FAILED_PRECONDITION', 'this in-memory gateway was built without a model repository');
    const bytes = this.models.bytes(model.sha256);
    this.hub.recordDownload(this.clientId, model.federationId, bytes.byteLength);
    return bytesToFloat32(bytes.slice());
  }

  /** Accepts a round task (TaskAck accepted = true). Session messages of an ended session go nowhere. */
  accept(roundId: string): void {
    if (this.connected) this.hub.dispatch(this.clientId, roundId, { kind: 'ack', accepted: true, reason: '' });
  }

  /** Declines a round task with a reason. */
  decline(roundId: string, reason: string): void {
    if (this.connected) this.hub.dispatch(this.clientId, roundId, { kind: 'ack', accepted: false, reason });
  }

  /** Answers a secure-aggregation stage request. */
  secagg(roundId: string, message: SecAggReply): void {
    if (this.connected) this.hub.dispatch(this.clientId, roundId, { kind: 'secagg', message });
  }

  /** Uploads a masked input (uint32 words) in one go, as upload() does for a float32 delta. */
  uploadMasked(roundId: string, masked: Uint32Array, options: InMemoryUploadOptions = {}): void {
    const bytes = new Uint8Array(masked.buffer.slice(masked.byteOffset, masked.byteOffset + masked.byteLength));
    const sink = this.beginUpload(roundId, bytes.byteLength, { ...options, kind: 'masked-uint32' }, sha256Hex(bytes));
    try {
      sink.deliver({ payload: bytes, numExamples: options.numExamples ?? 1, metrics: options.metrics ?? {}, bytes: bytes.byteLength });
    } catch (error) {
      sink.abandon(error instanceof Error ? error.message : 'upload failed');
      throw error;
    }
  }

  /** Reports that local training failed. */
  fail(roundId: string, reason: string): void {
    if (this.connected) this.hub.dispatch(this.clientId, roundId, { kind: 'failed', reason });
  }

  /** Starts an upload: the header is validated now and throws the CohortError the gRPC client would get. */
  beginUpload(roundId: string, byteLength: number, options: InMemoryUploadOptions = {}, sha256 = ''): UploadSink {
    this.requireSession();
    return this.hub.beginUpload(this.clientId, {
      roundId,
      kind: options.kind ?? 'delta-float32',
      totalBytes: options.totalBytes ?? byteLength,
      sha256,
      numExamples: options.numExamples ?? 1,
      metrics: options.metrics ?? {},
    });
  }

  /**
   * Uploads an update in one go: header, then the vector. A refusal throws the CohortError; a refused body also
   * abandons the upload, as the gRPC adapter does, so the round sees the same thing whatever the transport.
   */
  upload(roundId: string, delta: Float32Array, options: InMemoryUploadOptions = {}): void {
    const bytes = float32ToBytes(delta);
    const sink = this.beginUpload(roundId, bytes.byteLength, options, sha256Hex(bytes));
    try {
      // A copy: the coordinator owns what it received, whatever the caller does with its array afterwards.
      sink.deliver({ payload: bytes, numExamples: options.numExamples ?? 1, metrics: options.metrics ?? {}, bytes: bytes.byteLength });
    } catch (error) {
      sink.abandon(error instanceof Error ? error.message : 'upload failed');
      throw error;
    }
  }

  /** Ends this client's session; any round it takes part in sees a disconnect. */
  disconnect(reason = 'connection closed'): void {
    this.gateway.disconnect(this.clientId, reason, this);
  }

  /** Uploads and downloads authenticate with the session, as over gRPC: an ended session cannot make them. */
  private requireSession(): void {
    if (!this.connected) throw new CohortError('UNAUTHENTICATED', `session of client ${this.clientId} ended or was replaced`);
  }

  /** Called by the gateway's send(): records the message and runs the handler in a microtask. */
  receive(message: OutboundMessage, onError: (error: unknown) => void): void {
    this.received.push(message);
    const handler = this.handler;
    if (handler === null) return;
    Promise.resolve()
      .then(() => handler(message, this))
      .catch(onError);
  }
}

/** ClientGateway over in-process clients. */
export class InMemoryGateway implements ClientGateway {
  /** Errors thrown by handlers, when no onHandlerError was given. */
  readonly handlerErrors: { clientId: string; error: unknown }[] = [];
  private readonly clients = new Map<string, InMemoryClient>();
  private readonly now: () => number;

  constructor(private readonly options: InMemoryGatewayOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Opens a session for `clientId` with these capabilities (rounds select only clients the store knows as active).
   * An older session of the same client is closed first, as the session registry does.
   */
  connect(clientId: string, capabilities: ClientCapabilitiesRecord, handler: InMemoryClientHandler | null = null): InMemoryClient {
    if (this.clients.has(clientId)) this.disconnect(clientId, 'replaced by a newer session of the same client');
    const client = new InMemoryClient(clientId, capabilities, this.now(), this, this.options.hub, handler, this.options.models ?? null);
    this.clients.set(clientId, client);
    return client;
  }

  /** Closes the client's session (only `session`'s, when given) and tells the hub. */
  disconnect(clientId: string, reason: string, session?: InMemoryClient): void {
    const current = this.clients.get(clientId);
    if (current === undefined || (session !== undefined && current !== session)) return;
    this.clients.delete(clientId);
    this.options.hub.disconnected(clientId, reason);
  }

  /** The live session of a client, if any. */
  clientOf(clientId: string): InMemoryClient | undefined {
    return this.clients.get(clientId);
  }

  connected(): ConnectedClient[] {
    return [...this.clients.values()].map((c) => ({ clientId: c.clientId, capabilities: c.capabilities, connectedAt: c.connectedAt }));
  }

  isConnected(clientId: string): boolean {
    return this.clients.has(clientId);
  }

  send(clientId: string, message: OutboundMessage): boolean {
    const client = this.clients.get(clientId);
    if (client === undefined) return false;
    client.receive(message, (error) => this.handlerFailed(clientId, error));
    return true;
  }

  private handlerFailed(clientId: string, error: unknown): void {
    if (this.options.onHandlerError !== undefined) this.options.onHandlerError(clientId, error);
    else this.handlerErrors.push({ clientId, error });
  }
}
