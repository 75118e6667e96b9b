/**
 * `cohort simulate --attack` as a user runs it: attackers are real client agents in the worker threads with a
 * malicious training step. Checks that the report names the attack and its attackers, scores the aggregation rule's
 * verdicts against them, that colluding attackers in different worker threads pool their honest updates, that a
 * backdoor's success rate is measured on triggered images, and that bad flags are named.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../shared/src/data/repo-root.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cohort-sim-attack-'));
const SUBSET = path.join(packageRoot(), 'data', 'fashion-mnist-subset');
const BASE = ['simulate', '--clients', '6', '--epochs', '1', '--model', 'fmnist-mlp', '--train-size', '1200', '--test-size', '400', '--partition', 'iid', '--seed', '3', '--workers', '2', '--data-dir', SUBSET, '--json'];

interface Detection {
  judged?: number;
  attackers: number;
  flagged: number;
  truePositives: number;
  precision: number | null;
  recall: number | null;
}

interface Summary {
  roundsCommitted: number;
  rounds: { round: number; state: string; detection?: Detection | null; attackSuccessRate?: number | null }[];
  config: { federation: { aggregation: { rule: string; params: Record<string, number> } } };
  attack: {
    name: string;
    kind: string;
    fraction: number;
    params: Record<string, number | string>;
    attackers: { index: number; clientId: string; displayName: string }[];
    detection: (Detection & { rounds: number }) | null;
    meanPooled?: number;
    finalAttackSuccessRate?: number | null;
    triggeredExamples?: number;
  };
}

async function simulate(name: string, args: string[]): Promise<Summary> {
  const reportDir = path.join(dir, name);
  const result = await runCli([...BASE, ...args, '--report-dir', reportDir], { timeoutMs: 120_000 });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Summary;
}

describe('cohort simulate --attack', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the attackers and scores multi-krum\'s verdicts against them (precision, recall) in the JSON and summary.txt', async () => {
    const summary = await simulate('sign-flip', ['--rounds', '2', '--attack', 'sign-flip:0.34', '--aggregation', 'multi-krum', '--rule-param', 'f=1']);
    expect(summary.roundsCommitted).toBe(2);
    expect(summary.config.federation.aggregation).toEqual({ rule: 'multi-krum', params: { f: 1 } });
    const attack = summary.attack;
    expect(attack).toMatchObject({ name: 'sign-flip', kind: 'update', fraction: 0.34, params: { scale: 1 } });
    // ⌈0.34 · 6⌉ = 3 distinct attackers, each with its coordinator id and display name.
    expect(attack.attackers).toHaveLength(3);
    expect(new Set(attack.attackers.map((a) => a.clientId)).size).toBe(3);
    for (const a of attack.attackers) expect(a.displayName).toBe(`sim-client-${a.index + 1}`);
    // Multi-Krum with f = 1 keeps n − f = 5 of 6: one client flagged per round, every client judged.
    for (const r of summary.rounds) {
      expect(r.detection).toMatchObject({ judged: 6, attackers: 3, flagged: 1 });
      expect(r.detection!.truePositives).toBeLessThanOrEqual(1);
    }
    const d = attack.detection!;
    expect(d).toMatchObject({ rounds: 2, attackers: 6, flagged: 2 });
    expect(d.precision).toBeCloseTo(d.truePositives / 2, 12);
    expect(d.recall).toBeCloseTo(d.truePositives / 6, 12);
    const text = readFileSync(path.join(dir, 'sign-flip', 'summary.txt'), 'utf8');
    expect(text).toContain('attack: sign-flip');
    expect(text).toContain(`attackers: ${attack.attackers.map((a) => a.displayName).join(', ')}`);
    expect(text).toMatch(/detection \(rejected or down-weighted\): precision [\d.]+%, recall [\d.]+%/);
    expect(readFileSync(path.join(dir, 'sign-flip', 'rounds.csv'), 'utf8').split('\n')[0]).toContain('detection_precision');
  }, 150_000);

  it('colluding attackers in different worker threads pool all their honest updates (ALIE)', async () => {
    const summary = await simulate('alie', ['--rounds', '1', '--attack', 'alie:0.34']);
    expect(summary.roundsCommitted).toBe(1);
    expect(summary.attack).toMatchObject({ name: 'alie', kind: 'colluding' });
    // Two workers deal clients round-robin, so the three attackers are split between them; all three were pooled.
    expect(new Set(summary.attack.attackers.map((a) => a.index % 2)).size).toBe(2);
    expect(summary.attack.meanPooled).toBe(3);
  }, 150_000);

  it('measures a backdoor\'s success rate on triggered held-out images after each committed round', async () => {
    const summary = await simulate('backdoor', ['--rounds', '1', '--attack', 'backdoor:0.34:target=0,boost=3']);
    expect(summary.attack.params).toEqual({ target: 0, poison: 0.5, size: 3, boost: 3 });
    // 400 stratified test images, 40 of them of the target class.
    expect(summary.attack.triggeredExamples).toBe(360);
    const asr = summary.rounds[0]!.attackSuccessRate!;
    expect(asr).toBeGreaterThanOrEqual(0);
    expect(asr).toBeLessThanOrEqual(1);
    expect(summary.attack.finalAttackSuccessRate).toBe(asr);
  }, 150_000);

  it('fltrust: the coordinator trains on a root dataset outside the clients\' data and rejects sign-flipped updates', async () => {
    const summary = await simulate('fltrust', ['--rounds', '2', '--attack', 'sign-flip:0.34', '--aggregation', 'fltrust', '--root-size', '50']);
    expect(summary.roundsCommitted).toBe(2);
    expect(summary.config.federation.aggregation).toEqual({ rule: 'fltrust', params: {}, rootDataset: { dataset: 'simulation-root', split: 'train', examples: 50 } });
    // Every sign-flipped update points away from the server's own update: trust 0, rejected, in both rounds.
    expect(summary.attack.detection).toMatchObject({ rounds: 2, attackers: 6, truePositives: 6, recall: 1 });
    // With every training example in the clients' sample, the root is drawn first and the clients share the rest.
    const all = await runCli([...BASE, '--train-size', '0', '--rounds', '1', '--aggregation', 'fltrust', '--root-size', '50', '--report-dir', path.join(dir, 'fltrust-all')], { timeoutMs: 120_000 });
    expect(all.code, all.stderr).toBe(0);
    expect(all.stderr).toContain('fltrust: the root dataset takes 50 training examples first, so the clients share 5950 (not 6000)');
  }, 150_000);

  it('names the bad flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--attack', 'flood:0.2'], /--attack: unknown attack "flood"; known attacks: sign-flip, scaling, gaussian, label-flip, backdoor, alie, ipm, min-max, min-sum/],
      [['--attack', 'sign-flip:1'], /--attack: the fraction of attackers must be a number in \(0, 1\)/],
      [['--attack', 'sign-flip:0.2:gamma=2'], /--attack: sign-flip has no parameter "gamma"/],
      [['--attack', 'sign-flip:0.9', '--clients', '3'], /--attack: 3 attackers among 3 clients/],
      [['--aggregation', 'mean'], /--aggregation: unknown rule "mean"; known rules: fedavg, median/],
      [['--aggregation', 'krum'], /--rule-param \(krum\): .*f/],
      [['--aggregation', 'krum', '--rule-param', 'f=-1'], /--rule-param \(krum\)/],
      [['--aggregation', 'median', '--rule-param', 'f'], /--rule-param: expected K=V/],
      [['--aggregation', 'fltrust', '--root-size', '0'], /--root-size/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(['simulate', ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
  }, 60_000);
});
