/**
 * Crash safety: the coordinator process is SIGKILLed in the middle of a round, restarted on the same database, and
 * the federation finishes. Every model version committed before the crash is still there, byte for byte; the round
 * that was in flight is recorded as aborted ("coordinator restarted"); the audit chain still verifies.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../shared/src/core/rng/rng.js';
import { sha256, sha256Hex } from '../../shared/src/crypto/hash.js';
import { packageRoot } from '../../shared/src/data/repo-root.js';
import { ClientAgent } from '../../client/src/agent.js';
import { createTfjsTrainer } from '../../client/src/tfjs-trainer.js';
import { OperatorClient } from '../../coordinator/src/operator-client.js';
import { openStore } from '../../coordinator/src/store/index.js';
import { smallFederatedData } from '../helpers/data.js';

const CLI = path.join(packageRoot(), 'dist', 'bin', 'cohort.js');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts `cohort coordinator serve` and resolves once it prints that it listens. */
function startCoordinator(config: string): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'coordinator', 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`coordinator did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('listening on')) {
        clearTimeout(timer);
        resolve({ child, output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!output.includes('listening on')) reject(new Error(`coordinator exited with ${code}:\n${output}`));
    });
  });
}

async function until<T>(probe: () => Promise<T | null>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== null) return value;
    } catch {
      // The coordinator may be restarting: keep polling.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('coordinator crash and restart', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-crash-'));
  const agents: ClientAgent[] = [];
  const runs: Promise<void>[] = [];
  let child: ChildProcess | null = null;

  afterAll(async () => {
    for (const agent of agents) agent.stop();
    await Promise.allSettled(runs);
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no committed model version when SIGKILLed mid-round, and finishes the federation after restart', async () => {
    expect(existsSync(CLI), 'run `npm run build` first: the test starts the compiled CLI').toBe(true);
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const config = path.join(dir, 'coordinator.yaml');
    writeFileSync(
      config,
      [
        `listen: ${address}`,
        'dataDir: ./data',
        'heartbeatMs: 1000',
        'federations:',
        '  - name: crash',
        '    model: { builtin: fmnist-mlp, initSeed: 1 }',
        '    plan: { epochs: 2, batchSize: 16, optimizer: sgd, learningRate: 0.05, seed: 2 }',
        '    selection: { mode: fixed, cohortSize: 2, minClients: 2, minConnected: 2 }',
        '    deadlines: { configureMs: 5000, trainingMs: 60000 }',
        '    rounds: 4',
        '    selectionSeed: 3',
        '',
      ].join('\n'),
    );
    // The coordinator creates its admin token (0600) under dataDir on first start.
    const dataDir = path.join(dir, 'data');
    const first = await startCoordinator(config);
    child = first.child;
    const adminToken = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
    const operator = new OperatorClient(address, adminToken, null, 5_000);

    const { shares } = await smallFederatedData(2, 300, 100, 4);
    const trainer = await createTfjsTrainer('wasm', () => undefined);
    for (let i = 0; i < 2; i++) {
      const token = (await operator.createEnrollmentToken(`crash-${i}`, 600)).token;
      const agent = new ClientAgent({
        coordinator: address,
        tls: null,
        identityFile: path.join(dir, `agent-${i}.json`),
        identitySeed: sha256(`crash-client-${i}`),
        token,
        displayName: `crash-${i}`,
        data: { train: shares[i]!, test: null },
        trainer,
        rng: createSeededRng(10 + i),
        log: () => undefined,
        reconnectBaseMs: 100,
        reconnectMaxMs: 1_000,
      });
      agents.push(agent);
      runs.push(agent.run());
    }

    // Wait for round 1 to commit and round 2 to be training, then kill -9.
    await until(async () => {
      const rounds = await operator.listRounds('crash');
      const committed = rounds.filter((r) => r.state === 'committed').length;
      const training = rounds.find((r) => r.state === 'training' || r.state === 'configuring');
      return committed >= 1 && training !== undefined ? true : null;
    }, 120_000, 'a round in progress after the first commit');
    first.child.kill('SIGKILL');
    await new Promise<void>((resolve) => first.child.once('exit', () => resolve()));
    operator.close();

    // What was committed before the crash, read straight from the file.
    const db = new Database(path.join(dataDir, 'cohort.db'), { readonly: true });
    const before = db.prepare('select version, sha256 from model_versions order by version').all() as { version: number; sha256: string }[];
    const inFlight = db.prepare("select id, number, state from rounds where state not in ('committed', 'aborted')").all() as { id: string; number: number }[];
    db.close();
    expect(before.length).toBeGreaterThanOrEqual(2);
    expect(inFlight.length).toBe(1);

    // Restart on the same database and port; the agents reconnect by themselves.
    const second = await startCoordinator(config);
    child = second.child;
    const operator2 = new OperatorClient(address, adminToken, null, 5_000);
    const finished = await until(async () => {
      const f = await operator2.getFederation('crash');
      return f.roundsCommitted >= 4 ? f : null;
    }, 180_000, 'the federation to finish after the restart');
    expect(finished.roundsCommitted).toBe(4);
    const rounds = await operator2.listRounds('crash');
    const crashed = rounds.find((r) => r.id === inFlight[0]!.id)!;
    expect(crashed.state).toBe('aborted');
    expect(crashed.abortReason).toBe('coordinator restarted');
    operator2.close();
    second.child.kill('SIGTERM');
    await new Promise<void>((resolve) => second.child.once('exit', () => resolve()));
    child = null;
    expect(second.output()).toContain('marked aborted');

    const store = openStore(path.join(dataDir, 'cohort.db'), { modelDir: path.join(dataDir, 'models') });
    try {
      const federation = store.getFederationByName('crash')!;
      expect(federation.status).toBe('completed');
      const after = store.listModelVersions(federation.id).sort((a, b) => a.version - b.version);
      expect(after.map((v) => v.version)).toEqual([0, 1, 2, 3, 4]);
      // Every version committed before the crash survives unchanged, and its file still hashes to its address.
      for (const v of before) {
        expect(after[v.version]!.sha256).toBe(v.sha256);
        expect(sha256Hex(store.modelFiles.read(v.sha256))).toBe(v.sha256);
      }
      for (let i = 1; i < after.length; i++) expect(after[i]!.parentSha256).toBe(after[i - 1]!.sha256);
      expect(store.verifyAuditChain().ok).toBe(true);
    } finally {
      store.close();
    }
  }, 360_000);
});
