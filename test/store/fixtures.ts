// Deterministic fixtures for the store tests: ids, keys, tokens, weights and a federation ready to run rounds.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLayout } from '../../shared/src/core/tensor/layout.js';
import { float32ToBytes } from '../../shared/src/core/tensor/bytes.js';
import { sha256Hex } from '../../shared/src/crypto/hash.js';
import type {
  ClientCapabilitiesRecord,
  ClientRecord,
  CoordinatorStore,
  FederationRecord,
  ModelVersionRecord,
  NewModelFile,
  ParticipationRecord,
} from '../../coordinator/src/store/index.js';

/** A fixed start time (ms); tests add offsets so every run writes the same rows. */
export const T0 = 1_767_225_600_000;
export const HOUR = 3_600_000;
export const OPERATOR = 'operator';

/** Two dense tensors, 10 float32 weights = 40 bytes per model file. */
export const LAYOUT = createLayout([
  { name: 'dense/kernel', shape: [4, 2] },
  { name: 'dense/bias', shape: [2] },
]);

export const TOPOLOGY_JSON = JSON.stringify({ class_name: 'Sequential', config: { name: 'tiny', layers: [] } });

export function capabilities(overrides: Partial<ClientCapabilitiesRecord> = {}): ClientCapabilitiesRecord {
  return {
    backend: 'wasm',
    platform: 'linux-x64',
    agentVersion: '0.1.0',
    numExamples: 600,
    inputShape: [28, 28, 1],
    numClasses: 10,
    features: ['secagg', 'dp'],
    tasks: ['image-classification'],
    ...overrides,
  };
}

/** A 32-byte identity key whose bytes are derived from `seed` (distinct seeds give distinct keys). */
export function identityKey(seed: number): Uint8Array {
  const key = new Uint8Array(32);
  for (let i = 0; i < key.length; i++) key[i] = (seed * 31 + i * 7) & 0xff;
  key[0] = seed & 0xff;
  key[1] = (seed >> 8) & 0xff;
  return key;
}

/** The plaintext token for `name` and the hash the store keeps. */
export function token(name: string): { token: string; tokenHash: string } {
  const value = `tok-${name}-0123456789abcdef`;
  return { token: value, tokenHash: sha256Hex(value) };
}

/** Float32 weights for model `seed`, as the little-endian bytes a model file holds. */
export function weightBytes(seed: number): Uint8Array {
  const weights = new Float32Array(LAYOUT.totalElements);
  for (let i = 0; i < weights.length; i++) weights[i] = seed + i / 16;
  return new Uint8Array(float32ToBytes(weights));
}

/** Puts the weights for `seed` into the store's file store and returns the NewModelFile naming them. */
export function putModel(store: CoordinatorStore, seed: number, optimizerState: Uint8Array | null = null): NewModelFile {
  const file = store.modelFiles.put(weightBytes(seed));
  const optimizerStateSha256 = optimizerState === null ? null : store.modelFiles.put(optimizerState).sha256;
  return { sha256: file.sha256, sizeBytes: file.sizeBytes, optimizerStateSha256 };
}

/** Creates a token and enrolls client `c<seed>` with it. */
export function enroll(store: CoordinatorStore, seed: number, at = T0): ClientRecord {
  const { tokenHash } = token(`c${seed}`);
  store.createEnrollmentToken({ id: `token-c${seed}`, tokenHash, label: `node ${seed}`, createdAt: at, expiresAt: at + HOUR }, OPERATOR);
  return store.enrollClient({ tokenHash, now: at + 1, client: { id: `c${seed}`, identityPublicKey: identityKey(seed), displayName: `node ${seed}`, capabilities: capabilities() } });
}

/** Creates a running federation `id` with model version 0 (weights seed 0). */
export function createRunningFederation(
  store: CoordinatorStore,
  id = 'f1',
  options: { roundsTarget?: number; at?: number } = {},
): { federation: FederationRecord; modelVersion: ModelVersionRecord } {
  return store.createFederation(
    {
      id,
      name: `federation ${id}`,
      spec: { rounds: options.roundsTarget ?? 3, strategy: { name: 'fedavg' }, privacy: { epsilon: 8, delta: 1e-5 } },
      topologyJson: TOPOLOGY_JSON,
      layout: LAYOUT,
      roundsTarget: options.roundsTarget ?? 3,
      createdAt: options.at ?? T0,
      status: 'running',
    },
    putModel(store, 0),
    OPERATOR,
  );
}

/** A participation of client `clientId` in `roundId` that reached `stage`. */
export function participation(roundId: string, clientId: string, overrides: Partial<ParticipationRecord> = {}): ParticipationRecord {
  return {
    roundId,
    clientId,
    stageReached: 'uploaded',
    dropped: false,
    dropoutStage: null,
    dropoutReason: null,
    numExamples: 600,
    metrics: { train_loss: 0.5, train_accuracy: 0.8 },
    bytesUp: 40,
    bytesDown: 40,
    backend: 'wasm',
    verdict: 'accepted',
    contributionId: clientId,
    ...overrides,
  };
}

/** A fresh temp directory; remove it with removeTempDir. */
export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cohort-${prefix}-`));
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
