/**
 * Injected randomness. Core code never uses ambient randomness: it takes an Rng. Production passes an OS-backed one
 * (shared/src/crypto/os-rng.ts); tests and simulations pass a seeded one so every run replays.
 */
export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number;
}

/** Uniform integer in [0, bound), without modulo bias. bound must be in [1, 2^32]. */
export function uniformInt(rng: Rng, bound: number): number {
  if (!Number.isInteger(bound) || bound < 1 || bound > 2 ** 32) throw new RangeError(`bound must be an integer in [1, 2^32], got ${bound}`);
  const limit = 2 ** 32 - (2 ** 32 % bound);
  for (;;) {
    const x = rng.nextUint32();
    if (x < limit) return x % bound;
  }
}

/** Standard normal sample (Box-Muller, one of the pair). */
export function normal(rng: Rng): number {
  let u = 0;
  while (u === 0) u = rng.nextFloat();
  const v = rng.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Gamma(shape, 1) sample (Marsaglia-Tsang; shape < 1 via the boost u^(1/shape)). */
export function gamma(rng: Rng, shape: number): number {
  if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
  if (shape < 1) {
    let u = 0;
    while (u === 0) u = rng.nextFloat();
    return gamma(rng, shape + 1) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.nextFloat();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** In-place Fisher-Yates shuffle. */
export function shuffleInPlace<T>(rng: Rng, items: T[] | Uint32Array | Int32Array): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = uniformInt(rng, i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
}

/** A random permutation of 0..n-1. */
export function permutation(rng: Rng, n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  shuffleInPlace(rng, out);
  return out;
}

/**
 * Seeded generator: xoshiro128** (Blackman & Vigna), state initialised by SplitMix32 from the seed.
 * Not cryptographic: for simulations, tests and reproducible shuffles only.
 */
export function createSeededRng(seed: number | bigint | string): Rng {
  let s = typeof seed === 'string' ? hashString32(seed) : Number(BigInt.asUintN(32, BigInt(seed)));
  const next32 = (): number => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  // Mix in the high bits of bigint/64-bit seeds so 2^32-apart seeds differ.
  if (typeof seed !== 'string') s = (s ^ Number(BigInt.asUintN(32, BigInt(seed) >> 32n)) * 0x27d4eb2d) | 0;
  let a = next32();
  let b = next32();
  let c = next32();
  let d = next32();
  if ((a | b | c | d) === 0) a = 1;
  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  return {
    nextUint32,
    nextFloat: () => (nextUint32() * 2 ** 21 + (nextUint32() >>> 11)) / 2 ** 53,
  };
}

/** Derives an independent child generator (e.g. one per client) from a parent seed and a label. */
export function deriveSeed(seed: number | bigint | string, label: string): number {
  return hashString32(`${String(seed)}/${label}`);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** FNV-1a 32-bit, then avalanche: stable string -> seed. */
function hashString32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}
