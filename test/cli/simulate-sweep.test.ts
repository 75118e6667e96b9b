/**
 * `cohort simulate --dp central --dp-epsilon E1,E2` as a user runs it: one real federation per budget plus one
 * without DP, each with its own report folder, then sweep.csv / sweep.svg / sweep.json and a table on stdout.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../shared/src/data/repo-root.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cohort-sim-sweep-'));
const SUBSET = path.join(packageRoot(), 'data', 'fashion-mnist-subset');
const ARGS = ['simulate', '--clients', '4', '--rounds', '2', '--epochs', '1', '--model', 'fmnist-mlp', '--train-size', '800', '--test-size', '400', '--seed', '3', '--data-dir', SUBSET];

describe('cohort simulate --dp-epsilon E1,E2 (a sweep)', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs one federation per budget plus a baseline, and writes the sweep files and table', async () => {
    const reportDir = path.join(dir, 'sweep');
    const r = await runCli([...ARGS, '--dp', 'central', '--dp-epsilon', '16,4', '--report-dir', reportDir], { timeoutMs: 180_000 });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);

    const lines = readFileSync(path.join(reportDir, 'sweep.csv'), 'utf8').trimEnd().split('\n').map((l) => l.split(','));
    const header = lines[0]!;
    expect(header).toEqual(['target_epsilon', 'mechanism', 'noise_multiplier', 'rounds_committed', 'epsilon_spent', 'outcome', 'final_accuracy', 'best_accuracy', 'report_dir']);
    const rows = lines.slice(1).map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ''])));
    expect(rows).toHaveLength(3);
    // By target ε, the baseline last.
    expect(rows.map((row) => row['target_epsilon'])).toEqual(['4', '16', '']);
    expect(rows.map((row) => row['report_dir'])).toEqual(['epsilon-4', 'epsilon-16', 'no-dp']);
    for (const row of rows.slice(0, 2)) {
      const target = Number(row['target_epsilon']);
      expect(row['mechanism']).toBe('central');
      expect(Number(row['noise_multiplier'])).toBeGreaterThan(0);
      expect(Number(row['epsilon_spent'])).toBeGreaterThan(0);
      expect(Number(row['epsilon_spent'])).toBeLessThanOrEqual(target);
    }
    // A smaller budget needs more noise.
    expect(Number(rows[0]!['noise_multiplier'])).toBeGreaterThan(Number(rows[1]!['noise_multiplier']));
    const baseline = rows[2]!;
    expect(baseline['mechanism']).toBe('off');
    expect(baseline['epsilon_spent']).toBe('');
    expect(baseline['noise_multiplier']).toBe('');
    for (const row of rows) {
      expect(row['rounds_committed']).toBe('2');
      expect(row['outcome']).toBe('completed');
      expect(Number(row['final_accuracy'])).toBeGreaterThan(0);
      expect(Number(row['best_accuracy'])).toBeGreaterThanOrEqual(Number(row['final_accuracy']));
      for (const file of ['summary.json', 'rounds.csv', 'accuracy.svg']) expect(existsSync(path.join(reportDir, row['report_dir']!, file)), `${row['report_dir']}/${file}`).toBe(true);
    }
    // Each run's own report holds ε per round only when it had DP.
    const dpRound = JSON.parse(readFileSync(path.join(reportDir, 'epsilon-4', 'summary.json'), 'utf8')) as { rounds: { epsilon: number | null }[] };
    expect(dpRound.rounds.at(-1)!.epsilon).toBeCloseTo(Number(rows[0]!['epsilon_spent']), 9);
    const noDp = JSON.parse(readFileSync(path.join(reportDir, 'no-dp', 'summary.json'), 'utf8')) as { rounds: { epsilon: number | null }[] };
    expect(noDp.rounds.every((x) => x.epsilon === null)).toBe(true);

    const svg = readFileSync(path.join(reportDir, 'sweep.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('no DP');
    expect((svg.match(/<circle class="point accuracy"/g) ?? []).length).toBe(2);

    const json = JSON.parse(readFileSync(path.join(reportDir, 'sweep.json'), 'utf8')) as { schemaVersion: number; runs: { targetEpsilon: number | null; epsilonSpent: number | null }[] };
    expect(json.schemaVersion).toBe(1);
    expect(json.runs.map((x) => x.targetEpsilon)).toEqual([4, 16, null]);
    expect(json.runs.map((x) => x.epsilonSpent)).toEqual(rows.map((row) => (row['epsilon_spent'] === '' ? null : Number(row['epsilon_spent']))));

    expect(r.stdout).toContain('Cohort privacy sweep: 3 runs');
    expect(r.stdout).toMatch(/^ ε\s+z\s+rounds\s+ε spent\s+final acc %\s+best acc %$/m);
    expect(r.stdout).toMatch(/^ 4\s+\d+\.\d{3}\s+2\s+\d+\.\d{3}\s+\d+\.\d\s+\d+\.\d$/m);
    expect(r.stdout).toMatch(/^ 16\s+\d+\.\d{3}\s+2\s+\d+\.\d{3}\s+\d+\.\d\s+\d+\.\d$/m);
    expect(r.stdout).toMatch(/^ no DP\s+-\s+2\s+-\s+\d+\.\d\s+\d+\.\d$/m);
    expect(r.stdout).toContain(`report: ${reportDir}`);
  }, 200_000);

  it.each([
    [['--dp', 'central', '--dp-epsilon', '4,x'], '--dp-epsilon: "x" is not a number > 0'],
    [['--dp', 'central', '--dp-epsilon', '4,-2'], '--dp-epsilon: "-2" is not a number > 0'],
    [['--dp', 'central', '--dp-epsilon', '4,'], '--dp-epsilon: "" is not a number > 0'],
    [['--dp', 'central', '--dp-epsilon', '4,4'], '--dp-epsilon: "4" is listed twice'],
    [['--dp-epsilon', '2,4'], '--dp-epsilon needs --dp central'],
    [['--dp', 'central', '--dp-epsilon', '4', '--no-baseline'], '--no-baseline needs a list of budgets'],
    [['--no-baseline'], '--no-baseline needs a list of budgets'],
  ])('names the flag for %j', async (flags, message) => {
    const r = await runCli(['simulate', ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
