/**
 * Fashion-MNIST (Zalando Research, MIT): 28x28 greyscale, 10 classes. Looked for in the --data-dir flag, then
 * $COHORT_DATA_DIR, then the Debian package's folder, then the stratified subset shipped in data/.
 */
import { join } from 'node:path';
import { CohortError } from '../core/errors.js';
import type { LabeledDataset } from '../core/data/dataset.js';
import { hasIdxTrainPair, loadDataDir } from './load-data-dir.js';
import { packageRoot } from './repo-root.js';

/** Where the Debian/Ubuntu dataset package installs the files. */
export const SYSTEM_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The shipped subset (6,000 train / 1,000 test), relative to the package root. */
export const SUBSET_RELATIVE_DIR = join('data', 'fashion-mnist-subset');

/** Environment variable naming a data directory. */
export const DATA_DIR_ENV = 'COHORT_DATA_DIR';

/** Which source supplied the files. */
export type FashionMnistOrigin = 'flag' | 'env' | 'system' | 'subset';

/** Fashion-MNIST classes, by label. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** Options for locating the files: the --data-dir flag and the environment to read. */
export interface LocateOptions {
  /** The --data-dir flag. */
  dataDir?: string;
  /** Environment to read $COHORT_DATA_DIR from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The system folder to try before the subset (default SYSTEM_FASHION_MNIST_DIR; tests point it elsewhere). */
  systemDir?: string;
}

/**
 * The directory to read. An explicit flag or environment variable must hold the files (DATA_INVALID naming it
 * otherwise): falling back past what the operator asked for would silently train on other data.
 */
export function locateFashionMnist(options: LocateOptions = {}): { dir: string; origin: FashionMnistOrigin } {
  const env = options.env ?? process.env;
  if (options.dataDir !== undefined) return requireFiles(options.dataDir, 'flag', '--data-dir');
  const fromEnv = env[DATA_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return requireFiles(fromEnv, 'env', `$${DATA_DIR_ENV}`);
  const systemDir = options.systemDir ?? SYSTEM_FASHION_MNIST_DIR;
  if (hasIdxTrainPair(systemDir)) return { dir: systemDir, origin: 'system' };
  return requireFiles(join(packageRoot(), SUBSET_RELATIVE_DIR), 'subset', 'the shipped subset');
}

/** Fashion-MNIST train and test splits, and where they came from. */
export interface FashionMnist {
  readonly train: LabeledDataset;
  readonly test: LabeledDataset;
  readonly dir: string;
  readonly origin: FashionMnistOrigin;
}

/** Locates (see locateFashionMnist) and loads both splits, checking they look like Fashion-MNIST. */
export async function loadFashionMnist(options: LocateOptions = {}): Promise<FashionMnist> {
  const { dir, origin } = locateFashionMnist(options);
  const { train, test } = await loadDataDir(dir, { numClasses: FASHION_MNIST_CLASSES.length });
  if (test === null) {
    throw new CohortError('DATA_INVALID', `${dir}: Fashion-MNIST needs the t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] test files`, { dir });
  }
  for (const split of [train, test]) {
    if (split.featureShape.join(',') !== '28,28,1') {
      throw new CohortError('DATA_INVALID', `${dir}: Fashion-MNIST images are 28x28, got [${split.featureShape.join(',')}]`, { dir });
    }
  }
  return { train, test, dir, origin };
}

function requireFiles(dir: string, origin: FashionMnistOrigin, what: string): { dir: string; origin: FashionMnistOrigin } {
  if (!hasIdxTrainPair(dir)) {
    throw new CohortError(
      'DATA_INVALID',
      `${what} points to ${dir}, which lacks train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]`,
      { dir, origin },
    );
  }
  return { dir, origin };
}
