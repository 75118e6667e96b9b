/**
 * JSONL adapter: one example per line, `{"x": [numbers...], "y": classId}`. Blank lines are skipped.
 */
import { CohortError } from '../core/errors.js';
import type { LabeledDataset } from '../core/data/dataset.js';
import { validateDataset } from '../core/data/dataset.js';
import type { TextDataOptions } from './csv.js';
import { resolveFeatureShape } from './csv.js';
import { inferNumClasses, readBytes } from './idx.js';

/** Parses JSONL text into a LabeledDataset; `file` names the source in DATA_INVALID errors. */
export function parseJsonlDataset(text: string, file: string, options: TextDataOptions = {}): LabeledDataset {
  const scale = options.featureScale ?? 1;
  const rows: { x: readonly unknown[]; y: number; lineNo: number }[] = [];
  const lines = text.split(/\r?\n/);
  let numFeatures = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const lineNo = i + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new CohortError('DATA_INVALID', `${file}: line ${lineNo} is not valid JSON (${(error as Error).message})`, { file, line: lineNo });
    }
    if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { x?: unknown }).x)) {
      throw new CohortError('DATA_INVALID', `${file}: line ${lineNo} needs an object with an "x" array`, { file, line: lineNo });
    }
    const { x, y } = parsed as { x: unknown[]; y?: unknown };
    if (typeof y !== 'number' || !Number.isInteger(y) || y < 0) {
      throw new CohortError('DATA_INVALID', `${file}: line ${lineNo} has label ${JSON.stringify(y)}, expected a non-negative integer "y"`, { file, line: lineNo });
    }
    if (numFeatures < 0) numFeatures = x.length;
    if (x.length !== numFeatures || numFeatures === 0) {
      throw new CohortError('DATA_INVALID', `${file}: line ${lineNo} has ${x.length} features, expected ${numFeatures}`, { file, line: lineNo });
    }
    rows.push({ x, y, lineNo });
  }
  if (rows.length === 0) throw new CohortError('DATA_INVALID', `${file}: no examples`, { file });
  const featureShape = resolveFeatureShape(options.featureShape, numFeatures, file);
  const features = new Float32Array(rows.length * numFeatures);
  const labels = new Int32Array(rows.length);
  rows.forEach((row, r) => {
    for (let j = 0; j < numFeatures; j++) {
      const v = row.x[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new CohortError('DATA_INVALID', `${file}: line ${row.lineNo} has non-numeric feature ${JSON.stringify(v)} at x[${j}]`, { file, line: row.lineNo });
      }
      features[r * numFeatures + j] = v * scale;
    }
    labels[r] = row.y;
  });
  const numClasses = options.numClasses ?? inferNumClasses(labels);
  return validateDataset({ features, labels, count: rows.length, featureShape, numClasses }, file);
}

/** Reads and parses a JSONL file (see parseJsonlDataset). */
export async function readJsonlDataset(file: string, options: TextDataOptions = {}): Promise<LabeledDataset> {
  return parseJsonlDataset(new TextDecoder().decode(await readBytes(file)), file, options);
}
