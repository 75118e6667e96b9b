/**
 * Shamir t-of-k secret sharing over a prime field (BigInt). Secure aggregation shares each client's 256-bit mask seed
 * and key-agreement secret, so the default field is the smallest prime above 2^256. Shares arriving from peers are
 * untrusted: malformed ones throw PROTOCOL_VIOLATION; bad arguments from our own code throw INVALID_ARGUMENT.
 */
import { CohortError } from '../errors.js';

/** A prime field for Shamir sharing. */
export interface ShamirField {
  /** The prime modulus p. */
  readonly prime: bigint;
  /** Bytes of one big-endian encoded element: ceil(bitLength(p) / 8). */
  readonly byteLength: number;
}

/** One share: the point (x, f(x)) of the sharing polynomial f. */
export interface Share {
  /** x-coordinate, an integer in [1, 2^32) and below p, distinct within one sharing. */
  readonly x: number;
  /** f(x), a field element in [0, p). */
  readonly y: bigint;
}

/** RandomBytes: injected randomness source for polynomial coefficients (production: libsodium randombytes). */
export type RandomBytes = (length: number) => Uint8Array;

/** Largest x-coordinate + 1: x is encoded in 4 bytes. */
const X_LIMIT = 2 ** 32;

/** Bytes of the encoded x-coordinate in `encodeShare`. */
export const SHARE_X_BYTES = 4;

/** Bytes of a secret for `secretFromBytes` / `secretToBytes` (256 bits). */
export const SECRET_BYTES = 32;

function bitLength(n: bigint): number {
  return n.toString(2).length;
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

const SMALL_PRIMES = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n, 41n, 43n, 47n, 53n];

/** Miller-Rabin with the first 16 primes as bases: deterministic below 3.3·10^24, overwhelming evidence above. */
function isProbablePrime(n: bigint): boolean {
  if (n < 2n) return false;
  for (const p of SMALL_PRIMES) {
    if (n === p) return true;
    if (n % p === 0n) return false;
  }
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  witness: for (const a of SMALL_PRIMES) {
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let r = 1; r < s; r++) {
      x = (x * x) % n;
      if (x === n - 1n) continue witness;
    }
    return false;
  }
  return true;
}

/** A Shamir field over `prime`; throws INVALID_ARGUMENT unless it is a prime > 2 (checked by Miller-Rabin). */
export function createField(prime: bigint): ShamirField {
  if (typeof prime !== 'bigint' || prime <= 2n || !isProbablePrime(prime)) {
    throw new CohortError('INVALID_ARGUMENT', `Shamir field modulus must be an odd prime, got ${String(prime)}`);
  }
  return Object.freeze({ prime, byteLength: Math.ceil(bitLength(prime) / 8) });
}

/** p = 2^256 + 297 (the smallest prime above 2^256): holds any 256-bit secret; x-coordinates up to 2^32-1. */
export const SECRET_FIELD: ShamirField = createField(2n ** 256n + 297n);

function mod(a: bigint, p: bigint): bigint {
  const r = a % p;
  return r < 0n ? r + p : r;
}

/** Inverse of a mod p by the extended Euclidean algorithm; a must not be 0 mod p. */
function invert(a: bigint, p: bigint): bigint {
  let r0 = p;
  let r1 = mod(a, p);
  let s0 = 0n;
  let s1 = 1n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new CohortError('INTERNAL', `${a} has no inverse modulo ${p}`);
  return mod(s0, p);
}

/** f(x) mod p by Horner's rule; coefficients[0] is the constant term (the secret), all in [0, p). */
export function evaluatePolynomial(coefficients: readonly bigint[], x: number | bigint, field: ShamirField): bigint {
  const p = field.prime;
  const xb = mod(BigInt(x), p);
  let y = 0n;
  for (let j = coefficients.length - 1; j >= 0; j--) y = (y * xb + coefficients[j]!) % p;
  return y;
}

/** Uniform field element by rejection sampling: draw byteLength bytes, mask to bitLength(p) bits, retry if >= p. */
function randomFieldElement(field: ShamirField, randomBytes: RandomBytes): bigint {
  const p = field.prime;
  const excessBits = field.byteLength * 8 - bitLength(p);
  const topMask = 0xff >>> excessBits;
  // Acceptance is > 1/2 per draw; 256 straight rejections mean the source is broken, not unlucky.
  for (let attempt = 0; attempt < 256; attempt++) {
    const bytes = randomBytes(field.byteLength);
    if (!(bytes instanceof Uint8Array) || bytes.length !== field.byteLength) {
      throw new CohortError('INVALID_ARGUMENT', `randomBytes(${field.byteLength}) returned ${bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes}`);
    }
    const candidate = bigintFromBytes(bytes, topMask);
    if (candidate < p) return candidate;
  }
  throw new CohortError('INTERNAL', 'randomBytes produced 256 out-of-range field elements in a row');
}

function requireThreshold(threshold: number, shares: number, code: 'INVALID_ARGUMENT' | 'PROTOCOL_VIOLATION'): void {
  if (!Number.isSafeInteger(threshold) || threshold < 1) {
    throw new CohortError('INVALID_ARGUMENT', `Shamir threshold must be an integer >= 1, got ${threshold}`);
  }
  if (threshold > shares) {
    const what = code === 'INVALID_ARGUMENT' ? `threshold ${threshold} exceeds the ${shares} x-coordinates` : `too few shares: got ${shares}, need ${threshold}`;
    throw new CohortError(code, `Shamir ${what}`, { threshold, shares });
  }
}

function validX(x: number, p: bigint): boolean {
  return Number.isInteger(x) && x >= 1 && x < X_LIMIT && BigInt(x) < p;
}

/**
 * Splits `secret` (in [0, p)) into one share per x-coordinate, any `threshold` of which recover it: f(0) = secret and
 * the other threshold-1 coefficients are uniform in [0, p) from `randomBytes`. xs: distinct integers in [1, 2^32), < p.
 */
export function splitSecret(secret: bigint, threshold: number, xs: readonly number[], field: ShamirField, randomBytes: RandomBytes): Share[] {
  const p = field.prime;
  if (typeof secret !== 'bigint' || secret < 0n || secret >= p) {
    throw new CohortError('INVALID_ARGUMENT', `Shamir secret must be a bigint in [0, p), p = ${p}`);
  }
  requireThreshold(threshold, xs.length, 'INVALID_ARGUMENT');
  const seen = new Set<number>();
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (!validX(x, p)) {
      throw new CohortError('INVALID_ARGUMENT', `Shamir x-coordinate ${i} must be an integer in [1, ${Math.min(X_LIMIT, Number(p))}), got ${x}`);
    }
    if (seen.has(x)) throw new CohortError('INVALID_ARGUMENT', `Shamir x-coordinate ${x} appears twice`);
    seen.add(x);
  }
  const coefficients: bigint[] = [secret];
  for (let j = 1; j < threshold; j++) coefficients.push(randomFieldElement(field, randomBytes));
  return xs.map((x) => ({ x, y: evaluatePolynomial(coefficients, x, field) }));
}

/**
 * Lagrange interpolation at 0 from at least `threshold` shares with distinct x (uses the first `threshold`). Throws
 * CohortError('PROTOCOL_VIOLATION') on duplicate x, an x out of range, too few shares or y outside the field.
 * Cost: O(t^2) small multiplications for the denominators, one modular inverse for all of them (batch inversion).
 */
export function reconstructSecret(shares: readonly Share[], threshold: number, field: ShamirField): bigint {
  const p = field.prime;
  requireThreshold(threshold, shares.length, 'PROTOCOL_VIOLATION');
  const seen = new Set<number>();
  for (let i = 0; i < shares.length; i++) {
    const { x, y } = shares[i]!;
    if (!validX(x, p)) throw new CohortError('PROTOCOL_VIOLATION', `Shamir share ${i} has x = ${x}, not an integer in [1, 2^32) below p`, { index: i });
    if (seen.has(x)) throw new CohortError('PROTOCOL_VIOLATION', `two Shamir shares have x = ${x}`, { x });
    seen.add(x);
    if (typeof y !== 'bigint' || y < 0n || y >= p) {
      throw new CohortError('PROTOCOL_VIOLATION', `Shamir share ${i} (x = ${x}) has y outside the field [0, p)`, { index: i, x });
    }
  }
  const t = threshold;
  const xs = new Float64Array(t);
  for (let i = 0; i < t; i++) xs[i] = shares[i]!.x;

  // L_i(0) = Π_{j≠i} x_j / (x_j - x_i) = N / (x_i · D_i), N = Π x_j, D_i = Π_{j≠i} (x_j - x_i).
  // c_i = x_i · D_i is a product of small integers: multiply in float64 while exact (< 2^53), and only then fold the
  // partial product into a BigInt, which keeps the O(t^2) inner loop mostly out of BigInt arithmetic.
  const c = new Array<bigint>(t);
  for (let i = 0; i < t; i++) {
    const xi = xs[i]!;
    let acc = xi;
    let big = 1n;
    for (let j = 0; j < t; j++) {
      if (j === i) continue;
      const diff = xs[j]! - xi;
      const next = acc * diff;
      if (next < 2 ** 53 && next > -(2 ** 53)) {
        acc = next;
      } else {
        big = (big * BigInt(acc)) % p;
        acc = diff;
      }
    }
    c[i] = mod(big * BigInt(acc), p);
  }

  // Batch inversion (Montgomery's trick): prefix products, one inverse, then peel off each 1/c_i.
  const prefix = new Array<bigint>(t);
  let running = 1n;
  for (let i = 0; i < t; i++) {
    running = (running * c[i]!) % p;
    prefix[i] = running;
  }
  let inverse = invert(running, p);
  let sum = 0n;
  for (let i = t - 1; i >= 0; i--) {
    const inverseCi = i > 0 ? (inverse * prefix[i - 1]!) % p : inverse;
    inverse = (inverse * c[i]!) % p;
    sum = (sum + shares[i]!.y * inverseCi) % p;
  }
  let numerator = 1n;
  for (let i = 0; i < t; i++) numerator = (numerator * BigInt(xs[i]!)) % p;
  return (sum * numerator) % p;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function bigintFromBytes(bytes: Uint8Array, topMask = 0xff): bigint {
  if (bytes.length === 0) return 0n;
  let hex = HEX[bytes[0]! & topMask]!;
  for (let i = 1; i < bytes.length; i++) hex += HEX[bytes[i]!]!;
  return BigInt(`0x${hex}`);
}

function bigintToBytes(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = value;
  for (let i = length - 1; i >= 0 && v > 0n; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** 32 bytes, big-endian -> the secret as a bigint in [0, 2^256). */
export function secretFromBytes(bytes: Uint8Array): bigint {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SECRET_BYTES) {
    throw new CohortError('INVALID_ARGUMENT', `secret must be ${SECRET_BYTES} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`);
  }
  return bigintFromBytes(bytes);
}

/** A secret in [0, 2^256) -> 32 bytes, big-endian; INVALID_ARGUMENT otherwise (a reconstructed value >= 2^256 is forged). */
export function secretToBytes(secret: bigint): Uint8Array {
  if (typeof secret !== 'bigint' || secret < 0n || secret >= 1n << 256n) {
    throw new CohortError('INVALID_ARGUMENT', 'secret must be a bigint in [0, 2^256)');
  }
  return bigintToBytes(secret, SECRET_BYTES);
}

/** Wire form of a share: 4-byte big-endian x || byteLength-byte big-endian y (37 bytes in SECRET_FIELD). */
export function encodeShare(share: Share, field: ShamirField): Uint8Array {
  const { x, y } = share;
  if (!validX(x, field.prime)) throw new CohortError('INVALID_ARGUMENT', `share x must be an integer in [1, 2^32) below p, got ${x}`);
  if (typeof y !== 'bigint' || y < 0n || y >= field.prime) throw new CohortError('INVALID_ARGUMENT', 'share y must be a bigint in [0, p)');
  const out = bigintToBytes(y, SHARE_X_BYTES + field.byteLength);
  new DataView(out.buffer).setUint32(0, x, false);
  return out;
}

/** Parses `encodeShare` output from a peer: PROTOCOL_VIOLATION on a wrong length, x = 0, x >= p or y >= p. */
export function decodeShare(bytes: Uint8Array, field: ShamirField): Share {
  const expected = SHARE_X_BYTES + field.byteLength;
  if (!(bytes instanceof Uint8Array) || bytes.length !== expected) {
    throw new CohortError('PROTOCOL_VIOLATION', `encoded Shamir share must be ${expected} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`);
  }
  const x = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, false);
  if (!validX(x, field.prime)) throw new CohortError('PROTOCOL_VIOLATION', `encoded Shamir share has x = ${x}, not in [1, 2^32) below p`);
  const y = bigintFromBytes(bytes.subarray(SHARE_X_BYTES));
  if (y >= field.prime) throw new CohortError('PROTOCOL_VIOLATION', `encoded Shamir share (x = ${x}) has y outside the field`);
  return { x, y };
}
