/**
 * Section "transfer": model download and update upload over loopback gRPC through the real coordinator
 * (Coordinator.create/start, OperatorClient) and the real client transport (CoordinatorClient), for dense models of
 * 1M and 10M float32 parameters (4 MB and 40 MB). Downloads repeat within one round; uploads need a live round in
 * training and each client uploads once per round, so each size runs a federation whose rounds select several
 * enrolled clients. Baseline: the same bytes over a raw loopback TCP socket, alternated with the gRPC transfers so
 * both see the same load.
 *
 * Coordinator and client share this thread (as the two ends of the TCP baseline do): the figures are the CPU cost
 * of both ends of the transfer on one event loop, not what two machines would see.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { float32ToBytes } from '../shared/src/core/tensor/bytes.js';
import { createSeededRng } from '../shared/src/core/rng/rng.js';
import { sha256, sha256Hex } from '../shared/src/crypto/hash.js';
import { signingKeyPairFromSeed } from '../shared/src/crypto/sodium.js';
import type { AgentCapabilities } from '../shared/src/protocol/types.js';
import { CHUNK_BYTES } from '../shared/src/protocol/constants.js';
import { Coordinator } from '../coordinator/src/coordinator.js';
import { parseFederationConfig } from '../coordinator/src/federation/config.js';
import { federationConfigToProto } from '../coordinator/src/federation/spec-proto.js';
import { OperatorClient } from '../coordinator/src/operator-client.js';
import { CoordinatorClient } from '../client/src/transport/coordinator-client.js';
import type { AgentRoundEnd, AgentTask, OpenSession } from '../client/src/transport/coordinator-client.js';
import { openRawTcpLink } from './raw-tcp.js';
import type { RawTcpLink } from './raw-tcp.js';
import type { BenchRow, SectionResult } from './report.js';
import { row } from './report.js';
import { megabytesPerSecond, summarize } from './stats.js';
import type { Samples } from './stats.js';
import { denseClassifierTopology } from '../client/src/training/index.js';

/** Dense layer width; the input width makes (input + 1) · UNITS = the parameter count. */
const UNITS = 100;

/**
 * Per model size: timed downloads (after one warm-up) and rounds. Every round selects all AGENTS clients; each
 * uploads once. The last upload of a round completes it, and the coordinator aggregates and commits the round before
 * that upload's receipt reaches a client in this thread, so only the others are timed as uploads (the very first of
 * each size is a warm-up); the last is reported on its own row.
 */
const SIZES = [
  { parameters: 1_000_000, downloads: 7, rounds: 2 },
  { parameters: 10_000_000, downloads: 5, rounds: 1 },
] as const;
const AGENTS = 5;

const ADMIN_TOKEN = `bench-admin-${'x'.repeat(24)}`;
const WAIT_MS = 120_000;


/** What the session delivers, queued until the benchmark asks for it. */
class Inbox<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | null = null;

  push(item: T): void {
    this.items.push(item);
    this.waiter?.();
  }

  /** The first queued item matching `predicate` (removed), waiting up to timeoutMs; `closed` aborts the wait. */
  async take(what: string, predicate: (item: T) => boolean, timeoutMs: number, closed: () => string | null): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const index = this.items.findIndex(predicate);
      if (index >= 0) return this.items.splice(index, 1)[0]!;
      const reason = closed();
      if (reason !== null) throw new Error(`session ended while waiting for ${what}: ${reason}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 250));
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.waiter = done;
      });
      this.waiter = null;
    }
  }
}

interface SizeResult {
  parameters: number;
  bytes: number;
  createFederationMs: number;
  downloadMs: Samples;
  downloadMBps: Samples;
  tcpDownloadMs: Samples;
  tcpDownloadMBps: Samples;
  uploadMs: Samples;
  uploadMBps: Samples;
  tcpUploadMs: Samples;
  tcpUploadMBps: Samples;
  /** The upload that completes its round: its receipt comes after the aggregation and the commit. */
  closingUploadMs: Samples;
  /** SHA-256 of the same bytes once, for scale: each gRPC transfer hashes them on both ends. */
  sha256Ms: number;
  rounds: number;
}

/** One enrolled client with its own channel and session; what the session delivers waits in its inboxes. */
interface Agent {
  clientId: string;
  client: CoordinatorClient;
  session: OpenSession;
  tasks: Inbox<AgentTask>;
  ends: Inbox<AgentRoundEnd>;
  closedReason: () => string | null;
  protocolErrors: string[];
}

async function startAgent(address: string, operator: OperatorClient, index: number, cleanups: (() => Promise<void> | void)[]): Promise<Agent> {
  const client = new CoordinatorClient(address, null);
  cleanups.push(() => client.close());
  const keys = signingKeyPairFromSeed(sha256(`cohort-bench/transfer-client-${index}`));
  // No input shape: eligible for every model size, so one session serves both federations.
  const capabilities: AgentCapabilities = { backend: 'bench', platform: `node ${process.version}`, agentVersion: '0.0.0', numExamples: 100, inputShape: [], numClasses: 100, features: ['plaintext'], tasks: [] };
  const { token } = await operator.createEnrollmentToken(`bench transfer ${index}`, 600);
  const { clientId } = await client.enroll({ token, keys, capabilities, displayName: `bench transfer client ${index}` });
  const tasks = new Inbox<AgentTask>();
  const ends = new Inbox<AgentRoundEnd>();
  const protocolErrors: string[] = [];
  const session = await client.openSession({
    clientId,
    keys,
    capabilities,
    handlers: { onTask: (task) => tasks.push(task), onRoundEnd: (end) => ends.push(end), onSecAgg: () => undefined, onProtocolError: (message) => protocolErrors.push(message) },
  });
  let closedReason: string | null = null;
  void session.closed.then(({ reason }) => (closedReason = reason));
  cleanups.push(() => session.close());
  const heartbeat = setInterval(() => session.send('', { $case: 'heartbeat', value: { clientTimeMs: Date.now() } }), 5_000);
  cleanups.push(() => clearInterval(heartbeat));
  return { clientId, client, session, tasks, ends, closedReason: () => closedReason, protocolErrors };
}

async function measureSize(operator: OperatorClient, agents: Agent[], tcp: RawTcpLink, size: (typeof SIZES)[number], log: (line: string) => void): Promise<SizeResult> {
  const { parameters, rounds } = size;
  const bytesLength = parameters * 4;
  const inputSize = parameters / UNITS - 1;
  const name = `bench-transfer-${parameters}`;
  const spec = federationConfigToProto(
    parseFederationConfig({
      name,
      model: { topologyJson: denseClassifierTopology(inputSize, UNITS), initSeed: 1 },
      selection: { mode: 'fixed', cohortSize: agents.length, minClients: agents.length, minConnected: agents.length },
      deadlines: { configureMs: WAIT_MS / 2, trainingMs: WAIT_MS },
      rounds,
      selectionSeed: 1,
    }),
  );
  let start = performance.now();
  const federation = await operator.createFederation(spec, true);
  const createFederationMs = performance.now() - start;

  const rng = createSeededRng(`bench/transfer/${parameters}`);
  const delta = new Float32Array(parameters);
  for (let i = 0; i < parameters; i += 97) delta[i] = (rng.nextFloat() - 0.5) * 1e-3;
  const deltaBytes = float32ToBytes(delta);
  start = performance.now();
  sha256Hex(deltaBytes);
  const sha256Ms = performance.now() - start;

  const download: number[] = [];
  const tcpDownload: number[] = [];
  const upload: number[] = [];
  const tcpUpload: number[] = [];
  const closing: number[] = [];
  const deadline = (): number => Date.now() + WAIT_MS;
  let warmedUp = false;
  for (let round = 0; round < rounds; round++) {
    const tasks: AgentTask[] = [];
    for (const agent of agents) {
      const task = await agent.tasks.take(`round ${round + 1} of ${name}`, (t) => t.federationId === federation.id, WAIT_MS, agent.closedReason);
      agent.session.send(task.roundId, { $case: 'taskAck', value: { accepted: true, reason: '' } });
      if (task.roundId !== tasks[0]?.roundId && tasks.length > 0) throw new Error(`${name}: agents got tasks of different rounds`);
      if (task.model.sizeBytes !== bytesLength) throw new Error(`${name}: model is ${task.model.sizeBytes} bytes, expected ${bytesLength}`);
      tasks.push(task);
    }
    const first = tasks[0]!;
    if (round === 0) {
      // Download repetitions in the first round (any number is allowed), alternated with the raw TCP baseline.
      for (let rep = -1; rep < size.downloads; rep++) {
        start = performance.now();
        const model = await agents[0]!.client.downloadModel(agents[0]!.session.sessionToken, first.model, deadline());
        const ms = performance.now() - start;
        if (model.bytes.length !== bytesLength) throw new Error(`${name}: downloaded ${model.bytes.length} bytes, expected ${bytesLength}`);
        const tcpMs = await tcp.download(bytesLength);
        if (rep >= 0) {
          download.push(ms);
          tcpDownload.push(tcpMs);
        }
      }
    }
    for (let i = 0; i < agents.length; i++) {
      const agent = agents[i]!;
      start = performance.now();
      const receipt = await agent.client.uploadUpdate(
        agent.session.sessionToken,
        { roundId: first.roundId, kind: 'delta-float32', bytes: deltaBytes, numExamples: 100 + i, metrics: { train_loss: 0.5 } },
        deadline(),
      );
      const ms = performance.now() - start;
      if (receipt.bytesReceived !== bytesLength) throw new Error(`${name}: coordinator received ${receipt.bytesReceived} bytes, sent ${bytesLength}`);
      if (i === agents.length - 1) {
        closing.push(ms);
      } else if (!warmedUp) {
        warmedUp = true;
      } else {
        upload.push(ms);
        tcpUpload.push(await tcp.upload(deltaBytes));
      }
    }
    for (const agent of agents) {
      const end = await agent.ends.take(`the end of round ${first.roundNumber} of ${name}`, (e) => e.roundId === first.roundId, WAIT_MS, agent.closedReason);
      if (end.outcome !== 'committed') throw new Error(`${name}: round ${first.roundNumber} ended ${end.outcome} for ${agent.clientId}: ${end.reason}`);
    }
  }
  const final = await operator.getFederation(federation.id);
  log(`transfer: ${name}: ${final.roundsCommitted} round(s) committed`);
  const rate = (list: number[]): Samples => summarize(list.map((m) => megabytesPerSecond(bytesLength, m)));
  return {
    parameters,
    bytes: bytesLength,
    createFederationMs,
    downloadMs: summarize(download),
    downloadMBps: rate(download),
    tcpDownloadMs: summarize(tcpDownload),
    tcpDownloadMBps: rate(tcpDownload),
    uploadMs: summarize(upload),
    uploadMBps: rate(upload),
    tcpUploadMs: summarize(tcpUpload),
    tcpUploadMBps: rate(tcpUpload),
    closingUploadMs: summarize(closing),
    sha256Ms,
    rounds,
  };
}

export async function runTransferSection(log: (line: string) => void): Promise<SectionResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cohort-bench-transfer-'));
  const coordinatorLog: string[] = [];
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    const coordinator = await Coordinator.create({
      dataDir: dir,
      listen: '127.0.0.1:0',
      adminToken: ADMIN_TOKEN,
      log: (line) => coordinatorLog.push(line),
      schedulerPollMs: 20,
      // Rounds here wait on nothing but the benchmark; a long heartbeat keeps a slow machine from dropping sessions.
      heartbeatMs: 30_000,
    });
    cleanups.push(() => coordinator.stop('benchmark finished'));
    const info = await coordinator.start();
    const operator = new OperatorClient(info.address, ADMIN_TOKEN, null, WAIT_MS);
    cleanups.push(() => operator.close());
    const tcp = await openRawTcpLink(Math.max(...SIZES.map((s) => s.parameters * 4)));
    cleanups.push(() => tcp.close());
    const agents: Agent[] = [];
    for (let i = 0; i < AGENTS; i++) agents.push(await startAgent(info.address, operator, i, cleanups));

    const sizes: SizeResult[] = [];
    for (const size of SIZES) {
      log(`transfer: ${size.parameters.toLocaleString('en-US')} parameters (${(size.parameters * 4) / 1e6} MB), ${size.rounds} round(s) of ${AGENTS} clients`);
      sizes.push(await measureSize(operator, agents, tcp, size, log));
    }
    const protocolErrors = agents.flatMap((a) => a.protocolErrors);
    if (protocolErrors.length > 0) throw new Error(`session protocol errors: ${protocolErrors.join('; ')}`);

    const rows: BenchRow[] = [];
    for (const s of sizes) {
      const mb = `${s.bytes / 1e6} MB`;
      const tcpDown = { name: 'raw TCP', value: s.tcpDownloadMBps.median };
      const tcpUp = { name: 'raw TCP', value: s.tcpUploadMBps.median };
      rows.push(row(`download ${mb} (${s.parameters / 1e6}M params)`, s.downloadMBps.median, 'MB/s', tcpDown, `median of ${s.downloadMs.samples.length}; ${s.downloadMs.median.toFixed(0)} ms each`));
      rows.push(row(`upload ${mb} (${s.parameters / 1e6}M params)`, s.uploadMBps.median, 'MB/s', tcpUp, `median of ${s.uploadMs.samples.length}; ${s.uploadMs.median.toFixed(0)} ms each`));
      const closingMBps = megabytesPerSecond(s.bytes, s.closingUploadMs.median);
      rows.push(row(`  last upload of a round, ${mb}`, closingMBps, 'MB/s', tcpUp, `receipt after aggregate + commit: ${s.closingUploadMs.median.toFixed(0)} ms (median of ${s.closingUploadMs.samples.length})`));
    }
    return {
      section: 'transfer',
      title: `Model download / update upload over loopback gRPC (real coordinator + ${AGENTS} CoordinatorClients, all in one thread)`,
      ratioMeaning: 'gRPC MB/s / raw TCP MB/s of the same bytes (higher is better; MB = 10^6 bytes)',
      rows,
      parameters: { sizes: SIZES, clientsPerRound: AGENTS, denseUnits: UNITS, chunkBytes: CHUNK_BYTES, tls: false, sameThread: true },
      details: { sizes, coordinatorLogLines: coordinatorLog.length },
    };
  } catch (error) {
    if (coordinatorLog.length > 0) log(`transfer: coordinator log (last 20 lines):\n  ${coordinatorLog.slice(-20).join('\n  ')}`);
    throw error;
  } finally {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (error) {
        log(`transfer: cleanup failed: ${(error as Error).message}`);
      }
    }
  }
}
