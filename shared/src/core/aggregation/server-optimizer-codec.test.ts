import { describe, expect, it } from 'vitest';
import { isCohortError } from '../errors.js';
import { createSeededRng, normal, uniformInt } from '../rng/index.js';
import type { ServerOptimizerState } from './server-optimizer.js';
import { decodeServerOptimizerState, encodeServerOptimizerState } from './server-optimizer-codec.js';

const states: ServerOptimizerState[] = [
  { kind: 'fedavg', step: 0, buffers: {} },
  { kind: 'fedavg', step: 41, buffers: {} },
  { kind: 'fedavgm', step: 3, buffers: { velocity: new Float32Array([0.5, -1.25, 3e-8]) } },
  { kind: 'fedadam', step: 7, buffers: { m: new Float32Array([1, -2, 0]), v: new Float32Array([1e-6, 4, 0.5]) } },
  { kind: 'fedyogi', step: 1, buffers: { m: new Float32Array(0), v: new Float32Array(0) } },
];

function expectRejected(bytes: Uint8Array, message?: RegExp): void {
  let caught: unknown;
  try {
    decodeServerOptimizerState(bytes);
  } catch (error) {
    caught = error;
  }
  expect(isCohortError(caught, 'INVALID_ARGUMENT'), `expected a CohortError, got ${String(caught)}`).toBe(true);
  if (message) expect((caught as Error).message).toMatch(message);
}

/** Builds a state file by hand, so malformed headers can be tested. */
function handmade(header: unknown, payload: Uint8Array = new Uint8Array(0), pad = true): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const dataOffset = pad ? (8 + json.length + 3) & ~3 : 8 + json.length;
  const out = new Uint8Array(dataOffset + payload.length);
  out.set([0x43, 0x53, 0x4f, 0x31]);
  new DataView(out.buffer).setUint32(4, json.length, true);
  out.set(json, 8);
  out.set(payload, dataOffset);
  return out;
}

function f32Bytes(...xs: number[]): Uint8Array {
  const out = new Uint8Array(xs.length * 4);
  const view = new DataView(out.buffer);
  xs.forEach((x, i) => view.setFloat32(i * 4, x, true));
  return out;
}

describe('server optimizer state codec', () => {
  it('round-trips every kind exactly', () => {
    for (const state of states) {
      const decoded = decodeServerOptimizerState(encodeServerOptimizerState(state));
      expect(decoded.kind).toBe(state.kind);
      expect(decoded.step).toBe(state.step);
      expect(Object.keys(decoded.buffers)).toEqual(Object.keys(state.buffers));
      for (const [name, buffer] of Object.entries(state.buffers)) expect([...decoded.buffers[name]!]).toEqual([...buffer]);
    }
  });

  it('is canonical: equal states encode to equal bytes, whatever the buffer key order', () => {
    const a = encodeServerOptimizerState({ kind: 'fedadam', step: 2, buffers: { m: new Float32Array([1]), v: new Float32Array([2]) } });
    const b = encodeServerOptimizerState({ kind: 'fedadam', step: 2, buffers: { v: new Float32Array([2]), m: new Float32Array([1]) } });
    expect(b).toEqual(a);
    expect(encodeServerOptimizerState(decodeServerOptimizerState(a))).toEqual(a);
  });

  it('writes little-endian float32 after a 4-byte-aligned header', () => {
    const bytes = encodeServerOptimizerState({ kind: 'fedavgm', step: 1, buffers: { velocity: new Float32Array([1]) } });
    expect(bytes.length % 4).toBe(0);
    expect([...bytes.subarray(bytes.length - 4)]).toEqual([0x00, 0x00, 0x80, 0x3f]);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('CSO1');
  });

  it('does not alias the input bytes', () => {
    const bytes = encodeServerOptimizerState(states[2]!);
    const decoded = decodeServerOptimizerState(bytes);
    bytes.fill(0, bytes.length - 12);
    expect(decoded.buffers['velocity']![0]).toBe(0.5);
  });

  it('decodes from an unaligned view into a larger buffer', () => {
    const bytes = encodeServerOptimizerState(states[3]!);
    const container = new Uint8Array(bytes.length + 3);
    container.set(bytes, 1);
    const decoded = decodeServerOptimizerState(container.subarray(1, 1 + bytes.length));
    expect([...decoded.buffers['v']!]).toEqual([...states[3]!.buffers['v']!]);
  });

  it('rejects every truncation and any trailing bytes', () => {
    for (const state of states) {
      const bytes = encodeServerOptimizerState(state);
      for (let length = 0; length < bytes.length; length++) expectRejected(bytes.subarray(0, length));
      const longer = new Uint8Array(bytes.length + 4);
      longer.set(bytes);
      expectRejected(longer, /trailing bytes/);
    }
  });

  it('rejects garbled structure with a message that says what is wrong', () => {
    const good = encodeServerOptimizerState(states[3]!);
    const badMagic = good.slice();
    badMagic[0] = 0x58;
    expectRejected(badMagic, /bad magic/);
    expectRejected(handmade('{"kind":"fedavg",'), /not UTF-8 JSON/);
    expectRejected(handmade('[1,2]'), /must be a JSON object/);
    expectRejected(handmade({ kind: 'sgd', step: 0, buffers: [] }), /unknown kind "sgd"/);
    expectRejected(handmade({ kind: 'fedavg', step: -1, buffers: [] }), /step must be a non-negative integer/);
    expectRejected(handmade({ kind: 'fedavg', step: 1.5, buffers: [] }), /step/);
    expectRejected(handmade({ kind: 'fedavgm', step: 1, buffers: [] }), /fedavgm keeps 1 buffers \(velocity\), header lists 0/);
    expectRejected(handmade({ kind: 'fedavgm', step: 1, buffers: [{ name: 'm', length: 1 }] }, f32Bytes(1)), /expected "velocity"/);
    expectRejected(handmade({ kind: 'fedavgm', step: 1, buffers: [{ name: 'velocity', length: -1 }] }), /length must be a non-negative integer/);
    expectRejected(
      handmade({ kind: 'fedadam', step: 1, buffers: [{ name: 'm', length: 1 }, { name: 'v', length: 2 }] }, f32Bytes(1, 2, 3)),
      /disagree on the dimension/,
    );
    expectRejected(handmade({ kind: 'fedavgm', step: 1, buffers: [{ name: 'velocity', length: 1000 }] }, f32Bytes(1)), /truncated/);
    const oversized = good.slice();
    new DataView(oversized.buffer).setUint32(4, 2 ** 31, true);
    expectRejected(oversized, /header length/);
  });

  it('rejects non-zero padding, non-finite values and a negative second moment', () => {
    const header = { kind: 'fedavgm', step: 1, buffers: [{ name: 'velocity', length: 1 }] };
    const padded = handmade(header, f32Bytes(1));
    const padStart = 8 + JSON.stringify(header).length;
    expect(padStart % 4).not.toBe(0); // this header needs padding, so there is a byte to corrupt
    padded[padStart] = 1;
    expectRejected(padded, /non-zero padding/);
    expectRejected(handmade(header, f32Bytes(Number.NaN)), /element 0 is NaN/);
    expectRejected(handmade(header, f32Bytes(Infinity)), /element 0 is Infinity/);
    const adam = { kind: 'fedadam', step: 1, buffers: [{ name: 'm', length: 1 }, { name: 'v', length: 1 }] };
    expectRejected(handmade(adam, f32Bytes(1, -0.5)), /buffer "v" element 0 is -0.5/);
  });

  it('throws only CohortError on random corruption of valid files (seeds 1..200)', () => {
    const base = encodeServerOptimizerState({ kind: 'fedyogi', step: 9, buffers: { m: new Float32Array([1, 2, 3, 4]), v: new Float32Array([1, 1, 1, 1]) } });
    for (let seed = 1; seed <= 200; seed++) {
      const rng = createSeededRng(seed);
      const bytes = base.slice();
      const flips = 1 + uniformInt(rng, 4);
      for (let k = 0; k < flips; k++) bytes[uniformInt(rng, bytes.length)] = uniformInt(rng, 256);
      try {
        const decoded = decodeServerOptimizerState(bytes);
        // Corruption confined to the float payload can still be a valid state: then it must be well-formed.
        expect(decoded.kind).toBe('fedyogi');
        for (const buffer of Object.values(decoded.buffers)) for (const x of buffer) expect(Number.isFinite(x)).toBe(true);
      } catch (error) {
        expect(isCohortError(error, 'INVALID_ARGUMENT'), `seed ${seed}: ${String(error)}`).toBe(true);
      }
    }
  });

  it('refuses to encode a state that does not match its kind', () => {
    expect(() => encodeServerOptimizerState({ kind: 'fedadam', step: 0, buffers: { m: new Float32Array(1) } })).toThrow(/needs buffer "v"/);
    expect(() => encodeServerOptimizerState({ kind: 'fedavg', step: 0, buffers: { velocity: new Float32Array(1) } })).toThrow(/does not belong to fedavg/);
    expect(() => encodeServerOptimizerState({ kind: 'fedavg', step: -2, buffers: {} })).toThrow(/step/);
  });

  it('round-trips a d = 100k state (seeded)', () => {
    const rng = createSeededRng(3);
    const m = Float32Array.from({ length: 100_000 }, () => normal(rng));
    const v = Float32Array.from(m, (x) => x * x);
    const decoded = decodeServerOptimizerState(encodeServerOptimizerState({ kind: 'fedadam', step: 12, buffers: { m, v } }));
    // Element-wise compare by hand: a deep-equality matcher over 2 × 10^5 elements is the slow part otherwise.
    const same = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
    expect(same(decoded.buffers['m']!, m)).toBe(true);
    expect(same(decoded.buffers['v']!, v)).toBe(true);
  });
});
