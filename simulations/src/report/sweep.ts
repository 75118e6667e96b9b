/**
 * The accuracy-vs-ε sweep of `cohort simulate --dp-epsilon E1,E2,…`: one row per run (each privacy budget, plus
 * the run without differential privacy), rendered as CSV, JSON, an SVG chart and a terminal table. The renderers
 * are pure (data in, strings out); {@link writeSweepReport} at the end is the only file-system code here.
 */
import { join } from 'node:path';
import { finiteOrNull, formatPercent, oneLine } from './format.js';
import { csvField, csvNumber } from './render.js';
import { COLORS, axisFrame, centredMessage, chartHeading, escapeXml, gridLine, legendRow, lineSwatch, px, shortNumber, xTick } from './svg.js';
import type { LegendItem, PlotArea } from './svg.js';
import type { SimulationSummary } from './types.js';
import { createDir, writeAtomic } from './write.js';

/** One run of a sweep. */
export interface SweepRow {
  /** The privacy budget ε the run targeted; null for the baseline run without differential privacy. */
  targetEpsilon: number | null;
  /** Differential-privacy mechanism of the run: off, central, distributed or local. */
  mechanism: string;
  /** Noise multiplier z the run used; null when unknown or without DP. */
  noiseMultiplier: number | null;
  /** Rounds that committed. */
  roundsCommitted: number;
  /** ε spent after the last round that reported one; null without DP. */
  epsilonSpent: number | null;
  /** How the federation ended: completed, budget-exhausted, failed (or unknown). */
  outcome: string;
  /** Held-out accuracy of the last committed model, 0..1; null when nothing was evaluated. */
  finalAccuracy: number | null;
  /** Best held-out accuracy of any round, 0..1; null when nothing was evaluated. */
  bestAccuracy: number | null;
  /** The run's report folder, relative to the sweep's folder (e.g. `epsilon-4`, `no-dp`). */
  reportDir: string;
}

/** Version of the `sweep.json` shape; bumped on any incompatible change. */
export const SWEEP_SCHEMA_VERSION = 1;

/** The folder name of one run of a sweep: `epsilon-<E>` for a budget, `no-dp` for the baseline. */
export function sweepRunDirName(targetEpsilon: number | null): string {
  return targetEpsilon === null ? 'no-dp' : `epsilon-${String(targetEpsilon)}`;
}

/**
 * The sweep row of a finished run. `mechanism`, `noiseMultiplier` and `reportDir` come from the caller (the
 * summary does not hold the calibrated z); ε spent is that of the last round reporting one, the outcome
 * `config.outcome`.
 */
export function sweepRowOf(
  summary: SimulationSummary,
  run: { targetEpsilon: number | null; mechanism: string; noiseMultiplier: number | null; reportDir: string },
): SweepRow {
  const spent = summary.rounds.map((r) => finiteOrNull(r.epsilon ?? null)).filter((e): e is number => e !== null);
  const outcome = summary.config['outcome'];
  return {
    targetEpsilon: run.targetEpsilon,
    mechanism: run.mechanism,
    noiseMultiplier: finiteOrNull(run.noiseMultiplier),
    roundsCommitted: summary.roundsCommitted,
    epsilonSpent: spent.at(-1) ?? null,
    outcome: typeof outcome === 'string' ? outcome : 'unknown',
    finalAccuracy: finiteOrNull(summary.finalAccuracy),
    bestAccuracy: finiteOrNull(summary.bestAccuracy),
    reportDir: run.reportDir,
  };
}

/** The rows by target ε, smallest first; the baseline (no ε: the limit of ε → ∞) last. Stable for ties. */
export function sortSweepRows(rows: readonly SweepRow[]): SweepRow[] {
  const key = (r: SweepRow): number => r.targetEpsilon ?? Infinity;
  return rows.map((r, i) => [r, i] as const).sort(([a, i], [b, j]) => key(a) - key(b) || i - j).map(([r]) => r);
}

// ───────────────────────────────────────────── CSV ─────────────────────────────────────────────

const CSV_COLUMNS = [
  'target_epsilon',
  'mechanism',
  'noise_multiplier',
  'rounds_committed',
  'epsilon_spent',
  'outcome',
  'final_accuracy',
  'best_accuracy',
  'report_dir',
] as const;

/**
 * The sweep as CSV: a header and one row per run, ordered by target ε (baseline last, its ε columns empty); LF
 * line ends, final newline; accuracies as 0..1 fractions.
 */
export function renderSweepCsv(rows: readonly SweepRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of sortSweepRows(rows)) {
    lines.push(
      [
        csvNumber(r.targetEpsilon),
        csvField(r.mechanism),
        csvNumber(r.noiseMultiplier),
        csvNumber(r.roundsCommitted),
        csvNumber(r.epsilonSpent),
        csvField(r.outcome),
        csvNumber(r.finalAccuracy),
        csvNumber(r.bestAccuracy),
        csvField(r.reportDir),
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

// ───────────────────────────────────────────── JSON ────────────────────────────────────────────

/** The JSON shape of `sweep.json`. */
export interface SweepJson {
  schemaVersion: typeof SWEEP_SCHEMA_VERSION;
  runs: SweepRow[];
}

/** One row as JSON: fields in a stable order, non-finite figures as null. */
export function sweepRowToJson(r: SweepRow): SweepRow {
  return {
    targetEpsilon: finiteOrNull(r.targetEpsilon),
    mechanism: r.mechanism,
    noiseMultiplier: finiteOrNull(r.noiseMultiplier),
    roundsCommitted: r.roundsCommitted,
    epsilonSpent: finiteOrNull(r.epsilonSpent),
    outcome: r.outcome,
    finalAccuracy: finiteOrNull(r.finalAccuracy),
    bestAccuracy: finiteOrNull(r.bestAccuracy),
    reportDir: r.reportDir,
  };
}

/** `sweep.json`: the rows in CSV order, tagged with the schema version. */
export function sweepToJson(rows: readonly SweepRow[]): SweepJson {
  return { schemaVersion: SWEEP_SCHEMA_VERSION, runs: sortSweepRows(rows).map(sweepRowToJson) };
}

// ───────────────────────────────────────────── SVG ─────────────────────────────────────────────

/** Options for {@link renderSweepSvg}; sizes in CSS pixels. */
export interface SweepChartOptions {
  /** Chart title; default `Held-out accuracy vs privacy budget`. Escaped, so any text is safe. */
  title?: string;
  /** Second line under the title, e.g. dataset and client count; omitted when empty. */
  subtitle?: string;
  /** Width in px; default 760, minimum 320. */
  width?: number;
  /** Height in px; default 420, minimum 240. */
  height?: number;
}

/**
 * A self-contained SVG chart of final held-out accuracy (%, fixed 0–100 scale) against the target ε on a log2
 * axis: one point per budget, joined by a line, and the run without differential privacy as a dashed horizontal
 * line labelled "no DP". Handles no rows, a baseline alone, budgets alone and runs without an accuracy.
 */
export function renderSweepSvg(rows: readonly SweepRow[], options: SweepChartOptions = {}): string {
  const width = Math.max(320, Math.round(options.width ?? 760));
  const height = Math.max(240, Math.round(options.height ?? 420));
  const title = options.title ?? 'Held-out accuracy vs privacy budget';
  const subtitle = options.subtitle ?? '';
  const sorted = sortSweepRows(rows);
  const budgets = sorted.filter((r): r is SweepRow & { targetEpsilon: number } => r.targetEpsilon !== null && r.targetEpsilon > 0 && Number.isFinite(r.targetEpsilon));
  const points = budgets.filter((r) => finiteOrNull(r.finalAccuracy) !== null);
  const baseline = sorted.find((r) => r.targetEpsilon === null && finiteOrNull(r.finalAccuracy) !== null);

  const margin = { top: subtitle ? 80 : 64, right: 28, bottom: 52, left: 64 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const plotBottom = margin.top + plotH;
  const plotRight = margin.left + plotW;
  const area: PlotArea = { left: margin.left, top: margin.top, width: plotW, height: plotH };

  // x: log2 ε over whole powers of two around the budgets, padded by half a step so edge points are not cut.
  const logs = budgets.map((r) => Math.log2(r.targetEpsilon));
  const lo = logs.length > 0 ? Math.floor(Math.min(...logs)) : 0;
  const hi = logs.length > 0 ? Math.ceil(Math.max(...logs)) : 4;
  const xMin = (hi > lo ? lo : lo - 1) - 0.25;
  const xMax = (hi > lo ? hi : hi + 1) + 0.25;
  const x = (eps: number): number => margin.left + ((Math.log2(eps) - xMin) / (xMax - xMin)) * plotW;
  const yAcc = (pct: number): number => plotBottom - (Math.min(100, Math.max(0, pct)) / 100) * plotH;
  const pctOf = (r: SweepRow): number => (finiteOrNull(r.finalAccuracy) ?? 0) * 100;

  const out: string[] = chartHeading(width, height, title, subtitle, margin.left);

  // Gridlines and accuracy ticks every 20 %.
  out.push('<g class="grid">');
  for (let pct = 0; pct <= 100; pct += 20) out.push(...gridLine(area, yAcc(pct), String(pct)));
  out.push('</g>');

  // X ticks at powers of two, thinned to leave ≥ 48 px between labels.
  const powers = Math.ceil(xMax) - Math.floor(xMin);
  const stride = Math.max(1, Math.ceil(48 / Math.max(1e-9, plotW / Math.max(1, powers))));
  out.push('<g class="x-axis">');
  for (let k = Math.ceil(xMin); k <= Math.floor(xMax); k++) {
    if (((k % stride) + stride) % stride !== 0) continue;
    out.push(...xTick(area, x(2 ** k), shortNumber(2 ** k)));
  }
  out.push('</g>');

  out.push(...axisFrame(area, height, 'Target epsilon (log2 scale)', 'Final accuracy (%)'));

  // The baseline: a dashed line across the plot, labelled at its right end.
  if (baseline !== undefined) {
    const pct = pctOf(baseline);
    const y = yAcc(pct);
    const ly = y - 6 < margin.top + 10 ? y + 14 : y - 6;
    out.push(
      `<g class="series baseline"><title>no DP: ${pct.toFixed(1)}%</title>` +
        `<line x1="${px(margin.left)}" y1="${px(y)}" x2="${px(plotRight)}" y2="${px(y)}" stroke="${COLORS.baseline}" stroke-width="1.5" stroke-dasharray="6 4"/>` +
        `<text x="${px(plotRight - 4)}" y="${px(ly)}" text-anchor="end" font-size="12" fill="${COLORS.baseline}">no DP ${pct.toFixed(1)}%</text>` +
        `</g>`,
    );
  }

  out.push('<g class="series accuracy">');
  if (points.length > 1) {
    const d = points.map((r, i) => `${i === 0 ? 'M' : 'L'}${px(x(r.targetEpsilon))} ${px(yAcc(pctOf(r)))}`).join('');
    out.push(`<path d="${d}" fill="none" stroke="${COLORS.accuracy}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>`);
  }
  for (const r of points) {
    const pct = pctOf(r);
    const cx = x(r.targetEpsilon);
    const cy = yAcc(pct);
    const tip = `epsilon ${shortNumber(r.targetEpsilon)}: ${pct.toFixed(1)}%` + (r.epsilonSpent === null ? '' : ` (spent ${r.epsilonSpent.toFixed(3)})`);
    out.push(
      `<circle class="point accuracy" cx="${px(cx)}" cy="${px(cy)}" r="3.5" fill="${COLORS.accuracy}"><title>${escapeXml(tip)}</title></circle>`,
    );
    // Each point's accuracy above it (below it near the top), while there is room for the labels.
    if (points.length <= 12) {
      const ly = cy - 9 < margin.top + 10 ? cy + 18 : cy - 9;
      out.push(`<text x="${px(cx)}" y="${px(ly)}" text-anchor="middle" font-size="11" fill="${COLORS.accuracy}">${pct.toFixed(1)}%</text>`);
    }
  }
  out.push('</g>');

  if (points.length === 0) {
    const message = budgets.length === 0 ? 'No runs with a privacy budget' : 'No accuracy recorded';
    out.push(centredMessage(area, message));
  }

  // Legend, one row above the plot.
  const legend: LegendItem[] = [{ swatch: lineSwatch(COLORS.accuracy, 2, { dot: true }), label: 'Final accuracy (%)' }];
  if (baseline !== undefined) legend.push({ swatch: lineSwatch(COLORS.baseline, 1.5, { dash: '6 4' }), label: 'no DP' });
  out.push(legendRow(legend, margin.left, margin.top - 16));

  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// ──────────────────────────────────────── Terminal table ────────────────────────────────────────

const NONE = '-';

const TABLE_HEAD = ['ε', 'z', 'rounds', 'ε spent', 'final acc %', 'best acc %'] as const;

/**
 * A fixed-width text table of the sweep for the terminal: one row per run, ordered by target ε with the baseline
 * (`no DP`) last: target ε, noise multiplier z, rounds committed, ε spent, final and best accuracy (%).
 */
export function renderSweepTable(rows: readonly SweepRow[]): string {
  const body = sortSweepRows(rows).map((r) => [
    r.targetEpsilon === null ? 'no DP' : shortNumber(r.targetEpsilon),
    r.noiseMultiplier === null ? NONE : r.noiseMultiplier.toFixed(3),
    String(r.roundsCommitted),
    r.epsilonSpent === null ? NONE : r.epsilonSpent.toFixed(3),
    formatPercent(r.finalAccuracy) ?? NONE,
    formatPercent(r.bestAccuracy) ?? NONE,
  ]);
  const widths = TABLE_HEAD.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => ` ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}`.trimEnd();
  const out = [`Cohort privacy sweep: ${body.length} run${body.length === 1 ? '' : 's'}`, '', line(TABLE_HEAD), line(widths.map((w) => '-'.repeat(w)))];
  for (const row of body) out.push(line(row));
  const unfinished = sortSweepRows(rows).filter((r) => r.outcome !== 'completed' && r.outcome !== 'budget-exhausted');
  for (const r of unfinished) out.push(`${r.targetEpsilon === null ? 'no DP' : `epsilon ${shortNumber(r.targetEpsilon)}`}: ${oneLine(r.outcome)}`);
  return `${out.join('\n')}\n`;
}

// ───────────────────────────────────────────── Files ───────────────────────────────────────────

/**
 * Writes sweep.csv, sweep.svg and sweep.json into `dir` (created with parents); returns the paths written.
 * Throws {@link ReportWriteError} naming the path that failed.
 */
export async function writeSweepReport(dir: string, rows: readonly SweepRow[], options: SweepChartOptions = {}): Promise<{ files: string[] }> {
  await createDir(dir);
  const outputs: Array<[string, string]> = [
    ['sweep.csv', renderSweepCsv(rows)],
    ['sweep.svg', renderSweepSvg(rows, options)],
    ['sweep.json', `${JSON.stringify(sweepToJson(rows), null, 2)}\n`],
  ];
  const files: string[] = [];
  for (const [name, contents] of outputs) {
    const path = join(dir, name);
    await writeAtomic(path, contents);
    files.push(path);
  }
  return { files };
}
