/**
 * Admission of contributions into a round, shared by every aggregation rule: one place decides what "valid" means
 * (DESIGN §7: wrong length, NaN/Inf and out-of-range values are rejected before aggregation in every mode).
 */
import { CohortError, isCohortError } from '../errors.js';
import type { FloatVector } from '../tensor/ops.js';
import { validateUpdateVector } from '../tensor/ops.js';
import type { Contribution, ContributionVerdict } from './types.js';

/** Bounds a contribution must respect beyond length and finiteness. */
export interface ContributionLimits {
  /** Largest allowed |delta_i|, in model units; omitted = no bound. */
  readonly maxAbs?: number;
}

/** Validates contributions for one round and remembers which ids and clients it has admitted. */
export interface ContributionGuard {
  /**
   * Checks `c` (id fresh, clients fresh, weight finite and > 0, delta of length d, finite and within limits) and
   * records it. Throws CohortError naming the contribution and records nothing when any check fails.
   * Returns the L2 norm of the delta (model units), computed in the same pass as the finiteness check.
   */
  admit(c: Contribution): { l2Norm: number };
}

/** A guard for a round over d-dimensional updates. */
export function createContributionGuard(dimension: number, limits: ContributionLimits = {}): ContributionGuard {
  requireDimension(dimension);
  if (limits.maxAbs !== undefined && !(limits.maxAbs > 0 && Number.isFinite(limits.maxAbs))) {
    throw new RangeError(`maxAbs must be a finite number > 0, got ${limits.maxAbs}`);
  }
  const ids = new Set<string>();
  // client id -> contribution id, so a double-counted client is reported with both places it appeared.
  const clients = new Map<string, string>();

  return {
    admit(c) {
      const label = labelOf(c);
      if (typeof c.id !== 'string' || c.id.length === 0) {
        throw new CohortError('INVALID_ARGUMENT', 'contribution id must be a non-empty string');
      }
      if (ids.has(c.id)) {
        throw new CohortError('ALREADY_EXISTS', `${label} was already added to this round`, { contributionId: c.id });
      }
      if (!Array.isArray(c.clientIds) || c.clientIds.length === 0) {
        throw new CohortError('INVALID_ARGUMENT', `${label} names no clients; every contribution must be attributable`, {
          contributionId: c.id,
        });
      }
      const seenHere = new Set<string>();
      for (const clientId of c.clientIds) {
        if (typeof clientId !== 'string' || clientId.length === 0) {
          throw new CohortError('INVALID_ARGUMENT', `${label} has an empty client id`, { contributionId: c.id });
        }
        if (seenHere.has(clientId)) {
          throw new CohortError('INVALID_ARGUMENT', `${label} lists client "${clientId}" twice`, { contributionId: c.id, clientId });
        }
        const earlier = clients.get(clientId);
        if (earlier !== undefined) {
          throw new CohortError('ALREADY_EXISTS', `${label}: client "${clientId}" already contributed to this round (in contribution "${earlier}")`, {
            contributionId: c.id,
            clientId,
          });
        }
        seenHere.add(clientId);
      }
      if (typeof c.weight !== 'number' || !Number.isFinite(c.weight) || !(c.weight > 0)) {
        throw new CohortError('INVALID_ARGUMENT', `${label}: weight must be a finite number > 0 (examples), got ${c.weight}`, {
          contributionId: c.id,
          weight: String(c.weight),
        });
      }
      if (!(c.delta instanceof Float32Array)) {
        throw new CohortError('INVALID_ARGUMENT', `${label}: delta must be a Float32Array`, { contributionId: c.id });
      }
      const l2Norm = checkDelta(c, label, dimension, limits);
      ids.add(c.id);
      for (const clientId of c.clientIds) clients.set(clientId, c.id);
      return { l2Norm };
    },
  };
}

function checkDelta(c: Contribution, label: string, dimension: number, limits: ContributionLimits): number {
  const delta = c.delta;
  if (delta.length === dimension) {
    // Fast path: one pass. A float32 squared is < 2^256, so the float64 sum of squares overflows only through a
    // non-finite element: a finite sum proves every element finite.
    let sumSquares = 0;
    for (let i = 0; i < delta.length; i++) {
      const x = delta[i]!;
      sumSquares += x * x;
    }
    if (Number.isFinite(sumSquares) && limits.maxAbs === undefined) return Math.sqrt(sumSquares);
  }
  // Slow path (a bad vector, or a range bound to check): let the shared validator say exactly what is wrong.
  try {
    validateUpdateVector(delta, dimension, limits.maxAbs === undefined ? {} : { maxAbs: limits.maxAbs });
  } catch (error) {
    if (isCohortError(error)) {
      throw new CohortError(error.code, `${label}: ${error.message}`, { ...error.details, contributionId: c.id });
    }
    throw error;
  }
  let sumSquares = 0;
  for (let i = 0; i < delta.length; i++) sumSquares += delta[i]! * delta[i]!;
  return Math.sqrt(sumSquares);
}

function labelOf(c: Contribution): string {
  const clientIds = Array.isArray(c.clientIds) ? c.clientIds : [];
  const shown = clientIds.slice(0, 5).join(', ') + (clientIds.length > 5 ? `, ... (${clientIds.length} clients)` : '');
  return `contribution "${String(c.id)}"${shown.length > 0 ? ` (clients ${shown})` : ''}`;
}

/** Throws RangeError unless d is a positive safe integer. */
export function requireDimension(dimension: number): void {
  if (!Number.isSafeInteger(dimension) || dimension < 1) {
    throw new RangeError(`dimension must be a positive integer, got ${dimension}`);
  }
}

/**
 * The contribution of a secure-aggregation bucket: its unmasked sum of weight-scaled updates Σ w_i·Δ_i divided by
 * its total weight Σ w_i (examples), i.e. the bucket's weighted mean update in model units.
 */
export function contributionFromWeightedSum(input: {
  id: string;
  clientIds: readonly string[];
  /** Σ w_i·Δ_i over the bucket's survivors, in model units × examples. */
  weightedSum: FloatVector;
  /** Σ w_i over the same survivors, in examples. */
  totalWeight: number;
}): Contribution {
  if (!(Number.isFinite(input.totalWeight) && input.totalWeight > 0)) {
    throw new CohortError('INVALID_ARGUMENT', `bucket "${input.id}": total weight must be a finite number > 0, got ${input.totalWeight}`);
  }
  const delta = new Float32Array(input.weightedSum.length);
  const inverse = 1 / input.totalWeight;
  for (let i = 0; i < delta.length; i++) delta[i] = input.weightedSum[i]! * inverse;
  return { id: input.id, clientIds: input.clientIds, delta, weight: input.totalWeight };
}

/** The verdict recorded for a contribution the accumulator refused (bad length, NaN, duplicate ...). */
export function rejectedVerdict(c: Pick<Contribution, 'id' | 'clientIds'>, reason: string): ContributionVerdict {
  return { contributionId: c.id, clientIds: [...c.clientIds], verdict: 'rejected', reason, scores: {} };
}
