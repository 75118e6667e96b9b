/**
 * Flat vectors <-> little-endian bytes for the wire and for model files. Zero-copy where alignment allows.
 */
import { CohortError } from '../errors.js';

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Little-endian bytes of a Float32Array (a view when the host is little-endian). */
export function float32ToBytes(vector: Float32Array): Uint8Array {
  if (littleEndianHost) return new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
  const out = new Uint8Array(vector.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i]!, true);
  return out;
}

/** Float32Array from little-endian bytes; copies only when unaligned or on a big-endian host. */
export function bytesToFloat32(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) {
    throw new CohortError('INVALID_ARGUMENT', `float32 data must be a multiple of 4 bytes, got ${bytes.byteLength}`);
  }
  if (littleEndianHost) {
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    return new Float32Array(bytes.slice().buffer);
  }
  const out = new Float32Array(bytes.byteLength / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Little-endian bytes of a Uint32Array (a view when the host is little-endian). */
export function uint32ToBytes(vector: Uint32Array): Uint8Array {
  if (littleEndianHost) return new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
  const out = new Uint8Array(vector.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < vector.length; i++) view.setUint32(i * 4, vector[i]!, true);
  return out;
}

/** Uint32Array from little-endian bytes. */
export function bytesToUint32(bytes: Uint8Array): Uint32Array {
  if (bytes.byteLength % 4 !== 0) {
    throw new CohortError('INVALID_ARGUMENT', `uint32 data must be a multiple of 4 bytes, got ${bytes.byteLength}`);
  }
  if (littleEndianHost) {
    if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    return new Uint32Array(bytes.slice().buffer);
  }
  const out = new Uint32Array(bytes.byteLength / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}
