/**
 * CSV adapter: a header row, one example per line, a label column (default `label`) holding class ids and
 * numeric feature columns in header order. Plain comma-separated numbers; quotes are allowed around header names
 * only, since numeric data needs no quoting.
 */
import { CohortError } from '../core/errors.js';
import type { LabeledDataset } from '../core/data/dataset.js';
import { featureSize, validateDataset } from '../core/data/dataset.js';
import { inferNumClasses, readBytes } from './idx.js';

/** Options shared by the text adapters. */
export interface TextDataOptions {
  /** Name of the CSV column holding the class id (default `label`). */
  labelColumn?: string;
  /** Shape of one example, e.g. [28, 28, 1]; its product must equal the feature count (default: flat). */
  featureShape?: readonly number[];
  /** Multiplies every feature value, e.g. 1/255 for raw pixels (default 1). */
  featureScale?: number;
  /** Number of classes (default: largest label + 1). */
  numClasses?: number;
}

/** Parses CSV text into a LabeledDataset; `file` names the source in DATA_INVALID errors. */
export function parseCsvDataset(text: string, file: string, options: TextDataOptions = {}): LabeledDataset {
  const labelColumn = options.labelColumn ?? 'label';
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length === 0) throw new CohortError('DATA_INVALID', `${file}: empty file, expected a header row`, { file });
  const header = lines[0]!.split(',').map((cell) => cell.trim().replace(/^"(.*)"$/, '$1'));
  const labelIndex = header.indexOf(labelColumn);
  if (labelIndex < 0) {
    throw new CohortError('DATA_INVALID', `${file}: no "${labelColumn}" column in header [${header.join(', ')}]`, { file });
  }
  const numFeatures = header.length - 1;
  if (numFeatures < 1) throw new CohortError('DATA_INVALID', `${file}: header has no feature columns besides "${labelColumn}"`, { file });
  const featureShape = resolveFeatureShape(options.featureShape, numFeatures, file);
  const scale = options.featureScale ?? 1;
  const count = lines.length - 1;
  const features = new Float32Array(count * numFeatures);
  const labels = new Int32Array(count);
  for (let row = 0; row < count; row++) {
    const lineNo = row + 2;
    const cells = lines[row + 1]!.split(',');
    if (cells.length !== header.length) {
      throw new CohortError('DATA_INVALID', `${file}: line ${lineNo} has ${cells.length} cells, the header has ${header.length}`, { file, line: lineNo });
    }
    let f = row * numFeatures;
    for (let col = 0; col < cells.length; col++) {
      const cell = cells[col]!.trim();
      const value = cell === '' ? Number.NaN : Number(cell);
      if (!Number.isFinite(value)) {
        throw new CohortError('DATA_INVALID', `${file}: non-numeric value "${cell}" at line ${lineNo}, column ${col + 1} ("${header[col]}")`, {
          file,
          line: lineNo,
          column: col + 1,
        });
      }
      if (col === labelIndex) {
        if (!Number.isInteger(value) || value < 0) {
          throw new CohortError('DATA_INVALID', `${file}: label "${cell}" at line ${lineNo} is not a non-negative integer`, { file, line: lineNo });
        }
        labels[row] = value;
      } else {
        features[f++] = value * scale;
      }
    }
  }
  const numClasses = options.numClasses ?? inferNumClasses(labels);
  return validateDataset({ features, labels, count, featureShape, numClasses }, file);
}

/** Reads and parses a CSV file (see parseCsvDataset). */
export async function readCsvDataset(file: string, options: TextDataOptions = {}): Promise<LabeledDataset> {
  return parseCsvDataset(new TextDecoder().decode(await readBytes(file)), file, options);
}

/** The requested feature shape, checked against the feature count, or [numFeatures]. */
export function resolveFeatureShape(shape: readonly number[] | undefined, numFeatures: number, file: string): number[] {
  if (shape === undefined) return [numFeatures];
  if (shape.some((d) => !Number.isInteger(d) || d < 1) || featureSize(shape) !== numFeatures) {
    throw new CohortError('DATA_INVALID', `${file}: feature shape [${shape.join(',')}] does not hold the ${numFeatures} features per example`, { file });
  }
  return [...shape];
}
