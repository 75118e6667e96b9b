#!/usr/bin/env node
// Writes the stratified Fashion-MNIST subset shipped in data/fashion-mnist-subset/: a fixed number of examples per
// class from the train and t10k splits, drawn with a seeded generator, as gzip IDX files with the standard names,
// plus a README recording provenance, seed, counts and SHA-256 of each file. Plain Node, no dependencies.
//
//   node scripts/make-fmnist-subset.mjs [--source DIR] [--out DIR] [--seed N] [--train-per-class N] [--test-per-class N]
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync, constants } from 'node:zlib';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const defaults = {
  source: '/usr/share/datasets/fashion-mnist',
  out: join(repoRoot, 'data', 'fashion-mnist-subset'),
  seed: 20240611,
  trainPerClass: 600,
  testPerClass: 100,
};
const NUM_CLASSES = 10;

function parseArgs(argv) {
  const opts = { ...defaults };
  const names = { '--source': 'source', '--out': 'out', '--seed': 'seed', '--train-per-class': 'trainPerClass', '--test-per-class': 'testPerClass' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    const value = argv[i + 1];
    if (key === undefined || value === undefined) throw new Error(`usage: make-fmnist-subset.mjs ${Object.keys(names).map((n) => `[${n} VALUE]`).join(' ')}`);
    opts[key] = typeof defaults[key] === 'number' ? Number(value) : value;
    if (typeof defaults[key] === 'number' && !(Number.isInteger(opts[key]) && opts[key] >= 0)) throw new Error(`${argv[i]} needs a non-negative integer, got ${value}`);
  }
  return opts;
}

// SplitMix32-seeded xoshiro128**, the same construction as shared/src/core/rng (kept separate: this script runs
// without a build).
function seededRng(seed) {
  let s = seed >>> 0;
  const next32 = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = next32(), b = next32(), c = next32(), d = next32();
  const rotl = (x, k) => (x << k) | (x >>> (32 - k));
  const nextUint32 = () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = rotl(d, 11);
    return result;
  };
  // Uniform in [0, bound) by rejection, so no modulo bias.
  const uniformInt = (bound) => {
    const limit = 2 ** 32 - (2 ** 32 % bound);
    for (;;) {
      const x = nextUint32();
      if (x < limit) return x % bound;
    }
  };
  return { uniformInt };
}

function readIdx(file) {
  let bytes = readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) throw new Error(`${file}: not a uint8 IDX file`);
  const rank = bytes[3];
  const dims = [];
  for (let i = 0; i < rank; i++) dims.push(bytes.readUInt32BE(4 + 4 * i));
  const header = 4 + 4 * rank;
  const size = dims.reduce((x, y) => x * y, 1);
  if (bytes.length !== header + size) throw new Error(`${file}: expected ${header + size} bytes, got ${bytes.length}`);
  return { dims, data: bytes.subarray(header) };
}

function idxBytes(dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

// Per class, a seeded partial Fisher-Yates picks `perClass` examples; the union is kept in the original file order
// so the subset reads like a thinned-out copy of the split.
function stratifiedIndices(labels, perClass, rng, file) {
  const byClass = Array.from({ length: NUM_CLASSES }, () => []);
  labels.forEach((y, i) => byClass[y].push(i));
  const chosen = [];
  byClass.forEach((pool, y) => {
    if (pool.length < perClass) throw new Error(`${file}: class ${y} has ${pool.length} examples, fewer than ${perClass}`);
    for (let i = 0; i < perClass; i++) {
      const j = i + rng.uniformInt(pool.length - i);
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    chosen.push(...pool.slice(0, perClass));
  });
  return chosen.sort((x, y) => x - y);
}

function writeAtomic(path, bytes) {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

function subsetSplit(opts, split, perClass, rng) {
  const imagesFile = join(opts.source, `${split}-images-idx3-ubyte.gz`);
  const labelsFile = join(opts.source, `${split}-labels-idx1-ubyte.gz`);
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) throw new Error(`${imagesFile} has ${count} images, ${labelsFile} has ${labels.dims[0]} labels`);
  const picked = stratifiedIndices(labels.data, perClass, rng, labelsFile);
  const pixels = rows * cols;
  const outImages = Buffer.alloc(picked.length * pixels);
  const outLabels = Buffer.alloc(picked.length);
  picked.forEach((src, i) => {
    images.data.copy(outImages, i * pixels, src * pixels, (src + 1) * pixels);
    outLabels[i] = labels.data[src];
  });
  const files = [];
  for (const [name, bytes] of [
    [`${split}-images-idx3-ubyte.gz`, idxBytes([picked.length, rows, cols], outImages)],
    [`${split}-labels-idx1-ubyte.gz`, idxBytes([picked.length], outLabels)],
  ]) {
    // Level 9 and zlib's fixed header (no name, mtime 0) make the output byte-identical run to run.
    const gz = gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION });
    writeAtomic(join(opts.out, name), gz);
    files.push({ name, bytes: gz.length, sha256: createHash('sha256').update(gz).digest('hex') });
  }
  return { split, sourceCount: count, count: picked.length, files };
}

function readme(opts, results) {
  const rel = relative(repoRoot, opts.out) || '.';
  const rows = results.flatMap((r) => r.files.map((f) => `| ${f.name} | ${r.count} | ${f.bytes} | \`${f.sha256}\` |`));
  return `# Fashion-MNIST subset

A small, stratified subset of **Fashion-MNIST** (Zalando Research; Han Xiao, Kashif Rasul, Roland Vollgraf,
"Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747), shipped so
that tests, demos and simulations run without a download. Fashion-MNIST is released under the **MIT license**
(https://github.com/zalandoresearch/fashion-mnist, Copyright (c) 2017 Zalando SE); the subset keeps that license.

## Contents

28x28 uint8 greyscale images and uint8 labels (0-9), in the original IDX format, gzip-compressed, with the standard
file names, so any MNIST-family reader (and \`loadDataDir\`) reads this folder as it reads the full dataset.

| file | examples | bytes | SHA-256 |
|---|---|---|---|
${rows.join('\n')}

- train: ${opts.trainPerClass} examples per class from the ${results[0].sourceCount} training images (${results[0].count} in all)
- test: ${opts.testPerClass} examples per class from the ${results[1].sourceCount} t10k test images (${results[1].count} in all)

## How it was drawn

For each class, a seeded partial Fisher-Yates shuffle (xoshiro128** seeded through SplitMix32, seed
**${opts.seed}**; the training split draws first, then the test split continues the same stream) picks the
examples without replacement; the chosen examples keep their order in the source file. Source: the Debian
\`fashion-mnist\` files in \`${opts.source}\`. Output is byte-identical for the same source, seed and zlib version.

## Regenerate

\`\`\`
node scripts/make-fmnist-subset.mjs --source ${opts.source} --out ${rel} --seed ${opts.seed} \\
  --train-per-class ${opts.trainPerClass} --test-per-class ${opts.testPerClass}
\`\`\`
`;
}

const opts = parseArgs(process.argv.slice(2));
mkdirSync(opts.out, { recursive: true });
const rng = seededRng(opts.seed);
const results = [subsetSplit(opts, 'train', opts.trainPerClass, rng), subsetSplit(opts, 't10k', opts.testPerClass, rng)];
writeAtomic(join(opts.out, 'README.md'), readme(opts, results));
for (const r of results) console.log(`${r.split}: ${r.count} of ${r.sourceCount} -> ${r.files.map((f) => f.name).join(', ')}`);
