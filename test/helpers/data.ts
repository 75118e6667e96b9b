/** The Fashion-MNIST subset shipped in data/ (hermetic: never the system copy), and simple splits of it. */
import path from 'node:path';
import type { LabeledDataset } from '../../shared/src/core/data/dataset.js';
import { subsetDataset } from '../../shared/src/core/data/dataset.js';
import { createSeededRng } from '../../shared/src/core/rng/rng.js';
import { loadDataDir } from '../../shared/src/data/index.js';
import { packageRoot } from '../../shared/src/data/repo-root.js';
import { partitionIid, stratifiedSample } from '../../simulations/src/datasets/partition.js';

let cached: Promise<{ train: LabeledDataset; test: LabeledDataset }> | null = null;

export function shippedSubset(): Promise<{ train: LabeledDataset; test: LabeledDataset }> {
  cached ??= loadDataDir(path.join(packageRoot(), 'data', 'fashion-mnist-subset')).then((d) => ({ train: d.train, test: d.test! }));
  return cached;
}

/** `clients` IID shares of a stratified sample of `perClient * clients` training examples, plus `testSize` test examples. */
export async function smallFederatedData(clients: number, perClient: number, testSize: number, seed = 1): Promise<{ shares: LabeledDataset[]; test: LabeledDataset }> {
  const { train, test } = await shippedSubset();
  const sample = subsetDataset(train, stratifiedSample(train.labels, train.numClasses, clients * perClient, createSeededRng(seed)));
  const shares = partitionIid(sample.labels, clients, createSeededRng(seed + 1)).map((idx) => subsetDataset(sample, idx));
  return { shares, test: subsetDataset(test, stratifiedSample(test.labels, test.numClasses, testSize, createSeededRng(seed + 2))) };
}
