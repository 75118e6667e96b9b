import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReportWriteError, roundFileName, summaryToJson, writeReport } from '../../simulations/src/report/index.js';
import type { RoundReport, SimulationSummary } from '../../simulations/src/report/index.js';

function round(n: number, overrides: Partial<RoundReport> = {}): RoundReport {
  return {
    round: n,
    state: 'committed',
    abortReason: null,
    accuracy: 0.6 + n * 0.02,
    loss: 1 - n * 0.05,
    trainLoss: null,
    trainAccuracy: null,
    selected: 10,
    participants: 9,
    dropouts: 1,
    dropoutsByStage: { 'masked-input': 1 },
    bytesByStage: {},
    epsilon: null,
    bytesUp: 1_000_000,
    bytesDown: 2_000_000,
    seconds: 3.5,
    modelVersion: n,
    ...overrides,
  };
}

function summary(rounds: RoundReport[], reportDir: string): SimulationSummary {
  return {
    finalAccuracy: 0.7,
    finalLoss: 0.75,
    bestAccuracy: 0.7,
    rounds,
    roundsCommitted: rounds.filter((r) => r.state === 'committed').length,
    roundsAborted: rounds.filter((r) => r.state === 'aborted').length,
    reportDir,
    clients: 10,
    seed: 7,
    partition: 'iid',
    dataset: 'fashion-mnist',
    datasetOrigin: 'bundled subset',
    model: 'mlp',
    backend: 'cpu',
    totalSeconds: 20,
    totalBytesUp: rounds.length * 1_000_000,
    totalBytesDown: rounds.length * 2_000_000,
    config: { rounds: rounds.length, secagg: { enabled: true, threshold: 6 } },
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:00:20.000Z',
  };
}

describe('writeReport', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cohort-report-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates the folder (with parents) and writes every report file, summary.json last', async () => {
    const dir = join(root, 'nested', 'run-1');
    const rounds = [round(1), round(2, { state: 'aborted', abortReason: 'too few, "really"', accuracy: null, modelVersion: null }), round(3)];
    const { files } = await writeReport(dir, summary(rounds, dir));

    const expected = ['rounds.csv', 'accuracy.svg', 'summary.txt', 'summary.json'].map((f) => join(dir, f));
    const roundPaths = ['round-0001.json', 'round-0002.json', 'round-0003.json'].map((f) => join(dir, 'rounds', f));
    expect(files).toEqual([...roundPaths, ...expected]);
    expect((await readdir(dir)).sort()).toEqual(['accuracy.svg', 'rounds', 'rounds.csv', 'summary.json', 'summary.txt']);
    expect((await readdir(join(dir, 'rounds'))).sort()).toEqual(['round-0001.json', 'round-0002.json', 'round-0003.json']);

    const csv = await readFile(join(dir, 'rounds.csv'), 'utf8');
    expect(csv.split('\n')[0]).toContain('dropouts_masked-input');
    expect(csv).toContain('"too few, ""really"""');
    const svg = await readFile(join(dir, 'accuracy.svg'), 'utf8');
    expect(svg).toMatch(/^<svg [\s\S]*<\/svg>\n$/);
    const txt = await readFile(join(dir, 'summary.txt'), 'utf8');
    expect(txt).toContain('final accuracy: 70.0%');
    expect(txt).not.toContain('\x1b');
  });

  it('round-trips summary.json and each round file', async () => {
    const dir = join(root, 'run');
    const s = summary([round(1), round(2)], dir);
    await writeReport(dir, s);
    const parsed = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;
    expect(parsed).toEqual(summaryToJson(s));
    const { schemaVersion, ...rest } = parsed;
    expect(schemaVersion).toBe(1);
    expect(rest).toEqual(s);
    const r2 = JSON.parse(await readFile(join(dir, 'rounds', roundFileName(2)), 'utf8')) as unknown;
    expect(r2).toEqual(s.rounds[1]);
  });

  it('leaves no temp files and replaces stale round files of an earlier run in the same folder', async () => {
    const dir = join(root, 'run');
    await writeReport(dir, summary([round(1), round(2), round(3)], dir));
    await writeReport(dir, summary([round(1)], dir));
    expect(await readdir(join(dir, 'rounds'))).toEqual(['round-0001.json']);
    expect((await readdir(dir)).some((f) => f.endsWith('.tmp'))).toBe(false);
  });

  it('names the path when the folder cannot be created', async () => {
    const blocker = join(root, 'a-file');
    await writeFile(blocker, 'not a folder');
    const dir = join(blocker, 'report');
    const error = await writeReport(dir, summary([round(1)], dir)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReportWriteError);
    expect((error as ReportWriteError).path).toBe(dir);
    expect((error as Error).message).toContain(`cannot create report directory ${dir}`);
  });

  it('writes an empty run (no rounds) without failing', async () => {
    const dir = join(root, 'empty');
    const { files } = await writeReport(dir, summary([], dir));
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(['rounds.csv', 'accuracy.svg', 'summary.txt', 'summary.json']);
  });
});
