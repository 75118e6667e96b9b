/**
 * IDX reader (the MNIST-family format): 2 zero bytes, a dtype byte, a rank byte, rank big-endian uint32 dims,
 * then the values big-endian. Files may be gzip-compressed; the reader tells by the magic bytes, not the name.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { CohortError } from '../core/errors.js';
import type { LabeledDataset } from '../core/data/dataset.js';
import { validateDataset } from '../core/data/dataset.js';

/** IDX element types by their dtype byte. */
const IDX_DTYPES = {
  0x08: { name: 'uint8', bytes: 1 },
  0x09: { name: 'int8', bytes: 1 },
  0x0b: { name: 'int16', bytes: 2 },
  0x0c: { name: 'int32', bytes: 4 },
  0x0d: { name: 'float32', bytes: 4 },
  0x0e: { name: 'float64', bytes: 8 },
} as const;

/** IDX element type name. */
export type IdxDtype = (typeof IDX_DTYPES)[keyof typeof IDX_DTYPES]['name'];

/** A parsed IDX tensor; `data` holds the values in host order (uint8 data is a view of the file bytes). */
export interface IdxTensor {
  readonly dtype: IdxDtype;
  readonly dims: readonly number[];
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** Gunzips when the bytes start with the gzip magic (1f 8b); `file` names the source in errors. */
export function maybeGunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes);
    } catch (error) {
      throw new CohortError('DATA_INVALID', `${file}: gzip data is corrupt or truncated (${(error as Error).message})`, { file }, { cause: error });
    }
  }
  return bytes;
}

/** Parses IDX bytes (raw or gzip); throws DATA_INVALID naming `file` for a bad magic, dtype or length. */
export function parseIdx(input: Uint8Array, file: string): IdxTensor {
  const bytes = maybeGunzip(input, file);
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new CohortError('DATA_INVALID', `${file}: bad IDX magic [${head}], expected 00 00 <dtype> <rank>`, { file });
  }
  const dtypeByte = bytes[2]!;
  const dtype = IDX_DTYPES[dtypeByte as keyof typeof IDX_DTYPES];
  if (dtype === undefined) {
    throw new CohortError('DATA_INVALID', `${file}: unknown IDX dtype byte 0x${dtypeByte.toString(16)}`, { file });
  }
  const rank = bytes[3]!;
  if (rank === 0) throw new CohortError('DATA_INVALID', `${file}: IDX rank is 0`, { file });
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new CohortError('DATA_INVALID', `${file}: truncated IDX header (${bytes.length} bytes, rank ${rank} needs ${headerBytes})`, { file });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = headerBytes + count * dtype.bytes;
  if (bytes.length < expected) {
    throw new CohortError('DATA_INVALID', `${file}: truncated IDX data: dims [${dims.join(',')}] need ${expected} bytes, file has ${bytes.length}`, { file });
  }
  if (bytes.length > expected) {
    throw new CohortError('DATA_INVALID', `${file}: ${bytes.length - expected} trailing bytes after IDX data of dims [${dims.join(',')}]`, { file });
  }
  return { dtype: dtype.name, dims, data: decodeValues(view, headerBytes, count, dtype.name) };
}

function decodeValues(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxTensor['data'] {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(view.buffer, view.byteOffset + offset, count);
    case 'int8':
      return new Int8Array(view.buffer, view.byteOffset + offset, count);
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/**
 * Images from IDX: uint8 pixels scaled to [0, 1]; dims [n, rows, cols] give featureShape [rows, cols, 1],
 * [n, rows, cols, channels] keep their channels, [n, features] stays flat.
 */
export function idxImages(tensor: IdxTensor, file: string): { features: Float32Array; count: number; featureShape: number[] } {
  if (tensor.dtype !== 'uint8') {
    throw new CohortError('DATA_INVALID', `${file}: images must be uint8 (dtype 0x08), got ${tensor.dtype}`, { file });
  }
  const [count, ...rest] = tensor.dims;
  if (count === undefined || rest.length < 1 || rest.length > 3) {
    throw new CohortError('DATA_INVALID', `${file}: images need rank 2 to 4 ([n, ...]), got dims [${tensor.dims.join(',')}]`, { file });
  }
  const featureShape = rest.length === 2 ? [rest[0]!, rest[1]!, 1] : rest;
  const features = new Float32Array(tensor.data.length);
  const scale = 1 / 255;
  for (let i = 0; i < features.length; i++) features[i] = tensor.data[i]! * scale;
  return { features, count, featureShape };
}

/** Labels from IDX: a rank-1 tensor of non-negative integers. */
export function idxLabels(tensor: IdxTensor, file: string): Int32Array {
  if (tensor.dims.length !== 1) {
    throw new CohortError('DATA_INVALID', `${file}: labels must be rank 1, got dims [${tensor.dims.join(',')}]`, { file });
  }
  if (tensor.dtype === 'float32' || tensor.dtype === 'float64') {
    throw new CohortError('DATA_INVALID', `${file}: labels must be an integer dtype, got ${tensor.dtype}`, { file });
  }
  const labels = Int32Array.from(tensor.data);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! < 0) throw new CohortError('DATA_INVALID', `${file}: label ${labels[i]} of example ${i} is negative`, { file });
  }
  return labels;
}

/** Largest label + 1 (0 for no labels). */
export function inferNumClasses(...labelSets: Int32Array[]): number {
  let max = -1;
  for (const labels of labelSets) for (const y of labels) if (y > max) max = y;
  return max + 1;
}

/**
 * Reads an images file and a labels file into a LabeledDataset. numClasses defaults to the largest label + 1.
 * Throws DATA_INVALID naming the files when counts differ or either file is malformed.
 */
export async function readIdxDataset(imagesFile: string, labelsFile: string, options: { numClasses?: number } = {}): Promise<LabeledDataset> {
  // Both reads run at once, but the error reported does not depend on which finishes first: images, then labels.
  const [imageRead, labelRead] = await Promise.allSettled([readBytes(imagesFile), readBytes(labelsFile)]);
  if (imageRead.status === 'rejected') throw imageRead.reason;
  if (labelRead.status === 'rejected') throw labelRead.reason;
  const imageBytes = imageRead.value;
  const labelBytes = labelRead.value;
  const images = idxImages(parseIdx(imageBytes, imagesFile), imagesFile);
  const labels = idxLabels(parseIdx(labelBytes, labelsFile), labelsFile);
  if (labels.length !== images.count) {
    throw new CohortError('DATA_INVALID', `${imagesFile} holds ${images.count} images but ${labelsFile} holds ${labels.length} labels`, {
      imagesFile,
      labelsFile,
    });
  }
  const numClasses = options.numClasses ?? inferNumClasses(labels);
  return validateDataset({ ...images, labels, numClasses }, imagesFile);
}

/** Reads a file, turning a missing or unreadable file into DATA_INVALID naming it. */
export async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new CohortError('DATA_INVALID', `${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { file }, { cause: error });
  }
}
