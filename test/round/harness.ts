// A coordinator without gRPC for round tests: a real store on a temp file, a federation with model version 0 (d = 10),
// the real strategy, and the in-memory gateway. Deadlines are tens of milliseconds, so these tests run in real time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { createStrategy } from '../../shared/src/core/aggregation/index.js';
import { createSeededRng } from '../../shared/src/core/rng/rng.js';
import { float32ToBytes } from '../../shared/src/core/tensor/bytes.js';
import { createLayout } from '../../shared/src/core/tensor/layout.js';
import { sha256Hex } from '../../shared/src/crypto/hash.js';
import { sign, signingKeyPairFromSeed } from '../../shared/src/crypto/sodium.js';
import type { SigningKeyPair } from '../../shared/src/crypto/sodium.js';
import { EventBus } from '../../coordinator/src/events.js';
import type { CoordinatorEvent, EventType } from '../../coordinator/src/events.js';
import { parseFederationConfig } from '../../coordinator/src/federation/config.js';
import type { FederationConfig, FederationConfigInput } from '../../coordinator/src/federation/config.js';
import { strategyOptionsOf } from '../../coordinator/src/federation/strategy-options.js';
import { ModelRepository } from '../../coordinator/src/models.js';
import { InMemoryGateway, RoundHub, Scheduler, runRound } from '../../coordinator/src/round/index.js';
import type {
  FederationRuntime,
  InMemoryClient,
  InMemoryClientHandler,
  OutboundMessage,
  RoundDependencies,
  RoundResult,
  RoundTaskMessage,
  SchedulerOptions,
} from '../../coordinator/src/round/index.js';
import { createSecAggCrypto } from '../../shared/src/crypto/secagg-crypto.js';
import { openStore } from '../../coordinator/src/store/index.js';
import type { ClientCapabilitiesRecord, CoordinatorStore, FederationRecord } from '../../coordinator/src/store/index.js';

/** Two dense tensors: d = 10 parameters. */
export const LAYOUT = createLayout([
  { name: 'dense/kernel', shape: [4, 2] },
  { name: 'dense/bias', shape: [2] },
]);
export const D = LAYOUT.totalElements;
export const INPUT_SHAPE = [28, 28, 1] as const;
export const FEDERATION_ID = 'fed-1';

/** Model version 0: w_i = (i − 4.5) / 10. */
export function initialWeights(): Float32Array {
  return Float32Array.from({ length: D }, (_, i) => (i - 4.5) / 10);
}

/** A delta whose element i is scale · (i + 1). */
export function rampDelta(scale: number): Float32Array {
  return Float32Array.from({ length: D }, (_, i) => scale * (i + 1));
}

export function capabilities(overrides: Partial<ClientCapabilitiesRecord> = {}): ClientCapabilitiesRecord {
  return {
    backend: 'cpu',
    platform: 'test',
    agentVersion: '0.1.0',
    numExamples: 100,
    inputShape: [...INPUT_SHAPE],
    numClasses: 10,
    features: ['plaintext'],
    tasks: [],
    ...overrides,
  };
}

/** The coordinator's signing key in tests (fixed seed; libsodium is ready once the setup file ran). */
export function coordinatorKeys(): SigningKeyPair {
  return signingKeyPairFromSeed(new Uint8Array(32).fill(7));
}

export type ConfigOverrides = Omit<Partial<FederationConfigInput>, 'selection' | 'deadlines'> & {
  selection?: Partial<NonNullable<FederationConfigInput['selection']>>;
  deadlines?: Partial<NonNullable<FederationConfigInput['deadlines']>>;
};

/** A validated config: fixed cohort of 3 (min 2), 40 ms to accept, 400 ms to train, seed 42. */
export function testConfig(overrides: ConfigOverrides = {}): FederationConfig {
  const { selection, deadlines, ...rest } = overrides;
  return parseFederationConfig({
    name: 'round-tests',
    model: { builtin: 'fmnist-mlp' },
    rounds: 3,
    selectionSeed: 42,
    ...rest,
    selection: { mode: 'fixed', cohortSize: 3, minClients: 2, ...selection },
    deadlines: { configureMs: 40, trainingMs: 400, ...deadlines },
  });
}

export function runtimeOf(config: FederationConfig, inputShape: readonly number[] | null = INPUT_SHAPE): FederationRuntime {
  return {
    config,
    strategy: createStrategy(strategyOptionsOf(config)),
    selectionRngFor: (roundNumber) => createSeededRng(`${config.selectionSeed}/${config.name}/round-${roundNumber}`),
    inputShape,
  };
}

/** A fresh temp dir, on tmpfs where there is one: the store fsyncs every commit, which is all these tests wait on. */
export function makeTempDir(): string {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  return fs.mkdtempSync(path.join(base, 'cohort-round-'));
}

export interface HarnessOptions {
  config?: FederationConfig;
  /** Reuse a directory (a store reopened after a simulated restart); default a fresh temp dir. */
  dir?: string;
  /** Create the federation and its model version 0 (default true; false when reopening). */
  createFederation?: boolean;
  inputShape?: readonly number[] | null;
  /** The coordinator's secure-aggregation randomness (bucket permutation seeds); default the OS CSPRNG. */
  secaggRandomBytes?: (length: number) => Uint8Array;
}

/** Everything a round needs, wired as the coordinator wires it, minus gRPC. */
export class Harness {
  readonly dir: string;
  readonly store: CoordinatorStore;
  readonly hub: RoundHub;
  readonly gateway: InMemoryGateway;
  readonly models: ModelRepository;
  readonly events: EventBus;
  /** Every event emitted, in order. */
  readonly eventLog: CoordinatorEvent[] = [];
  readonly logs: string[] = [];
  readonly keys = coordinatorKeys();
  readonly deps: RoundDependencies;
  config: FederationConfig;
  runtime: FederationRuntime;
  private readonly ownsDir: boolean;

  constructor(options: HarnessOptions = {}) {
    this.ownsDir = options.dir === undefined;
    this.dir = options.dir ?? makeTempDir();
    this.store = openStore(path.join(this.dir, 'cohort.db'));
    this.config = options.config ?? testConfig();
    this.runtime = runtimeOf(this.config, options.inputShape === undefined ? INPUT_SHAPE : options.inputShape);
    const log = (line: string): void => void this.logs.push(line);
    this.hub = new RoundHub({ findRound: (id) => this.store.getRound(id), log });
    this.models = new ModelRepository(this.store.modelFiles, (payload) => sign(payload, this.keys.secretKey));
    this.gateway = new InMemoryGateway({ hub: this.hub, models: this.models });
    this.events = new EventBus(Date.now);
    this.events.subscribe((event) => this.eventLog.push(event));
    this.deps = { store: this.store, gateway: this.gateway, hub: this.hub, models: this.models, events: this.events, evaluator: null, now: Date.now, log, secaggCrypto: createSecAggCrypto({ randomBytes: options.secaggRandomBytes }) };
    if (options.createFederation ?? true) {
      const file = this.store.modelFiles.put(float32ToBytes(initialWeights()));
      this.store.createFederation(
        {
          id: FEDERATION_ID,
          name: this.config.name,
          spec: this.config as unknown as Record<string, unknown>,
          topologyJson: JSON.stringify({ class_name: 'Sequential', config: { layers: [] } }),
          layout: LAYOUT,
          roundsTarget: this.config.rounds,
          createdAt: Date.now(),
          status: 'running',
        },
        { sha256: file.sha256, sizeBytes: file.sizeBytes, optimizerStateSha256: null },
        'operator',
      );
    }
  }

  get federation(): FederationRecord {
    return this.store.getFederation(FEDERATION_ID)!;
  }

  /** Enrolls a client in the store (once) so it can be selected and its participation recorded. */
  enroll(clientId: string, caps: ClientCapabilitiesRecord = capabilities(), identityPublicKey?: Uint8Array): void {
    if (this.store.getClient(clientId) !== null) return;
    const tokenHash = sha256Hex(`token-${clientId}`);
    const now = Date.now();
    this.store.createEnrollmentToken({ id: `tok-${clientId}`, tokenHash, label: clientId, createdAt: now, expiresAt: now + 3_600_000 }, 'operator');
    const key = identityPublicKey ?? new Uint8Array(32);
    if (identityPublicKey === undefined) key.set(new TextEncoder().encode(clientId.padEnd(32, '.')).subarray(0, 32));
    this.store.enrollClient({ tokenHash, now, client: { id: clientId, identityPublicKey: key, displayName: clientId, capabilities: caps } });
  }

  /** Enrolls (if needed) and connects a simulated client. */
  connect(clientId: string, handler: InMemoryClientHandler | null, caps: ClientCapabilitiesRecord = capabilities(), identityPublicKey?: Uint8Array): InMemoryClient {
    this.enroll(clientId, caps, identityPublicKey);
    return this.gateway.connect(clientId, caps, handler);
  }

  /** Runs one round of the federation with the harness runtime. */
  runRound(signal: AbortSignal = new AbortController().signal): Promise<RoundResult> {
    return runRound(this.deps, { federation: this.federation, ...this.runtime, signal });
  }

  scheduler(options: SchedulerOptions & { runtimeOf?: () => Promise<FederationRuntime> } = {}): Scheduler {
    const { runtimeOf, ...rest } = options;
    return new Scheduler(this.deps, runtimeOf ?? (async () => this.runtime), { pollMs: 5, backoffMs: 5, ...rest });
  }

  /** Types of the round events so far, progress left out. */
  roundEventTypes(): string[] {
    return this.eventLog.filter((e) => e.type.startsWith('round.') && e.type !== 'round.progress').map((e) => (e.type === 'round.stage' ? `round.stage:${e.message.split(' ').pop()}` : e.type));
  }

  /** Resolves with the first event (past or future) matching; rejects after timeoutMs. */
  waitForEvent(type: EventType, predicate: (event: CoordinatorEvent) => boolean = () => true, timeoutMs = 3000): Promise<CoordinatorEvent> {
    const past = this.eventLog.find((e) => e.type === type && predicate(e));
    if (past !== undefined) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`no ${type} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const unsubscribe = this.events.subscribe((event) => {
        if (event.type !== type || !predicate(event)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(event);
      });
    });
  }

  /** Closes the store; removes the directory unless it was given (a restart test reopens it). */
  close(): void {
    this.store.close();
    if (this.ownsDir) removeDir(this.dir);
  }
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

// Simulated client behaviours.

/** Accepts every task and uploads delta(roundNumber) with numExamples examples. */
export function honest(delta: (task: RoundTaskMessage) => Float32Array, numExamples = 10, metrics: Record<string, number> = {}): InMemoryClientHandler {
  return (message, client) => {
    if (message.kind !== 'task') return;
    client.accept(message.roundId);
    client.upload(message.roundId, delta(message), { numExamples, metrics });
  };
}

/** Accepts every task and never uploads. */
export const acceptOnly: InMemoryClientHandler = (message, client) => {
  if (message.kind === 'task') client.accept(message.roundId);
};

/** Declines every task. */
export function decliner(reason: string): InMemoryClientHandler {
  return (message, client) => {
    if (message.kind === 'task') client.decline(message.roundId, reason);
  };
}

export function tasksOf(client: InMemoryClient): RoundTaskMessage[] {
  return client.received.filter((m): m is RoundTaskMessage => m.kind === 'task');
}

export function endsOf(client: InMemoryClient): Extract<OutboundMessage, { kind: 'end' }>[] {
  return client.received.filter((m): m is Extract<OutboundMessage, { kind: 'end' }> => m.kind === 'end');
}

/** Lets every queued microtask and I/O callback run (handlers answer in microtasks). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `predicate` holds (polled every 2 ms); rejects after timeoutMs. */
export async function eventually(predicate: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(2);
  }
}

export { expectCohortError } from '../helpers/errors.js';

/** Largest |a_i − b_i|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** w + Σ n_k Δ_k / Σ n_k, in float64: FedAvg with server learning rate 1, by hand. */
export function fedAvgByHand(weights: Float32Array, updates: { delta: Float32Array; numExamples: number }[]): Float64Array {
  const total = updates.reduce((n, u) => n + u.numExamples, 0);
  return Float64Array.from(weights, (w, i) => w + updates.reduce((s, u) => s + u.numExamples * u.delta[i]!, 0) / total);
}
