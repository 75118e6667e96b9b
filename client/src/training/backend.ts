/**
 * TF.js backend selection for the client (DESIGN §8): TensorFlow with a GPU, TensorFlow on the CPU, WASM, then
 * the pure-JS cpu backend. tfjs-node and tfjs-node-gpu are optional and never dependencies: they are imported
 * through a variable specifier so the build does not need them, and a failed import just moves down the list.
 * The TF.js engine is global, so the choice is made once per process (worker thread).
 */
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { CohortError } from '../../../shared/src/core/errors.js';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

/** Our names for the backends, in preference order. */
export const BACKEND_NAMES = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;

/** A TF.js backend as the client names it. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The backend in use and how it was chosen. */
export interface BackendInfo {
  readonly name: BackendName;
  /** TF.js's own backend id ('tensorflow', 'wasm', 'cpu'). */
  readonly tfBackend: string;
  /** One line for logs and capability reports, e.g. "wasm (SIMD, 1 thread)". */
  readonly detail: string;
  /** Backends tried before this one and why each was passed over, in order. */
  readonly skipped: readonly { readonly backend: BackendName; readonly reason: string }[];
}

type Attempt = { ok: true; detail: string } | { ok: false; reason: string };

let selection: { preference: 'auto' | BackendName; promise: Promise<BackendInfo> } | null = null;
let wasmPrepared = false;

/**
 * Chooses and initialises the backend once per process; later calls return the same choice. 'auto' walks the
 * preference order; a named backend must work or the call fails with FAILED_PRECONDITION naming it. Asking for a
 * different named backend after one was chosen also fails: models and weights live on the first.
 */
export async function selectBackend(preference: 'auto' | BackendName = 'auto', log: (line: string) => void = defaultLog): Promise<BackendInfo> {
  if (preference !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(preference)) {
    throw new CohortError('INVALID_ARGUMENT', `unknown backend "${String(preference)}"; known: auto, ${BACKEND_NAMES.join(', ')}`);
  }
  if (selection === null) {
    const promise = choose(preference, log);
    selection = { preference, promise };
    // A failed choice (e.g. a forced backend that is missing) may be retried with another preference.
    promise.catch(() => {
      if (selection?.promise === promise) selection = null;
    });
    return promise;
  }
  const info = await selection.promise;
  if (preference !== 'auto' && preference !== info.name) {
    throw new CohortError('FAILED_PRECONDITION', `backend "${preference}" requested, but this process already runs on "${info.name}"`);
  }
  return info;
}

/**
 * Points the wasm backend at its own .wasm files and registers the kernels it lacks for training. Must run before
 * the wasm backend initialises; idempotent.
 */
export function prepareWasm(): void {
  if (wasmPrepared) return;
  const wasmFile = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
  setWasmPaths(`${dirname(wasmFile)}/`);
  registerWasmTrainingKernels();
  wasmPrepared = true;
}

async function choose(preference: 'auto' | BackendName, log: (line: string) => void): Promise<BackendInfo> {
  const order: readonly BackendName[] = preference === 'auto' ? BACKEND_NAMES : [preference];
  const skipped: { backend: BackendName; reason: string }[] = [];
  for (const name of order) {
    const attempt = await tryBackend(name);
    if (attempt.ok) {
      const info: BackendInfo = { name, tfBackend: tf.getBackend(), detail: attempt.detail, skipped };
      const passed = skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
      log(`training backend: ${attempt.detail}${passed === '' ? '' : ` (skipped ${passed})`}`);
      return info;
    }
    skipped.push({ backend: name, reason: attempt.reason });
  }
  if (preference !== 'auto') {
    throw new CohortError('FAILED_PRECONDITION', `backend "${preference}" is not available: ${skipped[0]?.reason ?? 'unknown reason'}`, { backend: preference });
  }
  throw new CohortError('FAILED_PRECONDITION', `no TF.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`);
}

async function tryBackend(name: BackendName): Promise<Attempt> {
  switch (name) {
    case 'tensorflow-gpu':
      return tryTensorflow('@tensorflow/tfjs-node-gpu', true);
    case 'tensorflow':
      return tryTensorflow('@tensorflow/tfjs-node', false);
    case 'wasm':
      return tryWasm();
    case 'cpu':
      return (await setBackendSafely('cpu')) ?? { ok: true, detail: 'cpu (pure JavaScript, slow)' };
  }
}

async function tryTensorflow(pkg: string, needGpu: boolean): Promise<Attempt> {
  let importError: string | null = null;
  try {
    // A variable specifier keeps tsc and bundlers from requiring the optional package.
    const specifier: string = pkg;
    await import(specifier);
  } catch (error) {
    importError = firstLine(error);
  }
  // tfjs-node-gpu also registers 'tensorflow' and runs on the CPU without a GPU, so the CPU step can use it when
  // tfjs-node itself is absent.
  if (tf.findBackendFactory('tensorflow') == null) {
    return { ok: false, reason: importError === null ? `${pkg} loaded but registered no "tensorflow" backend with this @tensorflow/tfjs (a second copy of tfjs-core?)` : `${pkg} not available (${importError})` };
  }
  const failed = await setBackendSafely('tensorflow');
  if (failed !== null) return failed;
  const usingGpu = (tf.backend() as unknown as { isUsingGpuDevice?: unknown }).isUsingGpuDevice === true;
  if (needGpu && !usingGpu) return { ok: false, reason: importError === null ? `${pkg} loaded but sees no GPU device` : `${pkg} not available (${importError})` };
  return { ok: true, detail: usingGpu ? 'tensorflow (libtensorflow, GPU)' : 'tensorflow (libtensorflow, CPU)' };
}

async function tryWasm(): Promise<Attempt> {
  try {
    prepareWasm();
  } catch (error) {
    return { ok: false, reason: `wasm files not usable (${firstLine(error)})` };
  }
  const failed = await setBackendSafely('wasm');
  if (failed !== null) return failed;
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = getThreadsCount();
  return { ok: true, detail: `wasm (${simd === true ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'})` };
}

/** Sets the TF.js backend; null on success, a failed Attempt with the reason otherwise. */
async function setBackendSafely(tfName: string): Promise<Attempt | null> {
  try {
    if (await tf.setBackend(tfName)) {
      await tf.ready();
      return null;
    }
    return { ok: false, reason: `TF.js could not initialise the "${tfName}" backend` };
  } catch (error) {
    return { ok: false, reason: `TF.js could not initialise the "${tfName}" backend (${firstLine(error)})` };
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.trim();
}

function defaultLog(line: string): void {
  // stderr: stdout belongs to the command's output (e.g. `cohort simulate --json`).
  process.stderr.write(`${line}\n`);
}
