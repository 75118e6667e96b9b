/**
 * Composition root of the coordinator: store, identity, sessions, round hub, scheduler, gRPC services. On start it
 * marks every round a previous process left unfinished as aborted ("coordinator restarted") and resumes running
 * federations from their last committed model.
 */
import type { Rng } from '../../shared/src/core/rng/rng.js';
import { createSecAggCrypto } from '../../shared/src/crypto/secagg-crypto.js';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Server } from '@grpc/grpc-js';
import { createStrategy } from '../../shared/src/core/aggregation/index.js';
import { CohortError } from '../../shared/src/core/errors.js';
import type { LabeledDataset } from '../../shared/src/core/data/dataset.js';
import { createSeededRng } from '../../shared/src/core/rng/rng.js';
import { createOsRng } from '../../shared/src/crypto/os-rng.js';
import { cryptoReady, sign, signingKeyPairFromSeed } from '../../shared/src/crypto/sodium.js';
import type { SigningKeyPair } from '../../shared/src/crypto/sodium.js';
import { ClientServiceService } from '../../shared/src/gen/fl/v1/client.pb.js';
import { OperatorServiceService } from '../../shared/src/gen/fl/v1/operator.pb.js';
import { HealthService } from '../../shared/src/gen/grpc/health/v1/health.pb.js';
import { HealthCheckResponse_ServingStatus } from '../../shared/src/gen/grpc/health/v1/health.pb.js';
import { DEFAULT_HEARTBEAT_MS } from '../../shared/src/protocol/constants.js';
import { describeTopology, selectBackend } from '../../client/src/training/index.js';
import { EventBus } from './events.js';
import { HeldOutEvaluator } from './evaluation.js';
import { parseFederationConfig } from './federation/config.js';
import { strategyOptionsOf } from './federation/strategy-options.js';
import type { FederationConfig, FederationConfigInput } from './federation/config.js';
import { createClientService } from './grpc/client-service.js';
import { createHealthService, HealthStatus } from './grpc/health.js';
import { createOperatorService } from './grpc/operator-service.js';
import { withTolerantDeserializers } from './grpc/malformed.js';
import { bindServer, createServer, serverCredentials } from './grpc/server.js';
import type { TlsFiles } from './grpc/server.js';
import { ModelRepository } from './models.js';
import { OperatorApi } from './operator-api.js';
import { RoundHub } from './round/hub.js';
import { Scheduler } from './round/scheduler.js';
import type { FederationRuntime } from './round/scheduler.js';
import type { RoundDependencies } from './round/workflow.js';
import { SessionRegistry } from './sessions/session-registry.js';
import { openStore } from './store/index.js';
import type { CoordinatorStore, FederationRecord } from './store/types.js';

export interface CoordinatorOptions {
  /** Holds the database, model files, identity key and admin token (created 0700 if missing). */
  dataDir: string;
  /** SQLite file; default <dataDir>/cohort.db. */
  databasePath?: string;
  /** host:port to listen on; port 0 picks an ephemeral port. */
  listen: string;
  tls?: TlsFiles | null;
  /** Operator credential; else read from adminTokenFile (default <dataDir>/admin-token), created 0600 if missing. */
  adminToken?: string;
  adminTokenFile?: string;
  heartbeatMs?: number;
  /** Federations created at start when no federation of that name exists. */
  federations?: FederationConfigInput[];
  /** Where the built-in Fashion-MNIST loader looks first (the --data-dir flag). */
  datasetDir?: string;
  /** Named in-memory evaluation datasets (simulations). */
  datasets?: Record<string, LabeledDataset>;
  log?: (line: string) => void;
  now?: () => number;
  /** Scheduler tuning (tests use short polls). */
  schedulerPollMs?: number;
  /** How long a new session may take from opening to answering the challenge (default 15 s; tests use less). */
  handshakeTimeoutMs?: number;
  /** Randomness of central DP noise; default the OS CSPRNG. Seeded only by simulations, which must replay. */
  noiseRng?: Rng;
  /** Randomness of randomized aggregation rules (FLAME's noise); default the OS CSPRNG. Seeded only by simulations. */
  ruleRng?: Rng;
}

export interface CoordinatorInfo {
  /** Bound address, host:port. */
  address: string;
  port: number;
  adminToken: string;
  adminTokenFile: string | null;
  publicKey: Uint8Array;
  dataDir: string;
  databasePath: string;
}

export class Coordinator {
  readonly api: OperatorApi;
  readonly events: EventBus;
  readonly store: CoordinatorStore;
  private server: Server | null = null;
  private info_: CoordinatorInfo | null = null;
  private stopped = false;
  /** Ends long-lived watch streams (events, health) when the coordinator stops. */
  private readonly shutdown = new AbortController();

  private constructor(
    private readonly options: CoordinatorOptions,
    private readonly parts: {
      store: CoordinatorStore;
      identity: SigningKeyPair;
      adminToken: string;
      adminTokenFile: string | null;
      sessions: SessionRegistry;
      hub: RoundHub;
      scheduler: Scheduler;
      events: EventBus;
      api: OperatorApi;
      health: HealthStatus;
      models: ModelRepository;
      databasePath: string;
      now: () => number;
      log: (line: string) => void;
    },
  ) {
    this.api = parts.api;
    this.events = parts.events;
    this.store = parts.store;
  }

  /** Opens the store, recovers from a previous crash, and builds every component (not yet listening). */
  static async create(options: CoordinatorOptions): Promise<Coordinator> {
    const now = options.now ?? Date.now;
    const log = options.log ?? ((line: string) => process.stderr.write(`${new Date(now()).toISOString()} coordinator ${line}\n`));
    await cryptoReady();
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    const databasePath = options.databasePath ?? path.join(options.dataDir, 'cohort.db');
    const store = openStore(databasePath, { modelDir: path.join(options.dataDir, 'models') });
    const swept = store.modelFiles.sweepTemporaryFiles();
    if (swept > 0) log(`removed ${swept} partial model file(s) left by an interrupted write`);
    const aborted = store.abortNonTerminalRounds('coordinator restarted', now(), 'coordinator');
    for (const round of aborted) log(`round ${round.number} of federation ${round.federationId} was in ${round.state} when the coordinator stopped: marked aborted`);

    // TF.js serves topology checks and held-out evaluation here; choose its backend once, logging the choice.
    await selectBackend('auto', (line) => log(line));
    const identity = loadOrCreateIdentity(path.join(options.dataDir, 'coordinator-identity.key'));
    const { adminToken, adminTokenFile } = resolveAdminToken(options);
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const events = new EventBus(now);
    const hub = new RoundHub({ findRound: (id) => store.getRound(id), log });
    const sessions = new SessionRegistry({
      now,
      heartbeatMs,
      onClosed: (clientId, reason) => {
        hub.disconnected(clientId, reason);
        events.emit({ type: 'client.disconnected', clientId, message: `client ${clientId} disconnected: ${reason}` });
      },
    });
    const models = new ModelRepository(store.modelFiles, (payload) => sign(payload, identity.secretKey));
    const evaluator = new HeldOutEvaluator({ dataDir: options.datasetDir, datasets: options.datasets });
    const deps: RoundDependencies = { store, gateway: sessions, hub, models, events, evaluator, rootTrainer: evaluator, now, log, secaggCrypto: createSecAggCrypto(), noiseRng: options.noiseRng };
    const runtimes = new Map<string, FederationRuntime>();
    const runtimeOf = async (federation: FederationRecord): Promise<FederationRuntime> => {
      let runtime = runtimes.get(federation.id);
      if (runtime === undefined) {
        runtime = await buildRuntime(federation, options.ruleRng);
        runtimes.set(federation.id, runtime);
      }
      return runtime;
    };
    const scheduler = new Scheduler(deps, runtimeOf, { pollMs: options.schedulerPollMs });
    const api = new OperatorApi({ store, models, sessions, scheduler, events, evaluator, coordinatorPublicKey: identity.publicKey, startedAt: now(), now, log });
    const health = new HealthStatus(['fl.v1.ClientService', 'fl.v1.OperatorService']);
    const coordinator = new Coordinator(options, {
      store, identity, adminToken, adminTokenFile, sessions, hub, scheduler, events, api, health, models, databasePath, now, log,
    });
    for (const input of options.federations ?? []) {
      const config = parseFederationConfig(input, `federation "${String((input as { name?: unknown }).name ?? '?')}"`);
      if (store.getFederationByName(config.name) === null) {
        await api.createFederation(config, { start: true });
        log(`created federation ${config.name} from the configuration file`);
      }
    }
    return coordinator;
  }

  /** Binds the gRPC server and resumes running federations. */
  async start(): Promise<CoordinatorInfo> {
    const { sessions, hub, models, events, store, identity, adminToken, health, api, scheduler, now, log } = this.parts;
    const logError = (message: string, error: unknown): void => log(`${message}: ${String((error as Error)?.stack ?? error)}`);
    const server = createServer();
    // Undecodable requests become INVALID_ARGUMENT in the handlers instead of grpc-js's INTERNAL.
    server.addService(
      withTolerantDeserializers(ClientServiceService),
      createClientService({ store, sessions, hub, models, events, coordinatorPublicKey: identity.publicKey, heartbeatMs: this.options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, now, log, logError, handshakeTimeoutMs: this.options.handshakeTimeoutMs }),
    );
    server.addService(withTolerantDeserializers(OperatorServiceService), createOperatorService({ api, events, adminToken, logError, shutdown: this.shutdown.signal }));
    server.addService(withTolerantDeserializers(HealthService), createHealthService(health, logError, this.shutdown.signal));
    const port = await bindServer(server, this.options.listen, serverCredentials(this.options.tls ?? null));
    this.server = server;
    const host = this.options.listen.slice(0, this.options.listen.lastIndexOf(':'));
    this.info_ = {
      address: `${host}:${port}`,
      port,
      adminToken,
      adminTokenFile: this.parts.adminTokenFile,
      publicKey: identity.publicKey,
      dataDir: this.options.dataDir,
      databasePath: this.parts.databasePath,
    };
    for (const federation of store.listFederations()) {
      if (federation.status === 'running') {
        log(`resuming federation ${federation.name} at round ${federation.roundsCommitted + 1} of ${federation.roundsTarget} from model version ${federation.currentModelVersion}`);
        scheduler.ensureRunning(federation.id);
      }
    }
    return this.info_;
  }

  get info(): CoordinatorInfo {
    if (this.info_ === null) throw new CohortError('FAILED_PRECONDITION', 'coordinator is not started');
    return this.info_;
  }

  /** Aborts rounds in progress (nothing half-done is committed), closes sessions, stops the server, closes the store. */
  async stop(reason = 'coordinator shutting down'): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.parts.health.setAll(HealthCheckResponse_ServingStatus.NOT_SERVING);
    await this.parts.scheduler.stopAll(reason);
    this.shutdown.abort(reason);
    this.parts.sessions.closeAll(reason);
    const server = this.server;
    if (server !== null) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    }
    this.parts.store.close();
  }
}

async function buildRuntime(federation: FederationRecord, ruleRng: Rng | undefined): Promise<FederationRuntime> {
  const config: FederationConfig = parseFederationConfig(federation.spec, `federation ${federation.name}`);
  // Randomized rules (FLAME's noise) draw from the OS CSPRNG: their randomness protects, it is not for replay.
  const strategy = createStrategy(strategyOptionsOf(config), { rng: ruleRng ?? createOsRng() });
  const described = await describeTopology(federation.topologyJson);
  const seed = config.selectionSeed;
  return {
    config,
    strategy,
    // Per-round generators: a restarted coordinator selects exactly as an uninterrupted one would.
    selectionRngFor: (roundNumber: number) => (seed === 0 ? createOsRng() : createSeededRng(`${seed}/${federation.name}/round-${roundNumber}`)),
    inputShape: described.inputShape,
  };
}

/** The coordinator's Ed25519 identity: a 32-byte seed in a 0600 file, created on first start. */
function loadOrCreateIdentity(file: string): SigningKeyPair {
  if (existsSync(file)) {
    const seed = readFileSync(file);
    if (seed.length !== 32) throw new CohortError('CONFIG_INVALID', `${file}: identity key file must hold a 32-byte seed, has ${seed.length} bytes`);
    return signingKeyPairFromSeed(new Uint8Array(seed));
  }
  const seed = randomBytes(32);
  writeSecretFile(file, seed);
  return signingKeyPairFromSeed(new Uint8Array(seed));
}

function resolveAdminToken(options: CoordinatorOptions): { adminToken: string; adminTokenFile: string | null } {
  if (options.adminToken !== undefined) {
    if (options.adminToken.length < 16) throw new CohortError('CONFIG_INVALID', 'adminToken must be at least 16 characters');
    return { adminToken: options.adminToken, adminTokenFile: null };
  }
  const file = options.adminTokenFile ?? path.join(options.dataDir, 'admin-token');
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length < 16) throw new CohortError('CONFIG_INVALID', `${file}: admin token must be at least 16 characters`);
    return { adminToken: token, adminTokenFile: file };
  }
  const token = `adm_${randomBytes(24).toString('base64url')}`;
  writeSecretFile(file, Buffer.from(`${token}\n`));
  return { adminToken: token, adminTokenFile: file };
}

/** Writes a secret atomically with owner-only permissions. */
export function writeSecretFile(file: string, content: Uint8Array): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.tmp-${process.pid}`;
  writeFileSync(temp, content, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}
