/**
 * Model weights and server-optimizer state as content-addressed files, with a small cache of decoded vectors and
 * the coordinator's signature over each version (clients pin the coordinator key and verify it before loading).
 */
import { decodeServerOptimizerState, encodeServerOptimizerState } from '../../shared/src/core/aggregation/index.js';
import type { ServerOptimizerState } from '../../shared/src/core/aggregation/index.js';
import { bytesToFloat32, float32ToBytes } from '../../shared/src/core/tensor/bytes.js';
import { modelSignaturePayload } from '../../shared/src/protocol/signing.js';
import type { ModelReference } from './round/messages.js';
import type { ModelFileStore, ModelVersionRecord } from './store/types.js';

const CACHE_ENTRIES = 6;

export class ModelRepository {
  private readonly bytesBySha = new Map<string, Uint8Array>();
  private readonly signatures = new Map<string, Uint8Array>();

  constructor(
    private readonly files: ModelFileStore,
    private readonly signPayload: (payload: Uint8Array) => Uint8Array,
  ) {}

  /** Raw little-endian float32 bytes of a stored model (verified against its hash on first read). */
  bytes(sha256: string): Uint8Array {
    const cached = this.bytesBySha.get(sha256);
    if (cached !== undefined) {
      // Refresh recency.
      this.bytesBySha.delete(sha256);
      this.bytesBySha.set(sha256, cached);
      return cached;
    }
    const bytes = this.files.read(sha256);
    this.remember(sha256, bytes);
    return bytes;
  }

  /** The flat weight vector of a model version (shared, do not mutate). */
  weights(version: ModelVersionRecord): Float32Array {
    return bytesToFloat32(this.bytes(version.sha256));
  }

  /** Writes a weight vector (fsynced) and returns its content address. */
  save(weights: Float32Array): { sha256: string; sizeBytes: number } {
    const bytes = float32ToBytes(weights);
    const stored = this.files.put(bytes);
    this.remember(stored.sha256, new Uint8Array(bytes));
    return stored;
  }

  /** Signed reference a client can verify. */
  reference(version: ModelVersionRecord): ModelReference {
    const key = `${version.federationId}/${version.version}/${version.sha256}`;
    let signature = this.signatures.get(key);
    if (signature === undefined) {
      signature = this.signPayload(modelSignaturePayload(version.federationId, version.version, version.sha256));
      this.signatures.set(key, signature);
    }
    return { federationId: version.federationId, version: version.version, sha256: version.sha256, sizeBytes: version.sizeBytes, signature };
  }

  optimizerState(version: ModelVersionRecord): ServerOptimizerState | null {
    if (version.optimizerStateSha256 === null) return null;
    return decodeServerOptimizerState(this.files.read(version.optimizerStateSha256));
  }

  saveOptimizerState(state: ServerOptimizerState | null): string | null {
    if (state === null) return null;
    return this.files.put(encodeServerOptimizerState(state)).sha256;
  }

  private remember(sha256: string, bytes: Uint8Array): void {
    this.bytesBySha.set(sha256, bytes);
    while (this.bytesBySha.size > CACHE_ENTRIES) {
      const oldest = this.bytesBySha.keys().next().value as string;
      this.bytesBySha.delete(oldest);
    }
  }
}
