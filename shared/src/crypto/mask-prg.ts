/**
 * The mask PRG of secure aggregation: a 256-bit key expands, through a native stream cipher (AES-256-CTR or ChaCha20
 * from node:crypto / OpenSSL), into a vector of uint32 words that is added to or subtracted from a masked update
 * mod 2^32. Speed matters (d up to tens of millions, dozens of keys per client and per unmasking), so:
 *  - the keystream is produced in 32 KiB chunks, one cipher object per key (`update(zeros)` repeatedly): each chunk
 *    stays in cache, about twice as fast as one large update;
 *  - the loop is chunk-outer: one 32 KiB slice of the output is loaded once, every key's next keystream chunk is added
 *    to it, and it is written back once;
 *  - the additions run in a 168-byte WebAssembly SIMD kernel (i32x4.add / i32x4.sub, which wrap mod 2^32). Plain JS
 *    loops over typed arrays measured ~4x slower here: V8 re-checks each array's map on every iteration (the loop's
 *    interrupt check invalidates what it knew), ~1.5 ns per word and key against ~0.1 ns in SIMD; the memcpy into
 *    wasm memory is cheap by comparison. Without WebAssembly (e.g. --jitless) a portable JS adder is used: Int32Array
 *    views and `(a + b + c + d + e) | 0`, exact in a double and reduced mod 2^32 by `| 0`, four keys per pass.
 */
import { createCipheriv } from 'node:crypto';
import type { Cipher } from 'node:crypto';
import { CohortError } from '../core/errors.js';

/** Native stream cipher used as the PRG; both take a 256-bit key. */
export type MaskCipher = 'aes-256-ctr' | 'chacha20';

/** How applyMasks adds keystream words: WebAssembly SIMD (the default where available) or portable JS. */
export type MaskAdder = 'wasm-simd' | 'js';

/** One mask to apply: the PRG key and whether its words are added (+1) or subtracted (-1). */
export interface MaskTerm {
  /** PRG key, exactly 32 bytes (a derived pairwise key or a self-mask seed). */
  readonly key: Uint8Array;
  /** +1 adds the keystream words, -1 subtracts them. */
  readonly sign: 1 | -1;
}

/** PRG key length, bytes. */
export const MASK_KEY_BYTES = 32;

/** Keystream bytes per cipher.update call: a multiple of 64 (ChaCha20 block) and 16 (AES block, SIMD lane group). */
const CHUNK_BYTES = 32 * 1024;
const CHUNK_WORDS = CHUNK_BYTES / 4;
/** Plaintext of the keystream: encrypting zeros yields the raw keystream. Read-only, shared. */
const ZEROS = new Uint8Array(CHUNK_BYTES);
/**
 * All-zero IV. aes-256-ctr: the 128-bit big-endian counter block starts at 0. chacha20 (node/OpenSSL): the 16-byte IV
 * is the 4-byte little-endian block counter || the 12-byte RFC 8439 nonce, so block counter 0 and nonce 0. Each key
 * masks one vector only, so the fixed IV never repeats a keystream.
 */
const ZERO_IV = new Uint8Array(16);
/** Keystream bytes are read as little-endian words by plain typed-array views, which is only right on LE hosts. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function requireKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== MASK_KEY_BYTES) {
    const actual = key instanceof Uint8Array ? `${key.length} bytes` : typeof key;
    throw new CohortError('INVALID_ARGUMENT', `${what} must be ${MASK_KEY_BYTES} bytes, got ${actual}`);
  }
}

function requireCipher(cipher: MaskCipher): void {
  if (cipher !== 'aes-256-ctr' && cipher !== 'chacha20') {
    throw new CohortError('INVALID_ARGUMENT', `mask cipher must be 'aes-256-ctr' or 'chacha20', got ${String(cipher)}`);
  }
  if (!LITTLE_ENDIAN) throw new CohortError('INTERNAL', 'mask PRG assumes a little-endian host');
}

function requireWordCount(words: number, what: string): void {
  if (!Number.isSafeInteger(words) || words < 0) {
    throw new CohortError('INVALID_ARGUMENT', `${what} must be a non-negative integer, got ${words}`);
  }
}

/** Successive `next(bytes)` calls return successive keystream bytes of one key. */
class Keystream {
  private readonly cipher: Cipher;

  constructor(key: Uint8Array, cipher: MaskCipher) {
    this.cipher = createCipheriv(cipher, key, ZERO_IV);
  }

  /** The next `bytes` keystream bytes (bytes <= CHUNK_BYTES), at any byteOffset; valid until the next call. */
  next(bytes: number): Uint8Array {
    const chunk = this.cipher.update(bytes === CHUNK_BYTES ? ZEROS : ZEROS.subarray(0, bytes));
    if (chunk.length !== bytes) throw new CohortError('INTERNAL', `stream cipher returned ${chunk.length} bytes for ${bytes}`);
    return chunk;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// WebAssembly SIMD adder. One page of memory: the output slice at [0, CHUNK_BYTES), a keystream chunk at
// [CHUNK_BYTES, 2·CHUNK_BYTES). Two exports, add and sub (dst, src, len): for len bytes (a positive multiple of 16),
// dst[i] = dst[i] ± src[i] as i32x4 lanes, wrapping mod 2^32.

const ACC_OFFSET = 0;
const KEYSTREAM_OFFSET = CHUNK_BYTES;

function wasmKernelBody(laneOp: number): number[] {
  const code = [
    0x00, // no locals
    0x20, 0x02, 0x45, 0x04, 0x40, 0x0f, 0x0b, // if (len == 0) return
    0x03, 0x40, // loop
    0x20, 0x00, // dst (store address)
    0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, // v128.load [dst] (align 16)
    0x20, 0x01, 0xfd, 0x00, 0x04, 0x00, // v128.load [src]
    0xfd, laneOp, 0x01, // i32x4.add (0xae 0x01) or i32x4.sub (0xb1 0x01)
    0xfd, 0x0b, 0x04, 0x00, // v128.store [dst]
    0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, // dst += 16
    0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, // src += 16
    0x20, 0x02, 0x41, 0x10, 0x6b, 0x22, 0x02, // len -= 16 (tee)
    0x0d, 0x00, // br_if loop (len != 0)
    0x0b, // end loop
    0x0b, // end function
  ];
  return [code.length, ...code];
}

function wasmSection(id: number, body: number[]): number[] {
  return [id, body.length, ...body]; // every section here is under 128 bytes: one-byte LEB128 sizes
}

const WASM_ADDER_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
  ...wasmSection(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]), // type 0: (i32, i32, i32) -> ()
  ...wasmSection(3, [0x02, 0x00, 0x00]), // two functions of type 0
  ...wasmSection(5, [0x01, 0x00, 0x01]), // one memory, min 1 page (64 KiB = 2 chunks)
  ...wasmSection(7, [
    0x03,
    0x03, 0x61, 0x64, 0x64, 0x00, 0x00, // "add" -> func 0
    0x03, 0x73, 0x75, 0x62, 0x00, 0x01, // "sub" -> func 1
    0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, // "memory" -> memory 0
  ]),
  ...wasmSection(10, [0x02, ...wasmKernelBody(0xae), ...wasmKernelBody(0xb1)]),
]);

interface WasmAdder {
  readonly memory: Uint8Array;
  readonly add: (dst: number, src: number, len: number) => void;
  readonly sub: (dst: number, src: number, len: number) => void;
}

/** The slice of the WebAssembly JS API used here (the project compiles without the DOM lib, which declares it). */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}

let wasmAdder: WasmAdder | null | undefined;

/** The SIMD adder, instantiated on first use; null where WebAssembly or its SIMD proposal is unavailable. */
function getWasmAdder(): WasmAdder | null {
  if (wasmAdder !== undefined) return wasmAdder;
  wasmAdder = null;
  const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  try {
    if (wasm !== undefined && wasm.validate(WASM_ADDER_MODULE)) {
      const { exports } = new wasm.Instance(new wasm.Module(WASM_ADDER_MODULE), {});
      const memory = exports['memory'] as { readonly buffer: ArrayBuffer };
      wasmAdder = { memory: new Uint8Array(memory.buffer), add: exports['add'] as WasmAdder['add'], sub: exports['sub'] as WasmAdder['sub'] };
    }
  } catch {
    wasmAdder = null;
  }
  return wasmAdder;
}

/** The adder applyMasks uses by default on this host: 'wasm-simd' where WebAssembly SIMD is available, else 'js'. */
export function defaultMaskAdder(): MaskAdder {
  return getWasmAdder() === null ? 'js' : 'wasm-simd';
}

function applyWithWasm(wasm: WasmAdder, out: Uint32Array, plus: readonly Keystream[], minus: readonly Keystream[]): void {
  const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  const { memory, add, sub } = wasm;
  for (let start = 0; start < outBytes.length; start += CHUNK_BYTES) {
    const bytes = Math.min(CHUNK_BYTES, outBytes.length - start);
    // The kernel works in 16-byte lane groups; the few padding words past `bytes` are scratch, never copied back.
    const padded = (bytes + 15) & ~15;
    memory.set(outBytes.subarray(start, start + bytes), ACC_OFFSET);
    for (const stream of plus) {
      memory.set(stream.next(bytes), KEYSTREAM_OFFSET);
      add(ACC_OFFSET, KEYSTREAM_OFFSET, padded);
    }
    for (const stream of minus) {
      memory.set(stream.next(bytes), KEYSTREAM_OFFSET);
      sub(ACC_OFFSET, KEYSTREAM_OFFSET, padded);
    }
    outBytes.set(memory.subarray(ACC_OFFSET, ACC_OFFSET + bytes), start);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Portable JS adder: Int32Array views, four keys fused per pass over the output slice.

function add1(o: Int32Array, base: number, n: number, a: Int32Array): void {
  for (let i = 0; i < n; i++) o[base + i] = (o[base + i]! + a[i]!) | 0;
}
function add4(o: Int32Array, base: number, n: number, a: Int32Array, b: Int32Array, c: Int32Array, e: Int32Array): void {
  for (let i = 0; i < n; i++) o[base + i] = (o[base + i]! + a[i]! + b[i]! + c[i]! + e[i]!) | 0;
}
function sub1(o: Int32Array, base: number, n: number, a: Int32Array): void {
  for (let i = 0; i < n; i++) o[base + i] = (o[base + i]! - a[i]!) | 0;
}
function sub4(o: Int32Array, base: number, n: number, a: Int32Array, b: Int32Array, c: Int32Array, e: Int32Array): void {
  for (let i = 0; i < n; i++) o[base + i] = (o[base + i]! - a[i]! - b[i]! - c[i]! - e[i]!) | 0;
}

function applyWithJs(out: Uint32Array, plus: readonly Keystream[], minus: readonly Keystream[]): void {
  const o = new Int32Array(out.buffer, out.byteOffset, out.length);
  // Aligned copies for keystream chunks whose byteOffset is not a multiple of 4 (an Int32Array view needs one).
  const scratch = Array.from({ length: 4 }, () => new Int32Array(0));
  const words = (stream: Keystream, n: number, slot: number): Int32Array => {
    const chunk = stream.next(n * 4);
    if (chunk.byteOffset % 4 === 0) return new Int32Array(chunk.buffer, chunk.byteOffset, n);
    if (scratch[slot]!.length < CHUNK_WORDS) scratch[slot] = new Int32Array(CHUNK_WORDS);
    new Uint8Array(scratch[slot]!.buffer).set(chunk);
    return scratch[slot]!;
  };
  for (let base = 0; base < out.length; base += CHUNK_WORDS) {
    const n = Math.min(CHUNK_WORDS, out.length - base);
    for (const [streams, sign] of [[plus, 1], [minus, -1]] as const) {
      let t = 0;
      for (; t + 4 <= streams.length; t += 4) {
        const [a, b, c, e] = [0, 1, 2, 3].map((j) => words(streams[t + j]!, n, j)) as [Int32Array, Int32Array, Int32Array, Int32Array];
        if (sign === 1) add4(o, base, n, a, b, c, e);
        else sub4(o, base, n, a, b, c, e);
      }
      for (; t < streams.length; t++) {
        const a = words(streams[t]!, n, 0);
        if (sign === 1) add1(o, base, n, a);
        else sub1(o, base, n, a);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------

/**
 * out[i] += Σ_t sign_t · word_i(PRG(key_t)) mod 2^32, where word_i is the i-th little-endian uint32 of the cipher
 * keystream (all-zero IV / nonce, counter from 0): each key is used for one vector only, so the zero IV never repeats
 * a keystream. In place; `out` may be a view. Throws INVALID_ARGUMENT on a key that is not 32 bytes or a sign other
 * than ±1. `adder` is for tests and benchmarks; both give identical results.
 */
export function applyMasks(out: Uint32Array, terms: readonly MaskTerm[], cipher: MaskCipher = 'aes-256-ctr', adder: MaskAdder = defaultMaskAdder()): void {
  requireCipher(cipher);
  for (let t = 0; t < terms.length; t++) {
    requireKey(terms[t]!.key, `mask key ${t}`);
    const sign = terms[t]!.sign;
    if (sign !== 1 && sign !== -1) throw new CohortError('INVALID_ARGUMENT', `mask term ${t} sign must be 1 or -1, got ${String(sign)}`);
  }
  const wasm = adder === 'wasm-simd' ? getWasmAdder() : null;
  if (adder === 'wasm-simd' && wasm === null) throw new CohortError('INVALID_ARGUMENT', 'WebAssembly SIMD is not available on this host');
  if (adder !== 'wasm-simd' && adder !== 'js') throw new CohortError('INVALID_ARGUMENT', `mask adder must be 'wasm-simd' or 'js', got ${String(adder)}`);
  if (out.length === 0 || terms.length === 0) return;
  const plus: Keystream[] = [];
  const minus: Keystream[] = [];
  for (const term of terms) (term.sign === 1 ? plus : minus).push(new Keystream(term.key, cipher));
  if (wasm !== null) applyWithWasm(wasm, out, plus, minus);
  else applyWithJs(out, plus, minus);
}

/** Raw keystream words (tests, benchmarks): the same words applyMasks adds for one key. */
export function keystreamWords(key: Uint8Array, length: number, cipher: MaskCipher = 'aes-256-ctr'): Uint32Array {
  requireCipher(cipher);
  requireKey(key, 'mask key');
  requireWordCount(length, 'keystream length');
  const out = new Uint32Array(length);
  const outBytes = new Uint8Array(out.buffer);
  const stream = new Keystream(key, cipher);
  for (let start = 0; start < outBytes.length; start += CHUNK_BYTES) {
    outBytes.set(stream.next(Math.min(CHUNK_BYTES, outBytes.length - start)), start);
  }
  return out;
}

/** Native baseline for benchmarks: generates (but discards) `words` keystream words per key, chunked exactly as applyMasks does. */
export function generateKeystreamOnly(keys: readonly Uint8Array[], words: number, cipher: MaskCipher = 'aes-256-ctr'): void {
  requireCipher(cipher);
  requireWordCount(words, 'keystream length');
  keys.forEach((key, t) => requireKey(key, `mask key ${t}`));
  const streams = keys.map((key) => new Keystream(key, cipher));
  for (let start = 0; start < words * 4; start += CHUNK_BYTES) {
    const bytes = Math.min(CHUNK_BYTES, words * 4 - start);
    for (const stream of streams) stream.next(bytes);
  }
}
