/**
 * Binary form of ServerOptimizerState, stored by the coordinator as a content-addressed file next to the model.
 *
 *   bytes 0..3   magic "CSO1" (Cohort Server Optimizer, format 1)
 *   bytes 4..7   header length H, uint32 little-endian
 *   bytes 8..    H bytes of UTF-8 JSON: {"kind":..,"step":..,"buffers":[{"name":..,"length":..},..]}
 *   zero padding to a multiple of 4 bytes, then each buffer's float32 values, little-endian, in header order.
 *
 * Encoding is canonical (fixed key order, buffers in SERVER_OPTIMIZER_BUFFERS order, zero padding), so equal states
 * hash equal. Decoding trusts nothing: every structural problem and every non-finite value is a CohortError.
 */
import { CohortError } from '../errors.js';
import { bytesToFloat32, float32ToBytes } from '../tensor/bytes.js';
import type { ServerOptimizerKind, ServerOptimizerState } from './server-optimizer.js';
import { SERVER_OPTIMIZER_BUFFERS, SERVER_OPTIMIZER_KINDS } from './server-optimizer.js';

const MAGIC = [0x43, 0x53, 0x4f, 0x31]; // "CSO1"
const PREAMBLE_BYTES = 8;
/** A header lists at most a handful of buffers; anything larger is garbage, not a state. */
const MAX_HEADER_BYTES = 64 * 1024;

interface Header {
  kind: ServerOptimizerKind;
  step: number;
  buffers: { name: string; length: number }[];
}

function invalid(message: string, details?: Record<string, unknown>): CohortError {
  return new CohortError('INVALID_ARGUMENT', `server optimizer state: ${message}`, details);
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Serialises a state (kind, step, float32 buffers) to its canonical bytes. */
export function encodeServerOptimizerState(state: ServerOptimizerState): Uint8Array {
  if (!(SERVER_OPTIMIZER_KINDS as readonly string[]).includes(state.kind)) throw invalid(`unknown kind ${JSON.stringify(state.kind)}`);
  if (!Number.isSafeInteger(state.step) || state.step < 0) throw invalid(`step must be a non-negative integer, got ${state.step}`);
  const names = SERVER_OPTIMIZER_BUFFERS[state.kind];
  const extra = Object.keys(state.buffers).filter((name) => !names.includes(name));
  if (extra.length > 0) throw invalid(`buffer "${extra[0]}" does not belong to ${state.kind}`);
  const buffers = names.map((name) => {
    const buffer = state.buffers[name];
    if (!(buffer instanceof Float32Array)) throw invalid(`${state.kind} needs buffer "${name}"`);
    return { name, buffer };
  });
  const header: Header = { kind: state.kind, step: state.step, buffers: buffers.map(({ name, buffer }) => ({ name, length: buffer.length })) };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const dataOffset = align4(PREAMBLE_BYTES + headerBytes.length);
  const total = buffers.reduce((n, { buffer }) => n + buffer.byteLength, dataOffset);
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, headerBytes.length, true);
  out.set(headerBytes, PREAMBLE_BYTES);
  let offset = dataOffset;
  for (const { buffer } of buffers) {
    out.set(float32ToBytes(buffer), offset);
    offset += buffer.byteLength;
  }
  return out;
}

/** Parses and validates bytes from encodeServerOptimizerState; throws CohortError (INVALID_ARGUMENT) on anything else. */
export function decodeServerOptimizerState(bytes: Uint8Array): ServerOptimizerState {
  if (bytes.length < PREAMBLE_BYTES) throw invalid(`truncated: ${bytes.length} bytes, the preamble alone is ${PREAMBLE_BYTES}`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw invalid('not a server optimizer state (bad magic)');
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (headerLength > MAX_HEADER_BYTES) throw invalid(`header length ${headerLength} exceeds ${MAX_HEADER_BYTES} bytes`);
  if (PREAMBLE_BYTES + headerLength > bytes.length) {
    throw invalid(`truncated: header needs ${headerLength} bytes, only ${bytes.length - PREAMBLE_BYTES} present`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + headerLength)));
  } catch (error) {
    throw invalid(`header is not UTF-8 JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const header = parseHeader(parsed);

  const dataOffset = align4(PREAMBLE_BYTES + headerLength);
  for (let i = PREAMBLE_BYTES + headerLength; i < Math.min(dataOffset, bytes.length); i++) {
    if (bytes[i] !== 0) throw invalid(`non-zero padding byte at offset ${i}`);
  }
  const expectedTotal = header.buffers.reduce((n, b) => n + b.length * 4, dataOffset);
  if (bytes.length !== expectedTotal) {
    throw invalid(`${bytes.length < expectedTotal ? 'truncated' : 'trailing bytes'}: ${bytes.length} bytes, the header describes ${expectedTotal}`, {
      expected: expectedTotal,
      actual: bytes.length,
    });
  }

  const buffers: Record<string, Float32Array> = {};
  let offset = dataOffset;
  for (const { name, length } of header.buffers) {
    // slice(): the state must not alias the caller's byte buffer (and gets 4-byte alignment for free).
    const values = bytesToFloat32(bytes.subarray(offset, offset + length * 4)).slice();
    offset += length * 4;
    for (let i = 0; i < values.length; i++) {
      const x = values[i]!;
      if (!Number.isFinite(x)) throw invalid(`buffer "${name}" element ${i} is ${x}, expected a finite number`);
      // A second moment below zero would turn √v into NaN and poison the model on the next step.
      if (name === 'v' && x < 0) throw invalid(`buffer "v" element ${i} is ${x}, a second moment must be ≥ 0`);
    }
    buffers[name] = values;
  }
  return { kind: header.kind, step: header.step, buffers };
}

function parseHeader(value: unknown): Header {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('header must be a JSON object');
  const record = value as Record<string, unknown>;
  const kind = record['kind'];
  if (typeof kind !== 'string' || !(SERVER_OPTIMIZER_KINDS as readonly string[]).includes(kind)) {
    throw invalid(`unknown kind ${JSON.stringify(kind)}; known: ${SERVER_OPTIMIZER_KINDS.join(', ')}`);
  }
  const typedKind = kind as ServerOptimizerKind;
  const step = record['step'];
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) throw invalid(`step must be a non-negative integer, got ${JSON.stringify(step)}`);
  const list = record['buffers'];
  if (!Array.isArray(list)) throw invalid('header.buffers must be an array');
  const names = SERVER_OPTIMIZER_BUFFERS[typedKind];
  if (list.length !== names.length) throw invalid(`${typedKind} keeps ${names.length} buffers (${names.join(', ') || 'none'}), header lists ${list.length}`);
  const buffers = list.map((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null) throw invalid(`header.buffers[${i}] must be an object`);
    const { name, length } = entry as Record<string, unknown>;
    if (name !== names[i]) throw invalid(`header.buffers[${i}] is ${JSON.stringify(name)}, expected "${names[i]}" for ${typedKind}`);
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
      throw invalid(`header.buffers[${i}].length must be a non-negative integer, got ${JSON.stringify(length)}`);
    }
    return { name: names[i]!, length };
  });
  const first = buffers[0];
  for (const b of buffers) {
    if (first !== undefined && b.length !== first.length) throw invalid(`buffers disagree on the dimension: "${first.name}" has ${first.length}, "${b.name}" has ${b.length}`);
  }
  return { kind: typedKind, step, buffers };
}
