/**
 * `cohort simulate --secagg` as a user runs it: a real coordinator and real client agents over loopback gRPC, the
 * updates masked and summed by SecAgg+. Same seed, same dropouts: the accuracy matches the plaintext run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../shared/src/data/repo-root.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cohort-sim-secagg-'));
const SUBSET = path.join(packageRoot(), 'data', 'fashion-mnist-subset');
const COMMON = ['simulate', '--epochs', '1', '--model', 'fmnist-mlp', '--train-size', '2400', '--test-size', '1000', '--partition', 'iid', '--data-dir', SUBSET, '--json'];

interface Summary {
  roundsCommitted: number;
  rounds: {
    state: string;
    accuracy: number;
    participants: number;
    dropouts: number;
    dropoutsByStage: Record<string, number>;
    bytesByStage: Record<string, { up: number; down: number; clients: number }>;
  }[];
}

async function simulate(args: string[], name: string): Promise<Summary> {
  const result = await runCli([...COMMON, ...args, '--report-dir', path.join(dir, name)], { timeoutMs: 180_000 });
  expect(result.code, result.stderr.slice(-2000)).toBe(0);
  return JSON.parse(result.stdout) as Summary;
}

describe('cohort simulate --secagg', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('with 20% dropouts completes, and on the same seed its accuracy is within 0.5 points of the plaintext run', async () => {
    const run = ['--clients', '8', '--rounds', '2', '--seed', '11', '--dropout', '0.2@training'];
    const plain = await simulate(run, 'plain');
    const secure = await simulate([...run, '--secagg'], 'secure');
    expect(plain.roundsCommitted).toBe(2);
    expect(secure.roundsCommitted).toBe(2);
    // The same clients drop in both runs (seeded), so the same updates are averaged.
    expect(secure.rounds.map((r) => r.dropouts)).toEqual(plain.rounds.map((r) => r.dropouts));
    expect(secure.rounds.reduce((n, r) => n + r.dropouts, 0)).toBeGreaterThan(0);
    for (let i = 0; i < 2; i++) {
      expect(Math.abs(secure.rounds[i]!.accuracy - plain.rounds[i]!.accuracy), `round ${i + 1}`).toBeLessThanOrEqual(0.005);
      expect(secure.rounds[i]!.participants).toBe(plain.rounds[i]!.participants);
    }
    // Traffic per stage is reported for the secure run only.
    expect(Object.keys(secure.rounds[0]!.bytesByStage)).toEqual(['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking']);
    expect(plain.rounds[0]!.bytesByStage).toEqual({});
    const csvHeader = readFileSync(path.join(dir, 'secure', 'rounds.csv'), 'utf8').split('\n')[0]!;
    expect(csvHeader).toContain('bytes_up_per_client_masked-input');
  }, 400_000);

  it('in bucketed mode, with dropouts at any stage of the protocol, commits every round', async () => {
    const secure = await simulate(['--clients', '10', '--rounds', '3', '--seed', '5', '--dropout', '0.2', '--secagg', '--secagg-buckets', '2', '--min-bucket-size', '5'], 'bucketed');
    expect(secure.roundsCommitted).toBe(3);
    const stages = new Set(secure.rounds.flatMap((r) => Object.keys(r.dropoutsByStage)));
    // Seed 5 drops clients inside the secure stages, not only before them.
    expect([...stages].some((s) => ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking'].includes(s))).toBe(true);
    for (const r of secure.rounds.filter((x) => x.state === 'committed')) expect(r.participants).toBeGreaterThanOrEqual(2);
  }, 400_000);

  it('names the flag that needs --secagg', async () => {
    const threshold = await runCli(['simulate', '--secagg-threshold', '3']);
    expect(threshold.code).toBe(2);
    expect(threshold.stderr).toContain('--secagg-threshold needs --secagg');
    const stage = await runCli(['simulate', '--dropout', '0.1@unmasking']);
    expect(stage.code).toBe(2);
    expect(stage.stderr).toContain('--dropout ...@unmasking: that stage exists only with --secagg');
    const bad = await runCli(['simulate', '--secagg', '--min-bucket-size', '1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--min-bucket-size');
  });
});
