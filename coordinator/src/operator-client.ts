/**
 * A promise-based client of fl.v1.OperatorService, used by the operator CLI and the simulator. Every call carries
 * the admin token; errors are grpc ServiceErrors (describeGrpcError prints them).
 */
import type { CallOptions, ClientReadableStream, Metadata, ServiceError } from '@grpc/grpc-js';
import { CohortError } from '../../shared/src/core/errors.js';
import { createSha256 } from '../../shared/src/crypto/hash.js';
import type { ModelChunk, ModelHeader } from '../../shared/src/gen/fl/v1/client.pb.js';
import { OperatorServiceClient } from '../../shared/src/gen/fl/v1/operator.pb.js';
import type { Client, ClientHistory, CoordinatorStatus, EnrollmentToken, Event, Federation, FederationSpec, PrivacyBudget, Round } from '../../shared/src/gen/fl/v1/operator.pb.js';
import { OPERATOR_METADATA_KEY } from '../../shared/src/protocol/constants.js';
import { CHANNEL_OPTIONS, channelCredentials, metadataWith } from '../../shared/src/transport/grpc-channel.js';
import type { ChannelTls } from '../../shared/src/transport/grpc-channel.js';

type UnaryMethod<Req, Res> = (request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: (error: ServiceError | null, response: Res) => void) => unknown;

export class OperatorClient {
  private readonly client: OperatorServiceClient;
  private readonly metadata: Metadata;

  constructor(
    address: string,
    adminToken: string,
    tls: ChannelTls | null = null,
    private readonly timeoutMs = 60_000,
  ) {
    this.client = new OperatorServiceClient(address, channelCredentials(tls), CHANNEL_OPTIONS);
    this.metadata = metadataWith(OPERATOR_METADATA_KEY, `Bearer ${adminToken}`);
  }

  close(): void {
    this.client.close();
  }

  private unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.client, request, this.metadata, { deadline: Date.now() + this.timeoutMs }, (error, response) => (error !== null ? reject(error) : resolve(response)));
    });
  }

  createFederation(spec: FederationSpec, start: boolean): Promise<Federation> {
    return this.unary(this.client.createFederation as UnaryMethod<{ spec: FederationSpec; start: boolean }, Federation>, { spec, start });
  }

  startFederation(federationId: string): Promise<Federation> {
    return this.unary(this.client.startFederation as UnaryMethod<{ federationId: string }, Federation>, { federationId });
  }

  pauseFederation(federationId: string): Promise<Federation> {
    return this.unary(this.client.pauseFederation as UnaryMethod<{ federationId: string }, Federation>, { federationId });
  }

  getFederation(federationId: string): Promise<Federation> {
    return this.unary(this.client.getFederation as UnaryMethod<{ federationId: string }, Federation>, { federationId });
  }

  async listFederations(): Promise<Federation[]> {
    return (await this.unary(this.client.listFederations as UnaryMethod<object, { federations: Federation[] }>, {})).federations;
  }

  async listRounds(federationId: string, limit = 0, beforeNumber = 0): Promise<Round[]> {
    return (await this.unary(this.client.listRounds as UnaryMethod<{ federationId: string; limit: number; beforeNumber: number }, { rounds: Round[] }>, { federationId, limit, beforeNumber })).rounds;
  }

  getRound(roundId: string): Promise<Round> {
    return this.unary(this.client.getRound as UnaryMethod<{ roundId: string }, Round>, { roundId });
  }

  getStatus(): Promise<CoordinatorStatus> {
    return this.unary(this.client.getStatus as UnaryMethod<object, CoordinatorStatus>, {});
  }

  getPrivacyBudget(federationId: string): Promise<PrivacyBudget> {
    return this.unary(this.client.getPrivacyBudget as UnaryMethod<{ federationId: string }, PrivacyBudget>, { federationId });
  }

  createEnrollmentToken(label: string, ttlSeconds: number): Promise<EnrollmentToken> {
    return this.unary(this.client.createEnrollmentToken as UnaryMethod<{ label: string; ttlSeconds: number }, EnrollmentToken>, { label, ttlSeconds });
  }

  async listClients(): Promise<Client[]> {
    return (await this.unary(this.client.listClients as UnaryMethod<object, { clients: Client[] }>, {})).clients;
  }

  getClientHistory(clientId: string, limit = 0): Promise<ClientHistory> {
    return this.unary(this.client.getClientHistory as UnaryMethod<{ clientId: string; limit: number }, ClientHistory>, { clientId, limit });
  }

  setClientStatus(action: 'revoke' | 'quarantine' | 'release', clientId: string, reason: string): Promise<Client> {
    const method = { revoke: this.client.revokeClient, quarantine: this.client.quarantineClient, release: this.client.releaseClient }[action];
    return this.unary(method as UnaryMethod<{ clientId: string; reason: string }, Client>, { clientId, reason });
  }

  /** Streams events until the returned stop() is called or the stream fails. */
  watchEvents(federationId: string, afterSeq: number, onEvent: (event: Event) => void, onEnd: (error: ServiceError | null) => void): () => void {
    const call: ClientReadableStream<Event> = this.client.watchEvents({ federationId, afterSeq }, this.metadata);
    let stopped = false;
    call.on('data', onEvent);
    call.on('error', (error: ServiceError) => {
      if (!stopped) onEnd(error);
    });
    call.on('end', () => {
      if (!stopped) onEnd(null);
    });
    return () => {
      stopped = true;
      call.cancel();
    };
  }

  /** Downloads a committed model (chunked), verifying its size and SHA-256. */
  exportModel(federationId: string, version: number): Promise<{ header: ModelHeader; bytes: Uint8Array }> {
    return new Promise((resolve, reject) => {
      const call: ClientReadableStream<ModelChunk> = this.client.exportModel({ federationId, version }, this.metadata);
      let header: ModelHeader | null = null;
      let bytes = new Uint8Array(0);
      let received = 0;
      const hash = createSha256();
      call.on('data', (chunk: ModelChunk) => {
        const part = chunk.part;
        if (part?.$case === 'header') {
          header = part.value;
          bytes = new Uint8Array(part.value.model?.sizeBytes ?? 0);
        } else if (part?.$case === 'data') {
          if (received + part.value.length > bytes.length) {
            call.cancel();
            reject(new CohortError('MODEL_HASH_MISMATCH', 'export exceeds the declared model size'));
            return;
          }
          bytes.set(part.value, received);
          hash.update(part.value);
          received += part.value.length;
        }
      });
      call.on('error', reject);
      call.on('end', () => {
        if (header === null) return reject(new CohortError('PROTOCOL_VIOLATION', 'export ended without a header'));
        const h: ModelHeader = header;
        if (received !== bytes.length) return reject(new CohortError('MODEL_HASH_MISMATCH', `export ended after ${received} of ${bytes.length} bytes`));
        const digest = hash.digestHex();
        if (digest !== h.model?.sha256) return reject(new CohortError('MODEL_HASH_MISMATCH', `exported bytes hash to ${digest}, header says ${h.model?.sha256}`));
        resolve({ header: h, bytes });
      });
    });
  }
}
