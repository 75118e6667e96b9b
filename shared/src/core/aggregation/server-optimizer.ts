/**
 * Server optimizers (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2). The round's aggregate
 * Δ_t (weighted mean client update, model units) is treated as a pseudo-gradient pointing downhill, so every rule
 * moves the weights along +Δ:
 *   fedavg   w ← w + η·Δ
 *   fedavgm  v ← μ·v + Δ;                                  w ← w + η·v
 *   fedadam  m ← β1·m + (1−β1)·Δ;  v ← β2·v + (1−β2)·Δ²;    w ← w + η·m / (√v + τ)
 *   fedyogi  m as Adam;            v ← v − (1−β2)·Δ²·sign(v − Δ²)
 * As in the paper (and Flower), there is no Adam bias correction. State is created on the first step; m and the
 * momentum start at 0, the second moment at v₋₁ = τ² (the paper requires v₋₁ ≥ τ²; Flower starts at 0 — the
 * difference decays as β2^t·τ²). State buffers are float32, and each step reads back the stored float32 values
 * before using them, so a coordinator restarted from persisted state computes exactly what it would have.
 *
 * Defaults (SERVER_OPTIMIZER_DEFAULTS), and why:
 *   fedavg   η = 1: plain FedAvg, the new model is the weighted mean of the client models.
 *   fedavgm  η = 1, μ = 0.9: Reddi et al. fix server momentum at 0.9 for FedAvgM (as Hsu et al. 2019 do);
 *            Flower's μ = 0 would make it FedAvg. Note the steady-state step is η/(1−μ)·Δ: tune η down for
 *            aggressive client learning rates.
 *   fedadam  η = 0.1, β1 = 0.9, β2 = 0.99, τ = 1e-3: η, β1, β2 as Flower's FedAdam and the paper; τ as Flower's
 *            FedYogi and the paper's tuning grid centre. Flower's FedAdam uses τ = 1e-9, which turns the first step
 *            into ≈ η·sign(Δ) on every coordinate however tiny (noise-only) its Δ; 1e-3 damps those.
 *   fedyogi  η = 0.01, β1 = 0.9, β2 = 0.99, τ = 1e-3: Flower's FedYogi defaults.
 */
import { CohortError, requireConfig } from '../errors.js';
import { validateUpdateVector } from '../tensor/ops.js';

/** Server optimizer names, as in config files and ServerOptimizerSpec. */
export type ServerOptimizerKind = 'fedavg' | 'fedavgm' | 'fedadam' | 'fedyogi';

/** All kinds, in documentation order. */
export const SERVER_OPTIMIZER_KINDS: readonly ServerOptimizerKind[] = ['fedavg', 'fedavgm', 'fedadam', 'fedyogi'];

/** FedAvg: w ← w + η·Δ. */
export interface FedAvgServerOptions {
  readonly kind: 'fedavg';
  /** Server learning rate η (> 0, dimensionless); default 1. */
  readonly learningRate?: number;
}

/** FedAvgM: server momentum over the aggregates. */
export interface FedAvgMServerOptions {
  readonly kind: 'fedavgm';
  /** Server learning rate η (> 0); default 1. */
  readonly learningRate?: number;
  /** Momentum μ in [0, 1); default 0.9. */
  readonly momentum?: number;
}

/** FedAdam / FedYogi: adaptive per-coordinate step sizes. */
export interface AdaptiveServerOptions {
  readonly kind: 'fedadam' | 'fedyogi';
  /** Server learning rate η (> 0); default 0.1 (fedadam) / 0.01 (fedyogi). */
  readonly learningRate?: number;
  /** First-moment decay β1 in [0, 1); default 0.9. */
  readonly beta1?: number;
  /** Second-moment decay β2 in [0, 1); default 0.99. */
  readonly beta2?: number;
  /** Adaptivity τ (> 0, model units): floor of the per-coordinate denominator √v + τ; default 1e-3. */
  readonly tau?: number;
}

/** Server optimizer as configured by an operator; omitted fields take SERVER_OPTIMIZER_DEFAULTS. */
export type ServerOptimizerOptions = FedAvgServerOptions | FedAvgMServerOptions | AdaptiveServerOptions;

/** Fully resolved, validated server optimizer settings. */
export type ServerOptimizerConfig =
  | { readonly kind: 'fedavg'; readonly learningRate: number }
  | { readonly kind: 'fedavgm'; readonly learningRate: number; readonly momentum: number }
  | { readonly kind: 'fedadam' | 'fedyogi'; readonly learningRate: number; readonly beta1: number; readonly beta2: number; readonly tau: number };

/** Defaults per kind (see the module comment for where each comes from). */
export const SERVER_OPTIMIZER_DEFAULTS = {
  fedavg: { learningRate: 1 },
  fedavgm: { learningRate: 1, momentum: 0.9 },
  fedadam: { learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
  fedyogi: { learningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
} as const satisfies Record<ServerOptimizerKind, Record<string, number>>;

/** Names of the float32 state buffers each kind keeps, in their canonical (serialisation) order. */
export const SERVER_OPTIMIZER_BUFFERS: Readonly<Record<ServerOptimizerKind, readonly string[]>> = {
  fedavg: [],
  fedavgm: ['velocity'],
  fedadam: ['m', 'v'],
  fedyogi: ['m', 'v'],
};

/**
 * Server optimizer state carried from round to round and persisted (see server-optimizer-codec.ts) so a restarted
 * coordinator resumes with the same momentum. Buffers are length d, model units (v: model units squared).
 */
export interface ServerOptimizerState {
  readonly kind: ServerOptimizerKind;
  /** Server steps applied so far (committed rounds under this optimizer). */
  readonly step: number;
  readonly buffers: Readonly<Record<string, Float32Array>>;
}

/** A configured server optimizer. */
export interface ServerOptimizer {
  readonly config: ServerOptimizerConfig;
  /**
   * One server step with the round's aggregate delta (model units). Returns new weights and a new state; never
   * mutates `weights`, `delta` or `state`, so the caller still holds the previous model if its commit fails.
   * `state` null = first step. Throws FAILED_PRECONDITION when the state belongs to another kind or dimension.
   */
  step(weights: Float32Array, delta: Float32Array, state: ServerOptimizerState | null): { weights: Float32Array; state: ServerOptimizerState };
}

const OPTION_FIELDS: Readonly<Record<ServerOptimizerKind, readonly string[]>> = {
  fedavg: ['learningRate'],
  fedavgm: ['learningRate', 'momentum'],
  fedadam: ['learningRate', 'beta1', 'beta2', 'tau'],
  fedyogi: ['learningRate', 'beta1', 'beta2', 'tau'],
};

function isKind(value: unknown): value is ServerOptimizerKind {
  return typeof value === 'string' && (SERVER_OPTIMIZER_KINDS as readonly string[]).includes(value);
}

/**
 * Validates options and fills defaults. Throws CONFIG_INVALID naming the field as `<prefix>.<field>`
 * (η > 0, 0 ≤ μ < 1, 0 ≤ β < 1, τ > 0, all finite; no fields the kind does not use).
 */
export function resolveServerOptimizerOptions(options: ServerOptimizerOptions, prefix = 'serverOptimizer'): ServerOptimizerConfig {
  requireConfig(typeof options === 'object' && options !== null, prefix, 'must be an object with a kind');
  const kind: unknown = options.kind;
  requireConfig(isKind(kind), `${prefix}.kind`, `unknown server optimizer ${JSON.stringify(kind)}; known: ${SERVER_OPTIMIZER_KINDS.join(', ')}`);
  const allowed = OPTION_FIELDS[kind];
  for (const [key, value] of Object.entries(options)) {
    if (key === 'kind' || value === undefined) continue;
    requireConfig(allowed.includes(key), `${prefix}.${key}`, `not an option of ${kind} (its options: ${allowed.join(', ')})`);
  }
  const given = options as unknown as Record<string, unknown>;
  const defaults: Readonly<Record<string, number>> = SERVER_OPTIMIZER_DEFAULTS[kind];
  const read = (field: string, ok: (x: number) => boolean, requirement: string): number => {
    const raw = given[field];
    const value = raw === undefined ? defaults[field]! : raw;
    requireConfig(typeof value === 'number' && Number.isFinite(value) && ok(value), `${prefix}.${field}`, `must be ${requirement}, got ${String(value)}`);
    return value;
  };
  const learningRate = read('learningRate', (x) => x > 0, 'a finite number > 0');
  switch (kind) {
    case 'fedavg':
      return { kind, learningRate };
    case 'fedavgm':
      return { kind, learningRate, momentum: read('momentum', (x) => x >= 0 && x < 1, 'in [0, 1)') };
    case 'fedadam':
    case 'fedyogi':
      return {
        kind,
        learningRate,
        beta1: read('beta1', (x) => x >= 0 && x < 1, 'in [0, 1)'),
        beta2: read('beta2', (x) => x >= 0 && x < 1, 'in [0, 1)'),
        tau: read('tau', (x) => x > 0, 'a finite number > 0'),
      };
  }
}

/** Builds a server optimizer from validated options (throws CONFIG_INVALID naming the field). */
export function createServerOptimizer(options: ServerOptimizerOptions): ServerOptimizer {
  const config = resolveServerOptimizerOptions(options);
  return {
    config,
    step(weights, delta, state) {
      if (delta.length !== weights.length) {
        throw new CohortError('UPDATE_WRONG_LENGTH', `${config.kind}: aggregate has ${delta.length} elements, model has ${weights.length}`, {
          expected: weights.length,
          actual: delta.length,
        });
      }
      const previous = state ?? initialState(config, weights.length);
      checkServerOptimizerState(previous, config.kind, weights.length);
      const next = weights.slice();
      const buffers = stepInto(config, next, delta, previous.buffers);
      return { weights: next, state: { kind: config.kind, step: previous.step + 1, buffers } };
    },
  };
}

function initialState(config: ServerOptimizerConfig, dimension: number): ServerOptimizerState {
  switch (config.kind) {
    case 'fedavg':
      return { kind: config.kind, step: 0, buffers: {} };
    case 'fedavgm':
      return { kind: config.kind, step: 0, buffers: { velocity: new Float32Array(dimension) } };
    case 'fedadam':
    case 'fedyogi':
      return { kind: config.kind, step: 0, buffers: { m: new Float32Array(dimension), v: new Float32Array(dimension).fill(config.tau * config.tau) } };
  }
}

/**
 * Throws FAILED_PRECONDITION unless `state` is a well-formed state of `kind` over d coordinates. The coordinator can
 * call it on a loaded state at start-up, so a mismatch surfaces before a round runs rather than at its commit.
 */
export function checkServerOptimizerState(state: ServerOptimizerState, kind: ServerOptimizerKind, dimension: number): void {
  if (state.kind !== kind) {
    throw new CohortError('FAILED_PRECONDITION', `server optimizer state is for ${String(state.kind)} but the federation uses ${kind}; start it from a fresh state`, {
      stateKind: state.kind,
      kind,
    });
  }
  if (!Number.isSafeInteger(state.step) || state.step < 0) {
    throw new CohortError('FAILED_PRECONDITION', `server optimizer state step must be a non-negative integer, got ${state.step}`);
  }
  const names = SERVER_OPTIMIZER_BUFFERS[kind];
  const present = Object.keys(state.buffers);
  for (const name of present) {
    if (!names.includes(name)) throw new CohortError('FAILED_PRECONDITION', `server optimizer state has unexpected buffer "${name}" for ${kind}`);
  }
  for (const name of names) {
    const buffer = state.buffers[name];
    if (!(buffer instanceof Float32Array)) throw new CohortError('FAILED_PRECONDITION', `server optimizer state lacks buffer "${name}" needed by ${kind}`);
    if (buffer.length !== dimension) {
      throw new CohortError('FAILED_PRECONDITION', `server optimizer buffer "${name}" has ${buffer.length} elements, model has ${dimension}`, {
        buffer: name,
        expected: dimension,
        actual: buffer.length,
      });
    }
  }
}

/** Applies one step to `w` in place; returns fresh buffers (the previous ones are left untouched). */
function stepInto(config: ServerOptimizerConfig, w: Float32Array, delta: Float32Array, previous: Readonly<Record<string, Float32Array>>): Record<string, Float32Array> {
  const n = w.length;
  const lr = config.learningRate;
  switch (config.kind) {
    case 'fedavg': {
      for (let i = 0; i < n; i++) w[i] = w[i]! + lr * delta[i]!;
      return {};
    }
    case 'fedavgm': {
      const mu = config.momentum;
      const velocity = previous['velocity']!.slice();
      for (let i = 0; i < n; i++) {
        velocity[i] = mu * velocity[i]! + delta[i]!;
        w[i] = w[i]! + lr * velocity[i]!;
      }
      return { velocity };
    }
    case 'fedadam':
    case 'fedyogi': {
      const { beta1, beta2, tau } = config;
      const yogi = config.kind === 'fedyogi';
      const m = previous['m']!.slice();
      const v = previous['v']!.slice();
      for (let i = 0; i < n; i++) {
        const d = delta[i]!;
        const d2 = d * d;
        m[i] = beta1 * m[i]! + (1 - beta1) * d;
        const vi = v[i]!;
        // Yogi changes v by ±(1−β2)·Δ², never by a fraction of v itself: after a burst of large deltas v shrinks
        // slowly, so the effective step η/(√v + τ) cannot jump up the way Adam's does (Zaheer et al. 2018).
        v[i] = yogi ? vi - (1 - beta2) * d2 * Math.sign(vi - d2) : beta2 * vi + (1 - beta2) * d2;
        w[i] = w[i]! + (lr * m[i]!) / (Math.sqrt(v[i]!) + tau);
      }
      return { m, v };
    }
  }
}

/** Checks an aggregate before it moves the model: length d and every element finite (CohortError otherwise). */
export function validateAggregateDelta(delta: Float32Array, dimension: number): void {
  try {
    validateUpdateVector(delta, dimension);
  } catch (error) {
    if (error instanceof CohortError) throw new CohortError(error.code, `aggregate: ${error.message}`, error.details ? { ...error.details } : undefined);
    throw error;
  }
}
