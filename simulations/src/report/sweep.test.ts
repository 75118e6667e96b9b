import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  SWEEP_SCHEMA_VERSION,
  renderSweepCsv,
  renderSweepSvg,
  renderSweepTable,
  sortSweepRows,
  sweepRowOf,
  sweepRunDirName,
  sweepToJson,
  writeSweepReport,
} from './sweep.js';
import type { SweepRow } from './sweep.js';
import type { RoundReport, SimulationSummary } from './types.js';
import { expectWellFormedSvg, parseCsv } from '../../../test/helpers/report.js';

function row(targetEpsilon: number | null, overrides: Partial<SweepRow> = {}): SweepRow {
  return {
    targetEpsilon,
    mechanism: targetEpsilon === null ? 'off' : 'central',
    noiseMultiplier: targetEpsilon === null ? null : 4 / targetEpsilon,
    roundsCommitted: 3,
    epsilonSpent: targetEpsilon === null ? null : targetEpsilon * 0.9,
    outcome: 'completed',
    finalAccuracy: targetEpsilon === null ? 0.84 : 0.5 + Math.log2(targetEpsilon) * 0.05,
    bestAccuracy: targetEpsilon === null ? 0.85 : 0.52 + Math.log2(targetEpsilon) * 0.05,
    reportDir: sweepRunDirName(targetEpsilon),
    ...overrides,
  };
}

describe('sweepRowOf', () => {
  const r = (n: number, epsilon: number | null, state: RoundReport['state'] = 'committed'): RoundReport => ({
    round: n, state, abortReason: null, accuracy: 0.6, loss: 1, trainLoss: 1, trainAccuracy: 0.6, selected: 4, participants: 4, dropouts: 0,
    dropoutsByStage: {}, bytesByStage: {}, epsilon, bytesUp: 1, bytesDown: 1, seconds: 1, modelVersion: n,
  });
  const summary = (rounds: RoundReport[], config: Record<string, unknown>): SimulationSummary => ({
    finalAccuracy: 0.71, finalLoss: 0.9, bestAccuracy: 0.73, rounds, roundsCommitted: rounds.filter((x) => x.state === 'committed').length,
    roundsAborted: 0, reportDir: '/x/epsilon-4', clients: 4, seed: 3, partition: 'iid', dataset: 'fashion-mnist', datasetOrigin: 'subset',
    model: 'fmnist-mlp', backend: 'wasm', totalSeconds: 3, totalBytesUp: 3, totalBytesDown: 3, config, startedAt: '', finishedAt: '',
  });

  it('takes ε spent from the last round that reports one, and the outcome from the config', () => {
    const out = sweepRowOf(summary([r(1, 1.5), r(2, 2.75), r(3, null, 'aborted')], { outcome: 'budget-exhausted' }), {
      targetEpsilon: 4, mechanism: 'central', noiseMultiplier: 1.25, reportDir: 'epsilon-4',
    });
    expect(out).toEqual({
      targetEpsilon: 4, mechanism: 'central', noiseMultiplier: 1.25, roundsCommitted: 2, epsilonSpent: 2.75, outcome: 'budget-exhausted',
      finalAccuracy: 0.71, bestAccuracy: 0.73, reportDir: 'epsilon-4',
    });
  });

  it('leaves ε spent null without DP and names a missing outcome unknown', () => {
    const out = sweepRowOf(summary([r(1, null), r(2, null)], {}), { targetEpsilon: null, mechanism: 'off', noiseMultiplier: null, reportDir: 'no-dp' });
    expect(out.epsilonSpent).toBeNull();
    expect(out.outcome).toBe('unknown');
  });
});

describe('sweepRunDirName', () => {
  it('names budget folders by ε and the baseline no-dp', () => {
    expect(sweepRunDirName(4)).toBe('epsilon-4');
    expect(sweepRunDirName(0.5)).toBe('epsilon-0.5');
    expect(sweepRunDirName(null)).toBe('no-dp');
  });
});

describe('sortSweepRows', () => {
  it('orders by target ε ascending with the baseline last, without touching the input', () => {
    const rows = [row(8), row(null), row(0.5), row(2)];
    expect(sortSweepRows(rows).map((r) => r.targetEpsilon)).toEqual([0.5, 2, 8, null]);
    expect(rows.map((r) => r.targetEpsilon)).toEqual([8, null, 0.5, 2]);
  });
});

describe('renderSweepCsv', () => {
  it('has the documented header and one row per run, by ε, baseline last with empty ε columns', () => {
    const rows = parseCsv(renderSweepCsv([row(16), row(null), row(4)]));
    expect(rows[0]).toEqual([
      'target_epsilon', 'mechanism', 'noise_multiplier', 'rounds_committed', 'epsilon_spent', 'outcome', 'final_accuracy', 'best_accuracy', 'report_dir',
    ]);
    expect(rows).toHaveLength(4);
    expect(rows.map((r) => r[0])).toEqual(['target_epsilon', '4', '16', '']);
    const baseline = rows[3]!;
    expect(baseline).toEqual(['', 'off', '', '3', '', 'completed', '0.84', '0.85', 'no-dp']);
    expect(rows[1]).toEqual(['4', 'central', '1', '3', String(4 * 0.9), 'completed', String(0.5 + 2 * 0.05), String(0.52 + 2 * 0.05), 'epsilon-4']);
    expect(rows.every((r) => r.length === 9)).toBe(true);
  });

  it('keeps numbers at full precision and leaves null figures empty', () => {
    const csv = renderSweepCsv([row(2, { noiseMultiplier: 1.2345678901234, finalAccuracy: null, bestAccuracy: null })]);
    const [, r] = parseCsv(csv) as [string[], string[]];
    expect(r[2]).toBe('1.2345678901234');
    expect(r[6]).toBe('');
    expect(r[7]).toBe('');
    expect(csv.endsWith('\n')).toBe(true);
  });

  it('quotes a field holding commas, quotes or line breaks, and it reads back intact', () => {
    const dir = 'runs/a,"b"\nc';
    const csv = renderSweepCsv([row(1, { reportDir: dir, outcome: 'failed, "stuck"' })]);
    const [, r] = parseCsv(csv) as [string[], string[]];
    expect(r[8]).toBe(dir);
    expect(r[5]).toBe('failed, "stuck"');
  });

  it('is a header alone for no runs', () => {
    expect(renderSweepCsv([])).toBe('target_epsilon,mechanism,noise_multiplier,rounds_committed,epsilon_spent,outcome,final_accuracy,best_accuracy,report_dir\n');
  });
});

describe('sweepToJson', () => {
  it('is tagged with the schema version, ordered like the CSV, non-finite figures null', () => {
    const json = sweepToJson([row(8, { bestAccuracy: Number.NaN }), row(null), row(2)]);
    expect(json.schemaVersion).toBe(SWEEP_SCHEMA_VERSION);
    expect(json.runs.map((r) => r.targetEpsilon)).toEqual([2, 8, null]);
    expect(json.runs[1]!.bestAccuracy).toBeNull();
    expect(Object.keys(json.runs[0]!)).toEqual([
      'targetEpsilon', 'mechanism', 'noiseMultiplier', 'roundsCommitted', 'epsilonSpent', 'outcome', 'finalAccuracy', 'bestAccuracy', 'reportDir',
    ]);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});

describe('renderSweepSvg', () => {
  const pointXs = (svg: string): number[] => [...svg.matchAll(/<circle class="point accuracy" cx="([\d.]+)"/g)].map((m) => Number(m[1]));

  it('is one well-formed <svg> with a point per budget joined by a line, in ε order, and a dashed "no DP" line', () => {
    const svg = renderSweepSvg([row(8), row(null), row(2), row(4)], { subtitle: 'fashion-mnist · 4 clients' });
    expectWellFormedSvg(svg);
    const xs = pointXs(svg);
    expect(xs).toHaveLength(3);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    // log2 axis: 2 → 4 and 4 → 8 are the same distance.
    expect(xs[1]! - xs[0]!).toBeCloseTo(xs[2]! - xs[1]!, 1);
    expect(svg).toMatch(/<path d="M[^"]+L[^"]+L[^"]+"/);
    expect(svg).toMatch(/<g class="series baseline">[\s\S]*stroke-dasharray="6 4"[\s\S]*>no DP 84\.0%<\/text>/);
    expect(svg).toContain('>no DP</text>');
    expect(svg).toContain('Target epsilon (log2 scale)');
    expect(svg).toContain('Final accuracy (%)');
    expect(svg).toContain('<title>epsilon 4: 60.0% (spent 3.600)</title>');
  });

  it('puts the baseline at its accuracy on the 0–100 % scale', () => {
    const svg = renderSweepSvg([row(4), row(null, { finalAccuracy: 0.5 })], { height: 420 });
    const y = /<g class="series baseline">[\s\S]*?<line x1="[\d.]+" y1="([\d.]+)"/.exec(svg)?.[1];
    // top margin 64, bottom 52: plot from 64 to 368; 50 % is halfway.
    expect(Number(y)).toBeCloseTo(64 + (368 - 64) / 2, 1);
  });

  it('escapes the title and subtitle', () => {
    const svg = renderSweepSvg([row(1), row(null)], { title: 'a < b & "c"', subtitle: "d > e 'f'" });
    expectWellFormedSvg(svg);
    expect(svg).toContain('a &lt; b &amp; &quot;c&quot;');
    expect(svg).toContain('d &gt; e &#39;f&#39;');
  });

  it('handles no runs, a baseline alone, one budget and runs without accuracy', () => {
    const empty = renderSweepSvg([]);
    expectWellFormedSvg(empty);
    expect(empty).toContain('No runs with a privacy budget');
    const baselineOnly = renderSweepSvg([row(null)]);
    expectWellFormedSvg(baselineOnly);
    expect(baselineOnly).toContain('no DP 84.0%');
    const one = renderSweepSvg([row(3)]);
    expectWellFormedSvg(one);
    expect(pointXs(one)).toHaveLength(1);
    expect(one).not.toContain('no DP');
    const noAcc = renderSweepSvg([row(2, { finalAccuracy: null }), row(null, { finalAccuracy: null })]);
    expectWellFormedSvg(noAcc);
    expect(noAcc).toContain('No accuracy recorded');
    expect(noAcc).not.toContain('class="series baseline"');
  });

  it('labels x ticks at powers of two without float noise', () => {
    const svg = renderSweepSvg([row(0.25), row(1), row(16)]);
    for (const t of ['0.25', '0.5', '1', '2', '4', '8', '16']) expect(svg).toContain(`font-size="11" fill="#6b7280">${t}</text>`);
  });
});

describe('renderSweepTable', () => {
  it('lists runs by ε, baseline last as "no DP", with formatted figures and "-" for missing ones', () => {
    const table = renderSweepTable([row(16, { noiseMultiplier: 0.51234, epsilonSpent: 15.98765 }), row(null), row(4, { noiseMultiplier: null })]);
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toBe('Cohort privacy sweep: 3 runs');
    expect(lines[2]).toMatch(/^ ε\s+z\s+rounds\s+ε spent\s+final acc %\s+best acc %$/);
    const body = lines.slice(4);
    expect(body).toHaveLength(3);
    expect(body[0]!.trim().split(/\s+/)).toEqual(['4', '-', '3', '3.600', '60.0', '62.0']);
    expect(body[1]!.trim().split(/\s+/)).toEqual(['16', '0.512', '3', '15.988', '70.0', '72.0']);
    expect(body[2]!.trim().split(/\s+/)).toEqual(['no', 'DP', '-', '3', '-', '84.0', '85.0']);
    // Columns line up: every row as wide as the header's rule.
    const widths = new Set(lines.slice(2).map((l) => l.length));
    expect(widths.size).toBe(1);
  });

  it('notes a run that neither completed nor ran out of budget', () => {
    const table = renderSweepTable([row(2, { outcome: 'failed' }), row(4, { outcome: 'budget-exhausted' })]);
    expect(table).toContain('epsilon 2: failed');
    expect(table).not.toContain('epsilon 4:');
  });
});

describe('writeSweepReport', () => {
  it('writes sweep.csv, sweep.svg and sweep.json into the folder', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cohort-sweep-'));
    try {
      const rows = [row(2), row(null)];
      const { files } = await writeSweepReport(path.join(dir, 'nested'), rows);
      expect(files.map((f) => path.basename(f))).toEqual(['sweep.csv', 'sweep.svg', 'sweep.json']);
      expect(readFileSync(path.join(dir, 'nested', 'sweep.csv'), 'utf8')).toBe(renderSweepCsv(rows));
      expect(JSON.parse(readFileSync(path.join(dir, 'nested', 'sweep.json'), 'utf8'))).toEqual(sweepToJson(rows));
      expect(readFileSync(path.join(dir, 'nested', 'sweep.svg'), 'utf8')).toBe(renderSweepSvg(rows));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
