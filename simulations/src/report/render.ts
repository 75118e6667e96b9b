/**
 * Pure renderers for the simulation report: CSV, SVG chart, terminal table, JSON. Data in, strings out; no I/O,
 * no clock, so every output is reproducible from a summary and testable without a file system.
 */
import { finiteOrNull, formatDuration, formatLoss, formatMegabytes, formatPercent, oneLine, styled } from './format.js';
import { COLORS, axisFrame, centredMessage, chartHeading, escapeXml, gridLine, legendRow, lineSwatch, px, shortNumber, xTick } from './svg.js';
import type { LegendItem, PlotArea } from './svg.js';
import type { AttackReport, PrivacyReport, RoundReport, SimulationSummary } from './types.js';

export { escapeXml } from './svg.js';

// ───────────────────────────────────────────── CSV ─────────────────────────────────────────────

/**
 * Protocol stages in round order (DESIGN §4). Dropout columns follow this order so that a reader scanning left to
 * right sees where in the round clients were lost; stages outside it follow alphabetically.
 */
const STAGE_ORDER: readonly string[] = [
  'selecting',
  'configuring',
  'advertise-keys',
  'share-keys',
  'masked-input',
  'consistency-check',
  'unmasking',
  'aggregating',
];

/** The union of dropout stages over `rounds`, in protocol order, unknown stages after in alphabetical order. */
export function dropoutStages(rounds: readonly RoundReport[]): string[] {
  const seen = new Set<string>();
  for (const r of rounds) for (const stage of Object.keys(r.dropoutsByStage)) seen.add(stage);
  const rank = (s: string): number => {
    const i = STAGE_ORDER.indexOf(s);
    return i === -1 ? STAGE_ORDER.length : i;
  };
  return [...seen].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Stages with traffic figures in any round (secure aggregation), in protocol order. */
export function trafficStagesOf(rounds: readonly RoundReport[]): string[] {
  const seen = new Set<string>();
  for (const r of rounds) for (const stage of Object.keys(r.bytesByStage ?? {})) seen.add(stage);
  return [...seen].sort((a, b) => STAGE_ORDER.indexOf(a) - STAGE_ORDER.indexOf(b));
}

/** One CSV field, quoted per RFC 4180 when it holds a comma, quote or line break (quotes doubled). */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** A number as a CSV field: empty for null, otherwise unformatted. */
export function csvNumber(value: number | null): string {
  // Unformatted on purpose: the CSV is for analysis tools, which want full precision. NaN/Infinity are kept as
  // text (a diverged loss is information); pandas and R both parse them.
  return value === null ? '' : String(value);
}

/**
 * The rounds as CSV: a header and one row per round, LF line ends, final newline. Numbers are unformatted (empty
 * for null); bytes and seconds in raw units; one `dropouts_<stage>` column per stage seen in any round (0 where a
 * round lost nobody there).
 */
export function renderRoundsCsv(rounds: readonly RoundReport[]): string {
  const stages = dropoutStages(rounds);
  const trafficStages = trafficStagesOf(rounds);
  const withEpsilon = rounds.some((r) => r.epsilon !== null && r.epsilon !== undefined);
  const withAsr = rounds.some((r) => r.attackSuccessRate !== undefined);
  const withDetection = rounds.some((r) => r.detection !== undefined);
  const header = [
    'round',
    'state',
    'abort_reason',
    'accuracy',
    'loss',
    'train_loss',
    'train_accuracy',
    'selected',
    'participants',
    'dropouts',
    ...stages.map((s) => `dropouts_${s}`),
    ...trafficStages.flatMap((s) => [`bytes_up_per_client_${s}`, `bytes_down_per_client_${s}`]),
    ...(withEpsilon ? ['epsilon'] : []),
    ...(withAsr ? ['attack_success_rate'] : []),
    ...(withDetection ? ['detection_attackers', 'detection_flagged', 'detection_true_positives', 'detection_precision', 'detection_recall'] : []),
    'bytes_up',
    'bytes_down',
    'seconds',
    'model_version',
  ];
  const lines = [header.map(csvField).join(',')];
  for (const r of rounds) {
    const row = [
      csvNumber(r.round),
      csvField(r.state),
      r.abortReason === null ? '' : csvField(r.abortReason),
      csvNumber(r.accuracy),
      csvNumber(r.loss),
      csvNumber(r.trainLoss),
      csvNumber(r.trainAccuracy),
      csvNumber(r.selected),
      csvNumber(r.participants),
      csvNumber(r.dropouts),
      ...stages.map((s) => csvNumber(r.dropoutsByStage[s] ?? 0)),
      ...trafficStages.flatMap((s) => {
        const t = r.bytesByStage[s];
        return t === undefined || t.clients === 0 ? ['', ''] : [csvNumber(Math.round(t.up / t.clients)), csvNumber(Math.round(t.down / t.clients))];
      }),
      ...(withEpsilon ? [csvNumber(r.epsilon ?? null)] : []),
      ...(withAsr ? [csvNumber(r.attackSuccessRate ?? null)] : []),
      ...(withDetection
        ? r.detection === undefined || r.detection === null
          ? ['', '', '', '', '']
          : [r.detection.attackers, r.detection.flagged, r.detection.truePositives, r.detection.precision, r.detection.recall].map(csvNumber)
        : []),
      csvNumber(r.bytesUp),
      csvNumber(r.bytesDown),
      csvNumber(r.seconds),
      csvNumber(r.modelVersion),
    ];
    lines.push(row.join(','));
  }
  return `${lines.join('\n')}\n`;
}

// ───────────────────────────────────────────── SVG ─────────────────────────────────────────────

/** Options for {@link renderAccuracyChartSvg}; sizes in CSS pixels. */
export interface AccuracyChartOptions {
  /** Chart title; default `Held-out accuracy per round`. Escaped, so any text is safe. */
  title?: string;
  /** Second line under the title, e.g. dataset and client count; omitted when empty. */
  subtitle?: string;
  /** Width in px; default 760, minimum 320. */
  width?: number;
  /** Height in px; default 420, minimum 240. */
  height?: number;
  /** Draw held-out loss on a right axis; default true (drawn only when some round has a loss). */
  showLoss?: boolean;
}

/** A "nice" step (1, 2, 2.5 or 5 times a power of ten) at least `raw`, for axis ticks. */
function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= raw * (1 - 1e-9)) return m * power;
  return 10 * power;
}

/**
 * A self-contained SVG line chart of held-out accuracy (%) per round, with loss on a right axis (or, for a run with
 * differential privacy, the ε spent after each round). Accuracy runs on
 * a fixed 0–100 % scale so charts of different runs compare at a glance. Aborted rounds are drawn as shaded bands
 * with a cross and break the lines; a committed round without an evaluation is bridged (the model still
 * advanced). Handles no rounds, no accuracy at all, one round and hundreds of rounds.
 */
export function renderAccuracyChartSvg(rounds: readonly RoundReport[], options: AccuracyChartOptions = {}): string {
  const width = Math.max(320, Math.round(options.width ?? 760));
  const height = Math.max(240, Math.round(options.height ?? 420));
  const title = options.title ?? 'Held-out accuracy per round';
  const subtitle = options.subtitle ?? '';
  const sorted = [...rounds].sort((a, b) => a.round - b.round);

  // The right axis shows the privacy spent (ε after each round) when the run had differential privacy, else the loss.
  const withEpsilon = sorted.some((r) => finiteOrNull(r.epsilon ?? null) !== null);
  const rightValue = (r: RoundReport): number | null => finiteOrNull(withEpsilon ? (r.epsilon ?? null) : r.loss);
  const rightLabel = withEpsilon ? 'Epsilon spent' : 'Loss';
  const losses = sorted.map((r) => (r.state === 'committed' ? rightValue(r) : null));
  const lossMax = Math.max(0, ...losses.filter((l): l is number => l !== null));
  const drawLoss = (withEpsilon || (options.showLoss ?? true)) && losses.some((l) => l !== null);

  const margin = { top: subtitle ? 80 : 64, right: drawLoss ? 64 : 28, bottom: 52, left: 64 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const plotBottom = margin.top + plotH;
  const plotRight = margin.left + plotW;
  const area: PlotArea = { left: margin.left, top: margin.top, width: plotW, height: plotH };

  // Half a round of padding either side, so edge points and aborted bands are not cut by the frame.
  const firstRound = sorted[0]?.round ?? 1;
  const lastRound = sorted[sorted.length - 1]?.round ?? firstRound;
  const xMin = firstRound - 0.5;
  const xMax = lastRound + 0.5;
  const x = (round: number): number => margin.left + ((round - xMin) / (xMax - xMin)) * plotW;
  const yAcc = (pct: number): number => plotBottom - (Math.min(100, Math.max(0, pct)) / 100) * plotH;

  // Loss axis: five nice steps, so its ticks sit on the accuracy gridlines (0, 20, …, 100 %).
  const gridSteps = 5;
  const lossStep = niceStep(lossMax > 0 ? lossMax / gridSteps : 0.2);
  const lossTop = lossStep * gridSteps;
  const yLoss = (loss: number): number => plotBottom - (Math.min(lossTop, Math.max(0, loss)) / lossTop) * plotH;

  const roundPx = plotW / Math.max(1, xMax - xMin);
  const pointR = Math.min(3.5, Math.max(1.25, roundPx * 0.35));
  const strokeW = sorted.length > 100 ? 1.5 : 2;

  const out: string[] = chartHeading(width, height, title, subtitle, margin.left);

  // Gridlines and left (accuracy) axis ticks.
  out.push('<g class="grid">');
  for (let i = 0; i <= gridSteps; i++) {
    const pct = (100 / gridSteps) * i;
    out.push(...gridLine(area, yAcc(pct), shortNumber(pct)));
    if (drawLoss) {
      out.push(
        `<text x="${px(plotRight + 8)}" y="${px(yAcc(pct))}" dy="0.32em" text-anchor="start" font-size="11" fill="${COLORS.muted}">${shortNumber(lossStep * i)}</text>`,
      );
    }
  }
  out.push('</g>');

  // X ticks: integer rounds at a nice step that leaves ≥ 48 px between labels.
  const rawXStep = niceStep(48 / Math.max(1e-9, roundPx));
  // Rounds are integers: a step of 2.5 becomes 5 rather than the odd-looking 3.
  const xStep = rawXStep < 1 ? 1 : Number.isInteger(rawXStep) ? rawXStep : Math.ceil(rawXStep / 5) * 5;
  const xTicks: number[] = [];
  for (let t = Math.ceil(firstRound / xStep) * xStep; t <= lastRound; t += xStep) xTicks.push(t);
  // Label the first round too when the first multiple of the step is far enough from it (e.g. 1, 10, 20, …).
  if (xTicks[0] === undefined || xTicks[0] - firstRound >= xStep / 2) xTicks.unshift(firstRound);
  out.push('<g class="x-axis">');
  for (const t of xTicks) out.push(...xTick(area, x(t), String(t)));
  out.push('</g>');

  // Axis frame and titles.
  out.push(...axisFrame(area, height, 'Round', 'Accuracy (%)'));
  if (drawLoss) {
    const midY = px(margin.top + plotH / 2);
    out.push(
      `<line x1="${px(plotRight)}" y1="${px(margin.top)}" x2="${px(plotRight)}" y2="${px(plotBottom)}" stroke="${COLORS.axis}"/>`,
    );
    out.push(
      `<text transform="translate(${px(width - 14)} ${midY}) rotate(90)" text-anchor="middle" font-size="12" fill="${COLORS.loss}">${rightLabel}</text>`,
    );
  }

  // Aborted rounds: a shaded band over the whole plot height and a cross on the axis, with the reason as tooltip.
  const aborted = sorted.filter((r) => r.state === 'aborted');
  if (aborted.length > 0) {
    const bandW = Math.max(1, roundPx * 0.8);
    const cross = Math.min(4, Math.max(2, roundPx * 0.3));
    out.push('<g class="aborted">');
    for (const r of aborted) {
      const cx = x(r.round);
      const cy = plotBottom - cross - 3;
      const tip = `Round ${r.round} aborted${r.abortReason ? `: ${r.abortReason}` : ''}`;
      out.push(
        `<g class="aborted-round"><title>${escapeXml(tip)}</title>` +
          `<rect x="${px(cx - bandW / 2)}" y="${px(margin.top)}" width="${px(bandW)}" height="${px(plotH)}" fill="${COLORS.aborted}" fill-opacity="0.12"/>` +
          `<path d="M${px(cx - cross)} ${px(cy - cross)}L${px(cx + cross)} ${px(cy + cross)}M${px(cx + cross)} ${px(cy - cross)}L${px(cx - cross)} ${px(cy + cross)}" stroke="${COLORS.aborted}" stroke-width="1.5" fill="none"/>` +
          `</g>`,
      );
    }
    out.push('</g>');
  }

  // Line segments: an aborted round ends a segment (the gap is the point); a committed round without a value is
  // bridged, since evaluating only every k rounds must not shred the line.
  const segments = (value: (r: RoundReport) => number | null): Array<Array<[number, number]>> => {
    const segs: Array<Array<[number, number]>> = [];
    let current: Array<[number, number]> = [];
    for (const r of sorted) {
      if (r.state === 'aborted') {
        if (current.length > 0) segs.push(current);
        current = [];
        continue;
      }
      const v = value(r);
      if (v !== null) current.push([r.round, v]);
    }
    if (current.length > 0) segs.push(current);
    return segs;
  };
  const pathOf = (seg: Array<[number, number]>, y: (v: number) => number): string =>
    seg.map(([round, v], i) => `${i === 0 ? 'M' : 'L'}${px(x(round))} ${px(y(v))}`).join('');

  const accPct = (r: RoundReport): number | null => {
    const a = finiteOrNull(r.accuracy);
    return a === null ? null : a * 100;
  };

  // Hollow markers tell the loss from the accuracy when there is room; packed tighter than 4 px a round, their
  // outlines merge into a thick band, so they become small solid dots.
  const lossPointPaint =
    roundPx < 4 ? `fill="${COLORS.loss}"` : `fill="#ffffff" stroke="${COLORS.loss}" stroke-width="1.25"`;
  if (drawLoss) {
    out.push('<g class="series loss">');
    for (const seg of segments(rightValue)) {
      if (seg.length > 1) {
        out.push(
          `<path d="${pathOf(seg, yLoss)}" fill="none" stroke="${COLORS.loss}" stroke-width="${strokeW * 0.8}" stroke-dasharray="5 4" stroke-linejoin="round"/>`,
        );
      }
    }
    for (const r of sorted) {
      const l = r.state === 'committed' ? rightValue(r) : null;
      if (l === null) continue;
      const tip = withEpsilon ? `epsilon ${l.toFixed(3)}` : `loss ${formatLoss(l) ?? ''}`;
      out.push(
        `<circle class="point ${withEpsilon ? 'epsilon' : 'loss'}" cx="${px(x(r.round))}" cy="${px(yLoss(l))}" r="${px(pointR * 0.8)}" ${lossPointPaint}><title>Round ${r.round}: ${escapeXml(tip)}</title></circle>`,
      );
    }
    out.push('</g>');
  }

  const accPoints = sorted.filter((r) => r.state === 'committed' && accPct(r) !== null);
  out.push('<g class="series accuracy">');
  for (const seg of segments(accPct)) {
    if (seg.length > 1) {
      out.push(
        `<path d="${pathOf(seg, yAcc)}" fill="none" stroke="${COLORS.accuracy}" stroke-width="${strokeW}" stroke-linejoin="round" stroke-linecap="round"/>`,
      );
    }
  }
  for (const r of accPoints) {
    const pct = accPct(r) ?? 0;
    out.push(
      `<circle class="point accuracy" cx="${px(x(r.round))}" cy="${px(yAcc(pct))}" r="${px(pointR)}" fill="${COLORS.accuracy}"><title>Round ${r.round}: ${pct.toFixed(1)}%</title></circle>`,
    );
  }
  out.push('</g>');

  // Label the last accuracy: the number a reader looks for first.
  const last = accPoints[accPoints.length - 1];
  if (last !== undefined) {
    const pct = accPct(last) ?? 0;
    const lx = x(last.round);
    const nearRight = lx > margin.left + plotW * 0.85;
    const ly = yAcc(pct) - 9 < margin.top + 10 ? yAcc(pct) + 18 : yAcc(pct) - 9;
    out.push(
      `<text x="${px(nearRight ? lx - 4 : lx + 4)}" y="${px(ly)}" text-anchor="${nearRight ? 'end' : 'start'}" font-size="12" font-weight="600" fill="${COLORS.accuracy}">${pct.toFixed(1)}%</text>`,
    );
  }

  if (sorted.length === 0 || accPoints.length === 0) {
    const message = sorted.length === 0 ? 'No rounds recorded' : 'No accuracy recorded';
    out.push(centredMessage(area, message));
  }

  // Legend, one row above the plot.
  const legend: LegendItem[] = [{ swatch: lineSwatch(COLORS.accuracy, 2, { dot: true }), label: 'Accuracy (%)' }];
  if (drawLoss) legend.push({ swatch: lineSwatch(COLORS.loss, 1.6, { dash: '5 4' }), label: rightLabel });
  if (aborted.length > 0) {
    legend.push({
      swatch: (lx, ly) => `<rect x="${px(lx + 5)}" y="${px(ly - 7)}" width="10" height="14" fill="${COLORS.aborted}" fill-opacity="0.18"/>`,
      label: `Aborted round${aborted.length === 1 ? '' : 's'} (${aborted.length})`,
    });
  }
  out.push(legendRow(legend, margin.left, margin.top - 16));

  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// ──────────────────────────────────────── Terminal table ────────────────────────────────────────

/** Options for {@link renderSummaryTable}. */
export interface SummaryTableOptions {
  /** Emit ANSI colours (state, header, final accuracy); default false, so files and pipes stay plain. */
  color?: boolean;
}

interface Column {
  head: string;
  align: 'left' | 'right';
}

const TABLE_COLUMNS: readonly Column[] = [
  { head: 'round', align: 'right' },
  { head: 'state', align: 'left' },
  { head: 'acc %', align: 'right' },
  { head: 'loss', align: 'right' },
  { head: 'part/sel', align: 'right' },
  { head: 'drop', align: 'right' },
  { head: 'MB up', align: 'right' },
  { head: 'MB down', align: 'right' },
  { head: 'seconds', align: 'right' },
];

const NONE = '-';

/**
 * A fixed-width text table of the run for the terminal and `summary.txt`: a header line naming the run, one row
 * per round (round, state, accuracy %, loss, participants/selected, dropouts, MB up, MB down, seconds; MB = 10^6
 * bytes), a totals row, then final and best accuracy, traffic, wall time and the report folder.
 */
export function renderSummaryTable(summary: SimulationSummary, options: SummaryTableOptions = {}): string {
  const color = options.color ?? false;
  const rows: string[][] = [];
  const rowState: Array<'committed' | 'aborted' | 'total'> = [];
  let participants = 0;
  let selected = 0;
  let dropouts = 0;
  let bytesUp = 0;
  let bytesDown = 0;
  let seconds = 0;
  for (const r of summary.rounds) {
    participants += r.participants;
    selected += r.selected;
    dropouts += r.dropouts;
    bytesUp += r.bytesUp;
    bytesDown += r.bytesDown;
    seconds += r.seconds;
    rows.push([
      String(r.round),
      r.state,
      formatPercent(r.accuracy) ?? NONE,
      formatLoss(r.loss) ?? NONE,
      `${r.participants}/${r.selected}`,
      String(r.dropouts),
      formatMegabytes(r.bytesUp),
      formatMegabytes(r.bytesDown),
      r.seconds.toFixed(1),
    ]);
    rowState.push(r.state);
  }
  rows.push([
    'total',
    '',
    '',
    '',
    `${participants}/${selected}`,
    String(dropouts),
    formatMegabytes(bytesUp),
    formatMegabytes(bytesDown),
    seconds.toFixed(1),
  ]);
  rowState.push('total');

  const widths = TABLE_COLUMNS.map((c, i) => Math.max(c.head.length, ...rows.map((row) => (row[i] ?? '').length)));
  const cell = (text: string, i: number): string => {
    const w = widths[i] ?? text.length;
    return TABLE_COLUMNS[i]?.align === 'left' ? text.padEnd(w) : text.padStart(w);
  };
  const gap = '  ';
  const indent = ' ';
  const line = (cells: string[]): string => `${indent}${cells.join(gap)}`.trimEnd();

  const out: string[] = [];
  const run =
    `${oneLine(summary.dataset)} (${oneLine(summary.datasetOrigin)}) · model ${oneLine(summary.model)} on ` +
    `${oneLine(summary.backend)} · ${summary.clients} clients · ${oneLine(summary.partition)} · seed ${summary.seed}`;
  out.push(styled(color, 'bold', `Cohort simulation: ${summary.rounds.length} rounds`));
  out.push(styled(color, 'dim', run));
  out.push('');
  out.push(styled(color, 'bold', line(TABLE_COLUMNS.map((c, i) => cell(c.head, i)))));
  const rule = line(widths.map((w) => '-'.repeat(w)));
  out.push(rule);
  const stateCol = indent.length + (widths[0] ?? 0) + gap.length;
  rows.forEach((row, k) => {
    const kind = rowState[k];
    if (kind === 'total') out.push(rule);
    const cells = row.map((text, i) => {
      const padded = cell(text, i);
      if (i === 1 && kind === 'committed') return styled(color, 'green', padded);
      if (i === 1 && kind === 'aborted') return styled(color, 'red', padded);
      return padded;
    });
    out.push(kind === 'total' ? styled(color, 'bold', line(cells)) : line(cells));
    const reason = kind === 'aborted' ? summary.rounds[k]?.abortReason : null;
    if (reason) out.push(styled(color, 'dim', `${' '.repeat(stateCol)}reason: ${oneLine(reason)}`));
  });
  out.push('');

  const final = formatPercent(summary.finalAccuracy);
  const best = formatPercent(summary.bestAccuracy);
  const finalLoss = formatLoss(summary.finalLoss);
  out.push(
    `final accuracy: ${styled(color, 'bold', final === null ? 'n/a' : `${final}%`)}` +
      (best === null ? '' : ` (best ${best}%)`) +
      (finalLoss === null ? '' : ` · final loss ${finalLoss}`),
  );
  out.push(
    `rounds: ${summary.roundsCommitted} committed, ${summary.roundsAborted} aborted · ` +
      `traffic: ${formatMegabytes(summary.totalBytesUp)} MB up, ${formatMegabytes(summary.totalBytesDown)} MB down · ` +
      `wall time ${formatDuration(summary.totalSeconds)} (${summary.totalSeconds.toFixed(1)} s)`,
  );
  const spent = summary.rounds.filter((r) => r.epsilon !== null && r.epsilon !== undefined);
  if (spent.length > 0) {
    const outcome = summary.config['outcome'];
    out.push(
      `privacy: epsilon ${spent.map((r) => (r.epsilon as number).toFixed(3)).join(', ')} after rounds ${spent.map((r) => r.round).join(', ')}` +
        (outcome === 'budget-exhausted' ? ' · stopped: the next round would exceed the budget' : ''),
    );
  }
  if (summary.privacy !== undefined) out.push(...privacyLines(summary.privacy));
  if (summary.attack !== undefined) out.push(...attackLines(summary.attack, summary));
  const sums = summary.rounds.flatMap((r) => (r.secureSums === undefined ? [] : [r.secureSums]));
  if (sums.length > 0) {
    const counts = sums.map((s) => s.count);
    const fewest = Math.min(...sums.map((s) => s.smallestSum));
    const range = Math.min(...counts) === Math.max(...counts) ? `${counts[0]}` : `${Math.min(...counts)} to ${Math.max(...counts)}`;
    out.push(`what the coordinator learned: ${range} sum${Math.max(...counts) === 1 ? '' : 's'} per round, never a sum of fewer than ${fewest} clients, no individual update`);
  }
  const traffic = trafficStagesOf(summary.rounds);
  if (traffic.length > 0) {
    out.push('secure aggregation, per client and round (mean over rounds; survivors of the stage; dropouts at it):');
    for (const stage of traffic) {
      let up = 0;
      let down = 0;
      let clients = 0;
      let lost = 0;
      for (const r of summary.rounds) {
        const t = r.bytesByStage[stage];
        if (t !== undefined) {
          up += t.up;
          down += t.down;
          clients += t.clients;
        }
        lost += r.dropoutsByStage[stage] ?? 0;
      }
      const per = (bytes: number): string => (clients === 0 ? 'n/a' : formatKilobytes(bytes / clients));
      out.push(`  ${stage.padEnd(17)} ${per(up).padStart(10)} up ${per(down).padStart(10)} down · ${clients} survivors · ${lost} dropouts`);
    }
  }
  if (summary.reportDir) out.push(`report: ${oneLine(summary.reportDir)}`);
  return `${out.join('\n')}\n`;
}

/** Share as a percentage with one decimal, or n/a. */
function pct(value: number | null | undefined): string {
  const p = formatPercent(value ?? null);
  return p === null ? 'n/a' : `${p}%`;
}

/** The attack: who, what the rule's verdicts caught, reputations, and a backdoor's success rate per round. */
export function attackLines(attack: AttackReport, summary: Pick<SimulationSummary, 'clients' | 'rounds' | 'config'>): string[] {
  const params = Object.entries(attack.params).map(([k, v]) => `${k}=${v}`).join(', ');
  const rule = typeof summary.config['aggregation'] === 'string' ? summary.config['aggregation'] : 'fedavg';
  const ruleParams = summary.config['ruleParams'];
  const ruleText = `${oneLine(rule)}${typeof ruleParams === 'object' && ruleParams !== null && Object.keys(ruleParams).length > 0 ? ` (${Object.entries(ruleParams).map(([k, v]) => `${k}=${String(v)}`).join(', ')})` : ''}`;
  const lines = [
    `attack: ${oneLine(attack.name)} (${oneLine(attack.kind)}${params ? `; ${oneLine(params)}` : ''}) by ${attack.attackers.length} of ${summary.clients} clients against ${ruleText}` +
      (attack.meanPooled === undefined ? '' : ` · pooled ${attack.meanPooled.toFixed(1)} honest updates per round`),
    `attackers: ${attack.attackers.map((a) => oneLine(a.displayName)).join(', ')}`,
  ];
  const d = attack.detection;
  if (d === null) {
    lines.push('detection: no verdicts recorded (the rule judged no contribution)');
  } else {
    lines.push(
      `detection (rejected or down-weighted): precision ${pct(d.precision)}, recall ${pct(d.recall)} · ${d.truePositives} of ${d.attackers} attacker contributions flagged, ` +
        `${d.flagged} flagged in all, over ${d.rounds} round${d.rounds === 1 ? '' : 's'}`,
    );
  }
  if (attack.reputation !== null) {
    const r = attack.reputation;
    lines.push(`reputation at the end: attackers ${r.attackers.mean.toFixed(2)} (${r.attackers.quarantined} quarantined), others ${r.benign.mean.toFixed(2)} (${r.benign.quarantined} quarantined)`);
  }
  if (attack.finalAttackSuccessRate !== undefined) {
    const perRound = summary.rounds.filter((r) => r.attackSuccessRate !== undefined && r.attackSuccessRate !== null);
    lines.push(
      `backdoor success rate on ${attack.triggeredExamples ?? 0} triggered held-out images: final ${pct(attack.finalAttackSuccessRate)}` +
        (perRound.length > 0 ? ` · per round ${perRound.map((r) => `${r.round}: ${pct(r.attackSuccessRate)}`).join(', ')}` : ''),
    );
  }
  return lines;
}

function formatKilobytes(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

// ───────────────────────────────────────────── JSON ─────────────────────────────────────────────

/** Version of the `--json` / `summary.json` shape; bumped on any incompatible change. */
export const SUMMARY_SCHEMA_VERSION = 1;

/** The JSON shape of a summary: the summary itself, numbers made JSON-safe, tagged with its schema version. */
export type SimulationSummaryJson = { schemaVersion: typeof SUMMARY_SCHEMA_VERSION } & SimulationSummary;

/** One round as JSON: fields in a stable order, NaN/Infinity in the nullable figures turned into null. */
export function roundToJson(r: RoundReport): RoundReport {
  return {
    round: r.round,
    state: r.state,
    abortReason: r.abortReason,
    accuracy: finiteOrNull(r.accuracy),
    loss: finiteOrNull(r.loss),
    trainLoss: finiteOrNull(r.trainLoss),
    trainAccuracy: finiteOrNull(r.trainAccuracy),
    selected: r.selected,
    participants: r.participants,
    dropouts: r.dropouts,
    dropoutsByStage: { ...r.dropoutsByStage },
    bytesByStage: Object.fromEntries(Object.entries(r.bytesByStage ?? {}).map(([k, v]) => [k, { ...v }])),
    epsilon: finiteOrNull(r.epsilon ?? null),
    bytesUp: r.bytesUp,
    bytesDown: r.bytesDown,
    seconds: r.seconds,
    modelVersion: r.modelVersion,
    ...(r.attackSuccessRate === undefined ? {} : { attackSuccessRate: finiteOrNull(r.attackSuccessRate) }),
    ...(r.detection === undefined ? {} : { detection: r.detection === null ? null : { ...r.detection } }),
  };
}

/**
 * A JSON-compatible copy of arbitrary config: bigint → decimal string, Date → ISO string, non-finite numbers →
 * null, functions/symbols/undefined dropped, cycles → `"[circular]"`. Config objects come from option parsers and
 * may hold any of these; `JSON.stringify` would throw on bigint and cycles.
 */
function jsonSafe(value: unknown, ancestors: object[] = []): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (ancestors.includes(value)) return '[circular]';
  const next = [...ancestors, value];
  if (Array.isArray(value)) return value.map((v) => jsonSafe(v, next) ?? null);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, (v) => jsonSafe(v, next));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const safe = jsonSafe(v, next);
    if (safe !== undefined) out[k] = safe;
  }
  return out;
}

/**
 * The object `cohort simulate --json` prints and `summary.json` holds: every summary field (accuracies 0..1,
 * bytes, seconds), per-round figures in `rounds`, `reportDir`, and `schemaVersion`. JSON-safe: no NaN, bigint or
 * cycles survive.
 */
/** How the run's privacy was accounted: amplification claimed or not, and local DP's per-client spread. */
export function privacyLines(privacy: PrivacyReport): string[] {
  const lines = [
    `privacy accounting: ${privacy.mechanism} DP, budget epsilon ${privacy.targetEpsilon} at delta ${privacy.delta}; ` +
      (privacy.mechanism === 'local'
        ? 'each client accounted on its own'
        : privacy.amplified
          ? 'Poisson-sampled cohort, amplification by sampling applied'
          : 'fixed-size cohort: not covered by amplification by sampling, accounted with q = 1'),
  ];
  const eps = privacy.clientEpsilons.map((c) => c.epsilon).sort((a, b) => a - b);
  if (eps.length > 0) {
    const median = eps.length % 2 === 1 ? eps[(eps.length - 1) / 2]! : (eps[eps.length / 2 - 1]! + eps[eps.length / 2]!) / 2;
    lines.push(`per-client epsilon (local DP, over the rounds each joined): min ${eps[0]!.toFixed(3)}, median ${median.toFixed(3)}, max ${eps.at(-1)!.toFixed(3)} over ${eps.length} clients`);
  }
  return lines;
}

export function summaryToJson(summary: SimulationSummary): SimulationSummaryJson {
  return {
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    finalAccuracy: finiteOrNull(summary.finalAccuracy),
    finalLoss: finiteOrNull(summary.finalLoss),
    bestAccuracy: finiteOrNull(summary.bestAccuracy),
    roundsCommitted: summary.roundsCommitted,
    roundsAborted: summary.roundsAborted,
    reportDir: summary.reportDir,
    clients: summary.clients,
    seed: summary.seed,
    partition: summary.partition,
    dataset: summary.dataset,
    datasetOrigin: summary.datasetOrigin,
    model: summary.model,
    backend: summary.backend,
    totalSeconds: summary.totalSeconds,
    totalBytesUp: summary.totalBytesUp,
    totalBytesDown: summary.totalBytesDown,
    startedAt: summary.startedAt,
    finishedAt: summary.finishedAt,
    rounds: summary.rounds.map(roundToJson),
    config: jsonSafe(summary.config) as Record<string, unknown>,
    ...(summary.privacy === undefined ? {} : { privacy: { ...summary.privacy, clientEpsilons: summary.privacy.clientEpsilons.map((c) => ({ ...c })) } }),
    ...(summary.attack === undefined ? {} : { attack: jsonSafe(summary.attack) as AttackReport }),
  };
}
