/**
 * The attacks × defenses evaluation matrix of `cohort simulate matrix`: one cell per (mode, attack, defense), each a
 * whole simulation, rendered as CSV, JSON, Markdown (a compact table per mode, then one row of detail per cell) and
 * an SVG heat map of final accuracy. The renderers are pure (data in, strings out); {@link writeMatrixReport} at the
 * end is the only file-system code here.
 */
import { join } from 'node:path';
import { finiteOrNull, formatDuration, formatPercent, oneLine } from './format.js';
import { csvField, csvNumber } from './render.js';
import { COLORS, centredMessage, chartHeading, escapeXml, px, textWidth } from './svg.js';
import type { AttackReport, SimulationSummary } from './types.js';
import { createDir, writeAtomic } from './write.js';

/** Version of the `matrix.json` shape; bumped on any incompatible change. */
export const MATRIX_SCHEMA_VERSION = 1;

/** The row label of the runs without an attack, the reference of every defense. */
export const CLEAN = 'clean';

/**
 * ok: the simulation ran (aborted rounds, even a failed federation, are results); skipped: the rule cannot work on
 * this many contributions, so the cell was not run; failed: the simulation itself threw; pending: not run yet.
 */
export type MatrixCellStatus = 'ok' | 'skipped' | 'failed' | 'pending';

/** One cell of the matrix: one simulation, or why there is none. */
export interface MatrixCell {
  /** plaintext or bucketed (bucketed secure aggregation). */
  mode: string;
  /** Attack label as given (`sign-flip`, `backdoor:boost=10`), or {@link CLEAN}. */
  attack: string;
  /** Defense label: the aggregation rule and its parameters (`multi-krum:f=10`). */
  defense: string;
  status: MatrixCellStatus;
  /** Why the cell was skipped or failed, or how an ok run ended when not completed; null when nothing to say. */
  note: string | null;
  /** Held-out accuracy of the last committed model, 0..1. */
  finalAccuracy: number | null;
  /** Best held-out accuracy of any round, 0..1. */
  bestAccuracy: number | null;
  /** Backdoor only: success rate on triggered held-out images after the last committed round, 0..1. */
  attackSuccessRate: number | null;
  /** Over all rounds: attackers among the clients the rule rejected or down-weighted; null when none was flagged. */
  precision: number | null;
  /** Over all rounds: flagged attackers among the attackers judged; null without verdicts on attackers. */
  recall: number | null;
  /** Attackers in the run (0 for a clean run). */
  attackers: number;
  /** The first round after which every attacker was quarantined; null when that never happened. */
  roundsToQuarantine: number | null;
  /** Attackers and other clients quarantined by the end of the run; null without an attack or when unread. */
  attackersQuarantined: number | null;
  benignQuarantined: number | null;
  roundsCommitted: number | null;
  roundsAborted: number | null;
  /** How the federation ended: completed, failed, ...; null when the cell did not run. */
  outcome: string | null;
  /** Wall-clock seconds of the simulation. */
  seconds: number | null;
  /** The cell's report folder, relative to the matrix folder (`plaintext/sign-flip/median`); null when not run. */
  reportDir: string | null;
}

/** The whole matrix: the axes in display order and the cells. */
export interface MatrixReport {
  /** Modes in order (each gets its own table and heat-map panel). */
  modes: string[];
  /** Rows in order: {@link CLEAN} first when run, then the attacks as given. */
  attacks: string[];
  /** Columns in order, as given. */
  defenses: string[];
  cells: MatrixCell[];
  /** One line describing the runs (dataset, clients, partition ...), shown under the titles; may be empty. */
  subtitle: string;
  /** The settings every cell shares (clients, rounds, seed ...), for matrix.json. */
  settings: Record<string, string | number | boolean | null>;
}

/** A label as a folder name: anything but letters, digits, `.`, `_`, `=` and `-` becomes `_` (`multi-krum_f=10`). */
export function matrixLabelSlug(label: string): string {
  const slug = label.replace(/[^A-Za-z0-9._=-]+/g, '_');
  return slug === '' || slug === '.' || slug === '..' ? '_' : slug;
}

/** A cell's report folder relative to the matrix folder: `<mode>/<attack>/<defense>`, always with `/`. */
export function matrixCellDir(mode: string, attack: string, defense: string): string {
  return [mode, attack, defense].map(matrixLabelSlug).join('/');
}

/** The first round after which every attacker was quarantined; null when never (or not tracked, or no attackers). */
export function roundsToQuarantine(attack: Pick<AttackReport, 'attackers' | 'quarantinedByRound'> | undefined): number | null {
  const total = attack?.attackers.length ?? 0;
  if (total === 0) return null;
  return attack?.quarantinedByRound?.find((r) => r.attackers >= total)?.round ?? null;
}

const EMPTY: Omit<MatrixCell, 'mode' | 'attack' | 'defense' | 'status' | 'note'> = {
  finalAccuracy: null,
  bestAccuracy: null,
  attackSuccessRate: null,
  precision: null,
  recall: null,
  attackers: 0,
  roundsToQuarantine: null,
  attackersQuarantined: null,
  benignQuarantined: null,
  roundsCommitted: null,
  roundsAborted: null,
  outcome: null,
  seconds: null,
  reportDir: null,
};

/** A cell that did not run (skipped, failed or pending), with the reason. */
export function emptyCell(mode: string, attack: string, defense: string, status: Exclude<MatrixCellStatus, 'ok'>, note: string | null = null): MatrixCell {
  return { mode, attack, defense, status, note, ...EMPTY };
}

/**
 * The cell of a finished run. The note says how the federation ended when it did not complete (with the
 * coordinator's reason); aborted rounds alone are counted, not noted.
 */
export function matrixCellOf(summary: SimulationSummary, cell: { mode: string; attack: string; defense: string; reportDir: string }): MatrixCell {
  const outcome = typeof summary.config['outcome'] === 'string' ? (summary.config['outcome'] as string) : 'unknown';
  const reason = typeof summary.config['federationStatusReason'] === 'string' ? (summary.config['federationStatusReason'] as string) : '';
  const attack = summary.attack;
  return {
    mode: cell.mode,
    attack: cell.attack,
    defense: cell.defense,
    status: 'ok',
    note: outcome === 'completed' ? null : `federation ${outcome}${reason ? `: ${reason}` : ''}`,
    finalAccuracy: finiteOrNull(summary.finalAccuracy),
    bestAccuracy: finiteOrNull(summary.bestAccuracy),
    attackSuccessRate: finiteOrNull(attack?.finalAttackSuccessRate ?? null),
    precision: finiteOrNull(attack?.detection?.precision ?? null),
    recall: finiteOrNull(attack?.detection?.recall ?? null),
    attackers: attack?.attackers.length ?? 0,
    roundsToQuarantine: roundsToQuarantine(attack),
    attackersQuarantined: attack?.reputation?.attackers.quarantined ?? null,
    benignQuarantined: attack?.reputation?.benign.quarantined ?? null,
    roundsCommitted: summary.roundsCommitted,
    roundsAborted: summary.roundsAborted,
    outcome,
    seconds: finiteOrNull(summary.totalSeconds),
    reportDir: cell.reportDir,
  };
}

/**
 * The cells in display order: by mode, then row (attack), then column (defense), each in the order of the report's
 * axes; cells whose labels are not on an axis come last, in their original order.
 */
export function sortMatrixCells(report: Pick<MatrixReport, 'modes' | 'attacks' | 'defenses' | 'cells'>): MatrixCell[] {
  const rank = (list: readonly string[], x: string): number => {
    const i = list.indexOf(x);
    return i === -1 ? list.length : i;
  };
  return report.cells
    .map((c, i) => [c, i] as const)
    .sort(([a, i], [b, j]) => rank(report.modes, a.mode) - rank(report.modes, b.mode) || rank(report.attacks, a.attack) - rank(report.attacks, b.attack) || rank(report.defenses, a.defense) - rank(report.defenses, b.defense) || i - j)
    .map(([c]) => c);
}

/** The cell at (mode, attack, defense); undefined when the matrix has none. */
export function matrixCellAt(report: Pick<MatrixReport, 'cells'>, mode: string, attack: string, defense: string): MatrixCell | undefined {
  return report.cells.find((c) => c.mode === mode && c.attack === attack && c.defense === defense);
}

// ───────────────────────────────────────────── CSV ─────────────────────────────────────────────

const CSV_COLUMNS = [
  'mode',
  'attack',
  'defense',
  'status',
  'final_accuracy',
  'best_accuracy',
  'attack_success_rate',
  'detection_precision',
  'detection_recall',
  'attackers',
  'rounds_to_quarantine',
  'attackers_quarantined',
  'benign_quarantined',
  'rounds_committed',
  'rounds_aborted',
  'outcome',
  'seconds',
  'report_dir',
  'note',
] as const;

/**
 * The matrix as CSV: a header and one row per cell in display order; LF line ends, final newline; fractions as 0..1,
 * empty where there is no figure.
 */
export function renderMatrixCsv(report: MatrixReport): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const c of sortMatrixCells(report)) {
    lines.push(
      [
        csvField(c.mode),
        csvField(c.attack),
        csvField(c.defense),
        csvField(c.status),
        csvNumber(c.finalAccuracy),
        csvNumber(c.bestAccuracy),
        csvNumber(c.attackSuccessRate),
        csvNumber(c.precision),
        csvNumber(c.recall),
        csvNumber(c.attackers),
        csvNumber(c.roundsToQuarantine),
        csvNumber(c.attackersQuarantined),
        csvNumber(c.benignQuarantined),
        csvNumber(c.roundsCommitted),
        csvNumber(c.roundsAborted),
        csvField(c.outcome ?? ''),
        csvNumber(c.seconds),
        csvField(c.reportDir ?? ''),
        csvField(c.note ?? ''),
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

// ───────────────────────────────────────────── JSON ────────────────────────────────────────────

/** The JSON shape of `matrix.json`. */
export interface MatrixJson {
  schemaVersion: typeof MATRIX_SCHEMA_VERSION;
  subtitle: string;
  settings: Record<string, string | number | boolean | null>;
  modes: string[];
  attacks: string[];
  defenses: string[];
  cells: MatrixCell[];
}

/** `matrix.json`: the axes, the shared settings and the cells in display order (fields in a stable order). */
export function matrixToJson(report: MatrixReport): MatrixJson {
  return {
    schemaVersion: MATRIX_SCHEMA_VERSION,
    subtitle: report.subtitle,
    settings: { ...report.settings },
    modes: [...report.modes],
    attacks: [...report.attacks],
    defenses: [...report.defenses],
    cells: sortMatrixCells(report).map((c) => ({
      mode: c.mode,
      attack: c.attack,
      defense: c.defense,
      status: c.status,
      note: c.note,
      finalAccuracy: finiteOrNull(c.finalAccuracy),
      bestAccuracy: finiteOrNull(c.bestAccuracy),
      attackSuccessRate: finiteOrNull(c.attackSuccessRate),
      precision: finiteOrNull(c.precision),
      recall: finiteOrNull(c.recall),
      attackers: c.attackers,
      roundsToQuarantine: c.roundsToQuarantine,
      attackersQuarantined: c.attackersQuarantined,
      benignQuarantined: c.benignQuarantined,
      roundsCommitted: c.roundsCommitted,
      roundsAborted: c.roundsAborted,
      outcome: c.outcome,
      seconds: finiteOrNull(c.seconds),
      reportDir: c.reportDir,
    })),
  };
}

// ─────────────────────────────────────────── Markdown ──────────────────────────────────────────

const NONE = '–';

/**
 * Text for one Markdown table cell: on one line, with the characters GitHub Markdown would read as markup inside a
 * table cell escaped by a backslash (`|` would split the cell, `<` open a tag, `&` an entity, `*`/`_`/`~` start
 * emphasis, `` ` `` code, `[` a link).
 */
export function markdownText(text: string): string {
  return oneLine(text).replace(/[\\`*_[\]<|~&]/g, (c) => `\\${c}`);
}

function percent(x: number | null, digits = 1): string {
  const p = formatPercent(x, digits);
  return p === null ? NONE : `${p}%`;
}

/** Precision/recall as `85/60%` (whole percents), `–` for a figure that does not exist. */
function precisionRecall(c: MatrixCell): string {
  const p = formatPercent(c.precision, 0);
  const r = formatPercent(c.recall, 0);
  return `${p ?? NONE}/${r ?? NONE}${r === null && p === null ? '' : '%'}`;
}

/** The compact text of a cell that ran: `acc · ASR · P/R · Q round` (ASR for a backdoor; no P/R, Q for clean runs). */
export function matrixCellSummary(c: MatrixCell): string {
  const parts = [percent(c.finalAccuracy)];
  if (c.attackSuccessRate !== null) parts.push(`ASR ${percent(c.attackSuccessRate)}`);
  if (c.attack !== CLEAN) {
    parts.push(`P/R ${precisionRecall(c)}`);
    parts.push(`Q ${c.roundsToQuarantine === null ? NONE : String(c.roundsToQuarantine)}`);
  }
  if ((c.roundsAborted ?? 0) > 0) parts.push(`${c.roundsAborted} aborted`);
  return parts.join(' · ');
}

/** Options for {@link renderMatrixMarkdown}. */
export interface MatrixMarkdownOptions {
  /** Top heading; default `Attack × defense matrix`. */
  title?: string;
  /** Add the per-cell detail table (default true; the terminal shows the compact tables only). */
  detail?: boolean;
}

/**
 * The matrix as Markdown: a heading and the settings line, then per mode a table (rows: the clean run and the
 * attacks; columns: the defenses) of compact cells, the notes the cells point to (`[1]`: why a cell was skipped or
 * failed, or how its federation ended), and a legend; then, unless `detail` is false, one table row per cell with
 * every figure and a link to the cell's report. Everything from outside (labels, reasons) is escaped.
 */
export function renderMatrixMarkdown(report: MatrixReport, options: MatrixMarkdownOptions = {}): string {
  const out: string[] = [`## ${markdownText(options.title ?? 'Attack × defense matrix')}`, ''];
  if (report.subtitle) out.push(markdownText(report.subtitle), '');
  if (report.cells.length === 0) out.push('No cells.', '');
  for (const mode of report.modes) {
    const notes: string[] = [];
    const noteRef = (text: string): string => {
      let i = notes.indexOf(text);
      if (i === -1) i = notes.push(text) - 1;
      return `[${i + 1}]`;
    };
    out.push(`### ${markdownText(mode)}`, '');
    out.push(`| attack / defense | ${report.defenses.map(markdownText).join(' | ')} |`);
    out.push(`|---|${report.defenses.map(() => '---').join('|')}|`);
    for (const attack of report.attacks) {
      const cells = report.defenses.map((defense) => {
        const c = matrixCellAt(report, mode, attack, defense);
        if (c === undefined) return NONE;
        const ref = c.note === null ? '' : ` ${noteRef(markdownText(c.note))}`;
        if (c.status === 'ok') return `${matrixCellSummary(c)}${ref}`;
        return c.status === 'failed' ? `**failed**${ref}` : `${c.status}${ref}`;
      });
      out.push(`| ${attack === CLEAN ? `*${CLEAN}*` : markdownText(attack)} | ${cells.join(' | ')} |`);
    }
    out.push('');
    for (const [i, note] of notes.entries()) out.push(`- [${i + 1}] ${note}`);
    if (notes.length > 0) out.push('');
  }
  if (report.cells.length > 0) {
    out.push(
      'Each cell: final held-out accuracy · backdoor success rate on triggered images (ASR, backdoor rows) · detection ' +
        'precision/recall of the attackers over all rounds (a client counts as flagged when the rule rejected or ' +
        'down-weighted it) · Q: the round after which every attacker was quarantined (– never).',
      '',
    );
  }
  if (options.detail ?? true) {
    const head = ['mode', 'attack', 'defense', 'status', 'final acc', 'best acc', 'ASR', 'precision', 'recall', 'rounds to quarantine', 'quarantined (attackers / others)', 'rounds (committed / aborted)', 'outcome', 'time', 'report'];
    out.push('### Cells', '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const c of sortMatrixCells(report)) {
      const ran = c.status === 'ok';
      const quarantined = c.attackersQuarantined === null && c.benignQuarantined === null ? NONE : `${c.attackersQuarantined ?? NONE} / ${c.benignQuarantined ?? NONE}`;
      const rounds = c.roundsCommitted === null ? NONE : `${c.roundsCommitted} / ${c.roundsAborted ?? 0}`;
      const status = c.note === null ? c.status : `${c.status}: ${markdownText(c.note)}`;
      const link = c.reportDir === null ? NONE : `[${markdownText(c.reportDir)}](${encodeURI(c.reportDir).replace(/[()]/g, (p) => (p === '(' ? '%28' : '%29'))}/summary.txt)`;
      out.push(
        `| ${[
          markdownText(c.mode),
          markdownText(c.attack),
          markdownText(c.defense),
          status,
          ran ? percent(c.finalAccuracy) : NONE,
          ran ? percent(c.bestAccuracy) : NONE,
          c.attackSuccessRate === null ? NONE : percent(c.attackSuccessRate),
          c.precision === null ? NONE : percent(c.precision),
          c.recall === null ? NONE : percent(c.recall),
          c.roundsToQuarantine === null ? NONE : String(c.roundsToQuarantine),
          quarantined,
          rounds,
          c.outcome === null ? NONE : markdownText(c.outcome),
          c.seconds === null ? NONE : formatDuration(c.seconds),
          link,
        ].join(' | ')} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

// ───────────────────────────────────────────── SVG ─────────────────────────────────────────────

/** Options for {@link renderMatrixSvg}. */
export interface MatrixChartOptions {
  /** Chart title; default `Final accuracy: attacks × defenses`. Escaped, so any text is safe. */
  title?: string;
}

/** Viridis at five stops: dark purple (0 %) to yellow (100 %), readable in greyscale and by colour-blind readers. */
const RAMP: readonly (readonly [number, number, number])[] = [
  [0x44, 0x01, 0x54],
  [0x3b, 0x52, 0x8b],
  [0x21, 0x91, 0x8c],
  [0x5e, 0xc9, 0x62],
  [0xfd, 0xe7, 0x25],
];

/** The heat-map colour of an accuracy (0..1, clamped) as `#rrggbb`. */
export function heatColor(fraction: number): string {
  const t = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(t));
  const a = RAMP[i]!;
  const b = RAMP[i + 1]!;
  const f = t - i;
  return `#${a.map((x, k) => Math.round(x + (b[k]! - x) * f).toString(16).padStart(2, '0')).join('')}`;
}

/** Dark text on light fills, white on dark ones (relative luminance of the `#rrggbb` fill). */
function textOn(fill: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(fill.slice(i, i + 2), 16) / 255) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5 ? COLORS.text : '#ffffff';
}

/**
 * A self-contained SVG heat map of final accuracy: per mode a panel with the defenses as columns and the clean run
 * and attacks as rows, each cell coloured on a fixed 0–100 % scale and labelled with its accuracy and its difference
 * to the clean run of the same defense (the column's reference, also shown under the defense's name). Skipped,
 * failed and pending cells are grey, red and dashed, with the reason as a tooltip. A colour scale sits at the bottom.
 */
export function renderMatrixSvg(report: MatrixReport, options: MatrixChartOptions = {}): string {
  const title = options.title ?? 'Final accuracy: attacks × defenses';
  const subtitle = report.subtitle;
  const rowLabelW = Math.max(90, ...report.attacks.map((a) => textWidth(a, 12) + 24));
  const cellW = Math.max(96, ...report.defenses.map((d) => textWidth(d, 12) + 16));
  const cellH = 44;
  const left = 24;
  const top = subtitle ? 64 : 48;
  const panelHead = 24;
  const columnHead = 36;
  const panelGap = 18;
  const panelH = panelHead + columnHead + report.attacks.length * cellH;
  const scaleH = 56;
  const gridLeft = left + rowLabelW;
  const width = Math.max(360, Math.round(gridLeft + report.defenses.length * cellW + 24), Math.round(left + textWidth(title, 16) + 24), Math.round(left + textWidth(subtitle, 12) + 24));
  const panels = report.cells.length === 0 ? 0 : report.modes.length;
  const height = Math.max(200, Math.round(top + panels * (panelH + panelGap) + scaleH));
  const out: string[] = chartHeading(width, height, title, subtitle, left);

  if (panels === 0) {
    out.push(centredMessage({ left, top, width: width - 2 * left, height: height - top - 24 }, 'No cells'));
    out.push('</svg>');
    return `${out.join('\n')}\n`;
  }

  report.modes.forEach((mode, m) => {
    const y0 = top + m * (panelH + panelGap);
    out.push(`<g class="panel" data-mode="${escapeXml(mode)}">`);
    out.push(`<text x="${px(left)}" y="${px(y0 + 16)}" font-size="13" font-weight="600" fill="${COLORS.text}">${escapeXml(mode)}</text>`);
    // Column heads: the defense, and under it the clean run's accuracy, the column's reference.
    report.defenses.forEach((defense, j) => {
      const cx = gridLeft + j * cellW + cellW / 2;
      const clean = matrixCellAt(report, mode, CLEAN, defense);
      out.push(`<text x="${px(cx)}" y="${px(y0 + panelHead + 14)}" text-anchor="middle" font-size="12" fill="${COLORS.text}">${escapeXml(defense)}</text>`);
      if (clean?.status === 'ok' && clean.finalAccuracy !== null) {
        out.push(`<text x="${px(cx)}" y="${px(y0 + panelHead + 28)}" text-anchor="middle" font-size="10" fill="${COLORS.muted}">clean ${escapeXml(percent(clean.finalAccuracy))}</text>`);
      }
    });
    report.attacks.forEach((attack, i) => {
      const y = y0 + panelHead + columnHead + i * cellH;
      out.push(`<text x="${px(gridLeft - 10)}" y="${px(y + cellH / 2)}" dy="0.32em" text-anchor="end" font-size="12" ${attack === CLEAN ? 'font-style="italic" ' : ''}fill="${COLORS.text}">${escapeXml(attack)}</text>`);
      report.defenses.forEach((defense, j) => {
        const x = gridLeft + j * cellW;
        const c = matrixCellAt(report, mode, attack, defense);
        out.push(...heatCell(c, x, y, cellW, cellH, matrixCellAt(report, mode, CLEAN, defense)));
      });
    });
    // The clean row is the reference: a rule under it.
    const cleanRow = report.attacks.indexOf(CLEAN);
    if (cleanRow !== -1 && report.attacks.length > 1) {
      const y = y0 + panelHead + columnHead + (cleanRow + 1) * cellH;
      out.push(`<line x1="${px(gridLeft)}" y1="${px(y)}" x2="${px(gridLeft + report.defenses.length * cellW)}" y2="${px(y)}" stroke="${COLORS.text}" stroke-width="2"/>`);
    }
    out.push('</g>');
  });

  // Colour scale: 20 steps from 0 to 100 %, ticks every 25 %.
  const sy = height - scaleH + 14;
  const sw = Math.min(300, width - gridLeft - 24);
  const steps = 20;
  out.push('<g class="scale">');
  out.push(`<text x="${px(gridLeft - 10)}" y="${px(sy + 6)}" dy="0.32em" text-anchor="end" font-size="11" fill="${COLORS.muted}">final accuracy</text>`);
  for (let k = 0; k < steps; k++) {
    out.push(`<rect x="${px(gridLeft + (k * sw) / steps)}" y="${px(sy)}" width="${px(sw / steps + 0.5)}" height="12" fill="${heatColor((k + 0.5) / steps)}"/>`);
  }
  for (const pct of [0, 25, 50, 75, 100]) {
    out.push(`<text x="${px(gridLeft + (pct / 100) * sw)}" y="${px(sy + 26)}" text-anchor="middle" font-size="10" fill="${COLORS.muted}">${pct}%</text>`);
  }
  out.push('</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** One heat-map cell: its rectangle, its labels and a tooltip with every figure or the reason it is empty. */
function heatCell(c: MatrixCell | undefined, x: number, y: number, w: number, h: number, clean: MatrixCell | undefined): string[] {
  const rect = (fill: string, extra = ''): string => `<rect x="${px(x + 1)}" y="${px(y + 1)}" width="${px(w - 2)}" height="${px(h - 2)}" rx="3" fill="${fill}"${extra}/>`;
  const label = (text: string, color: string, dy: number, size: number, weight = ''): string =>
    `<text x="${px(x + w / 2)}" y="${px(y + h / 2 + dy)}" text-anchor="middle" font-size="${size}"${weight} fill="${color}">${escapeXml(text)}</text>`;
  if (c === undefined) return [`<g class="cell missing">`, rect('#ffffff', ` stroke="${COLORS.grid}"`), label(NONE, COLORS.muted, 4, 12), '</g>'];
  const where = `${c.mode} · ${c.attack} · ${c.defense}`;
  if (c.status !== 'ok') {
    const look = {
      skipped: { fill: '#f3f4f6', extra: '', color: COLORS.muted },
      failed: { fill: '#fee2e2', extra: ` stroke="${COLORS.aborted}"`, color: COLORS.aborted },
      pending: { fill: '#ffffff', extra: ` stroke="${COLORS.axis}" stroke-dasharray="4 3"`, color: COLORS.muted },
    }[c.status];
    return [
      `<g class="cell ${c.status}"><title>${escapeXml(`${where}: ${c.status}${c.note ? ` (${c.note})` : ''}`)}</title>`,
      rect(look.fill, look.extra),
      label(c.status, look.color, 4, 12),
      '</g>',
    ];
  }
  const fill = c.finalAccuracy === null ? '#f3f4f6' : heatColor(c.finalAccuracy);
  const color = c.finalAccuracy === null ? COLORS.muted : textOn(fill);
  const reference = c.attack !== CLEAN && clean?.status === 'ok' ? finiteOrNull(clean.finalAccuracy) : null;
  const delta = reference === null || c.finalAccuracy === null ? null : (c.finalAccuracy - reference) * 100;
  const second = c.attack === CLEAN ? 'reference' : delta === null ? '' : `${delta >= 0 ? '+' : '−'}${Math.abs(delta).toFixed(1)} pp`;
  const tip = `${where}: ${matrixCellSummary(c)}${delta === null ? '' : ` (${second} vs clean)`}${c.note ? ` (${c.note})` : ''}`;
  return [
    `<g class="cell ok"><title>${escapeXml(tip)}</title>`,
    rect(fill),
    label(percent(c.finalAccuracy), color, second ? -2 : 4, 13, ' font-weight="600"'),
    ...(second ? [label(second, color, 13, 10)] : []),
    '</g>',
  ];
}

// ───────────────────────────────────────────── Files ───────────────────────────────────────────

/**
 * Writes matrix.csv, matrix.json, matrix.md and matrix.svg into `dir` (created with parents); returns the paths
 * written. Throws {@link ReportWriteError} naming the path that failed.
 */
export async function writeMatrixReport(dir: string, report: MatrixReport, options: Pick<MatrixMarkdownOptions, 'title'> = {}): Promise<{ files: string[] }> {
  await createDir(dir);
  const outputs: Array<[string, string]> = [
    ['matrix.csv', renderMatrixCsv(report)],
    ['matrix.json', `${JSON.stringify(matrixToJson(report), null, 2)}\n`],
    ['matrix.md', renderMatrixMarkdown(report, { detail: true, ...(options.title === undefined ? {} : { title: options.title }) })],
    ['matrix.svg', renderMatrixSvg(report)],
  ];
  const files: string[] = [];
  for (const [name, contents] of outputs) {
    const path = join(dir, name);
    await writeAtomic(path, contents);
    files.push(path);
  }
  return { files };
}
