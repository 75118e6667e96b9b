/**
 * Attacks one attacker mounts alone on its own honest update g (trained weights minus global weights, model units).
 * Pure: typed arrays in, a new typed array out; randomness from an injected Rng.
 */
import { requireConfig } from '../../../shared/src/core/errors.js';
import type { Rng } from '../../../shared/src/core/rng/rng.js';
import { normal } from '../../../shared/src/core/rng/rng.js';

/** Sign flip: −s·g (s = 1 sends the exact opposite of what the attacker's data asks for). */
export function signFlipUpdate(g: Float32Array, scale = 1): Float32Array {
  requireConfig(Number.isFinite(scale) && scale > 0, 'scale', `must be a number > 0, got ${scale}`);
  const out = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) out[i] = -scale * g[i]!;
  return out;
}

/**
 * Scaling, the boosting step of model replacement (Bagdasaryan et al., "How To Backdoor Federated Learning",
 * AISTATS 2020): γ·g. With γ = n/η (n clients averaged, η the server learning rate) one attacker's update replaces the
 * global model's step by its own.
 */
export function scaleUpdate(g: Float32Array, gamma: number): Float32Array {
  requireConfig(Number.isFinite(gamma) && gamma > 0, 'gamma', `must be a number > 0, got ${gamma}`);
  const out = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) out[i] = gamma * g[i]!;
  return out;
}

/**
 * Gaussian attack (Blanchard et al. 2017, §6): the update is replaced by noise N(0, σ²·I) of the same length,
 * independent of the data. σ in model units per coordinate.
 */
export function gaussianUpdate(length: number, sigma: number, rng: Rng): Float32Array {
  requireConfig(Number.isInteger(length) && length >= 0, 'length', `must be a non-negative integer, got ${length}`);
  requireConfig(Number.isFinite(sigma) && sigma > 0, 'sigma', `must be a number > 0, got ${sigma}`);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = sigma * normal(rng);
  return out;
}
