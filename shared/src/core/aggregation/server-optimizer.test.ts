import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../errors.js';
import { isCohortError } from '../errors.js';
import { createSeededRng, normal } from '../rng/index.js';
import type { ServerOptimizerOptions, ServerOptimizerState } from './server-optimizer.js';
import { createServerOptimizer, resolveServerOptimizerOptions, SERVER_OPTIMIZER_DEFAULTS } from './server-optimizer.js';
import { decodeServerOptimizerState, encodeServerOptimizerState } from './server-optimizer-codec.js';

const f32 = (...xs: number[]): Float32Array => new Float32Array(xs);

function expectClose(actual: ArrayLike<number>, expected: readonly number[], relative = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = relative * Math.max(1, Math.abs(expected[i]!));
    expect(Math.abs(actual[i]! - expected[i]!), `element ${i}: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance);
  }
}

function expectConfigError(fn: () => unknown, field: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(isCohortError(caught, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(caught)}`).toBe(true);
  const error = caught as Error & { details: Record<string, unknown> };
  expect(error.details['field']).toBe(field);
  expect(error.message.startsWith(`${field}: `)).toBe(true);
  expect(error.message).toMatch(message);
}

function expectCode(fn: () => unknown, code: ErrorCode, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(isCohortError(caught, code), `expected ${code}, got ${String(caught)}`).toBe(true);
  expect((caught as Error).message).toMatch(message);
}

/** Runs the optimizer over `deltas`, returning the weights and state after each step. */
function run(options: ServerOptimizerOptions, w0: Float32Array, deltas: Float32Array[]): { weights: Float32Array; state: ServerOptimizerState }[] {
  const optimizer = createServerOptimizer(options);
  const out: { weights: Float32Array; state: ServerOptimizerState }[] = [];
  let weights = w0;
  let state: ServerOptimizerState | null = null;
  for (const delta of deltas) {
    const next = optimizer.step(weights, delta, state);
    out.push(next);
    weights = next.weights;
    state = next.state;
  }
  return out;
}

describe('FedAvg server step', () => {
  it('moves the weights by η·Δ and counts steps', () => {
    const [first, second] = run({ kind: 'fedavg', learningRate: 0.5 }, f32(1, 2), [f32(2, -4), f32(1, 1)]);
    expect([...first!.weights]).toEqual([2, 0]);
    expect([...second!.weights]).toEqual([2.5, 0.5]);
    expect(second!.state).toEqual({ kind: 'fedavg', step: 2, buffers: {} });
  });

  it('defaults to η = 1: the new model is the old one plus the mean update', () => {
    const [only] = run({ kind: 'fedavg' }, f32(1, 2), [f32(0.25, -0.5)]);
    expect([...only!.weights]).toEqual([1.25, 1.5]);
  });
});

describe('FedAvgM server step', () => {
  it('matches hand-computed momentum for 3 steps (η = 0.5, μ = 0.5)', () => {
    const steps = run({ kind: 'fedavgm', learningRate: 0.5, momentum: 0.5 }, f32(1, -2), [f32(0.5, 1), f32(-1, 2), f32(0.25, 0)]);
    // v1 = [0.5, 1];                      w1 = [1, −2] + 0.5·v1    = [1.25, −1.5]
    // v2 = 0.5·v1 + [−1, 2] = [−0.75, 2.5]; w2 = w1 + 0.5·v2       = [0.875, −0.25]
    // v3 = 0.5·v2 + [0.25, 0] = [−0.125, 1.25]; w3 = w2 + 0.5·v3   = [0.8125, 0.375]
    expect(steps.map((s) => [...s.weights])).toEqual([
      [1.25, -1.5],
      [0.875, -0.25],
      [0.8125, 0.375],
    ]);
    expect([...steps[2]!.state.buffers['velocity']!]).toEqual([-0.125, 1.25]);
    expect(steps[2]!.state.step).toBe(3);
  });
});

describe('FedAdam server step', () => {
  it('matches hand-computed values for 3 steps (η = 1, β1 = 0.5, β2 = 0.75, τ = 0.5, v₋₁ = τ²)', () => {
    const steps = run({ kind: 'fedadam', learningRate: 1, beta1: 0.5, beta2: 0.75, tau: 0.5 }, f32(0, 1, -1), [f32(2, -1, 0), f32(0.5, 1, 0), f32(-1, 0.25, 3)]);
    // Step 1: m = 0.5·0 + 0.5·Δ = [1, −0.5, 0]; v = 0.75·0.25 + 0.25·Δ² = [1.1875, 0.4375, 0.1875]
    //         w = w0 + m/(√v + 0.5) = [1/(1.089725+0.5), 1 − 0.5/(0.661438+0.5), −1]
    expectClose(steps[0]!.state.buffers['m']!, [1, -0.5, 0]);
    expectClose(steps[0]!.state.buffers['v']!, [1.1875, 0.4375, 0.1875]);
    expectClose(steps[0]!.weights, [0.6290397182775129, 0.5694991259569396, -1]);
    // Step 2: m = [0.75, 0.25, 0]; v = [0.953125, 0.578125, 0.140625]
    expectClose(steps[1]!.state.buffers['m']!, [0.75, 0.25, 0]);
    expectClose(steps[1]!.state.buffers['v']!, [0.953125, 0.578125, 0.140625]);
    expectClose(steps[1]!.weights, [1.1370730083984002, 0.7678574621758177, -1]);
    // Step 3: m = [−0.125, 0.25, 1.5]; v = [0.96484375, 0.44921875, 2.35546875]
    expectClose(steps[2]!.state.buffers['m']!, [-0.125, 0.25, 1.5]);
    expectClose(steps[2]!.state.buffers['v']!, [0.96484375, 0.44921875, 2.35546875]);
    expectClose(steps[2]!.weights, [1.0527425860431903, 0.9814892500004144, -0.26281001934171355]);
  });
});

describe('FedYogi server step', () => {
  it('matches hand-computed values for 3 steps, through both signs of v − Δ²', () => {
    const steps = run({ kind: 'fedyogi', learningRate: 1, beta1: 0.5, beta2: 0.75, tau: 0.5 }, f32(0, 1, -1), [f32(2, -1, 0), f32(0.5, 1, 0), f32(-1, 0.25, 3)]);
    // Step 1: v₋₁ = 0.25 < Δ² where Δ ≠ 0, so v grows by 0.25·Δ²: [1.25, 0.5, 0.25] (Δ = 0 leaves v alone).
    //         w = [1/(√1.25 + 0.5), 1 − 0.5/(√0.5 + 0.5), −1]
    expectClose(steps[0]!.state.buffers['v']!, [1.25, 0.5, 0.25]);
    expectClose(steps[0]!.weights, [0.6180339887498948, 0.5857864376269049, -1]);
    // Step 2: coordinate 0 has v = 1.25 > Δ² = 0.25, so v shrinks by 0.0625; coordinate 1 has v = 0.5 < 1, grows by 0.25.
    expectClose(steps[1]!.state.buffers['v']!, [1.1875, 0.75, 0.25]);
    expectClose(steps[1]!.weights, [1.0898137774580294, 0.7687991395191242, -1]);
    expectClose(steps[2]!.state.buffers['m']!, [-0.125, 0.25, 1.5]);
    expectClose(steps[2]!.state.buffers['v']!, [0.9375, 0.734375, 2.5]);
    expectClose(steps[2]!.weights, [1.0046781708122379, 0.9530349201901592, -0.27924077994387364]);
  });
});

describe('server optimizer state handling', () => {
  const kinds: ServerOptimizerOptions[] = [{ kind: 'fedavg' }, { kind: 'fedavgm' }, { kind: 'fedadam' }, { kind: 'fedyogi' }];

  it('never mutates the input weights, delta or state', () => {
    for (const options of kinds) {
      const optimizer = createServerOptimizer(options);
      const weights = f32(1, 2, 3);
      const delta = f32(0.1, -0.2, 0.3);
      const first = optimizer.step(weights, delta, null);
      const snapshot = Object.fromEntries(Object.entries(first.state.buffers).map(([k, v]) => [k, [...v]]));
      const second = optimizer.step(first.weights, delta, first.state);
      expect([...weights]).toEqual([...f32(1, 2, 3)]);
      expect([...delta]).toEqual([...f32(0.1, -0.2, 0.3)]);
      expect(Object.fromEntries(Object.entries(first.state.buffers).map(([k, v]) => [k, [...v]]))).toEqual(snapshot);
      expect(second.weights).not.toBe(first.weights);
    }
  });

  it('resumes from persisted state exactly as if it had never stopped (seeds 1..20)', () => {
    for (const options of kinds) {
      for (let seed = 1; seed <= 20; seed++) {
        const rng = createSeededRng(seed);
        const d = 16;
        const deltas = Array.from({ length: 6 }, () => Float32Array.from({ length: d }, () => normal(rng) * 0.1));
        const w0 = Float32Array.from({ length: d }, () => normal(rng));
        const uninterrupted = run(options, w0, deltas).at(-1)!;

        const optimizer = createServerOptimizer(options);
        let weights: Float32Array = w0;
        let state: ServerOptimizerState | null = null;
        for (const delta of deltas) {
          const next = optimizer.step(weights, delta, state);
          weights = next.weights;
          // A restart between every round: the state goes through its file format.
          state = decodeServerOptimizerState(encodeServerOptimizerState(next.state));
        }
        expect([...weights]).toEqual([...uninterrupted.weights]);
        expect(state!.step).toBe(6);
      }
    }
  });

  it('refuses state from another kind or another dimension, and a delta of the wrong length', () => {
    const adam = createServerOptimizer({ kind: 'fedadam' });
    const yogi = createServerOptimizer({ kind: 'fedyogi' });
    const { state } = adam.step(f32(0, 0), f32(1, 1), null);
    expectCode(() => yogi.step(f32(0, 0), f32(1, 1), state), 'FAILED_PRECONDITION', /state is for fedadam but the federation uses fedyogi/);
    expectCode(() => adam.step(f32(0, 0, 0), f32(1, 1, 1), state), 'FAILED_PRECONDITION', /buffer "m" has 2 elements, model has 3/);
    expectCode(() => adam.step(f32(0, 0), f32(1, 1), { kind: 'fedadam', step: 1, buffers: { m: f32(0, 0) } }), 'FAILED_PRECONDITION', /lacks buffer "v"/);
    expectCode(() => adam.step(f32(0, 0), f32(1), null), 'UPDATE_WRONG_LENGTH', /aggregate has 1 elements, model has 2/);
  });
});

describe('server optimizer options', () => {
  it('fills documented defaults', () => {
    expect(resolveServerOptimizerOptions({ kind: 'fedavg' })).toEqual({ kind: 'fedavg', learningRate: 1 });
    expect(resolveServerOptimizerOptions({ kind: 'fedavgm' })).toEqual({ kind: 'fedavgm', ...SERVER_OPTIMIZER_DEFAULTS.fedavgm });
    expect(resolveServerOptimizerOptions({ kind: 'fedadam' })).toEqual({ kind: 'fedadam', learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
    expect(resolveServerOptimizerOptions({ kind: 'fedyogi', tau: 0.01 })).toEqual({ kind: 'fedyogi', learningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 0.01 });
  });

  it('names the offending field', () => {
    expectConfigError(() => createServerOptimizer({ kind: 'fedavg', learningRate: 0 }), 'serverOptimizer.learningRate', /must be a finite number > 0, got 0/);
    expectConfigError(() => createServerOptimizer({ kind: 'fedadam', learningRate: Number.NaN }), 'serverOptimizer.learningRate', /got NaN/);
    expectConfigError(() => createServerOptimizer({ kind: 'fedavgm', momentum: 1 }), 'serverOptimizer.momentum', /in \[0, 1\), got 1/);
    expectConfigError(() => createServerOptimizer({ kind: 'fedavgm', momentum: -0.1 }), 'serverOptimizer.momentum', /in \[0, 1\)/);
    expectConfigError(() => createServerOptimizer({ kind: 'fedadam', beta1: 1 }), 'serverOptimizer.beta1', /in \[0, 1\)/);
    expectConfigError(() => createServerOptimizer({ kind: 'fedyogi', beta2: 1.5 }), 'serverOptimizer.beta2', /in \[0, 1\)/);
    expectConfigError(() => createServerOptimizer({ kind: 'fedyogi', tau: 0 }), 'serverOptimizer.tau', /> 0/);
    expectConfigError(() => createServerOptimizer({ kind: 'fedadam', tau: Infinity }), 'serverOptimizer.tau', /finite/);
    expectConfigError(
      () => createServerOptimizer({ kind: 'fedadam', momentum: 0.9 } as unknown as ServerOptimizerOptions),
      'serverOptimizer.momentum',
      /not an option of fedadam \(its options: learningRate, beta1, beta2, tau\)/,
    );
    expectConfigError(
      () => createServerOptimizer({ kind: 'sgd' } as unknown as ServerOptimizerOptions),
      'serverOptimizer.kind',
      /unknown server optimizer "sgd"; known: fedavg, fedavgm, fedadam, fedyogi/,
    );
    expectConfigError(() => createServerOptimizer({ kind: 'fedavg', learningRate: '1' } as unknown as ServerOptimizerOptions), 'serverOptimizer.learningRate', /got 1/);
  });
});
