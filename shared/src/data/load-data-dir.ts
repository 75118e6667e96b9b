/**
 * Finds and loads a client's data directory: an IDX pair (MNIST family), or train.csv, or train.jsonl, each with
 * an optional test counterpart.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CohortError } from '../core/errors.js';
import type { LabeledDataset } from '../core/data/dataset.js';
import { validateDataset } from '../core/data/dataset.js';
import type { TextDataOptions } from './csv.js';
import { readCsvDataset } from './csv.js';
import { inferNumClasses, readIdxDataset } from './idx.js';
import { readJsonlDataset } from './jsonl.js';

/** Train and optional test split read from a directory; `source` says which files were used. */
export interface LoadedData {
  readonly train: LabeledDataset;
  readonly test: LabeledDataset | null;
  readonly source: string;
}

/** A split's files as found on disk (IDX splits have an images and a labels file). */
type SplitFiles = { kind: 'idx'; images: string; labels: string } | { kind: 'csv' | 'jsonl'; file: string };

/** Standard IDX file stems of a split, e.g. train-images-idx3-ubyte. */
function idxStems(split: 'train' | 't10k'): { images: string; labels: string } {
  return { images: `${split}-images-idx3-ubyte`, labels: `${split}-labels-idx1-ubyte` };
}

/** The path of `stem` or `stem.gz` inside dir, or null. */
function findEither(dir: string, stem: string): string | null {
  for (const name of [stem, `${stem}.gz`]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return null;
}

/** The IDX pair of a split, null when neither file exists, DATA_INVALID when only one does. */
function findIdxSplit(dir: string, split: 'train' | 't10k'): SplitFiles | null {
  const stems = idxStems(split);
  const images = findEither(dir, stems.images);
  const labels = findEither(dir, stems.labels);
  if (images === null && labels === null) return null;
  if (images === null || labels === null) {
    const missing = images === null ? stems.images : stems.labels;
    throw new CohortError('DATA_INVALID', `${dir}: found ${images ?? labels} but not ${missing}[.gz]`, { dir });
  }
  return { kind: 'idx', images, labels };
}

/** True when dir holds a training IDX pair (plain or gzip). */
export function hasIdxTrainPair(dir: string): boolean {
  const stems = idxStems('train');
  return findEither(dir, stems.images) !== null && findEither(dir, stems.labels) !== null;
}

/** What loadDataDir looks for, in order (for error messages and docs). */
export const DATA_DIR_LAYOUTS = [
  'train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz] (test: t10k-*)',
  'train.csv (test: test.csv)',
  'train.jsonl (test: test.jsonl)',
] as const;

/**
 * Loads train (and test, when present) from `dir`. Detects IDX first, then CSV, then JSONL. numClasses defaults to
 * the largest label over both splits + 1, so train and test agree. Throws DATA_INVALID listing what it looked for
 * when the directory holds none of them.
 */
export async function loadDataDir(dir: string, options: TextDataOptions = {}): Promise<LoadedData> {
  if (!existsSync(dir)) throw new CohortError('DATA_INVALID', `data directory ${dir} does not exist`, { dir });
  let train: SplitFiles | null = findIdxSplit(dir, 'train');
  let test: SplitFiles | null = null;
  if (train !== null) {
    test = findIdxSplit(dir, 't10k');
  } else {
    for (const kind of ['csv', 'jsonl'] as const) {
      const trainFile = join(dir, `train.${kind}`);
      if (!existsSync(trainFile)) continue;
      train = { kind, file: trainFile };
      const testFile = join(dir, `test.${kind}`);
      test = existsSync(testFile) ? { kind, file: testFile } : null;
      break;
    }
  }
  if (train === null) {
    throw new CohortError('DATA_INVALID', `data directory ${dir} holds none of: ${DATA_DIR_LAYOUTS.join('; ')}`, { dir });
  }
  const trainData = await readSplit(train, options);
  const testData = test === null ? null : await readSplit(test, options);
  const numClasses = options.numClasses ?? inferNumClasses(trainData.labels, ...(testData === null ? [] : [testData.labels]));
  if (testData !== null && test !== null && !sameShape(testData.featureShape, trainData.featureShape)) {
    throw new CohortError(
      'DATA_INVALID',
      `${describeSplit(test)}: examples have shape [${testData.featureShape.join(',')}], the training split has [${trainData.featureShape.join(',')}]`,
      { dir },
    );
  }
  const source = describeSplit(train) + (test === null ? '' : `; test ${describeSplit(test)}`);
  return {
    train: validateDataset({ ...trainData, numClasses }, describeSplit(train)),
    test: testData === null || test === null ? null : validateDataset({ ...testData, numClasses }, describeSplit(test)),
    source,
  };
}

function readSplit(split: SplitFiles, options: TextDataOptions): Promise<LabeledDataset> {
  switch (split.kind) {
    case 'idx':
      return readIdxDataset(split.images, split.labels, options);
    case 'csv':
      return readCsvDataset(split.file, options);
    case 'jsonl':
      return readJsonlDataset(split.file, options);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function describeSplit(split: SplitFiles): string {
  return split.kind === 'idx' ? `idx ${split.images} + ${split.labels}` : `${split.kind} ${split.file}`;
}
