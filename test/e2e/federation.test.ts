/**
 * End to end, for real: a coordinator over gRPC on loopback with a SQLite file, three client agents training with
 * TF.js on their own shares of Fashion-MNIST, two rounds of FedAvg; held-out accuracy must rise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../shared/src/core/rng/rng.js';
import { sha256 } from '../../shared/src/crypto/hash.js';
import { ClientAgent } from '../../client/src/agent.js';
import type { AgentRoundSummary } from '../../client/src/agent.js';
import { createTfjsTrainer } from '../../client/src/tfjs-trainer.js';
import { Coordinator } from '../../coordinator/src/coordinator.js';
import { parseFederationConfig } from '../../coordinator/src/federation/config.js';
import { federationConfigToProto } from '../../coordinator/src/federation/spec-proto.js';
import { OperatorClient } from '../../coordinator/src/operator-client.js';
import { openStore } from '../../coordinator/src/store/index.js';
import { evaluateModel } from '../../client/src/training/index.js';
import { bytesToFloat32 } from '../../shared/src/core/tensor/bytes.js';
import { smallFederatedData } from '../helpers/data.js';

const ADMIN = 'e2e-admin-token-0123456789';

describe('federation end to end over gRPC', () => {
  let dir: string;
  let coordinator: Coordinator;
  let operator: OperatorClient;
  const agents: ClientAgent[] = [];
  const runs: Promise<void>[] = [];
  const summaries: AgentRoundSummary[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cohort-e2e-'));
    const { shares, test } = await smallFederatedData(3, 400, 500);
    coordinator = await Coordinator.create({
      dataDir: dir,
      listen: '127.0.0.1:0',
      adminToken: ADMIN,
      datasets: { 'e2e-test': test },
      log: () => undefined,
      schedulerPollMs: 50,
    });
    const info = await coordinator.start();
    operator = new OperatorClient(info.address, ADMIN);
    const config = parseFederationConfig({
      name: 'e2e',
      model: { builtin: 'fmnist-mlp', initSeed: 3 },
      plan: { epochs: 1, batchSize: 32, optimizer: 'sgd', learningRate: 0.1, seed: 5 },
      selection: { mode: 'fixed', cohortSize: 3, minClients: 3, minConnected: 3 },
      deadlines: { configureMs: 10_000, trainingMs: 60_000 },
      evaluation: { dataset: 'e2e-test', split: 'test' },
      rounds: 2,
      selectionSeed: 11,
    });
    await operator.createFederation(federationConfigToProto(config), true);
    const trainer = await createTfjsTrainer('wasm', () => undefined);
    for (let i = 0; i < 3; i++) {
      const token = (await operator.createEnrollmentToken(`e2e-${i}`, 600)).token;
      const agent = new ClientAgent({
        coordinator: info.address,
        tls: null,
        identityFile: path.join(dir, `agent-${i}`, 'identity.json'),
        identitySeed: sha256(`e2e-client-${i}`),
        token,
        displayName: `e2e-${i}`,
        data: { train: shares[i]!, test: null },
        trainer,
        rng: createSeededRng(i),
        log: () => undefined,
        onRoundDone: (s) => summaries.push(s),
      });
      agents.push(agent);
      runs.push(agent.run());
    }
  }, 120_000);

  afterAll(async () => {
    for (const agent of agents) agent.stop();
    await Promise.allSettled(runs);
    operator?.close();
    await coordinator?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits two rounds with all three clients, and held-out accuracy rises', async () => {
    const deadline = Date.now() + 150_000;
    let federation = await operator.getFederation('e2e');
    while (federation.roundsCommitted < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      federation = await operator.getFederation('e2e');
    }
    expect(federation.roundsCommitted).toBe(2);
    const rounds = (await operator.listRounds(federation.id)).filter((r) => r.state === 'committed').sort((a, b) => a.number - b.number);
    expect(rounds).toHaveLength(2);
    for (const round of rounds) {
      expect(round.survivors['training']).toBe(3);
      expect(round.participations.every((p) => !p.dropped && p.numExamples === 400 && p.backend === 'wasm')).toBe(true);
      expect(round.bytesUp).toBe(3 * (federation.currentModel!.sizeBytes));
    }
    const acc = rounds.map((r) => r.metrics!.values['eval_accuracy']!);

    // Accuracy of the initial model, evaluated the same way, is chance level.
    const store = coordinator.store;
    const fed = store.getFederationByName('e2e')!;
    const initial = bytesToFloat32(store.modelFiles.read(store.getModelVersion(fed.id, 0)!.sha256));
    const { test } = await smallFederatedData(3, 400, 500);
    const before = await evaluateModel({ topologyJson: fed.topologyJson, layout: fed.layout, weights: initial, data: test });
    expect(before.accuracy).toBeLessThan(0.3);
    expect(acc[0]!).toBeGreaterThan(before.accuracy + 0.2);
    expect(acc[1]!).toBeGreaterThan(acc[0]!);
    expect(summaries.filter((s) => s.outcome === 'uploaded')).toHaveLength(6);
  }, 180_000);

  it('persisted everything in the SQLite file: versions 0..2 chained, audit trail intact', async () => {
    const fed = coordinator.store.getFederationByName('e2e')!;
    const versions = coordinator.store.listModelVersions(fed.id).sort((a, b) => a.version - b.version);
    expect(versions.map((v) => v.version)).toEqual([0, 1, 2]);
    expect(versions[1]!.parentSha256).toBe(versions[0]!.sha256);
    expect(versions[2]!.parentSha256).toBe(versions[1]!.sha256);
    // A second, independent connection to the same file sees the same committed state.
    const reader = openStore(path.join(dir, 'cohort.db'), { modelDir: path.join(dir, 'models') });
    try {
      expect(reader.getFederationByName('e2e')!.roundsCommitted).toBe(2);
      expect(reader.verifyAuditChain().ok).toBe(true);
    } finally {
      reader.close();
    }
  });
});
