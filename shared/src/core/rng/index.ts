export type { Rng } from './rng.js';
export { createSeededRng, deriveSeed, gamma, normal, permutation, shuffleInPlace, uniformInt } from './rng.js';
