/**
 * The attack library's catalogue and the `--attack NAME:FRACTION[:k=v,...]` syntax: which attacks exist, what they
 * take, and which clients are the attackers. Pure: no I/O; the attacker choice is seeded.
 */
import { CohortError } from '../../../shared/src/core/errors.js';
import { createSeededRng, deriveSeed, permutation } from '../../../shared/src/core/rng/rng.js';
import { PERTURBATIONS } from './colluding.js';

/** Attacks by name. */
export type AttackName = 'sign-flip' | 'scaling' | 'gaussian' | 'label-flip' | 'backdoor' | 'alie' | 'ipm' | 'min-max' | 'min-sum';

/**
 * update: each attacker alters its own honest update; colluding: the attackers pool their honest updates and all send
 * one crafted update; data: the attacker trains on poisoned data (the backdoor may also boost its update).
 */
export type AttackKind = 'update' | 'colluding' | 'data';

/** A parameter value: numbers, or a word for the few parameters that choose a variant. */
export type AttackParamValue = number | string;

interface ParamSpec {
  /** Value when omitted; undefined = optional, or resolved from the run (see resolveAttackParams). */
  readonly default?: AttackParamValue;
  /** The words allowed, for a word-valued parameter. */
  readonly choices?: readonly string[];
  readonly valid?: (x: number) => boolean;
  /** What the value must be, in words. */
  readonly requirement: string;
}

/** One attack of the library. */
export interface AttackDefinition {
  readonly name: AttackName;
  readonly kind: AttackKind;
  /** One line for --help: what it does, after whom. */
  readonly summary: string;
  readonly params: Readonly<Record<string, ParamSpec>>;
}

const positive: ParamSpec = { valid: (x) => x > 0, requirement: 'a number > 0' };
const classId = (fallback?: number): ParamSpec => ({ ...(fallback === undefined ? {} : { default: fallback }), valid: (x) => Number.isInteger(x) && x >= 0 && x < 1000, requirement: 'a class id (integer >= 0)' });

/** The library, in the order --help lists it. */
export const ATTACKS: readonly AttackDefinition[] = [
  { name: 'sign-flip', kind: 'update', summary: 'send −scale·g, the honest update g reversed', params: { scale: { ...positive, default: 1 } } },
  {
    name: 'scaling',
    kind: 'update',
    summary: 'send gamma·g, model replacement\'s boost (Bagdasaryan et al. 2020); gamma default: clients per round',
    params: { gamma: positive },
  },
  { name: 'gaussian', kind: 'update', summary: 'send noise N(0, sigma²) per coordinate instead of an update (Blanchard et al. 2017)', params: { sigma: { ...positive, default: 0.1 } } },
  { name: 'label-flip', kind: 'data', summary: 'train on labels y → 9 − y, or on source relabelled target', params: { source: classId(), target: classId() } },
  {
    name: 'backdoor',
    kind: 'data',
    summary: 'a white size×size square (bottom-right) on a poison fraction of the data, labelled target; update × boost',
    params: {
      target: classId(0),
      poison: { default: 0.5, valid: (x) => x > 0 && x <= 1, requirement: 'a fraction in (0, 1]' },
      size: { default: 3, valid: (x) => Number.isInteger(x) && x >= 1 && x <= 28, requirement: 'an integer in 1..28 (pixels)' },
      boost: { ...positive, default: 1 },
    },
  },
  { name: 'alie', kind: 'colluding', summary: 'send μ − z·σ of the pooled honest updates, z = z_max(n, f) (Baruch et al. 2019)', params: { z: { valid: (x) => Number.isFinite(x), requirement: 'a number' } } },
  { name: 'ipm', kind: 'colluding', summary: 'send −epsilon·μ of the pooled honest updates (inner product manipulation, Xie et al. 2019)', params: { epsilon: { ...positive, default: 0.1 } } },
  {
    name: 'min-max',
    kind: 'colluding',
    summary: 'μ − γ·∇p, largest γ with max distance to the pool ≤ theirs (Shejwalkar & Houmansadr 2021)',
    params: { perturbation: { default: 'std', choices: PERTURBATIONS, requirement: `one of ${PERTURBATIONS.join(', ')}` }, gamma0: { ...positive, default: 10 } },
  },
  {
    name: 'min-sum',
    kind: 'colluding',
    summary: 'μ − γ·∇p, largest γ with sum of squared distances ≤ the pool\'s largest (same paper)',
    params: { perturbation: { default: 'std', choices: PERTURBATIONS, requirement: `one of ${PERTURBATIONS.join(', ')}` }, gamma0: { ...positive, default: 10 } },
  },
];

/** Every attack's name (for error messages that list them). */
export const ATTACK_NAMES: readonly AttackName[] = ATTACKS.map((a) => a.name);

/** A parsed --attack: the attack, the fraction of clients that mount it, and its parameters with defaults. */
export interface AttackSpec {
  readonly name: AttackName;
  readonly kind: AttackKind;
  /** Fraction of the clients that are attackers, in (0, 1). */
  readonly fraction: number;
  readonly params: Readonly<Record<string, AttackParamValue>>;
}

/** The catalogue entry of an attack. */
export function attackDefinition(name: AttackName): AttackDefinition {
  return ATTACKS.find((a) => a.name === name)!;
}

function invalid(message: string): never {
  throw new CohortError('CONFIG_INVALID', `--attack: ${message}`);
}

/** "sign-flip:0.2", "backdoor:0.1:target=2,boost=10" → the attack; CONFIG_INVALID naming --attack otherwise. */
export function parseAttackSpec(text: string): AttackSpec {
  const [name = '', fractionText, paramText, ...rest] = text.split(':');
  const definition = ATTACKS.find((a) => a.name === name);
  if (definition === undefined) invalid(`unknown attack "${name}"; known attacks: ${ATTACK_NAMES.join(', ')}`);
  if (fractionText === undefined || rest.length > 0) invalid(`expected NAME:FRACTION[:k=v,...], got "${text}"`);
  const fraction = Number(fractionText);
  if (fractionText.trim() === '' || !Number.isFinite(fraction) || fraction <= 0 || fraction >= 1) {
    invalid(`the fraction of attackers must be a number in (0, 1), got "${fractionText}"`);
  }
  const given: Record<string, AttackParamValue> = {};
  const known = Object.keys(definition.params);
  for (const item of paramText === undefined || paramText.trim() === '' ? [] : paramText.split(',')) {
    const eq = item.indexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).trim();
    const raw = eq < 0 ? '' : item.slice(eq + 1).trim();
    if (eq < 0 || key === '' || raw === '') invalid(`parameters are k=v separated by commas, got "${item}"`);
    const spec = definition.params[key];
    if (spec === undefined) invalid(`${name} has no parameter "${key}" (its parameters: ${known.length > 0 ? known.join(', ') : 'none'})`);
    if (key in given) invalid(`parameter "${key}" is given twice`);
    if (spec.choices !== undefined) {
      if (!spec.choices.includes(raw)) invalid(`${name} ${key} must be ${spec.requirement}, got "${raw}"`);
      given[key] = raw;
    } else {
      const value = Number(raw);
      if (!Number.isFinite(value) || !(spec.valid?.(value) ?? true)) invalid(`${name} ${key} must be ${spec.requirement}, got "${raw}"`);
      given[key] = value;
    }
  }
  if (name === 'label-flip' && ('source' in given) !== ('target' in given)) invalid('label-flip takes source and target together (or neither: y → 9 − y)');
  const params: Record<string, AttackParamValue> = {};
  for (const [key, spec] of Object.entries(definition.params)) {
    const value = given[key] ?? spec.default;
    if (value !== undefined) params[key] = value;
  }
  return { name: definition.name, kind: definition.kind, fraction, params };
}

/** Attackers among `clients`: ⌈fraction · clients⌉ (at least one). */
export function attackerCount(fraction: number, clients: number): number {
  // The epsilon keeps 0.2 · 20 = 4.000000000000001 at 4.
  return Math.max(1, Math.ceil(fraction * clients - 1e-9));
}

/**
 * Which clients attack: a seeded choice of attackerCount(fraction, clients) client indices (0-based), ascending. A
 * seeded draw rather than the first clients, so the attackers' data is no different from anyone's under a skewed
 * partition whatever order it deals clients in; the same seed always picks the same clients.
 */
export function chooseAttackers(fraction: number, clients: number, seed: number): number[] {
  const count = attackerCount(fraction, clients);
  return [...permutation(createSeededRng(deriveSeed(seed, 'attackers')), clients).subarray(0, count)].sort((a, b) => a - b);
}

/** What the run decides that an attack's defaults depend on. */
export interface AttackContext {
  /** Clients per round (the cohort). */
  readonly cohortSize: number;
  readonly numClasses: number;
}

/** The parameters with the run-dependent defaults filled in (scaling's gamma = the cohort) and classes checked. */
export function resolveAttackParams(spec: AttackSpec, context: AttackContext): Record<string, AttackParamValue> {
  const params: Record<string, AttackParamValue> = { ...spec.params };
  if (spec.name === 'scaling' && params['gamma'] === undefined) params['gamma'] = context.cohortSize;
  for (const key of ['source', 'target']) {
    const value = params[key];
    if (typeof value === 'number' && value >= context.numClasses) invalid(`${spec.name} ${key} must be a class in 0..${context.numClasses - 1}, got ${value}`);
  }
  return params;
}
