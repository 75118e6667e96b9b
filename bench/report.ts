/**
 * What every benchmark section returns, how it is printed (one table per section) and how a run is saved as JSON
 * under bench/results/. Ratios always divide the measurement by a baseline measured in the same run.
 */
import { mkdirSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** One line of a section's table. */
export interface BenchRow {
  /** What was measured, e.g. "fmnist-cnn train, wasm". */
  readonly name: string;
  /** The measurement (a median unless the note says otherwise). */
  readonly value: number;
  /** Unit of value and baseline, e.g. "samples/s", "MB/s", "ms". */
  readonly unit: string;
  /** The baseline measured in the same run, in the same unit, or null when the row has none. */
  readonly baseline: { readonly name: string; readonly value: number } | null;
  /** value / baseline.value, or null without a baseline. */
  readonly ratio: number | null;
  /** Anything else to print beside the row (a target, a repetition count). */
  readonly note?: string;
}

/** A section's result: its table, how to read the ratio, and every figure for the JSON file. */
export interface SectionResult {
  readonly section: string;
  readonly title: string;
  /** How to read the ratio column, e.g. "gRPC MB/s / raw TCP MB/s (higher is better)". */
  readonly ratioMeaning: string;
  readonly rows: BenchRow[];
  /** Parameters the section ran with (sizes, repetitions, seeds). */
  readonly parameters: Record<string, unknown>;
  /** Raw samples and secondary figures. */
  readonly details: Record<string, unknown>;
}

/** Builds a row, computing the ratio from the baseline. */
export function row(name: string, value: number, unit: string, baseline: { name: string; value: number } | null, note?: string): BenchRow {
  const ratio = baseline === null || baseline.value === 0 ? null : value / baseline.value;
  return note === undefined ? { name, value, unit, baseline, ratio } : { name, value, unit, baseline, ratio, note };
}

/** A number with 3 significant digits (more for large values), without exponent notation below 1e9. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(1);
  if (abs >= 10) return value.toFixed(2);
  if (abs >= 1) return value.toFixed(3);
  return value.toPrecision(3);
}

/** The section's table as text: a title line, the ratio legend, then aligned columns. */
export function formatTable(result: SectionResult): string {
  const header = ['name', 'measurement', 'unit', 'baseline', 'ratio', 'note'];
  const lines = result.rows.map((r) => [
    r.name,
    formatNumber(r.value),
    r.unit,
    r.baseline === null ? '-' : `${formatNumber(r.baseline.value)} (${r.baseline.name})`,
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const rightAligned = new Set([1, 4]);
  const render = (cells: string[]): string =>
    cells
      .map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [`== ${result.title}`, `   ratio = ${result.ratioMeaning}`, render(header), rule, ...lines.map(render)].join('\n');
}

/** Linux statfs magic numbers of common filesystems: fsync on tmpfs costs nothing, which commit figures should say. */
const FS_MAGIC: Readonly<Record<number, string>> = {
  0x01021994: 'tmpfs',
  0xef53: 'ext2/3/4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
};

/** The filesystem type of `dir` ("tmpfs", "ext2/3/4", or the statfs magic in hex), or null when unknown. */
export function filesystemType(dir: string): string | null {
  try {
    const type = statfsSync(dir).type;
    return FS_MAGIC[type] ?? `0x${type.toString(16)}`;
  } catch {
    // statfs is informative only (missing on some platforms).
    return null;
  }
}

/** The machine and runtime a run measured, for the JSON file. */
export function machineInfo(tempDir: string): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemoryBytes: os.totalmem(),
    hostname: os.hostname(),
    tempDir,
    tempFsType: filesystemType(tempDir),
  };
}

/** Writes the run as bench/results/<timestamp>.json and bench/results/latest.json; returns both paths. */
export function writeResults(resultsDir: string, startedAt: Date, payload: Record<string, unknown>): { file: string; latest: string } {
  mkdirSync(resultsDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const text = `${JSON.stringify(payload, null, 2)}\n`;
  const file = path.join(resultsDir, `${stamp}.json`);
  const latest = path.join(resultsDir, 'latest.json');
  writeFileSync(file, text);
  writeFileSync(latest, text);
  return { file, latest };
}
