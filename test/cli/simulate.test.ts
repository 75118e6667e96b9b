/**
 * `cohort simulate` as a user runs it: a real coordinator and real client agents in worker threads over loopback
 * gRPC. Checks the --json summary, the report folder, and that the same seed reproduces the same run.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../shared/src/data/repo-root.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cohort-sim-cli-'));
const SUBSET = path.join(packageRoot(), 'data', 'fashion-mnist-subset');
const ARGS = ['simulate', '--clients', '3', '--rounds', '2', '--epochs', '1', '--model', 'fmnist-mlp', '--train-size', '900', '--test-size', '300', '--partition', 'iid', '--seed', '7', '--data-dir', SUBSET, '--json'];

interface Summary {
  finalAccuracy: number;
  reportDir: string;
  roundsCommitted: number;
  rounds: { round: number; state: string; accuracy: number; participants: number; bytesUp: number; bytesDown: number }[];
}

describe('cohort simulate', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a federation and prints only the summary JSON on stdout, with a complete report folder', async () => {
    const reportDir = path.join(dir, 'run-a');
    const result = await runCli([...ARGS, '--report-dir', reportDir], { timeoutMs: 180_000 });
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as Summary;
    expect(summary.finalAccuracy).toBeGreaterThan(0.5);
    expect(summary.finalAccuracy).toBeLessThanOrEqual(1);
    expect(summary.roundsCommitted).toBe(2);
    expect(summary.rounds.map((r) => r.state)).toEqual(['committed', 'committed']);
    expect(summary.rounds.every((r) => r.participants === 3 && r.bytesUp > 0 && r.bytesDown > 0)).toBe(true);
    expect(summary.reportDir).toBe(reportDir);
    for (const file of ['summary.json', 'rounds.csv', 'accuracy.svg', 'summary.txt', path.join('rounds', 'round-0001.json'), path.join('rounds', 'round-0002.json')]) {
      expect(existsSync(path.join(reportDir, file)), file).toBe(true);
    }
    expect(readFileSync(path.join(reportDir, 'rounds.csv'), 'utf8').split('\n')[0]).toContain('accuracy');
  }, 200_000);

  it('reproduces the same run from the same seed (up to floating-point summation order)', async () => {
    const first = JSON.parse(readFileSync(path.join(dir, 'run-a', 'summary.json'), 'utf8')) as Summary;
    const again = await runCli([...ARGS, '--report-dir', path.join(dir, 'run-b')], { timeoutMs: 180_000 });
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout) as Summary;
    expect(second.rounds.length).toBe(first.rounds.length);
    for (let i = 0; i < first.rounds.length; i++) {
      expect(Math.abs(second.rounds[i]!.accuracy - first.rounds[i]!.accuracy)).toBeLessThanOrEqual(0.01);
      expect(second.rounds[i]!.bytesUp).toBe(first.rounds[i]!.bytesUp);
    }
  }, 200_000);

  it('names the bad flag when given bad input', async () => {
    const bad = await runCli(['simulate', '--clients', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--clients');
    const partition = await runCli(['simulate', '--partition', 'dirichlet:-1']);
    expect(partition.code).toBe(2);
    expect(partition.stderr).toContain('dirichlet:-1');
    const dropout = await runCli(['simulate', '--dropout', '0.5@nowhere']);
    expect(dropout.code).toBe(2);
    expect(dropout.stderr).toContain('--dropout');
    const unknown = await runCli(['simulate', '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--frobnicate');
  });
});
