import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCohortError } from '../../shared/src/core/errors.js';
import { parseCsvDataset, parseIdx, parseJsonlDataset, loadDataDir, readIdxDataset } from '../../shared/src/data/index.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cohort-data-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A uint8 IDX file: magic 00 00 08 rank, big-endian dims, values. */
function idx(dims: number[], values: ArrayLike<number>): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(Uint8Array.from(values))]);
}

function write(sub: string, name: string, bytes: Buffer | string): string {
  const folder = join(dir, sub);
  mkdirSync(folder, { recursive: true });
  const path = join(folder, name);
  writeFileSync(path, bytes);
  return path;
}

/** Catches a thrown DATA_INVALID and returns its message. */
async function dataError(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    expect(isCohortError(error, 'DATA_INVALID')).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected DATA_INVALID');
}

const pixels = Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 20);

describe('IDX reader', () => {
  it('reads raw and gzip files alike, scaling pixels to [0,1] with featureShape [rows, cols, 1]', async () => {
    for (const gz of [false, true]) {
      const wrap = (b: Buffer): Buffer => (gz ? gzipSync(b) : b);
      const images = write(`idx-${gz}`, 'train-images-idx3-ubyte', wrap(idx([3, 2, 2], pixels)));
      const labels = write(`idx-${gz}`, 'train-labels-idx1-ubyte', wrap(idx([3], [2, 0, 1])));
      const data = await readIdxDataset(images, labels);
      expect(data.count).toBe(3);
      expect(data.featureShape).toEqual([2, 2, 1]);
      expect(data.numClasses).toBe(3);
      expect(Array.from(data.labels)).toEqual([2, 0, 1]);
      expect(data.features[1]).toBeCloseTo(20 / 255, 6);
      expect(Math.max(...data.features)).toBeLessThanOrEqual(1);
    }
  });

  it('reports a bad magic, an unknown dtype, a truncated body and trailing bytes, naming the file', async () => {
    expect(await dataError(() => parseIdx(Buffer.from([1, 2, 3, 4, 5]), 'a.idx'))).toMatch(/a\.idx: bad IDX magic \[01 02 03 04\]/);
    const wrongType = idx([2], [1, 2]);
    wrongType[2] = 0x42;
    expect(await dataError(() => parseIdx(wrongType, 'b.idx'))).toMatch(/b\.idx: unknown IDX dtype byte 0x42/);
    const full = idx([3, 2, 2], pixels);
    expect(await dataError(() => parseIdx(full.subarray(0, full.length - 1), 'c.idx'))).toMatch(/c\.idx: truncated IDX data/);
    expect(await dataError(() => parseIdx(full.subarray(0, 9), 'd.idx'))).toMatch(/d\.idx: truncated IDX header/);
    expect(await dataError(() => parseIdx(Buffer.concat([full, Buffer.from([0])]), 'e.idx'))).toMatch(/e\.idx: 1 trailing bytes/);
    const gz = gzipSync(full);
    expect(await dataError(() => parseIdx(gz.subarray(0, gz.length - 10), 'f.gz'))).toMatch(/f\.gz: gzip data is corrupt or truncated/);
  });

  it('reports a count mismatch between images and labels, naming both files', async () => {
    const images = write('mismatch', 'i', idx([3, 2, 2], pixels));
    const labels = write('mismatch', 'l', idx([2], [0, 1]));
    const message = await dataError(() => readIdxDataset(images, labels));
    expect(message).toContain(`${images} holds 3 images but ${labels} holds 2 labels`);
  });

  it('reports a missing file by name', async () => {
    const message = await dataError(() => readIdxDataset(join(dir, 'nope-images'), join(dir, 'nope-labels')));
    expect(message).toMatch(/nope-images: cannot read \(ENOENT\)/);
  });
});

describe('CSV adapter', () => {
  it('reads a configurable label column and shapes the features', () => {
    const text = 'a,b,class,c,d\n1,2,1,3,4\n5,6,0,7,8\n';
    const data = parseCsvDataset(text, 'x.csv', { labelColumn: 'class', featureShape: [2, 2, 1], featureScale: 0.5 });
    expect(data.count).toBe(2);
    expect(data.featureShape).toEqual([2, 2, 1]);
    expect(Array.from(data.labels)).toEqual([1, 0]);
    expect(Array.from(data.features)).toEqual([0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]);
  });

  it('names the line and column of a non-numeric cell', async () => {
    const message = await dataError(() => parseCsvDataset('label,p0,p1\n0,1,2\n1,3,x7\n', 'bad.csv'));
    expect(message).toBe('bad.csv: non-numeric value "x7" at line 3, column 3 ("p1")');
  });

  it('rejects short rows, a missing label column, bad labels and a shape that does not fit', async () => {
    expect(await dataError(() => parseCsvDataset('label,p0\n0,1\n1\n', 's.csv'))).toMatch(/s\.csv: line 3 has 1 cells, the header has 2/);
    expect(await dataError(() => parseCsvDataset('y,p0\n0,1\n', 'm.csv'))).toMatch(/m\.csv: no "label" column/);
    expect(await dataError(() => parseCsvDataset('label,p0\n1.5,1\n', 'l.csv'))).toMatch(/label "1\.5" at line 2/);
    expect(await dataError(() => parseCsvDataset('label,p0,p1\n0,1,2\n', 'f.csv', { featureShape: [3] }))).toMatch(/feature shape \[3\]/);
    expect(await dataError(() => parseCsvDataset('\n', 'e.csv'))).toMatch(/e\.csv: empty file/);
  });
});

describe('JSONL adapter', () => {
  it('reads one example per line, skipping blank lines', () => {
    const data = parseJsonlDataset('{"x":[0.1,0.2],"y":1}\n\n{"x":[0.3,0.4],"y":0}\n', 'd.jsonl');
    expect(data.count).toBe(2);
    expect(data.featureShape).toEqual([2]);
    expect(Array.from(data.labels)).toEqual([1, 0]);
  });

  it('names the line of invalid JSON, a bad label, a length change and a non-numeric feature', async () => {
    expect(await dataError(() => parseJsonlDataset('{"x":[1],"y":0}\n{oops\n', 'j.jsonl'))).toMatch(/j\.jsonl: line 2 is not valid JSON/);
    expect(await dataError(() => parseJsonlDataset('{"x":[1],"y":-1}\n', 'j.jsonl'))).toMatch(/line 1 has label -1/);
    expect(await dataError(() => parseJsonlDataset('{"x":[1],"y":0}\n{"x":[1,2],"y":0}\n', 'j.jsonl'))).toMatch(/line 2 has 2 features, expected 1/);
    expect(await dataError(() => parseJsonlDataset('{"x":[1],"y":0}\n{"x":["a"],"y":0}\n', 'j.jsonl'))).toMatch(/line 2 has non-numeric feature "a" at x\[0\]/);
  });
});

describe('loadDataDir', () => {
  it('detects an IDX pair with its t10k test pair', async () => {
    write('dir-idx', 'train-images-idx3-ubyte.gz', gzipSync(idx([3, 2, 2], pixels)));
    write('dir-idx', 'train-labels-idx1-ubyte.gz', gzipSync(idx([3], [0, 1, 0])));
    write('dir-idx', 't10k-images-idx3-ubyte', idx([1, 2, 2], [1, 2, 3, 4]));
    write('dir-idx', 't10k-labels-idx1-ubyte', idx([1], [4]));
    const loaded = await loadDataDir(join(dir, 'dir-idx'));
    expect(loaded.train.count).toBe(3);
    expect(loaded.test?.count).toBe(1);
    // numClasses covers both splits so train and test agree.
    expect(loaded.train.numClasses).toBe(5);
    expect(loaded.test?.numClasses).toBe(5);
    expect(loaded.source).toMatch(/^idx .*train-images-idx3-ubyte\.gz/);
  });

  it('detects CSV, then JSONL, with the test split optional', async () => {
    write('dir-csv', 'train.csv', 'label,a,b\n0,1,2\n1,3,4\n');
    const csv = await loadDataDir(join(dir, 'dir-csv'));
    expect(csv.train.count).toBe(2);
    expect(csv.test).toBeNull();
    write('dir-jsonl', 'train.jsonl', '{"x":[1,2],"y":0}\n');
    write('dir-jsonl', 'test.jsonl', '{"x":[1,2],"y":1}\n');
    const jsonl = await loadDataDir(join(dir, 'dir-jsonl'));
    expect(jsonl.test?.count).toBe(1);
    expect(jsonl.source).toMatch(/^jsonl .*train\.jsonl; test jsonl .*test\.jsonl$/);
  });

  it('lists what it looked for when the directory holds none of it', async () => {
    mkdirSync(join(dir, 'empty'), { recursive: true });
    const message = await dataError(() => loadDataDir(join(dir, 'empty')));
    expect(message).toContain('train-images-idx3-ubyte[.gz]');
    expect(message).toContain('train.csv');
    expect(message).toContain('train.jsonl');
  });

  it('reports half an IDX pair and a test split of another shape', async () => {
    write('half', 'train-images-idx3-ubyte', idx([3, 2, 2], pixels));
    expect(await dataError(() => loadDataDir(join(dir, 'half')))).toMatch(/but not train-labels-idx1-ubyte/);
    write('shape', 'train.csv', 'label,a,b\n0,1,2\n');
    write('shape', 'test.csv', 'label,a\n0,1\n');
    expect(await dataError(() => loadDataDir(join(dir, 'shape')))).toMatch(/test\.csv: examples have shape \[1\], the training split has \[2\]/);
  });
});
