/** Writes a LabeledDataset of 8-bit images as a gzip IDX pair (the MNIST-family format our IDX reader loads). */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CohortError } from '../../../shared/src/core/errors.js';
import type { LabeledDataset } from '../../../shared/src/core/data/dataset.js';

/** Writes `<prefix>-images-idx3-ubyte.gz` and `<prefix>-labels-idx1-ubyte.gz`; features must be images in [0, 1]. */
export function writeIdxPair(dir: string, prefix: 'train' | 't10k', data: LabeledDataset): string[] {
  const [rows, cols, channels] = data.featureShape;
  if (rows === undefined || cols === undefined || (channels !== undefined && channels !== 1) || data.featureShape.length > 3) {
    throw new CohortError('DATA_INVALID', `IDX export needs greyscale images [rows, cols, 1], got [${data.featureShape.join(',')}]`);
  }
  const pixels = rows * cols;
  const images = Buffer.alloc(16 + data.count * pixels);
  images.writeUInt32BE(0x00000803, 0);
  images.writeUInt32BE(data.count, 4);
  images.writeUInt32BE(rows, 8);
  images.writeUInt32BE(cols, 12);
  for (let i = 0; i < data.count * pixels; i++) images[16 + i] = Math.round(Math.min(1, Math.max(0, data.features[i]!)) * 255);
  const labels = Buffer.alloc(8 + data.count);
  labels.writeUInt32BE(0x00000801, 0);
  labels.writeUInt32BE(data.count, 4);
  for (let i = 0; i < data.count; i++) labels[8 + i] = data.labels[i]!;
  mkdirSync(dir, { recursive: true });
  const files = [path.join(dir, `${prefix}-images-idx3-ubyte.gz`), path.join(dir, `${prefix}-labels-idx1-ubyte.gz`)];
  writeFileSync(files[0]!, gzipSync(images));
  writeFileSync(files[1]!, gzipSync(labels));
  return files;
}
