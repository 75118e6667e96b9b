import { describe, expect, it } from 'vitest';
import { isCohortError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { createSeededRng, permutation } from '../rng/index.js';
import type { Rng } from '../rng/index.js';
import type { RandomBytes, Share } from './shamir.js';
import {
  SECRET_FIELD,
  createField,
  decodeShare,
  encodeShare,
  evaluatePolynomial,
  reconstructSecret,
  secretFromBytes,
  secretToBytes,
  splitSecret,
} from './shamir.js';
import { thrown } from '../../../../test/helpers/errors.js';

function expectError(fn: () => unknown, code: ErrorCode, message: RegExp): void {
  const error = thrown(fn);
  expect(isCohortError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  expect((error as Error).message).toMatch(message);
}

/** Deterministic randomBytes for tests (not cryptographic). */
function seededBytes(seed: number): RandomBytes {
  const rng = createSeededRng(seed);
  return (length) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = rng.nextUint32() & 0xff;
    return out;
  };
}

/** randomBytes that replays the given draws in order. */
function scriptedBytes(draws: number[][]): RandomBytes {
  let next = 0;
  return (length) => {
    const draw = draws[next++];
    if (draw === undefined) throw new Error('scriptedBytes ran out of draws');
    expect(draw.length).toBe(length);
    return new Uint8Array(draw);
  };
}

function random256(rng: Rng): bigint {
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 32n) | BigInt(rng.nextUint32());
  return v;
}

function subsets<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  if (items.length < size) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, size - 1).map((s) => [first!, ...s]), ...subsets(rest, size)];
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('Shamir fields', () => {
  it('SECRET_FIELD is 2^256 + 297, the smallest prime above 2^256, encoded in 33 bytes', () => {
    expect(SECRET_FIELD.prime).toBe(2n ** 256n + 297n);
    expect(SECRET_FIELD.byteLength).toBe(33);
    // createField rejects composites, so every candidate below 297 must throw.
    for (let k = 1n; k < 297n; k++) expect(() => createField(2n ** 256n + k), `2^256 + ${k}`).toThrow(/must be an odd prime/);
  });

  it('accepts small and Mersenne primes, rejects composites, Carmichael numbers and p <= 2', () => {
    expect(createField(1613n)).toEqual({ prime: 1613n, byteLength: 2 });
    expect(createField(257n).byteLength).toBe(2);
    expect(createField(251n).byteLength).toBe(1);
    expect(createField(2n ** 127n - 1n).byteLength).toBe(16);
    for (const composite of [1613n * 1619n, 561n, 3215031751n, 2n ** 128n + 1n, 4n, 2n, 1n, 0n, -7n]) {
      expectError(() => createField(composite), 'INVALID_ARGUMENT', /Shamir field modulus must be an odd prime/);
    }
  });
});

describe('Shamir textbook example (p = 1613, f(x) = 1234 + 166x + 94x^2)', () => {
  const field = createField(1613n);
  const expected: Share[] = [
    { x: 1, y: 1494n },
    { x: 2, y: 329n },
    { x: 3, y: 965n },
    { x: 4, y: 176n },
    { x: 5, y: 1188n },
    { x: 6, y: 775n },
  ];

  it('evaluates the polynomial at x = 1..6 to the published shares', () => {
    expect(range(1, 6).map((x) => evaluatePolynomial([1234n, 166n, 94n], x, field))).toEqual(expected.map((s) => s.y));
    expect(evaluatePolynomial([1234n, 166n, 94n], 0, field)).toBe(1234n);
    expect(evaluatePolynomial([], 5, field)).toBe(0n);
  });

  it('splitSecret with coefficients 166 and 94 drawn from randomBytes reproduces the shares', () => {
    // byteLength 2, 11-bit prime: the top byte is masked to 3 bits.
    const shares = splitSecret(1234n, 3, range(1, 6), field, scriptedBytes([[0, 166], [0, 94]]));
    expect(shares).toEqual(expected);
  });

  it('rejects out-of-range coefficient draws and uses the next draw (rejection sampling)', () => {
    // 0x07ff = 2047 and 0x0650 = 1616 are >= 1613 after masking; 0xf8a6 masks to 0x00a6 = 166.
    const shares = splitSecret(1234n, 3, range(1, 6), field, scriptedBytes([[0x07, 0xff], [0x06, 0x50], [0xf8, 166], [0, 94]]));
    expect(shares).toEqual(expected);
  });

  it('reconstructs 1234 from every 3-subset, in any order, and from larger sets', () => {
    for (const subset of subsets(expected, 3)) {
      expect(reconstructSecret(subset, 3, field)).toBe(1234n);
      expect(reconstructSecret([...subset].reverse(), 3, field)).toBe(1234n);
    }
    for (const size of [4, 5, 6]) for (const subset of subsets(expected, size)) expect(reconstructSecret(subset, 3, field)).toBe(1234n);
  });

  it('uses only the first threshold shares', () => {
    const withGarbage = [expected[4]!, expected[0]!, expected[2]!, { x: 6, y: 1n }];
    expect(reconstructSecret(withGarbage, 3, field)).toBe(1234n);
  });

  it('gives a wrong value from two shares', () => {
    for (const pair of subsets(expected, 2)) expect(reconstructSecret(pair, 2, field)).not.toBe(1234n);
  });
});

describe('Shamir over SECRET_FIELD', () => {
  it('recovers a random 256-bit secret from any t of k shares', () => {
    const rng = createSeededRng(1);
    for (const [t, k] of [
      [1, 1],
      [1, 4],
      [3, 7],
      [4, 10],
      [10, 10],
    ] as const) {
      const secret = random256(rng);
      const shares = splitSecret(secret, t, range(1, k), SECRET_FIELD, seededBytes(t * 100 + k));
      expect(shares.map((s) => s.x)).toEqual(range(1, k));
      for (const subset of subsets(shares, t)) expect(reconstructSecret(subset, t, SECRET_FIELD)).toBe(secret);
    }
  });

  it('with t = 1 every share is the secret itself', () => {
    const shares = splitSecret(42n, 1, [3, 9, 27], SECRET_FIELD, seededBytes(0));
    expect(shares.map((s) => s.y)).toEqual([42n, 42n, 42n]);
  });

  it('t - 1 shares give a different value (the secret is information-theoretically hidden)', () => {
    const rng = createSeededRng(2);
    for (let trial = 0; trial < 20; trial++) {
      const secret = random256(rng);
      const shares = splitSecret(secret, 5, range(1, 8), SECRET_FIELD, seededBytes(trial));
      expect(reconstructSecret(shares.slice(0, 4), 4, SECRET_FIELD)).not.toBe(secret);
      expect(reconstructSecret(shares.slice(3, 8), 5, SECRET_FIELD)).toBe(secret);
    }
  });

  it('different randomness gives different shares of the same secret', () => {
    const a = splitSecret(7n, 3, [1, 2, 3], SECRET_FIELD, seededBytes(1));
    const b = splitSecret(7n, 3, [1, 2, 3], SECRET_FIELD, seededBytes(2));
    expect(a[0]!.y).not.toBe(b[0]!.y);
  });

  it('handles the extreme secrets 0 and 2^256 - 1 and x-coordinates near 2^32', () => {
    const xs = [2 ** 32 - 1, 2 ** 32 - 2, 2 ** 31, 1, 123456789];
    for (const secret of [0n, 2n ** 256n - 1n, SECRET_FIELD.prime - 1n]) {
      const shares = splitSecret(secret, 3, xs, SECRET_FIELD, seededBytes(5));
      for (const subset of subsets(shares, 3)) expect(reconstructSecret(subset, 3, SECRET_FIELD)).toBe(secret);
    }
  });

  it('works with 10,000 shares at x = 1..10,000: split, then reconstruct from scattered subsets', () => {
    const k = 10_000;
    const t = 100;
    const secret = random256(createSeededRng(3));
    const shares = splitSecret(secret, t, range(1, k), SECRET_FIELD, seededBytes(3));
    expect(shares.length).toBe(k);
    const order = permutation(createSeededRng(4), k);
    const scattered = Array.from(order.subarray(0, t), (i) => shares[i]!);
    expect(reconstructSecret(scattered, t, SECRET_FIELD)).toBe(secret);
    expect(reconstructSecret(shares.slice(k - t), t, SECRET_FIELD)).toBe(secret);
    expect(reconstructSecret(shares.slice(0, t - 1), t - 1, SECRET_FIELD)).not.toBe(secret);
  });

  it('reconstructs with a large threshold (t = 600) from scattered x-coordinates', () => {
    const t = 600;
    const secret = random256(createSeededRng(6));
    const xs = Array.from(permutation(createSeededRng(7), 5000).subarray(0, 700), (i) => i + 1);
    const shares = splitSecret(secret, t, xs, SECRET_FIELD, seededBytes(6));
    expect(reconstructSecret(shares.slice(100), t, SECRET_FIELD)).toBe(secret);
    expect(reconstructSecret(shares.slice(0, t), t, SECRET_FIELD)).toBe(secret);
  });
});

describe('Shamir encoding', () => {
  it('round-trips shares: 4-byte big-endian x then 33-byte big-endian y', () => {
    const secret = random256(createSeededRng(8));
    const shares = splitSecret(secret, 3, [1, 256, 2 ** 32 - 1], SECRET_FIELD, seededBytes(8));
    for (const share of shares) {
      const bytes = encodeShare(share, SECRET_FIELD);
      expect(bytes.length).toBe(37);
      expect(new DataView(bytes.buffer).getUint32(0, false)).toBe(share.x);
      expect(decodeShare(bytes, SECRET_FIELD)).toEqual(share);
    }
    const decoded = shares.map((s) => decodeShare(encodeShare(s, SECRET_FIELD), SECRET_FIELD));
    expect(reconstructSecret(decoded, 3, SECRET_FIELD)).toBe(secret);
    expect(Array.from(encodeShare({ x: 0x01020304, y: 0x0506n }, SECRET_FIELD))).toEqual([1, 2, 3, 4, ...new Array<number>(31).fill(0), 5, 6]);
    expect(Array.from(encodeShare({ x: 0x0102, y: 0x0506n }, createField(1613n)))).toEqual([0, 0, 1, 2, 5, 6]);
  });

  it('decodes from a view at an odd offset', () => {
    const bytes = encodeShare({ x: 77, y: 123456789n }, SECRET_FIELD);
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    expect(decodeShare(padded.subarray(3), SECRET_FIELD)).toEqual({ x: 77, y: 123456789n });
  });

  it('rejects malformed shares from peers with PROTOCOL_VIOLATION', () => {
    expectError(() => decodeShare(new Uint8Array(36), SECRET_FIELD), 'PROTOCOL_VIOLATION', /must be 37 bytes, got 36/);
    expectError(() => decodeShare(new Uint8Array(38), SECRET_FIELD), 'PROTOCOL_VIOLATION', /must be 37 bytes, got 38/);
    expectError(() => decodeShare(new Uint8Array(37), SECRET_FIELD), 'PROTOCOL_VIOLATION', /has x = 0/);
    const tooBig = new Uint8Array(37).fill(0xff);
    expectError(() => decodeShare(tooBig, SECRET_FIELD), 'PROTOCOL_VIOLATION', /y outside the field/);
    const small = createField(1613n);
    expectError(() => decodeShare(new Uint8Array([0, 0, 0, 1, 0x06, 0x4d]), small), 'PROTOCOL_VIOLATION', /y outside the field/); // 1613
    expect(decodeShare(new Uint8Array([0, 0, 0, 1, 0x06, 0x4c]), small)).toEqual({ x: 1, y: 1612n });
    expectError(() => decodeShare(new Uint8Array([0, 0, 0x06, 0x4d, 0, 1]), small), 'PROTOCOL_VIOLATION', /x = 1613/);
  });

  it('refuses to encode an invalid share', () => {
    expectError(() => encodeShare({ x: 0, y: 1n }, SECRET_FIELD), 'INVALID_ARGUMENT', /share x/);
    expectError(() => encodeShare({ x: 1, y: SECRET_FIELD.prime }, SECRET_FIELD), 'INVALID_ARGUMENT', /share y/);
  });

  it('converts 32-byte secrets to and from bigints, big-endian', () => {
    const bytes = new Uint8Array(32);
    bytes[0] = 0x80;
    bytes[31] = 0x01;
    expect(secretFromBytes(bytes)).toBe(2n ** 255n + 1n);
    expect(secretToBytes(2n ** 255n + 1n)).toEqual(bytes);
    expect(secretToBytes(0n)).toEqual(new Uint8Array(32));
    expect(secretToBytes(2n ** 256n - 1n)).toEqual(new Uint8Array(32).fill(0xff));
    const rng = createSeededRng(9);
    for (let i = 0; i < 50; i++) {
      const s = random256(rng);
      expect(secretFromBytes(secretToBytes(s))).toBe(s);
    }
    expectError(() => secretToBytes(2n ** 256n), 'INVALID_ARGUMENT', /\[0, 2\^256\)/);
    expectError(() => secretToBytes(-1n), 'INVALID_ARGUMENT', /\[0, 2\^256\)/);
    expectError(() => secretFromBytes(new Uint8Array(31)), 'INVALID_ARGUMENT', /secret must be 32 bytes, got 31/);
  });
});

describe('Shamir validation', () => {
  const bytes = seededBytes(0);

  it('splitSecret rejects bad thresholds, x-coordinates and secrets with INVALID_ARGUMENT', () => {
    expectError(() => splitSecret(1n, 0, [1, 2], SECRET_FIELD, bytes), 'INVALID_ARGUMENT', /threshold must be an integer >= 1, got 0/);
    expectError(() => splitSecret(1n, 1.5, [1, 2], SECRET_FIELD, bytes), 'INVALID_ARGUMENT', /got 1\.5/);
    expectError(() => splitSecret(1n, 3, [1, 2], SECRET_FIELD, bytes), 'INVALID_ARGUMENT', /threshold 3 exceeds the 2 x-coordinates/);
    expectError(() => splitSecret(1n, 1, [], SECRET_FIELD, bytes), 'INVALID_ARGUMENT', /threshold 1 exceeds the 0/);
    expectError(() => splitSecret(1n, 2, [1, 2, 1], SECRET_FIELD, bytes), 'INVALID_ARGUMENT', /x-coordinate 1 appears twice/);
    for (const x of [0, -1, 2 ** 32, 1.5, Number.NaN]) {
      expectError(() => splitSecret(1n, 1, [2, x], SECRET_FIELD, bytes), 'INVALID_ARGUMENT', /x-coordinate 1 must be an integer in \[1, 4294967296\)/);
    }
    expectError(() => splitSecret(1n, 1, [1613], createField(1613n), bytes), 'INVALID_ARGUMENT', /in \[1, 1613\), got 1613/);
    expectError(() => splitSecret(SECRET_FIELD.prime, 1, [1], SECRET_FIELD, bytes), 'INVALID_ARGUMENT', /secret must be a bigint in \[0, p\)/);
    expectError(() => splitSecret(-1n, 1, [1], SECRET_FIELD, bytes), 'INVALID_ARGUMENT', /secret must be a bigint/);
  });

  it('splitSecret rejects a randomBytes that returns the wrong length or never lands in range', () => {
    expectError(() => splitSecret(1n, 2, [1, 2], SECRET_FIELD, () => new Uint8Array(32)), 'INVALID_ARGUMENT', /randomBytes\(33\) returned 32 bytes/);
    expectError(() => splitSecret(1n, 2, [1, 2], createField(1613n), () => new Uint8Array([0xff, 0xff])), 'INTERNAL', /out-of-range/);
  });

  it('reconstructSecret rejects too few, duplicate or out-of-field shares with PROTOCOL_VIOLATION', () => {
    const shares = splitSecret(5n, 2, [1, 2, 3], SECRET_FIELD, bytes);
    expectError(() => reconstructSecret(shares.slice(0, 1), 2, SECRET_FIELD), 'PROTOCOL_VIOLATION', /too few shares: got 1, need 2/);
    expectError(() => reconstructSecret([], 1, SECRET_FIELD), 'PROTOCOL_VIOLATION', /too few shares: got 0, need 1/);
    expectError(() => reconstructSecret([shares[0]!, shares[0]!], 2, SECRET_FIELD), 'PROTOCOL_VIOLATION', /two Shamir shares have x = 1/);
    // A duplicate beyond the first t is still a malformed set.
    expectError(() => reconstructSecret([shares[0]!, shares[1]!, { x: 1, y: 0n }], 2, SECRET_FIELD), 'PROTOCOL_VIOLATION', /x = 1/);
    expectError(() => reconstructSecret([shares[0]!, { x: 2, y: SECRET_FIELD.prime }], 2, SECRET_FIELD), 'PROTOCOL_VIOLATION', /share 1 \(x = 2\) has y outside the field/);
    expectError(() => reconstructSecret([shares[0]!, { x: 2, y: -1n }], 2, SECRET_FIELD), 'PROTOCOL_VIOLATION', /y outside the field/);
    expectError(() => reconstructSecret([{ x: 0, y: 1n }, shares[1]!], 2, SECRET_FIELD), 'PROTOCOL_VIOLATION', /share 0 has x = 0/);
    expectError(() => reconstructSecret(shares, 0, SECRET_FIELD), 'INVALID_ARGUMENT', /threshold must be an integer >= 1/);
  });
});
