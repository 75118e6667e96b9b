import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CLEAN,
  MATRIX_SCHEMA_VERSION,
  emptyCell,
  heatColor,
  markdownText,
  matrixCellDir,
  matrixCellOf,
  matrixCellSummary,
  matrixLabelSlug,
  matrixToJson,
  renderMatrixCsv,
  renderMatrixMarkdown,
  renderMatrixSvg,
  roundsToQuarantine,
  sortMatrixCells,
  writeMatrixReport,
} from './matrix.js';
import type { MatrixCell, MatrixReport } from './matrix.js';
import type { AttackReport, SimulationSummary } from './types.js';
import { expectWellFormedSvg, parseCsv } from '../../../test/helpers/report.js';

function ok(mode: string, attack: string, defense: string, overrides: Partial<MatrixCell> = {}): MatrixCell {
  return {
    ...emptyCell(mode, attack, defense, 'pending'),
    status: 'ok',
    finalAccuracy: 0.8,
    bestAccuracy: 0.82,
    attackers: attack === CLEAN ? 0 : 4,
    roundsCommitted: 5,
    roundsAborted: 0,
    outcome: 'completed',
    seconds: 61,
    reportDir: matrixCellDir(mode, attack, defense),
    ...(attack === CLEAN ? {} : { precision: 0.75, recall: 0.5, attackersQuarantined: 0, benignQuarantined: 0 }),
    ...overrides,
  };
}

/** plaintext: clean and sign-flip against fedavg and multi-krum; bucketed: multi-krum skipped, one cell failed. */
function sample(): MatrixReport {
  return {
    modes: ['plaintext', 'bucketed'],
    attacks: [CLEAN, 'sign-flip', 'backdoor:boost=10'],
    defenses: ['fedavg', 'multi-krum:f=4'],
    subtitle: 'fashion-mnist · 20 clients',
    settings: { clients: 20, rounds: 5, seed: 1 },
    // Deliberately out of display order.
    cells: [
      ok('bucketed', 'sign-flip', 'fedavg', { finalAccuracy: 0.3 }),
      ok('plaintext', 'sign-flip', 'multi-krum:f=4', { finalAccuracy: 0.78, roundsToQuarantine: 6, precision: 1, recall: 1, attackersQuarantined: 4 }),
      ok('plaintext', CLEAN, 'fedavg', { finalAccuracy: 0.81 }),
      ok('plaintext', CLEAN, 'multi-krum:f=4', { finalAccuracy: 0.8 }),
      ok('plaintext', 'sign-flip', 'fedavg', { finalAccuracy: 0.1, precision: null, recall: 0, roundsAborted: 2 }),
      ok('plaintext', 'backdoor:boost=10', 'fedavg', { attackSuccessRate: 0.93 }),
      ok('plaintext', 'backdoor:boost=10', 'multi-krum:f=4', { attackSuccessRate: 0.12 }),
      ok('bucketed', CLEAN, 'fedavg', { finalAccuracy: 0.79 }),
      emptyCell('bucketed', CLEAN, 'multi-krum:f=4', 'skipped', '4 buckets per round: multi-krum needs n > 2f + 2 contributions: n = 4, f = 4'),
      emptyCell('bucketed', 'sign-flip', 'multi-krum:f=4', 'skipped', '4 buckets per round: multi-krum needs n > 2f + 2 contributions: n = 4, f = 4'),
      emptyCell('bucketed', 'backdoor:boost=10', 'fedavg', 'failed', 'worker crashed: out of | memory <oops> & "more"\nsecond line'),
      emptyCell('bucketed', 'backdoor:boost=10', 'multi-krum:f=4', 'skipped', '4 buckets per round: multi-krum needs n > 2f + 2 contributions: n = 4, f = 4'),
    ],
  };
}

describe('labels and folders', () => {
  it('turns labels into folder names without colons or commas', () => {
    expect(matrixLabelSlug('multi-krum:f=10,m=30')).toBe('multi-krum_f=10_m=30');
    expect(matrixLabelSlug('backdoor:boost=10')).toBe('backdoor_boost=10');
    expect(matrixLabelSlug('../x')).toBe('.._x');
    expect(matrixLabelSlug('..')).toBe('_');
    expect(matrixLabelSlug('')).toBe('_');
    expect(matrixCellDir('plaintext', 'sign-flip', 'multi-krum:f=4')).toBe('plaintext/sign-flip/multi-krum_f=4');
  });
});

describe('roundsToQuarantine', () => {
  const attack = (quarantinedByRound?: AttackReport['quarantinedByRound']): Pick<AttackReport, 'attackers' | 'quarantinedByRound'> => ({
    attackers: [1, 2].map((i) => ({ index: i, clientId: `c${i}`, displayName: `sim-client-${i}` })),
    ...(quarantinedByRound === undefined ? {} : { quarantinedByRound }),
  });

  it('is the first round after which every attacker is quarantined', () => {
    const rounds = [
      { round: 1, attackers: 0, benign: 0 },
      { round: 2, attackers: 1, benign: 1 },
      { round: 3, attackers: 2, benign: 1 },
      { round: 4, attackers: 2, benign: 3 },
    ];
    expect(roundsToQuarantine(attack(rounds))).toBe(3);
  });

  it('is null when some attacker stays, when not tracked and without an attack', () => {
    expect(roundsToQuarantine(attack([{ round: 1, attackers: 1, benign: 0 }]))).toBeNull();
    expect(roundsToQuarantine(attack())).toBeNull();
    expect(roundsToQuarantine(undefined)).toBeNull();
    expect(roundsToQuarantine({ attackers: [], quarantinedByRound: [{ round: 1, attackers: 0, benign: 0 }] })).toBeNull();
  });
});

describe('matrixCellOf', () => {
  const summary = (overrides: Partial<SimulationSummary> = {}): SimulationSummary => ({
    finalAccuracy: 0.7, finalLoss: 0.9, bestAccuracy: 0.75, rounds: [], roundsCommitted: 4, roundsAborted: 1, reportDir: '/x', clients: 10, seed: 1,
    partition: 'iid', dataset: 'fashion-mnist', datasetOrigin: 'subset', model: 'fmnist-mlp', backend: 'wasm', totalSeconds: 12.5, totalBytesUp: 1,
    totalBytesDown: 1, config: { outcome: 'completed', federationStatusReason: '' }, startedAt: '', finishedAt: '', ...overrides,
  });

  it('takes accuracy, ASR, detection, quarantine and rounds from the summary', () => {
    const attack: AttackReport = {
      name: 'backdoor', kind: 'data', fraction: 0.2, params: {}, attackers: [{ index: 3, clientId: 'a', displayName: 'sim-client-4' }, { index: 5, clientId: 'b', displayName: 'sim-client-6' }],
      detection: { rounds: 4, attackers: 8, flagged: 6, truePositives: 3, precision: 0.5, recall: 0.375 }, finalAttackSuccessRate: 0.42, triggeredExamples: 900,
      reputation: { attackers: { mean: 0.2, quarantined: 2 }, benign: { mean: 0.9, quarantined: 1 } },
      quarantinedByRound: [{ round: 1, attackers: 0, benign: 0 }, { round: 2, attackers: 1, benign: 1 }, { round: 3, attackers: 2, benign: 1 }],
    };
    const cell = matrixCellOf(summary({ attack }), { mode: 'plaintext', attack: 'backdoor', defense: 'median', reportDir: 'plaintext/backdoor/median' });
    expect(cell).toEqual({
      mode: 'plaintext', attack: 'backdoor', defense: 'median', status: 'ok', note: null, finalAccuracy: 0.7, bestAccuracy: 0.75, attackSuccessRate: 0.42,
      precision: 0.5, recall: 0.375, attackers: 2, roundsToQuarantine: 3, attackersQuarantined: 2, benignQuarantined: 1, roundsCommitted: 4,
      roundsAborted: 1, outcome: 'completed', seconds: 12.5, reportDir: 'plaintext/backdoor/median',
    });
  });

  it('has no attack figures for a clean run, and notes a federation that did not complete', () => {
    const cell = matrixCellOf(summary({ finalAccuracy: Number.NaN, config: { outcome: 'failed', federationStatusReason: '20 rounds in a row were aborted' } }), {
      mode: 'bucketed', attack: CLEAN, defense: 'krum:f=1', reportDir: 'bucketed/clean/krum_f=1',
    });
    expect(cell).toMatchObject({ status: 'ok', outcome: 'failed', note: 'federation failed: 20 rounds in a row were aborted', finalAccuracy: null, attackSuccessRate: null, precision: null, recall: null, attackers: 0, roundsToQuarantine: null, attackersQuarantined: null });
  });
});

describe('sortMatrixCells', () => {
  it('orders by mode, attack row and defense column as the axes list them; unknown labels last, stably', () => {
    const report = sample();
    report.cells.push(ok('plaintext', 'zzz', 'fedavg'), ok('plaintext', CLEAN, 'unknown'));
    const order = sortMatrixCells(report).map((c) => `${c.mode}/${c.attack}/${c.defense}`);
    expect(order).toEqual([
      'plaintext/clean/fedavg',
      'plaintext/clean/multi-krum:f=4',
      'plaintext/clean/unknown',
      'plaintext/sign-flip/fedavg',
      'plaintext/sign-flip/multi-krum:f=4',
      'plaintext/backdoor:boost=10/fedavg',
      'plaintext/backdoor:boost=10/multi-krum:f=4',
      'plaintext/zzz/fedavg',
      'bucketed/clean/fedavg',
      'bucketed/clean/multi-krum:f=4',
      'bucketed/sign-flip/fedavg',
      'bucketed/sign-flip/multi-krum:f=4',
      'bucketed/backdoor:boost=10/fedavg',
      'bucketed/backdoor:boost=10/multi-krum:f=4',
    ]);
  });
});

describe('renderMatrixCsv', () => {
  it('writes one row per cell in display order, empty where there is no figure, and quotes what needs it', () => {
    const rows = parseCsv(renderMatrixCsv(sample()));
    const header = rows[0]!;
    expect(header).toEqual([
      'mode', 'attack', 'defense', 'status', 'final_accuracy', 'best_accuracy', 'attack_success_rate', 'detection_precision', 'detection_recall', 'attackers',
      'rounds_to_quarantine', 'attackers_quarantined', 'benign_quarantined', 'rounds_committed', 'rounds_aborted', 'outcome', 'seconds', 'report_dir', 'note',
    ]);
    const records = rows.slice(1).map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i]])));
    expect(records).toHaveLength(12);
    expect(records.map((r) => `${r['mode']}/${r['attack']}/${r['defense']}`).slice(0, 3)).toEqual(['plaintext/clean/fedavg', 'plaintext/clean/multi-krum:f=4', 'plaintext/sign-flip/fedavg']);
    const quarantined = records.find((r) => r['attack'] === 'sign-flip' && r['defense'] === 'multi-krum:f=4' && r['mode'] === 'plaintext')!;
    expect(quarantined).toMatchObject({ status: 'ok', final_accuracy: '0.78', detection_precision: '1', rounds_to_quarantine: '6', attackers_quarantined: '4', report_dir: 'plaintext/sign-flip/multi-krum_f=4', note: '' });
    const fedavg = records.find((r) => r['attack'] === 'sign-flip' && r['defense'] === 'fedavg' && r['mode'] === 'plaintext')!;
    expect(fedavg).toMatchObject({ detection_precision: '', detection_recall: '0', rounds_aborted: '2', attack_success_rate: '' });
    const failed = records.find((r) => r['status'] === 'failed')!;
    // Quoted, so the comma-free text with a quote and a line break survives a real CSV reader.
    expect(failed['note']).toBe('worker crashed: out of | memory <oops> & "more"\nsecond line');
    expect(failed['final_accuracy']).toBe('');
    expect(records.filter((r) => r['status'] === 'skipped')).toHaveLength(3);
  });
});

describe('matrixToJson', () => {
  it('carries the schema version, axes, settings and the cells in display order, non-finite figures as null', () => {
    const report = sample();
    report.cells[0] = { ...report.cells[0]!, finalAccuracy: Number.POSITIVE_INFINITY };
    const json = matrixToJson(report);
    expect(json.schemaVersion).toBe(MATRIX_SCHEMA_VERSION);
    expect(json.modes).toEqual(['plaintext', 'bucketed']);
    expect(json.attacks).toEqual([CLEAN, 'sign-flip', 'backdoor:boost=10']);
    expect(json.settings).toEqual({ clients: 20, rounds: 5, seed: 1 });
    expect(json.cells[0]).toMatchObject({ mode: 'plaintext', attack: CLEAN, defense: 'fedavg' });
    expect(json.cells.find((c) => c.mode === 'bucketed' && c.attack === 'sign-flip' && c.defense === 'fedavg')!.finalAccuracy).toBeNull();
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});

describe('markdown', () => {
  it('escapes what would break a table cell or read as markup', () => {
    expect(markdownText('a | b')).toBe('a \\| b');
    expect(markdownText('<script>x</script> & *y* _z_ `c` [l](u) ~~s~~ \\')).toBe('\\<script>x\\</script> \\& \\*y\\* \\_z\\_ \\`c\\` \\[l\\](u) \\~\\~s\\~\\~ \\\\');
    expect(markdownText('one\ntwo\r\nthree')).toBe('one two three');
    expect(markdownText('n > 2f + 2')).toBe('n > 2f + 2');
  });

  it('summarises a cell compactly: ASR for a backdoor, P/R and Q for attacks, none for clean runs', () => {
    const report = sample();
    const at = (mode: string, attack: string, defense: string): MatrixCell => report.cells.find((c) => c.mode === mode && c.attack === attack && c.defense === defense)!;
    expect(matrixCellSummary(at('plaintext', CLEAN, 'fedavg'))).toBe('81.0%');
    expect(matrixCellSummary(at('plaintext', 'sign-flip', 'multi-krum:f=4'))).toBe('78.0% · P/R 100/100% · Q 6');
    expect(matrixCellSummary(at('plaintext', 'sign-flip', 'fedavg'))).toBe('10.0% · P/R –/0% · Q – · 2 aborted');
    expect(matrixCellSummary(at('plaintext', 'backdoor:boost=10', 'fedavg'))).toBe('80.0% · ASR 93.0% · P/R 75/50% · Q –');
    expect(matrixCellSummary({ ...at('plaintext', 'sign-flip', 'fedavg'), precision: null, recall: null, roundsAborted: 0 })).toBe('10.0% · P/R –/– · Q –');
  });

  it('has a table per mode with rows in axis order, skipped and failed cells pointing at escaped notes, then every cell', () => {
    const md = renderMatrixMarkdown(sample());
    expect(md.endsWith('\n')).toBe(true);
    const lines = md.split('\n');
    expect(lines[0]).toBe('## Attack × defense matrix');
    expect(md).toContain('fashion-mnist · 20 clients');
    const plain = lines.indexOf('### plaintext');
    const bucketed = lines.indexOf('### bucketed');
    const cells = lines.indexOf('### Cells');
    expect(plain).toBeGreaterThan(0);
    expect(bucketed).toBeGreaterThan(plain);
    expect(cells).toBeGreaterThan(bucketed);
    expect(lines.slice(plain + 2, plain + 7)).toEqual([
      '| attack / defense | fedavg | multi-krum:f=4 |',
      '|---|---|---|',
      '| *clean* | 81.0% | 80.0% |',
      '| sign-flip | 10.0% · P/R –/0% · Q – · 2 aborted | 78.0% · P/R 100/100% · Q 6 |',
      '| backdoor:boost=10 | 80.0% · ASR 93.0% · P/R 75/50% · Q – | 80.0% · ASR 12.0% · P/R 75/50% · Q – |',
    ]);
    const bucketedTable = lines.slice(bucketed, cells);
    expect(bucketedTable).toContain('| *clean* | 79.0% | skipped [1] |');
    expect(bucketedTable).toContain('| sign-flip | 30.0% · P/R 75/50% · Q – | skipped [1] |');
    expect(bucketedTable).toContain('| backdoor:boost=10 | **failed** [2] | skipped [1] |');
    // One note per distinct reason, numbered per mode, escaped and on one line.
    expect(bucketedTable).toContain('- [1] 4 buckets per round: multi-krum needs n > 2f + 2 contributions: n = 4, f = 4');
    expect(bucketedTable).toContain('- [2] worker crashed: out of \\| memory \\<oops> \\& "more" second line');
    // Every table row has as many cells as its header.
    for (const line of lines.filter((l) => l.startsWith('|'))) {
      const count = line.replace(/\\\|/g, '').split('|').length;
      expect([5, 17], line).toContain(count);
    }
    const detail = lines.slice(cells);
    expect(detail).toHaveLength(2 + 2 + 12 + 1);
    expect(detail[4]).toBe('| plaintext | clean | fedavg | ok | 81.0% | 82.0% | – | – | – | – | – | 5 / 0 | completed | 1:01 | [plaintext/clean/fedavg](plaintext/clean/fedavg/summary.txt) |');
    expect(detail.find((l) => l.includes('| sign-flip | multi-krum:f=4 | ok'))).toContain('| 6 | 4 / 0 |');
    expect(detail.find((l) => l.includes('skipped'))).toContain('skipped: 4 buckets per round');
  });

  it('leaves the detail table out on request, and says so when there are no cells', () => {
    expect(renderMatrixMarkdown(sample(), { detail: false })).not.toContain('### Cells');
    const empty = renderMatrixMarkdown({ ...sample(), cells: [] }, { title: 'Empty | matrix' });
    expect(empty).toContain('## Empty \\| matrix');
    expect(empty).toContain('No cells.');
  });
});

describe('renderMatrixSvg', () => {
  it('draws a well-formed heat map: a panel per mode, a cell per (attack, defense), the clean run as reference', () => {
    const svg = renderMatrixSvg(sample());
    expectWellFormedSvg(svg);
    expect((svg.match(/<g class="panel"/g) ?? []).length).toBe(2);
    expect((svg.match(/<g class="cell /g) ?? []).length).toBe(12);
    expect((svg.match(/<g class="cell skipped"/g) ?? []).length).toBe(3);
    expect((svg.match(/<g class="cell failed"/g) ?? []).length).toBe(1);
    // Column heads name the clean accuracy, the cells their difference to it.
    expect(svg).toContain('clean 81.0%');
    expect(svg).toContain('−71.0 pp');
    expect(svg).toContain('−2.0 pp');
    expect(svg).toContain('+0.0 pp');
    expect(svg).toContain('>reference<');
    // The failure reason is in a tooltip, escaped.
    expect(svg).toContain('out of | memory &lt;oops&gt; &amp; &quot;more&quot;');
    expect(svg).toContain(`fill="${heatColor(0.81)}"`);
  });

  it('escapes labels and handles a missing cell, a pending cell, no clean row and no cells', () => {
    const report: MatrixReport = {
      modes: ['plaintext'],
      attacks: ['<evil>&"'],
      defenses: ['fedavg', 'median'],
      subtitle: '',
      settings: {},
      cells: [emptyCell('plaintext', '<evil>&"', 'fedavg', 'pending')],
    };
    const svg = renderMatrixSvg(report);
    expectWellFormedSvg(svg);
    expect(svg).toContain('&lt;evil&gt;&amp;&quot;');
    expect(svg).toContain('<g class="cell pending"');
    expect(svg).toContain('<g class="cell missing"');
    expect(svg).not.toContain('clean ');
    const empty = renderMatrixSvg({ ...report, cells: [] });
    expectWellFormedSvg(empty);
    expect(empty).toContain('No cells');
  });

  it('colours on a fixed scale from dark (0 %) to yellow (100 %), clamping outside it', () => {
    expect(heatColor(0)).toBe('#440154');
    expect(heatColor(1)).toBe('#fde725');
    expect(heatColor(-1)).toBe('#440154');
    expect(heatColor(2)).toBe('#fde725');
    expect(heatColor(Number.NaN)).toBe('#440154');
    expect(heatColor(0.5)).toBe('#21918c');
  });
});

describe('writeMatrixReport', () => {
  it('writes matrix.csv, matrix.json, matrix.md and matrix.svg', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cohort-matrix-report-'));
    try {
      const { files } = await writeMatrixReport(path.join(dir, 'nested'), sample());
      expect(files.map((f) => path.basename(f))).toEqual(['matrix.csv', 'matrix.json', 'matrix.md', 'matrix.svg']);
      expect(readFileSync(path.join(dir, 'nested', 'matrix.md'), 'utf8')).toBe(renderMatrixMarkdown(sample()));
      expect(JSON.parse(readFileSync(path.join(dir, 'nested', 'matrix.json'), 'utf8'))).toEqual(matrixToJson(sample()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
