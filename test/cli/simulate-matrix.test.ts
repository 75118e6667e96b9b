/**
 * `cohort simulate matrix` as a user runs it: a tiny attacks × defenses matrix in both modes (one simulation per
 * cell, a cell the rule cannot do skipped with its reason), the matrix files and the Markdown table on stdout; the
 * list syntax and the rule probe; and bad flags named with exit status 2.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILTIN_AGGREGATION_RULES } from '../../shared/src/core/aggregation/builtin-rules.js';
import { packageRoot } from '../../shared/src/data/repo-root.js';
import { contributionsPerRound, parseAttacks, parseDefenses, ruleLimitation, splitSpecList } from '../../simulations/src/matrix.js';
import { runCli } from '../helpers/cli.js';
import { expectWellFormedSvg, parseCsv } from '../helpers/report.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cohort-sim-matrix-'));
const SUBSET = path.join(packageRoot(), 'data', 'fashion-mnist-subset');
const TINY = ['--clients', '6', '--rounds', '1', '--epochs', '1', '--model', 'fmnist-mlp', '--train-size', '600', '--test-size', '200', '--seed', '3', '--workers', '2', '--data-dir', SUBSET];

interface Summary {
  roundsCommitted: number;
  config: { federation: { aggregation: { rule: string; params: Record<string, number> }; secagg: { enabled: boolean; bucketed: boolean; minBucketSize: number } } };
  attack?: { name: string; attackers: unknown[]; quarantinedByRound?: { round: number; attackers: number; benign: number }[] };
}

describe('cohort simulate matrix', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every (mode, attack, defense) cell, skips what the rule cannot do, and writes the matrix files and table', async () => {
    const reportDir = path.join(dir, 'matrix');
    const r = await runCli(
      ['simulate', 'matrix', ...TINY, '--attacks', 'sign-flip', '--defenses', 'median,krum:f=1', '--fraction', '0.34', '--modes', 'plaintext,bucketed', '--min-bucket-size', '2', '--report-dir', reportDir],
      { timeoutMs: 150_000 },
    );
    expect(r.code, r.stderr.slice(-3000)).toBe(0);

    const lines = parseCsv(readFileSync(path.join(reportDir, 'matrix.csv'), 'utf8'));
    const header = lines[0]!;
    const rows = lines.slice(1).map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ''])));
    // Modes, then rows (clean first), then defenses, in the order given.
    expect(rows.map((row) => `${row['mode']} ${row['attack']} ${row['defense']} ${row['status']}`)).toEqual([
      'plaintext clean median ok',
      'plaintext clean krum:f=1 ok',
      'plaintext sign-flip median ok',
      'plaintext sign-flip krum:f=1 ok',
      'bucketed clean median ok',
      'bucketed clean krum:f=1 skipped',
      'bucketed sign-flip median ok',
      'bucketed sign-flip krum:f=1 skipped',
    ]);
    // Six clients make three buckets of two: Krum with f = 1 needs more than 2f + 2 = 4 contributions.
    for (const row of rows.filter((x) => x['status'] === 'skipped')) {
      expect(row['note']).toBe('3 buckets per round: krum needs n > 2f + 2 contributions: n = 3, f = 1');
      expect(row['report_dir']).toBe('');
      expect(row['final_accuracy']).toBe('');
    }
    for (const row of rows.filter((x) => x['status'] === 'ok')) {
      expect(row['rounds_committed']).toBe('1');
      expect(row['outcome']).toBe('completed');
      expect(Number(row['final_accuracy'])).toBeGreaterThan(0);
      expect(row['report_dir']).toBe(`${row['mode']}/${row['attack']}/${row['defense']!.replace(':', '_')}`);
      for (const file of ['summary.json', 'rounds.csv', 'accuracy.svg']) expect(existsSync(path.join(reportDir, row['report_dir']!, file)), `${row['report_dir']}/${file}`).toBe(true);
      expect(row['attackers']).toBe(row['attack'] === 'clean' ? '0' : '3');
    }
    // Krum with f = 1 rejects all but one of six every round: it flags someone, so precision and recall exist.
    const krum = rows.find((x) => x['mode'] === 'plaintext' && x['attack'] === 'sign-flip' && x['defense'] === 'krum:f=1')!;
    expect(Number(krum['detection_precision'])).toBeGreaterThanOrEqual(0);
    expect(Number(krum['detection_recall'])).toBeGreaterThan(0);
    expect(krum['rounds_to_quarantine']).toBe('');
    expect(krum['attackers_quarantined']).toBe('0');

    // Each cell's own report: its rule, its mode, its attack with the quarantine per round.
    const read = (rel: string): Summary => JSON.parse(readFileSync(path.join(reportDir, rel, 'summary.json'), 'utf8')) as Summary;
    const plainKrum = read('plaintext/sign-flip/krum_f=1');
    expect(plainKrum.config.federation.aggregation).toEqual({ rule: 'krum', params: { f: 1 } });
    expect(plainKrum.config.federation.secagg.enabled).toBe(false);
    expect(plainKrum.attack?.name).toBe('sign-flip');
    expect(plainKrum.attack?.quarantinedByRound).toEqual([{ round: 1, attackers: 0, benign: 0 }]);
    const bucketed = read('bucketed/sign-flip/median');
    expect(bucketed.config.federation.secagg).toMatchObject({ enabled: true, bucketed: true, minBucketSize: 2 });
    expect(read('bucketed/clean/median').attack).toBeUndefined();

    const json = JSON.parse(readFileSync(path.join(reportDir, 'matrix.json'), 'utf8')) as { schemaVersion: number; modes: string[]; attacks: string[]; defenses: string[]; settings: Record<string, unknown>; cells: unknown[] };
    expect(json).toMatchObject({ schemaVersion: 1, modes: ['plaintext', 'bucketed'], attacks: ['clean', 'sign-flip'], defenses: ['median', 'krum:f=1'] });
    expect(json.settings).toMatchObject({ clients: 6, attackers: 3, fraction: 0.34, rounds: 1, seed: 3, minBucketSize: 2 });
    expect(json.cells).toHaveLength(8);

    const svg = readFileSync(path.join(reportDir, 'matrix.svg'), 'utf8');
    expectWellFormedSvg(svg);
    expect((svg.match(/<g class="cell ok"/g) ?? []).length).toBe(6);
    expect((svg.match(/<g class="cell skipped"/g) ?? []).length).toBe(2);

    const md = readFileSync(path.join(reportDir, 'matrix.md'), 'utf8');
    expect(md).toContain('### Cells');
    expect(r.stdout).toContain('### plaintext');
    expect(r.stdout).toContain('### bucketed');
    expect(r.stdout).toMatch(/^\| \*clean\* \| \d+\.\d% \| \d+\.\d% \|$/m);
    expect(r.stdout).toMatch(/^\| sign-flip \| \d+\.\d% · P\/R [\d–]+\/\d+% · Q – \| \d+\.\d% · P\/R \d+\/\d+% · Q – \|$/m);
    expect(r.stdout).toMatch(/^\| \*clean\* \| \d+\.\d% \| skipped \[1\] \|$/m);
    expect(r.stdout).toContain('- [1] 3 buckets per round: krum needs n > 2f + 2 contributions: n = 3, f = 1');
    expect(r.stdout).not.toContain('### Cells');
    expect(r.stdout).toContain(`report: ${reportDir}`);
    expect(r.stderr).toContain('matrix 6/6: bucketed · sign-flip · median');
  }, 160_000);

  it('prints its help, and simulate --help points at it', async () => {
    const help = await runCli(['simulate', 'matrix', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('cohort simulate matrix --attacks LIST --defenses LIST');
    expect(help.stdout).toContain('--min-bucket-size M');
    const simulate = await runCli(['simulate', '--help']);
    expect(simulate.stdout).toContain('cohort simulate matrix');
  });

  it.each([
    [[], '--attacks is required'],
    [['--attacks', 'sign-flip'], '--defenses is required'],
    [['--attacks', 'nope', '--defenses', 'fedavg'], '--attacks (nope): unknown attack "nope"'],
    [['--attacks', 'sign-flip:scale=-1', '--defenses', 'fedavg'], '--attacks (sign-flip:scale=-1): sign-flip scale must be a number > 0, got "-1"'],
    [['--attacks', 'backdoor:target=12', '--defenses', 'fedavg', '--clients', '6'], '--attacks (backdoor:target=12): backdoor target must be a class in 0..9, got 12'],
    [['--attacks', 'clean', '--defenses', 'fedavg'], '--attacks: "clean" is the run without an attack'],
    [['--attacks', 'ipm,ipm', '--defenses', 'fedavg'], '--attacks: "ipm" is listed twice'],
    [['--attacks', 'ipm', '--defenses', 'nope'], '--defenses: unknown rule "nope"'],
    [['--attacks', 'ipm', '--defenses', 'krum'], '--defenses (krum): ruleParams.f: required by krum'],
    [['--attacks', 'ipm', '--defenses', 'krum:f=x'], '--defenses (krum:f=x): expected K=V with a number V, got "f=x"'],
    [['--attacks', 'ipm', '--defenses', 'median:beta=0.1'], '--defenses (median:beta=0.1): ruleParams.beta: not a parameter of median'],
    [['--attacks', 'ipm', '--defenses', 'trimmed-mean:beta=0.7'], '--defenses (trimmed-mean:beta=0.7): ruleParams.beta: must be a number in [0, 0.5)'],
    [['--attacks', 'ipm', '--defenses', 'median,median'], '--defenses: "median" is listed twice'],
    [['--attacks', 'ipm', '--defenses', 'f=1,krum'], '--defenses: "f=1" is a parameter without a name before it'],
    [['--attacks', 'ipm', '--defenses', 'median,'], '--defenses: empty item in "median,"'],
    [['--attacks', 'ipm', '--defenses', 'median', '--modes', 'plaintext,secure'], '--modes: expected plaintext and/or bucketed, got "secure"'],
    [['--attacks', 'ipm', '--defenses', 'median', '--fraction', '1'], '--fraction: expected a number in'],
    [['--attacks', 'ipm', '--defenses', 'median', '--fraction', '0.9', '--clients', '4'], '--fraction: 4 attackers among 4 clients leave no honest client'],
    [['--attacks', 'ipm', '--defenses', 'median', '--min-bucket-size', '3'], '--min-bucket-size needs --modes with bucketed'],
    [['--attacks', 'ipm', '--defenses', 'median', '--modes', 'bucketed', '--clients', '4'], '--min-bucket-size: 1 bucket(s) of a cohort of 4 are smaller than --min-bucket-size 5'],
    [['--attacks', 'ipm', '--defenses', 'median', '--modes', 'bucketed', '--clients', '20', '--secagg-buckets', '5'], '--secagg-buckets: 5 bucket(s) of a cohort of 20 are smaller than --min-bucket-size 5'],
    [['--attacks', 'ipm', '--defenses', 'median', '--dropout', '0.1@unmasking'], '--dropout ...@unmasking: that stage exists only in bucketed mode'],
    [['--attacks', 'ipm', '--defenses', 'median', '--dp', 'central'], "unknown flag '--dp'"],
    [['--attacks', 'ipm', '--defenses', 'median', '--partition', 'dirichlet:x'], 'partition spec "dirichlet:x"'],
  ])('names the flag for %j', async (flags, message) => {
    // A flag that slipped through would start simulations: cut it short rather than run into the test timeout.
    const r = await runCli(['simulate', 'matrix', ...flags], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
  });
});

describe('matrix lists and the rule probe', () => {
  it('splits lists on commas, a K=V piece continuing the item before it; repeated flags add up', () => {
    expect(splitSpecList('defenses', ['fedavg,multi-krum:f=10,m=30,median', 'bulyan:f=1'])).toEqual(['fedavg', 'multi-krum:f=10,m=30', 'median', 'bulyan:f=1']);
    expect(splitSpecList('attacks', [' sign-flip , backdoor:boost=10,target=2 ,ipm'])).toEqual(['sign-flip', 'backdoor:boost=10,target=2', 'ipm']);
  });

  it('labels defenses by rule and parameters, and attacks as given', () => {
    expect(parseDefenses(['fedavg,multi-krum:f=10,m=30'])).toEqual([
      { label: 'fedavg', rule: 'fedavg', params: {} },
      { label: 'multi-krum:f=10,m=30', rule: 'multi-krum', params: { f: 10, m: 30 } },
    ]);
    const attacks = parseAttacks(['scaling,backdoor:boost=10,target=2'], 0.2);
    expect(attacks.map((a) => a.label)).toEqual(['scaling', 'backdoor:boost=10,target=2']);
    expect(attacks[1]!.spec).toMatchObject({ name: 'backdoor', fraction: 0.2, params: { target: 2, boost: 10, poison: 0.5, size: 3 } });
  });

  it('counts contributions per round: the cohort, or its buckets', () => {
    expect(contributionsPerRound({ clients: 50, cohortSize: 0, minBucketSize: 5 }, 'plaintext')).toBe(50);
    expect(contributionsPerRound({ clients: 50, cohortSize: 0, minBucketSize: 5 }, 'bucketed')).toBe(10);
    expect(contributionsPerRound({ clients: 50, cohortSize: 20, minBucketSize: 5 }, 'bucketed')).toBe(4);
    expect(contributionsPerRound({ clients: 50, cohortSize: 0, minBucketSize: 5, secaggBuckets: 5 }, 'bucketed')).toBe(5);
  });

  it('asks the rule itself whether it can aggregate n contributions', () => {
    const rule = (name: string) => BUILTIN_AGGREGATION_RULES.find((r) => r.name === name)!;
    expect(ruleLimitation(rule('krum'), { f: 3 }, 8, 1)).toBe('krum needs n > 2f + 2 contributions: n = 8, f = 3');
    expect(ruleLimitation(rule('krum'), { f: 3 }, 9, 1)).toBeNull();
    expect(ruleLimitation(rule('multi-krum'), { f: 10 }, 10, 1)).toContain('multi-krum needs n > 2f + 2');
    expect(ruleLimitation(rule('bulyan'), { f: 2 }, 10, 1)).toContain('bulyan needs n >= 4f + 3');
    expect(ruleLimitation(rule('bulyan'), { f: 1 }, 10, 1)).toBeNull();
    expect(ruleLimitation(rule('trimmed-mean'), { trim: 3 }, 6, 1)).toContain('trimmed-mean needs n > 2·trim');
    for (const name of ['fedavg', 'median', 'geometric-median', 'flame', 'foolsgold']) expect(ruleLimitation(rule(name), {}, 10, 1), name).toBeNull();
  });
});
