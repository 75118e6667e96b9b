/**
 * Writes a simulation report folder: summary.json, rounds.csv, rounds/round-NNNN.json, accuracy.svg, summary.txt.
 * The only file-system code in the report module; everything it writes comes from the pure renderers.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderAccuracyChartSvg, renderRoundsCsv, renderSummaryTable, roundToJson, summaryToJson } from './render.js';
import type { SimulationSummary } from './types.js';

/** A report file or folder could not be written; `path` names it, `cause` holds the file-system error. */
export class ReportWriteError extends Error {
  /** The file or folder that could not be written. */
  readonly path: string;

  constructor(message: string, path: string, cause: unknown) {
    super(message, { cause });
    this.name = 'ReportWriteError';
    this.path = path;
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The file name of one round's JSON: zero-padded to four digits so a plain `ls` lists rounds in order. */
export function roundFileName(round: number): string {
  return `round-${String(round).padStart(4, '0')}.json`;
}

const ROUND_FILE = /^round-\d+\.json$/;

/**
 * Writes `contents` to `path` through a temp file in the same folder and a rename, so a reader (or a crash)
 * never sees a half-written file; throws {@link ReportWriteError} naming `path` when that fails. No fsync: a report
 * is regenerable, and hundreds of fsyncs would slow the run.
 */
export async function writeAtomic(path: string, contents: string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, contents, 'utf8');
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw new ReportWriteError(`cannot write report file ${path}: ${reason(error)}`, path, error);
  }
}

/** Creates `path` with its parents; throws {@link ReportWriteError} naming it when that fails. */
export async function createDir(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (error) {
    throw new ReportWriteError(`cannot create report directory ${path}: ${reason(error)}`, path, error);
  }
}

/** Runs `tasks` with at most `limit` in flight: hundreds of rounds must not exhaust file descriptors. */
async function inBatches(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next++];
      if (task) await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}

/**
 * Creates `dir` (and parents) and writes the report into it; returns the paths written (joined onto `dir`), in
 * write order. summary.json is written last, so its presence means the report is complete. Round files of an
 * earlier run in the same folder that this run does not have are removed, so `rounds/` always matches
 * summary.json. Throws {@link ReportWriteError} naming the path that failed.
 */
export async function writeReport(dir: string, summary: SimulationSummary): Promise<{ files: string[] }> {
  const roundsDir = join(dir, 'rounds');
  await createDir(dir);
  await createDir(roundsDir);

  const files: string[] = [];
  const roundFiles = new Set<string>();
  const roundTasks = summary.rounds.map((r) => {
    const name = roundFileName(r.round);
    roundFiles.add(name);
    const path = join(roundsDir, name);
    files.push(path);
    return () => writeAtomic(path, `${JSON.stringify(roundToJson(r), null, 2)}\n`);
  });
  await inBatches(roundTasks, 16);

  let existing: string[] = [];
  try {
    existing = await readdir(roundsDir);
  } catch (error) {
    throw new ReportWriteError(`cannot list report directory ${roundsDir}: ${reason(error)}`, roundsDir, error);
  }
  for (const name of existing) {
    if (ROUND_FILE.test(name) && !roundFiles.has(name)) await rm(join(roundsDir, name), { force: true });
  }

  const subtitle = `${summary.dataset} · ${summary.clients} clients · ${summary.partition} · seed ${summary.seed}`;
  const outputs: Array<[string, string]> = [
    ['rounds.csv', renderRoundsCsv(summary.rounds)],
    ['accuracy.svg', renderAccuracyChartSvg(summary.rounds, { subtitle })],
    ['summary.txt', renderSummaryTable(summary, { color: false })],
    ['summary.json', `${JSON.stringify(summaryToJson(summary), null, 2)}\n`],
  ];
  for (const [name, contents] of outputs) {
    const path = join(dir, name);
    await writeAtomic(path, contents);
    files.push(path);
  }
  return { files };
}
