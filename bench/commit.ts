/**
 * Section "commit": what committing a round costs the coordinator, for d = 100k and 1M: the fsynced, content-addressed
 * model-file write (ModelFileStore.put: SHA-256, temp file, fsync, rename, directory fsync) plus the store's
 * commitRound transaction (model version, round, participation, verdict, audit entry; WAL with synchronous=FULL).
 * Baseline, same bytes, same directory, same run: fs.writeFileSync + fsyncSync, and one plain SQLite INSERT into a
 * WAL database with synchronous=FULL. Driven through openStore's public interface only.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createSeededRng } from '../shared/src/core/rng/rng.js';
import { float32ToBytes } from '../shared/src/core/tensor/bytes.js';
import { createLayout } from '../shared/src/core/tensor/layout.js';
import { sha256Hex } from '../shared/src/crypto/hash.js';
import { clientIdFromPublicKey } from '../shared/src/protocol/identity.js';
import { openStore } from '../coordinator/src/store/index.js';
import type { CoordinatorStore, ParticipationRecord } from '../coordinator/src/store/index.js';
import type { BenchRow, SectionResult } from './report.js';
import { filesystemType, row } from './report.js';
import { summarize } from './stats.js';
import type { Samples } from './stats.js';

/** Model sizes: a dense kernel [d/100 - 1, 100] plus a bias [100]. */
const DIMENSIONS = [100_000, 1_000_000] as const;
const REPS = 9;
const ACTOR = 'coordinator';

interface SizeResult {
  dimension: number;
  putMs: Samples;
  commitMs: Samples;
  totalMs: Samples;
  baselineWriteMs: Samples;
  baselineInsertMs: Samples;
  baselineTotalMs: Samples;
}

function enrollOneClient(store: CoordinatorStore, now: number): string {
  const token = `bench-token-${randomUUID()}`;
  store.createEnrollmentToken({ id: randomUUID(), tokenHash: sha256Hex(token), label: 'bench', createdAt: now, expiresAt: now + 3_600_000 }, 'operator');
  const publicKey = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
  const id = clientIdFromPublicKey(publicKey);
  store.enrollClient({
    tokenHash: sha256Hex(token),
    now,
    client: {
      id,
      identityPublicKey: publicKey,
      displayName: 'bench client',
      capabilities: { backend: 'wasm', platform: 'bench', agentVersion: '0.0.0', numExamples: 600, inputShape: [], numClasses: 10, features: ['plaintext'], tasks: [] },
    },
  });
  return id;
}

function measureSize(store: CoordinatorStore, baselineDb: Database.Database, baselineDir: string, clientId: string, dimension: number): SizeResult {
  const units = 100;
  const layout = createLayout([
    { name: 'dense_1/kernel', shape: [dimension / units - 1, units] },
    { name: 'dense_1/bias', shape: [units] },
  ]);
  if (layout.totalElements !== dimension) throw new Error(`layout has ${layout.totalElements} elements, wanted ${dimension}`);
  const rng = createSeededRng(`bench/commit/${dimension}`);
  const weights = new Float32Array(dimension);
  for (let i = 0; i < dimension; i++) weights[i] = (rng.nextFloat() - 0.5) * 0.1;
  let now = Date.now();
  const initial = store.modelFiles.put(float32ToBytes(weights));
  const { federation } = store.createFederation(
    {
      id: randomUUID(),
      name: `bench-commit-${dimension}`,
      spec: { name: `bench-commit-${dimension}` },
      topologyJson: '{"class_name":"Sequential","config":{"name":"bench","layers":[]}}',
      layout,
      roundsTarget: 1_000_000,
      createdAt: now,
      status: 'running',
    },
    { ...initial, optimizerStateSha256: null },
    'operator',
  );
  const insert = baselineDb.prepare('INSERT INTO model_versions (sha256, size_bytes, created_at) VALUES (?, ?, ?)');
  const put: number[] = [];
  const commit: number[] = [];
  const write: number[] = [];
  const ins: number[] = [];
  // One untimed round first: statements prepared, pages cached, directories created.
  for (let rep = -1; rep < REPS; rep++) {
    now += 1000;
    const round = store.startRound({ id: randomUUID(), federationId: federation.id, startedAt: now, modelInVersion: federation.currentModelVersion + rep + 1, config: {} }, ACTOR);
    store.updateRound(round.id, { state: 'aggregating', selected: [clientId], survivors: { selected: 1, configuring: 1, training: 1 } });
    weights[rep + 1] = (weights[rep + 1] ?? 0) + 0.5; // A new model: a new content address.
    const bytes = float32ToBytes(weights);
    const participation: ParticipationRecord = {
      roundId: round.id, clientId, stageReached: 'training', dropped: false, dropoutStage: null, dropoutReason: null, numExamples: 600,
      metrics: { train_loss: 0.5, train_accuracy: 0.8 }, bytesUp: bytes.length, bytesDown: bytes.length, backend: 'wasm', verdict: null, contributionId: null,
    };

    // Measured path, as the round workflow does it: file first (fsynced), then the one transaction.
    const t0 = performance.now();
    const file = store.modelFiles.put(bytes);
    const t1 = performance.now();
    store.commitRound(
      {
        roundId: round.id,
        now,
        model: { sha256: file.sha256, sizeBytes: file.sizeBytes, optimizerStateSha256: null },
        metrics: { participants: 1, selected: 1, dropouts: 0, total_weight: 600, round: round.number, seconds: 1 },
        survivors: { selected: 1, configuring: 1, training: 1 },
        participations: [participation],
        bytesUp: bytes.length,
        bytesDown: bytes.length,
        completesFederation: false,
        verdicts: [{ contributionId: clientId, clientId, bucket: null, verdict: 'accepted', reason: 'fedavg', scores: { weight: 600 } }],
      },
      ACTOR,
    );
    const t2 = performance.now();

    // Baseline: the same bytes written and fsynced plainly, and one plain INSERT (its own fsynced transaction).
    const plainFile = path.join(baselineDir, `plain-${dimension}-${rep + 1}.bin`);
    const t3 = performance.now();
    const fd = fs.openSync(plainFile, 'w');
    try {
      fs.writeFileSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const t4 = performance.now();
    insert.run(file.sha256, bytes.length, now);
    const t5 = performance.now();
    if (rep >= 0) {
      put.push(t1 - t0);
      commit.push(t2 - t1);
      write.push(t4 - t3);
      ins.push(t5 - t4);
    }
  }
  const total = put.map((p, i) => p + commit[i]!);
  const baselineTotal = write.map((w, i) => w + ins[i]!);
  return {
    dimension,
    putMs: summarize(put),
    commitMs: summarize(commit),
    totalMs: summarize(total),
    baselineWriteMs: summarize(write),
    baselineInsertMs: summarize(ins),
    baselineTotalMs: summarize(baselineTotal),
  };
}

export async function runCommitSection(log: (line: string) => void): Promise<SectionResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cohort-bench-commit-'));
  const baselineDir = path.join(dir, 'plain');
  fs.mkdirSync(baselineDir);
  let store: CoordinatorStore | null = null;
  let baselineDb: Database.Database | null = null;
  try {
    store = openStore(path.join(dir, 'cohort.db'), { modelDir: path.join(dir, 'models') });
    baselineDb = new Database(path.join(baselineDir, 'plain.db'));
    baselineDb.pragma('journal_mode = WAL');
    baselineDb.pragma('synchronous = FULL');
    baselineDb.exec('CREATE TABLE model_versions (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL, created_at INTEGER NOT NULL)');
    const clientId = enrollOneClient(store, Date.now());
    const sizes: SizeResult[] = [];
    for (const dimension of DIMENSIONS) {
      const result = measureSize(store, baselineDb, baselineDir, clientId, dimension);
      log(`commit: d=${dimension}: ${result.totalMs.median.toFixed(1)} ms vs baseline ${result.baselineTotalMs.median.toFixed(1)} ms`);
      sizes.push(result);
    }
    const rows: BenchRow[] = [];
    for (const s of sizes) {
      const d = s.dimension >= 1_000_000 ? `${s.dimension / 1_000_000}M` : `${s.dimension / 1000}k`;
      const mb = ((s.dimension * 4) / 1e6).toFixed(1);
      rows.push(row(`d=${d} (${mb} MB): put + commitRound`, s.totalMs.median, 'ms', { name: 'write+fsync + INSERT', value: s.baselineTotalMs.median }, `median of ${REPS}`));
      rows.push(row(`  d=${d} model file put`, s.putMs.median, 'ms', { name: 'writeFileSync+fsyncSync', value: s.baselineWriteMs.median }, 'sha256, temp file, fsync, rename, dir fsync'));
      rows.push(row(`  d=${d} commitRound`, s.commitMs.median, 'ms', { name: 'plain INSERT', value: s.baselineInsertMs.median }, 'one IMMEDIATE transaction, WAL, synchronous=FULL'));
    }
    const fsType = filesystemType(dir);
    const fsNote = fsType === null ? '' : fsType === 'tmpfs' ? ', tmpfs: fsync is nearly free here' : `, ${fsType}`;
    return {
      section: 'commit',
      title: `Round commit (openStore on ${dir.replace(/-[^-/]+$/, '-*')}${fsNote})`,
      ratioMeaning: `coordinator time / plain baseline time (lower is better); every figure a median of ${REPS} rounds`,
      rows,
      parameters: { dimensions: DIMENSIONS, reps: REPS, tempDir: dir, filesystem: fsType, participationsPerRound: 1, verdictsPerRound: 1 },
      details: { sizes },
    };
  } finally {
    baselineDb?.close();
    store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
