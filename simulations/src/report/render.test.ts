import { describe, expect, it } from 'vitest';
import {
  csvField,
  dropoutStages,
  escapeXml,
  renderAccuracyChartSvg,
  renderRoundsCsv,
  renderSummaryTable,
  summaryToJson,
} from './render.js';
import type { RoundReport, SimulationSummary } from './types.js';
import { expectWellFormedSvg, parseCsv } from '../../../test/helpers/report.js';

function round(n: number, overrides: Partial<RoundReport> = {}): RoundReport {
  return {
    round: n,
    state: 'committed',
    abortReason: null,
    accuracy: 0.5 + n * 0.03,
    loss: 1.5 - n * 0.1,
    trainLoss: 1.4 - n * 0.1,
    trainAccuracy: 0.55 + n * 0.03,
    selected: 10,
    participants: 10,
    dropouts: 0,
    dropoutsByStage: {},
    bytesByStage: {},
    epsilon: null,
    bytesUp: 4_123_456,
    bytesDown: 3_900_000,
    seconds: 12.34,
    modelVersion: n,
    ...overrides,
  };
}

function summary(rounds: RoundReport[], overrides: Partial<SimulationSummary> = {}): SimulationSummary {
  return {
    finalAccuracy: 0.812,
    finalLoss: 0.523,
    bestAccuracy: 0.82,
    rounds,
    roundsCommitted: rounds.filter((r) => r.state === 'committed').length,
    roundsAborted: rounds.filter((r) => r.state === 'aborted').length,
    reportDir: 'reports/run-1',
    clients: 10,
    seed: 42,
    partition: 'dirichlet:0.5',
    dataset: 'fashion-mnist',
    datasetOrigin: 'bundled subset',
    model: 'cnn-small',
    backend: 'wasm',
    totalSeconds: 75.5,
    totalBytesUp: rounds.reduce((a, r) => a + r.bytesUp, 0),
    totalBytesDown: rounds.reduce((a, r) => a + r.bytesDown, 0),
    config: { rounds: rounds.length, secagg: true },
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:01:15.500Z',
    ...overrides,
  };
}

describe('renderRoundsCsv', () => {
  it('has a header and one row per round with unformatted numbers and empty cells for null', () => {
    const rows = parseCsv(renderRoundsCsv([round(1), round(2, { accuracy: null, loss: null, modelVersion: null })]));
    expect(rows).toHaveLength(3);
    const [header, r1, r2] = rows as [string[], string[], string[]];
    expect(header).toEqual([
      'round', 'state', 'abort_reason', 'accuracy', 'loss', 'train_loss', 'train_accuracy', 'selected',
      'participants', 'dropouts', 'bytes_up', 'bytes_down', 'seconds', 'model_version',
    ]);
    const col = (name: string): number => header.indexOf(name);
    expect(r1[col('accuracy')]).toBe(String(0.5 + 0.03));
    expect(r1[col('bytes_up')]).toBe('4123456');
    expect(r1[col('seconds')]).toBe('12.34');
    expect(r2[col('accuracy')]).toBe('');
    expect(r2[col('loss')]).toBe('');
    expect(r2[col('model_version')]).toBe('');
    expect(rows.every((r) => r.length === header.length)).toBe(true);
  });

  it('quotes an abort reason holding commas, quotes and newlines (RFC 4180) and reads back intact', () => {
    const reason = 'only 3 of 10 survived, need "t=5"\nstage: unmasking';
    const csv = renderRoundsCsv([round(1, { state: 'aborted', abortReason: reason, accuracy: null })]);
    expect(csv).toContain('"only 3 of 10 survived, need ""t=5""\nstage: unmasking"');
    const rows = parseCsv(csv);
    expect(rows[1]?.[2]).toBe(reason);
  });

  it('flattens dropouts by stage into columns over the union of stages, in protocol order, 0 where absent', () => {
    const rows = parseCsv(
      renderRoundsCsv([
        round(1, { dropouts: 2, dropoutsByStage: { unmasking: 1, 'masked-input': 1 } }),
        round(2, { dropouts: 3, dropoutsByStage: { zeta: 1, 'share-keys': 1, alpha: 1 } }),
      ]),
    );
    const header = rows[0] ?? [];
    const stageCols = header.filter((h) => h.startsWith('dropouts_'));
    expect(stageCols).toEqual([
      'dropouts_share-keys', 'dropouts_masked-input', 'dropouts_unmasking', 'dropouts_alpha', 'dropouts_zeta',
    ]);
    const at = (r: number, name: string): string | undefined => rows[r]?.[header.indexOf(name)];
    expect(at(1, 'dropouts_unmasking')).toBe('1');
    expect(at(1, 'dropouts_zeta')).toBe('0');
    expect(at(2, 'dropouts_share-keys')).toBe('1');
    expect(at(2, 'dropouts_unmasking')).toBe('0');
  });

  it('renders just the header for no rounds', () => {
    expect(renderRoundsCsv([]).trim().split('\n')).toHaveLength(1);
  });

  it('leaves plain fields unquoted', () => {
    expect(csvField('committed')).toBe('committed');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(dropoutStages([])).toEqual([]);
  });
});

describe('renderAccuracyChartSvg', () => {
  it('shows the ε spent on the right axis for a run with differential privacy', () => {
    const svg = renderAccuracyChartSvg([round(1, { epsilon: 2.5 }), round(2, { epsilon: 4.25 }), round(3, { epsilon: 5.5 })]);
    expect(svg).toContain('>Epsilon spent</text>');
    expect(svg).toContain('<title>Round 2: epsilon 4.250</title>');
    expect(svg).not.toContain('>Loss</text>');
    expect((svg.match(/class="point epsilon"/g) ?? []).length).toBe(3);
  });

  const countPoints = (svg: string, series: string): number =>
    (svg.match(new RegExp(`<circle class="point ${series}"`, 'g')) ?? []).length;

  it('is one well-formed <svg> element with axes, title and one accuracy point per evaluated committed round', () => {
    const rounds = [
      round(1),
      round(2),
      round(3, { state: 'aborted', abortReason: 'too few', accuracy: null, loss: null }),
      round(4),
      round(5),
    ];
    const svg = renderAccuracyChartSvg(rounds);
    expectWellFormedSvg(svg);
    expect(countPoints(svg, 'accuracy')).toBe(4);
    expect(countPoints(svg, 'loss')).toBe(4);
    expect(svg).toContain('Accuracy (%)');
    expect(svg).toContain('>Round<');
    expect(svg).toContain('>Loss<');
    expect(svg).toContain('Round 3 aborted: too few');
  });

  it('breaks the line at an aborted round and marks it', () => {
    const svg = renderAccuracyChartSvg([round(1), round(2), round(3, { state: 'aborted', accuracy: null }), round(4), round(5)]);
    const accuracyGroup = /<g class="series accuracy">([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? '';
    expect((accuracyGroup.match(/<path /g) ?? []).length).toBe(2);
    expect((svg.match(/class="aborted-round"/g) ?? []).length).toBe(1);
  });

  it('bridges a committed round that was not evaluated', () => {
    const svg = renderAccuracyChartSvg([round(1), round(2, { accuracy: null }), round(3)]);
    const accuracyGroup = /<g class="series accuracy">([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? '';
    expect((accuracyGroup.match(/<path /g) ?? []).length).toBe(1);
    expect(countPoints(svg, 'accuracy')).toBe(2);
  });

  it('escapes < & and quotes in the title and tooltips', () => {
    const svg = renderAccuracyChartSvg([round(1, { state: 'aborted', abortReason: 'x<y & "z"' })], {
      title: 'A <b>bold</b> & "quoted" run',
      subtitle: "it's <fine>",
    });
    expectWellFormedSvg(svg);
    expect(svg).toContain('A &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; run');
    expect(svg).toContain('it&#39;s &lt;fine&gt;');
    expect(svg).toContain('x&lt;y &amp; &quot;z&quot;');
    expect(svg).not.toContain('<b>');
  });

  it('drops characters XML forbids instead of producing an unparsable file', () => {
    expect(escapeXml('a\u0000b\u001bc\ud800d')).toBe('abcd');
    expect(escapeXml('ok \u{1F600}\ttab')).toBe('ok \u{1F600}\ttab');
  });

  it('draws a single round', () => {
    const svg = renderAccuracyChartSvg([round(1)]);
    expectWellFormedSvg(svg);
    expect(countPoints(svg, 'accuracy')).toBe(1);
    expect(svg).not.toContain('NaN');
    expect(svg).not.toContain('Infinity');
  });

  it('draws axes and a message when there is no accuracy at all or no rounds', () => {
    for (const rounds of [[round(1, { accuracy: null, loss: null }), round(2, { accuracy: null, loss: null })], []]) {
      const svg = renderAccuracyChartSvg(rounds);
      expectWellFormedSvg(svg);
      expect(countPoints(svg, 'accuracy')).toBe(0);
      expect(svg).toMatch(/No (accuracy|rounds) recorded/);
      expect(svg).not.toContain('NaN');
    }
  });

  it('stays readable with 150 rounds: a point each, thinned x tick labels', () => {
    const rounds = Array.from({ length: 150 }, (_, i) =>
      round(i + 1, i % 37 === 36 ? { state: 'aborted', accuracy: null } : { accuracy: 0.1 + (0.8 * i) / 150, loss: 2 - i / 100 }),
    );
    const svg = renderAccuracyChartSvg(rounds);
    expectWellFormedSvg(svg);
    expect(countPoints(svg, 'accuracy')).toBe(rounds.filter((r) => r.state === 'committed').length);
    const xLabels = [...(/<g class="x-axis">([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? '').matchAll(/>(\d+)<\/text>/g)].map((m) => Number(m[1]));
    expect(xLabels.length).toBeGreaterThan(3);
    expect(xLabels.length).toBeLessThanOrEqual(16);
    expect(xLabels[0]).toBe(1);
  });

  it('ignores NaN and Infinity figures and omits the loss axis when asked', () => {
    const svg = renderAccuracyChartSvg([round(1, { loss: Number.NaN }), round(2, { accuracy: Number.POSITIVE_INFINITY })], {
      showLoss: false,
    });
    expectWellFormedSvg(svg);
    expect(svg).not.toContain('NaN');
    expect(svg).not.toContain('>Loss<');
    expect(countPoints(svg, 'accuracy')).toBe(1);
  });
});

describe('renderSummaryTable', () => {
  const rounds = [
    round(1),
    round(2, { state: 'aborted', abortReason: 'below threshold:\nonly 3 survivors', accuracy: null, loss: null, participants: 3, dropouts: 7 }),
    round(3, { accuracy: 0.812, loss: 0.5234 }),
  ];

  it('has a row for every round, the totals and the final accuracy', () => {
    const table = renderSummaryTable(summary(rounds));
    const lines = table.split('\n');
    for (const r of rounds) expect(lines.some((l) => new RegExp(`^\\s+${r.round}\\s+${r.state}\\s`).test(l))).toBe(true);
    expect(table).toMatch(/^\s+total\s+23\/30\s+7\s+12\.37\s+11\.70\s+37\.0$/m);
    expect(table).toContain('final accuracy: 81.2% (best 82.0%)');
    expect(table).toContain('reason: below threshold: only 3 survivors');
    expect(table).toContain('reports/run-1');
  });

  it('says what the coordinator learned under bucketed secure aggregation: how many sums, and the fewest clients in one', () => {
    const secure = [round(1, { secureSums: { count: 10, smallestSum: 5 } }), round(2, { secureSums: { count: 9, smallestSum: 4 } })];
    expect(renderSummaryTable(summary(secure))).toContain('what the coordinator learned: 9 to 10 sums per round, never a sum of fewer than 4 clients, no individual update');
    expect(renderSummaryTable(summary([round(1, { secureSums: { count: 1, smallestSum: 20 } })]))).toContain('learned: 1 sum per round, never a sum of fewer than 20 clients');
    expect(renderSummaryTable(summary(rounds))).not.toContain('what the coordinator learned');
  });

  it('aligns columns: header, rules, rows and totals all end in the same column', () => {
    const lines = renderSummaryTable(summary(rounds)).split('\n');
    const start = lines.findIndex((l) => /^\s+round\s+state/.test(l));
    const end = lines.findIndex((l) => /^\s+total/.test(l));
    const tableLines = lines.slice(start, end + 1).filter((l) => !l.includes('reason:'));
    expect(tableLines).toHaveLength(1 + 1 + rounds.length + 1 + 1);
    expect(new Set(tableLines.map((l) => l.length)).size).toBe(1);
  });

  it('shows missing figures as "-" and n/a for no final accuracy', () => {
    const table = renderSummaryTable(summary([round(1, { accuracy: null, loss: null })], { finalAccuracy: null, bestAccuracy: null, finalLoss: null }));
    expect(table).toMatch(/^\s+1\s+committed\s+-\s+-\s/m);
    expect(table).toContain('final accuracy: n/a');
  });

  it('has no ANSI escapes unless colour is asked for', () => {
    expect(renderSummaryTable(summary(rounds), { color: false })).not.toContain('\x1b');
    expect(renderSummaryTable(summary(rounds))).not.toContain('\x1b');
    const coloured = renderSummaryTable(summary(rounds), { color: true });
    expect(coloured).toContain('\x1b[32mcommitted');
    expect(coloured).toContain('\x1b[31maborted');
  });
});

describe('summaryToJson', () => {
  it('carries finalAccuracy in 0..1, per-round figures and reportDir, and survives JSON', () => {
    const s = summary([round(1), round(2, { state: 'aborted', abortReason: 'x', accuracy: null })]);
    const json = summaryToJson(s);
    expect(json.finalAccuracy).toBe(0.812);
    expect(json.reportDir).toBe('reports/run-1');
    expect(json.schemaVersion).toBe(1);
    expect(json.rounds).toHaveLength(2);
    expect(json.rounds[1]?.abortReason).toBe('x');
    const { schemaVersion: _v, ...rest } = JSON.parse(JSON.stringify(json)) as typeof json;
    expect(rest).toEqual(s);
  });

  it('turns NaN into null and makes config JSON-safe (bigint, Date, cycles)', () => {
    const config: Record<string, unknown> = { big: 2n ** 70n, at: new Date(0), nan: Number.NaN, fn: () => 1, list: [1, undefined] };
    config.self = config;
    const json = summaryToJson(summary([round(1, { loss: Number.NaN })], { finalAccuracy: Number.NaN, config }));
    expect(json.finalAccuracy).toBeNull();
    expect(json.rounds[0]?.loss).toBeNull();
    expect(json.config).toEqual({
      big: '1180591620717411303424',
      at: '1970-01-01T00:00:00.000Z',
      nan: null,
      list: [1, null],
      self: '[circular]',
    });
    expect(() => JSON.stringify(json)).not.toThrow();
  });
});

describe('attack reporting', () => {
  const detection = (tp: number) => ({ judged: 10, attackers: 2, flagged: 2, truePositives: tp, precision: tp / 2, recall: tp / 2 });
  const attacked = (): SimulationSummary =>
    summary([round(1, { detection: detection(1), attackSuccessRate: 0.25 }), round(2, { detection: detection(2), attackSuccessRate: 0.5 })], {
      config: { aggregation: 'multi-krum', ruleParams: { f: 2 } },
      attack: {
        name: 'backdoor',
        kind: 'data',
        fraction: 0.2,
        params: { target: 0, boost: 10 },
        attackers: [
          { index: 2, clientId: 'c-aa', displayName: 'sim-client-03' },
          { index: 7, clientId: 'c-bb', displayName: 'sim-client-08' },
        ],
        detection: { rounds: 2, attackers: 4, flagged: 4, truePositives: 3, precision: 0.75, recall: 0.75 },
        finalAttackSuccessRate: 0.5,
        triggeredExamples: 900,
        reputation: { attackers: { mean: 0.5, quarantined: 1 }, benign: { mean: 0.95, quarantined: 0 } },
      },
    });

  it('the summary table names the attack, the attackers, the rule, detection, reputations and the backdoor success rate', () => {
    const text = renderSummaryTable(attacked());
    expect(text).toContain('attack: backdoor (data; target=0, boost=10) by 2 of 10 clients against multi-krum (f=2)');
    expect(text).toContain('attackers: sim-client-03, sim-client-08');
    expect(text).toContain('detection (rejected or down-weighted): precision 75.0%, recall 75.0% · 3 of 4 attacker contributions flagged, 4 flagged in all, over 2 rounds');
    expect(text).toContain('reputation at the end: attackers 0.50 (1 quarantined), others 0.95 (0 quarantined)');
    expect(text).toContain('backdoor success rate on 900 triggered held-out images: final 50.0% · per round 1: 25.0%, 2: 50.0%');
  });

  it('CSV and JSON carry the per-round success rate and detection; runs without an attack keep their shape', () => {
    const rows = parseCsv(renderRoundsCsv(attacked().rounds));
    const header = rows[0]!;
    expect(header).toEqual(expect.arrayContaining(['attack_success_rate', 'detection_attackers', 'detection_flagged', 'detection_true_positives', 'detection_precision', 'detection_recall']));
    expect(rows[1]![header.indexOf('detection_precision')]).toBe('0.5');
    expect(rows[2]![header.indexOf('attack_success_rate')]).toBe('0.5');
    const json = JSON.parse(JSON.stringify(summaryToJson(attacked()))) as SimulationSummary;
    expect(json.attack?.attackers.map((a) => a.clientId)).toEqual(['c-aa', 'c-bb']);
    expect(json.rounds[1]).toMatchObject({ attackSuccessRate: 0.5, detection: detection(2) });
    const plain = summaryToJson(summary([round(1)]));
    expect('attack' in plain).toBe(false);
    expect('detection' in plain.rounds[0]!).toBe(false);
    expect(renderSummaryTable(summary([round(1)]))).not.toContain('attack');
  });
});
