/**
 * From an attack's name and parameters to the update an attacker sends: one attacker alone (update attacks, the
 * backdoor's boost), or the colluding attackers together. Pure; randomness seeded per attacker and round.
 */
import { CohortError } from '../../../shared/src/core/errors.js';
import { createSeededRng, deriveSeed } from '../../../shared/src/core/rng/rng.js';
import { alieUpdate, ipmUpdate, minMaxUpdate, minSumUpdate } from './colluding.js';
import type { Perturbation } from './colluding.js';
import type { AttackName, AttackParamValue } from './spec.js';
import { gaussianUpdate, scaleUpdate, signFlipUpdate } from './update-attacks.js';

type Params = Readonly<Record<string, AttackParamValue>>;

function num(params: Params, key: string): number | undefined {
  const value = params[key];
  return typeof value === 'number' ? value : undefined;
}

/**
 * What one attacker does to its own honest update, or null when the attack leaves updates alone (label flip, a
 * backdoor without boost, and the colluding attacks, which need the others' updates: see colludingUpdate).
 */
export function soloAttack(name: AttackName, params: Params, seed: number, clientIndex: number): ((honest: Float32Array, roundNumber: number) => Float32Array) | null {
  switch (name) {
    case 'sign-flip':
      return (g) => signFlipUpdate(g, num(params, 'scale') ?? 1);
    case 'scaling': {
      const gamma = num(params, 'gamma');
      if (gamma === undefined) throw new CohortError('INVALID_ARGUMENT', 'scaling needs its gamma resolved (resolveAttackParams)');
      return (g) => scaleUpdate(g, gamma);
    }
    case 'gaussian':
      return (g, roundNumber) => gaussianUpdate(g.length, num(params, 'sigma') ?? 0.1, createSeededRng(deriveSeed(seed, `attack/gaussian/${clientIndex}/${roundNumber}`)));
    case 'backdoor': {
      const boost = num(params, 'boost') ?? 1;
      return boost === 1 ? null : (g) => scaleUpdate(g, boost);
    }
    default:
      return null;
  }
}

/** The round as the colluding attackers see it. */
export interface CollusionRound {
  /** Clients selected for the round (n). */
  readonly n: number;
  /** Attackers among them (f). */
  readonly f: number;
}

/** The one update every colluding attacker sends, from their honest updates (in a fixed order: results replay). */
export function colludingUpdate(name: AttackName, params: Params, honest: readonly Float32Array[], round: CollusionRound): Float32Array {
  switch (name) {
    case 'alie': {
      const z = num(params, 'z');
      // Fewer than two clients leaves z_max undefined; the std of a single update is 0 anyway.
      return alieUpdate(honest, { n: Math.max(2, round.n), f: Math.min(round.f, Math.max(2, round.n)), ...(z === undefined ? {} : { z }) });
    }
    case 'ipm':
      return ipmUpdate(honest, num(params, 'epsilon') ?? 0.1);
    case 'min-max':
    case 'min-sum': {
      const options = { perturbation: (params['perturbation'] ?? 'std') as Perturbation, gamma0: num(params, 'gamma0') ?? 10 };
      return (name === 'min-max' ? minMaxUpdate(honest, options) : minSumUpdate(honest, options)).update;
    }
    default:
      throw new CohortError('INVALID_ARGUMENT', `${name} is not a colluding attack`);
  }
}
