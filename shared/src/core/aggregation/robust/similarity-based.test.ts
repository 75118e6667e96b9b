import { describe, expect, it } from 'vitest';
import { expectCohortError } from '../../../../../test/helpers/errors.js';
import { expectRelativeClose as expectClose, runRule } from '../../../../../test/helpers/aggregation.js';
import { createSeededRng, normal } from '../../rng/index.js';
import type { Rng } from '../../rng/index.js';
import type { AggregationRule, RuleParams } from '../rules.js';
import type { AggregateResult, Contribution } from '../types.js';
import { createFlTrustRule, createFoolsGoldRule, createInMemoryFoolsGoldHistory, flameRule, foolsGoldLearningRates, foolsgoldRule, fltrustRule } from './similarity-based.js';

const f32 = (...xs: number[]): Float32Array => Float32Array.from(xs);

const c = (id: string, delta: readonly number[], weight = 1, clientIds: string[] = [id]): Contribution => ({ id, clientIds, delta: Float32Array.from(delta), weight });

const aggregate = (rule: AggregationRule, items: readonly Contribution[], params: RuleParams = {}, rng?: Rng): AggregateResult => runRule(rule, params, items, rng);

/** The reference set (n = 7, f = 2): five honest updates, then two attackers. */
const REFERENCE: number[][] = [
  [-2, 1, 0],
  [-2, -1, 0],
  [1, 0, 0.5],
  [1.5, 1, -0.5],
  [0.5, 0.5, -2],
  [100, -100, 50],
  [-40, 60, -80],
];




const verdictsOf = (result: AggregateResult): string[] => result.verdicts.map((v) => v.verdict);
const score = (result: AggregateResult, i: number, name: string): number => result.verdicts[i]!.scores[name]!;

function expectWithinHonestRange(delta: Float32Array, honest: readonly number[][]): void {
  for (let k = 0; k < delta.length; k++) {
    const column = honest.map((h) => h[k]!);
    expect(delta[k]).toBeGreaterThanOrEqual(Math.min(...column) - 1e-6);
    expect(delta[k]).toBeLessThanOrEqual(Math.max(...column) + 1e-6);
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe('fltrust', () => {
  const rule = (g0: Float32Array | null): AggregationRule => createFlTrustRule(() => g0);

  it('returns the common vector when every update equals the server update, and rescales to the server norm', () => {
    const v = [0.5, -1.25, 3];
    const result = aggregate(rule(f32(...v)), [c('a', v), c('b', v, 7), c('c', v, 2)]);
    expect(Array.from(result.delta)).toEqual(v);
    expect(verdictsOf(result)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(result.totalWeight).toBe(10);
    // Same direction, server update twice as long: every update is rescaled to ‖g0‖.
    expectClose(aggregate(rule(f32(1, -2.5, 6)), [c('a', v), c('b', v)]).delta, [1, -2.5, 6]);
  });

  it('computes the hand-made example: trust weights, rescaling, a rejected opposite update', () => {
    // g0 = [3, 4], ‖g0‖ = 5. g1 = [6, 8]: cos 1, rescaled to [3, 4]. g2 = [0, 1]: cos 0.8, rescaled to [0, 5].
    // g3 = [-1, 0]: cos −0.6, trust 0. Aggregate = (1·[3, 4] + 0.8·[0, 5]) / 1.8 = [1.6667, 4.4444].
    const result = aggregate(rule(f32(3, 4)), [c('g1', [6, 8]), c('g2', [0, 1]), c('g3', [-1, 0])]);
    expectClose(result.delta, [3 / 1.8, 8 / 1.8]);
    // Shares 1/1.8 and 0.8/1.8 against the equal share 1/2 of the two trusted contributions: neither under half of it.
    expect(verdictsOf(result)).toEqual(['accepted', 'accepted', 'rejected']);
    // A share under half the equal share is down-weighted: cosine 0.0995 against two of cosine 1.
    const weak = aggregate(rule(f32(1, 0)), [c('a', [1, 0]), c('b', [2, 0]), c('c', [0.1, 1])]);
    expect(verdictsOf(weak)).toEqual(['accepted', 'accepted', 'down-weighted']);
    expect(result.verdicts[2]!.reason).toBe('fltrust: cosine -0.6 with the server update, trust 0');
    expect(result.verdicts[1]!.reason).toMatch(/^fltrust: cosine 0\.8 with the server update, trust 0\.8, share 44\.4% \(equal share 50%\); rescaled ×5 /);
    expect(score(result, 0, 'trust')).toBeCloseTo(1, 12);
    expect(score(result, 1, 'cosineToServer')).toBeCloseTo(0.8, 7);
    expect(score(result, 1, 'rescale')).toBeCloseTo(5, 12);
    expect(score(result, 1, 'share')).toBeCloseTo(0.8 / 1.8, 7);
    expect(score(result, 2, 'share')).toBe(0);
    expect(result.totalWeight).toBe(2);
  });

  it('ignores example counts (weights are the trust scores alone)', () => {
    const updates = [
      [1, 0.2],
      [0.3, 1],
      [2, -0.1],
    ];
    const equal = aggregate(rule(f32(1, 1)), updates.map((u, i) => c(`c${i}`, u, 1)));
    const skewed = aggregate(rule(f32(1, 1)), updates.map((u, i) => c(`c${i}`, u, [1000, 1, 3][i]!)));
    expect(Array.from(skewed.delta)).toEqual(Array.from(equal.delta));
  });

  it('rejects sign-flipped attackers when the server update follows the honest direction', () => {
    const honest = [
      [1, -1, 0.5],
      [1.2, -0.8, 0.4],
      [0.9, -1.1, 0.6],
      [1.1, -0.9, 0.3],
      [0.8, -1.2, 0.7],
    ];
    const flipped = honest.slice(0, 2).map((h) => h.map((x) => -3 * x));
    const result = aggregate(rule(f32(1, -1, 0.5)), [...honest, ...flipped].map((u, i) => c(`c${i}`, u)));
    expect(verdictsOf(result).slice(5)).toEqual(['rejected', 'rejected']);
    expect(result.verdicts[5]!.reason).toMatch(/^fltrust: cosine -[\d.]+ with the server update, trust 0$/);
    expect(verdictsOf(result).slice(0, 5).every((v) => v !== 'rejected')).toBe(true);
    expectWithinHonestRange(result.delta, honest);
  });

  it('keeps the aggregate at the server norm and near the honest mean with attackers at 1e6', () => {
    const honest = [
      [1, -1, 0.5],
      [1.2, -0.8, 0.4],
      [0.9, -1.1, 0.6],
      [1.1, -0.9, 0.3],
      [0.8, -1.2, 0.7],
    ];
    const all = [...honest, [1e6, 1e6, 1e6], [1e6, 1e6, 1e6]].map((u, i) => c(`c${i}`, u));
    const result = aggregate(rule(f32(1, -1, 0.5)), all);
    // The attackers' cosine with g0 is 0.5/(√3·1.5) = 0.19: positive, but far below the honest ≈ 0.98.
    expect(verdictsOf(result).slice(5)).toEqual(['down-weighted', 'down-weighted']);
    expect(score(result, 5, 'trust')).toBeCloseTo(0.5 / (Math.sqrt(3) * 1.5), 6);
    expect(Math.hypot(...result.delta)).toBeLessThanOrEqual(1.5 + 1e-6);
    expectClose(result.delta, [1, -1, 0.5], 0.15);
    // Attackers at −1e6 have cosine −0.19 with g0: rejected outright.
    const negative = aggregate(rule(f32(1, -1, 0.5)), [...honest, [-1e6, -1e6, -1e6], [-1e6, -1e6, -1e6]].map((u, i) => c(`c${i}`, u)));
    expect(verdictsOf(negative).slice(5)).toEqual(['rejected', 'rejected']);
    expectWithinHonestRange(negative.delta, honest);
  });

  it('returns the zero vector and rejects everything when no contribution agrees with the server update', () => {
    const result = aggregate(rule(f32(1, 0)), [c('a', [-1, 0]), c('b', [0, 2]), c('z', [0, 0])]);
    expect(Array.from(result.delta)).toEqual([0, 0]);
    expect(verdictsOf(result)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(result.verdicts[0]!.reason).toMatch(/no contribution agrees with the server update, so the aggregate is the zero vector/);
    expect(result.verdicts[2]!.reason).toMatch(/zero update/);
    expect(result.totalWeight).toBe(0);
  });

  it('computes the reference set with g0 = [1, 0, 0]', () => {
    // ‖g0‖ = 1, cos_i = x_i/‖g_i‖ and TS_i = max(0, cos_i):
    //   g1 −2/√5 → 0; g2 −2/√5 → 0; g3 1/√1.25 = 0.894427; g4 1.5/√3.5 = 0.801784; g5 0.5/√4.5 = 0.235702;
    //   g6 100/150 = 0.666667; g7 −40/√11600 → 0. Σ TS = 2.598580.
    // TS_i·‖g0‖/‖g_i‖ = x_i/‖g_i‖²: g3 0.8, g4 1.5/3.5 = 0.428571, g5 0.5/4.5 = 0.111111, g6 100/22500 = 0.004444.
    // Σ = 0.8·[1, 0, 0.5] + 0.428571·[1.5, 1, −0.5] + 0.111111·[0.5, 0.5, −2] + 0.004444·[100, −100, 50]
    //   = [0.8 + 0.642857 + 0.055556 + 0.444444, 0.428571 + 0.055556 − 0.444444, 0.4 − 0.214286 − 0.222222 + 0.222222]
    //   = [1.942857, 0.039683, 0.185714]; divided by 2.598580: [0.747661, 0.015271, 0.071468].
    // Equal share among the 4 trusted = 1/4: g5's share 0.0907 is below it; g6's 0.2565 is not.
    const result = aggregate(
      rule(f32(1, 0, 0)),
      REFERENCE.map((u, i) => c(`g${i + 1}`, u)),
    );
    const sumTs = 1 / Math.sqrt(1.25) + 1.5 / Math.sqrt(3.5) + 0.5 / Math.sqrt(4.5) + 100 / 150;
    expectClose(result.delta, [(0.8 + 1.5 * (1.5 / 3.5) + 0.5 / 9 + 100 / 225) / sumTs, (1.5 / 3.5 + 0.5 / 9 - 100 / 225) / sumTs, (0.4 - 0.5 * (1.5 / 3.5) - 2 / 9 + 50 / 225) / sumTs]);
    expectClose(result.delta, [0.747661130, 0.015270856, 0.071467608]);
    expect(verdictsOf(result)).toEqual(['rejected', 'rejected', 'accepted', 'accepted', 'down-weighted', 'accepted', 'rejected']);
  });

  it('asks for the server update at finish and fails the round without a usable one', () => {
    let calls = 0;
    const counting = createFlTrustRule(() => {
      calls++;
      return f32(1, 0);
    });
    const acc = counting.createAccumulator({ dimension: 2, params: {}, rng: undefined });
    acc.add(c('a', [1, 1]));
    expect(calls).toBe(0);
    acc.finish();
    expect(calls).toBe(1);

    const one = [c('a', [1, 1])];
    expectCohortError(() => aggregate(rule(null), one), 'FAILED_PRECONDITION', "fltrust needs the server's root-dataset update for this round: none was supplied");
    expectCohortError(() => aggregate(rule(f32(1, 2, 3)), one), 'FAILED_PRECONDITION', "fltrust needs the server's root-dataset update for this round: the one supplied has 3 elements, expected 2");
    expectCohortError(() => aggregate(rule(f32(1, Number.NaN)), one), 'FAILED_PRECONDITION', /^fltrust needs the server's root-dataset update for this round: the one supplied has element 1 = NaN/);
    expectCohortError(() => aggregate(rule(f32(0, 0)), one), 'FAILED_PRECONDITION', /zero vector/);
  });

  it('runs by name on the reference the coordinator supplies, refuses without one, and validates parameters', () => {
    expect(fltrustRule.name).toBe('fltrust');
    expect(fltrustRule.resolveParams({})).toEqual({});
    expectCohortError(() => fltrustRule.createAccumulator({ dimension: 2, params: {}, rng: undefined }), 'CONFIG_INVALID', /^aggregation\.rootDataset: fltrust needs the server's update on a clean root dataset every round/);
    const named = fltrustRule.createAccumulator({ dimension: 2, params: {}, rng: undefined, referenceUpdate: () => f32(1, 0) });
    named.add(c('a', [3, 4]));
    named.add(c('b', [-1, 0]));
    const result = named.finish();
    // Only a agrees (cosine 0.6): its update rescaled to the reference's norm 1.
    expect(Array.from(result.delta)).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
    expect(result.verdicts.map((v) => v.verdict)).toEqual(['accepted', 'rejected']);
    expectCohortError(() => fltrustRule.resolveParams({ f: 1 }), 'CONFIG_INVALID', 'ruleParams.f: not a parameter of fltrust (its parameters: maxAbs)');
    expectCohortError(() => fltrustRule.resolveParams({ maxAbs: 0 }), 'CONFIG_INVALID', 'ruleParams.maxAbs: must be a finite number > 0 (model units), got 0');
    const bounded = createFlTrustRule(() => f32(1, 0));
    const acc = bounded.createAccumulator({ dimension: 2, params: bounded.resolveParams({ maxAbs: 10 }), rng: undefined });
    expectCohortError(() => acc.add(c('big', [11, 0])), 'INVALID_ARGUMENT', /outside the allowed range ±10/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('foolsgold', () => {
  it('returns the common vector when every update is identical (no way to tell sybils apart: all count)', () => {
    const v = [0.5, -1.25, 3];
    const result = aggregate(foolsgoldRule, [c('a', v), c('b', v), c('c', v, 4)]);
    expect(Array.from(result.delta)).toEqual(v);
    expect(verdictsOf(result)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(result.verdicts[0]!.reason).toMatch(/identical twin/);
    expect(score(result, 0, 'learningRate')).toBe(1);
  });

  it('gives a single contribution learning rate 1', () => {
    const result = aggregate(foolsgoldRule, [c('a', [1, 2])]);
    expect(Array.from(result.delta)).toEqual([1, 2]);
    expect(verdictsOf(result)).toEqual(['accepted']);
  });

  it('rejects a pair of identical updates and keeps orthogonal ones (hand-made)', () => {
    // cs: e3·e3' = 1, every other pair 0. α = 1 − max cs = [1, 1, 0, 0]; /max → [1, 1, 0, 0]; 1 → 0.99,
    // logit ln(99) + 0.5 > 1 → 1; ln 0 → 0. Aggregate = (e1 + e2)/2.
    const result = aggregate(foolsgoldRule, [c('a', [1, 0, 0]), c('b', [0, 1, 0]), c('s1', [0, 0, 1]), c('s2', [0, 0, 1])]);
    expect(Array.from(result.delta)).toEqual([0.5, 0.5, 0]);
    expect(verdictsOf(result)).toEqual(['accepted', 'accepted', 'rejected', 'rejected']);
    expect(result.verdicts[2]!.reason).toBe('foolsgold: learning rate 0: max cosine similarity 1 with "s2" after pardoning (1 before) this round marks it as a likely sybil');
  });

  it('pardons a client whose best match is itself more similar to someone else (hand-made)', () => {
    // a = [1, 0], b = [0.8, 0.6], c = [0, 1]: cs_ab = 0.8, cs_ac = 0, cs_bc = 0.6; v = [0.8, 0.8, 0.6].
    // Pardoning row c (v_c = 0.6 < 0.8): cs_ca = 0·0.75 = 0, cs_cb = 0.6·0.75 = 0.45.
    // α = [0.2, 0.2, 0.55]; /0.55 → [0.3636, 0.3636, 1 → 0.99]; logit: ln(0.3636/0.6364) + 0.5 = −0.0596 → 0; c → 1.
    const weights = foolsGoldLearningRates([f32(1, 0), f32(0.8, 0.6), f32(0, 1)]);
    expect(weights.learningRates).toEqual([0, 0, 1]);
    expect(weights.maxSimilarity[2]).toBeCloseTo(0.6, 7);
    expect(weights.pardonedSimilarity[2]).toBeCloseTo(0.45, 7);
    const result = aggregate(foolsgoldRule, [c('a', [1, 0]), c('b', [0.8, 0.6]), c('c', [0, 1])]);
    expect(Array.from(result.delta)).toEqual([0, 1]);
    expect(verdictsOf(result)).toEqual(['rejected', 'rejected', 'accepted']);
  });

  it('applies the logit with confidence kappa and weights by α times the example count', () => {
    // a = [1, 0, 0], b = [1, √3, 0]/2 (cos 0.5), c = [0, 0, 1]: v = [0.5, 0.5, 0]; c's row is pardoned to 0.
    // α = [0.5, 0.5, 1]; /1 → [0.5, 0.5, 0.99]; logit κ(ln 1 + 0.5) = 0.5κ; c → 1.
    const updates = [f32(1, 0, 0), f32(0.5, Math.sqrt(3) / 2, 0), f32(0, 0, 1)];
    expectClose(foolsGoldLearningRates(updates).learningRates, [0.5, 0.5, 1]);
    expectClose(foolsGoldLearningRates(updates, 1.5).learningRates, [0.75, 0.75, 1]);
    expect(foolsGoldLearningRates(updates, 3).learningRates).toEqual([1, 1, 1]);
    // Weights 1, 1, 2: Σ α_i w_i Δ_i / Σ α_i w_i = (0.5·a + 0.5·b + 2·c) / 3.
    const result = aggregate(foolsgoldRule, updates.map((u, i) => ({ id: `c${i}`, clientIds: [`c${i}`], delta: u, weight: [1, 1, 2][i]! })));
    expectClose(result.delta, [(0.5 + 0.25) / 3, (0.5 * Math.sqrt(3)) / 2 / 3, 2 / 3]);
    expect(verdictsOf(result)).toEqual(['down-weighted', 'down-weighted', 'accepted']);
    expect(score(result, 0, 'learningRate')).toBeCloseTo(0.5, 6);
    expect(score(result, 0, 'share')).toBeCloseTo(0.5 / 3, 6);
    const confident = aggregate(foolsgoldRule, updates.map((u, i) => ({ id: `c${i}`, clientIds: [`c${i}`], delta: u, weight: 1 })), { kappa: 1.5 });
    expect(score(confident, 0, 'learningRate')).toBeCloseTo(0.75, 6);
  });

  it('down-weights a group of identical colluding sybils and keeps diverse honest updates', () => {
    const rng = createSeededRng(11);
    const d = 20;
    const honest = Array.from({ length: 6 }, () => Array.from({ length: d }, () => normal(rng)));
    const sybil = Array.from({ length: d }, (_, k) => (k % 2 === 0 ? 1 : -1));
    const all = [...honest.map((h, i) => c(`h${i}`, h)), ...[0, 1, 2, 3].map((i) => c(`s${i}`, sybil))];
    const result = aggregate(foolsgoldRule, all);
    expect(verdictsOf(result).slice(6)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    expect(verdictsOf(result).slice(0, 6).filter((v) => v === 'accepted').length).toBeGreaterThanOrEqual(4);
    expectWithinHonestRange(result.delta, honest);
  });

  it('rejects colluding attackers at 1e6 and stays within the honest range', () => {
    const honest = REFERENCE.slice(0, 5);
    const result = aggregate(foolsgoldRule, [...honest, [1e6, 1e6, 1e6], [1e6, 1e6, 1e6]].map((u, i) => c(`c${i}`, u)));
    expect(verdictsOf(result).slice(5)).toEqual(['rejected', 'rejected']);
    expectWithinHonestRange(result.delta, honest);
  });

  it('computes the reference set', () => {
    // cs (cosine, diagonal 0); v_i = row max: g1 0.6 (g2), g2 0.6 (g1), g3 0.745356 (g6), g4 0.597614 (g3),
    // g5 0.744070 (g7), g6 0.745356 (g3), g7 0.744070 (g5).
    // Pardoning changes only entries below their row's v, e.g. g4: cs_43 = 0.597614·0.597614/0.745356 = 0.479157,
    // cs_45 = 0.566947·0.597614/0.744070 = 0.455354; g1: cs_17 = 0.581318·0.6/0.744070 = 0.468761.
    // Row maxima after pardoning: [0.6, 0.6, 0.745356, 0.479157, 0.744070, 0.745356, 0.744070]
    // α = 1 − max: [0.4, 0.4, 0.254644, 0.520843, 0.255930, 0.254644, 0.255930]; /0.520843:
    //   [0.767985, 0.767985, 0.488908, 1 → 0.99, 0.491377, 0.488908, 0.491377]
    // logit + 0.5: ln(0.767985/0.232015) + 0.5 = 1.697 → 1; ln(0.488908/0.511092) + 0.5 = 0.455624;
    //   ln(99) + 0.5 → 1; ln(0.491377/0.508623) + 0.5 = 0.465506.
    // α = [1, 1, 0.455624, 1, 0.465506, 0.455624, 0.465506], Σ = 4.842260.
    // Σ α g: x = −2 − 2 + 0.455624 + 1.5 + 0.232753 + 45.562399 − 18.620230 = 25.130546 → 5.189839
    //        y = 1 − 1 + 0 + 1 + 0.232753 − 45.562399 + 27.930345 = −16.399301 → −3.386704
    //        z = 0 + 0 + 0.227812 − 0.5 − 0.931011 + 22.781200 − 37.240460 = −15.662460 → −3.234535
    const result = aggregate(
      foolsgoldRule,
      REFERENCE.map((u, i) => c(`g${i + 1}`, u)),
    );
    const rates = result.verdicts.map((v) => v.scores['learningRate']!);
    expectClose(rates, [1, 1, 0.4556239914, 1, 0.4655057414, 0.4556239914, 0.4655057414]);
    expectClose(result.delta, [5.1898388606, -3.3867044721, -3.2345353112]);
    expect(verdictsOf(result)).toEqual(['accepted', 'accepted', 'down-weighted', 'accepted', 'down-weighted', 'down-weighted', 'down-weighted']);
  });

  it('validates parameters', () => {
    expect(foolsgoldRule.resolveParams({})).toEqual({ kappa: 1 });
    expectCohortError(() => foolsgoldRule.resolveParams({ kappa: 0 }), 'CONFIG_INVALID', 'ruleParams.kappa: must be a finite number > 0 (confidence of the logit), got 0');
    expectCohortError(() => foolsgoldRule.resolveParams({ kappa: Infinity }), 'CONFIG_INVALID', /ruleParams\.kappa: must be a finite number > 0/);
    expectCohortError(() => foolsgoldRule.resolveParams({ f: 2 }), 'CONFIG_INVALID', 'ruleParams.f: not a parameter of foolsgold (its parameters: kappa, maxAbs)');
    expect(() => foolsGoldLearningRates([f32(1)], 0)).toThrow(RangeError);
  });
});

describe('foolsgold with history', () => {
  it('compares the clients by their summed updates across rounds', () => {
    const history = createInMemoryFoolsGoldHistory();
    const rule = createFoolsGoldRule(history);
    // Round 1: orthogonal updates, everyone accepted.
    const first = aggregate(rule, [c('a', [1, 0, 0]), c('b', [0, 1, 0]), c('c', [0, 0, 1])]);
    expect(verdictsOf(first)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(history.size).toBe(3);
    // Round 2: still orthogonal within the round, but a and b have now sent the same total [1, 1, 0].
    const round2 = [c('a', [0, 1, 0]), c('b', [1, 0, 0]), c('c', [0, 0, 1])];
    expect(verdictsOf(aggregate(foolsgoldRule, round2))).toEqual(['accepted', 'accepted', 'accepted']);
    const second = aggregate(rule, round2);
    expect(verdictsOf(second)).toEqual(['rejected', 'rejected', 'accepted']);
    expect(second.verdicts[0]!.reason).toMatch(/over its update history/);
    // The aggregate is built from this round's updates (Σ α_i Δ_{i,t}), not from the histories.
    expect(Array.from(second.delta)).toEqual([0, 0, 1]);
    expect(Array.from(history.get('a')!)).toEqual([1, 1, 0]);
    expect(Array.from(history.get('c')!)).toEqual([0, 0, 2]);
  });

  it('refuses bucket contributions and histories of the wrong length, writing nothing', () => {
    const history = createInMemoryFoolsGoldHistory();
    const rule = createFoolsGoldRule(history);
    expectCohortError(() => aggregate(rule, [c('a', [1, 0]), c('bucket-1', [0, 1], 2, ['x', 'y'])]), 'FAILED_PRECONDITION', /foolsgold: keeps a history per client, but contribution "bucket-1" merges 2 clients/);
    expect(history.size).toBe(0);
    history.set('a', f32(1, 2, 3));
    expectCohortError(() => aggregate(rule, [c('b', [1, 0]), c('a', [0, 1])]), 'FAILED_PRECONDITION', 'foolsgold: the stored history of "a" has 3 elements, expected 2 (the model changed shape; start a new history)');
    expect(history.get('b')).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('flame', () => {
  const noNoise = { lambda: 0 };

  it('returns the common vector when every update is identical (lambda 0)', () => {
    const v = [0.5, -1.25, 3];
    const result = aggregate(flameRule, [c('a', v), c('b', v, 3), c('c', v), c('d', v, 2)], noNoise);
    expect(Array.from(result.delta)).toEqual(v);
    expect(verdictsOf(result)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
  });

  it('computes the hand-made example, clipping to the median norm of all n updates', () => {
    // Honest a = [1, 0], b = [2, 0.2], c = [10, 0]; attackers [-3, 0], [-4, 0] (n = 5, min cluster size 3).
    // Cosine distances: a–c 0, a–b = b–c = 1 − 2/√4.04 = 0.004963, attackers 0 apart but 2 from the honest ones:
    // the first single-linkage component of 3 is {a, b, c} at d* = 0.004963.
    // Norms 1, 2.0100, 10, 3, 4 → S = median of all five = 3 (over the admitted only it would be 2.01).
    // c is clipped to [3, 0]; aggregate = ([1, 0] + [2, 0.2] + [3, 0]) / 3 = [2, 0.066667].
    const result = aggregate(flameRule, [c('a', [1, 0]), c('b', [2, 0.2]), c('c', [10, 0]), c('x', [-3, 0]), c('y', [-4, 0])], noNoise);
    expectClose(result.delta, [2, 0.2 / 3]);
    expect(verdictsOf(result)).toEqual(['accepted', 'accepted', 'down-weighted', 'rejected', 'rejected']);
    expect(score(result, 2, 'clipFactor')).toBeCloseTo(0.3, 12);
    expect(score(result, 0, 'clipBound')).toBe(3);
    expect(score(result, 3, 'cluster')).toBe(0);
    expect(score(result, 0, 'clusterSize')).toBe(3);
    expect(result.verdicts[2]!.reason).toBe('flame: in the majority cluster; L2 norm 10 clipped to the median norm 3 (×0.3)');
    expect(result.verdicts[3]!.reason).toBe("flame: outside the majority cluster: cosine distance 2 to the nearest admitted update, above the cluster's linkage distance 0.00496 (3 of 5 admitted, minimum cluster size 3)");
    // Example weights weight the mean of the clipped admitted updates: weights 1, 1, 2 → ([1,0] + [2,0.2] + 2·[3,0]) / 4.
    const weighted = aggregate(flameRule, [c('a', [1, 0]), c('b', [2, 0.2]), c('c', [10, 0], 2), c('x', [-3, 0]), c('y', [-4, 0])], noNoise);
    expectClose(weighted.delta, [9 / 4, 0.2 / 4]);
  });

  it('rejects a minority pointing the other way and clips a scaled update', () => {
    const honest = [
      [1, -1, 0.5],
      [1.2, -0.8, 0.4],
      [0.9, -1.1, 0.6],
      [1.1, -0.9, 0.3],
      [0.8, -1.2, 0.7],
    ];
    const scaled = honest[0]!.map((x) => 100 * x);
    const opposite = [
      [-1, 1, -0.5],
      [-1.1, 0.9, -0.6],
    ];
    const result = aggregate(flameRule, [...honest, scaled, ...opposite].map((u, i) => c(`c${i}`, u)), noNoise);
    expect(verdictsOf(result).slice(6)).toEqual(['rejected', 'rejected']);
    expect(result.verdicts[5]!.verdict).toBe('down-weighted');
    expect(score(result, 5, 'clipFactor')).toBeLessThan(0.02);
    expectWithinHonestRange(result.delta, honest);
  });

  it('rejects attackers at 1e6 when the honest updates agree, clips them when the honest updates are diverse', () => {
    const honest = [
      [1, -1, 0.5],
      [1.2, -0.8, 0.4],
      [0.9, -1.1, 0.6],
      [1.1, -0.9, 0.3],
      [0.8, -1.2, 0.7],
    ];
    const result = aggregate(flameRule, [...honest, [1e6, 1e6, 1e6], [1e6, 1e6, 1e6]].map((u, i) => c(`c${i}`, u)), noNoise);
    expect(verdictsOf(result).slice(5)).toEqual(['rejected', 'rejected']);
    expectWithinHonestRange(result.delta, honest);
    // The reference set's honest updates point every which way (cosine distances up to 1.96), so the attackers'
    // direction (distance 0.23 from g3) joins the single-linkage majority; the median-norm clip still bounds them.
    const diverse = REFERENCE.slice(0, 5);
    const mixed = aggregate(flameRule, [...diverse, [1e6, 1e6, 1e6], [1e6, 1e6, 1e6]].map((u, i) => c(`c${i}`, u)), noNoise);
    expect(verdictsOf(mixed).slice(5)).toEqual(['down-weighted', 'down-weighted']);
    // Admitted: g3, g4 and the two attackers clipped to S = √5 (the median norm): the aggregate is no longer than S.
    expect(verdictsOf(mixed).slice(0, 5)).toEqual(['rejected', 'rejected', 'accepted', 'accepted', 'rejected']);
    expect(score(mixed, 5, 'clipFactor')).toBeLessThan(1e-5);
    expect(Math.hypot(...mixed.delta)).toBeLessThanOrEqual(Math.sqrt(5) + 1e-6);
  });

  it('always admits at least ⌊n/2⌋ + 1 contributions (seeds 1..50)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rng = createSeededRng(seed);
      const n = 1 + (seed % 12);
      const all = Array.from({ length: n }, (_, i) => c(`c${i}`, Array.from({ length: 4 }, () => normal(rng) * (i % 3 === 0 ? -1 : 1))));
      const result = aggregate(flameRule, all, noNoise);
      const admitted = result.verdicts.filter((v) => v.verdict !== 'rejected').length;
      expect(admitted).toBeGreaterThanOrEqual(Math.floor(n / 2) + 1);
    }
  });

  it('computes the reference set (lambda 0)', () => {
    // Cosine distances 1 − cos(g_i, g_j), smallest first: g3–g6 0.254644, g5–g7 0.255930, g1–g2 0.4,
    // g3–g4 0.402386 ({g3, g4, g6}: 3 < 4), g1–g7 0.418682 → {g1, g2, g5, g7} reaches ⌊7/2⌋ + 1 = 4: admitted.
    // Norms: √5, √5, √1.25, √3.5, √4.5, 150, √11600 → sorted 1.118, 1.871, 2.121, 2.236, 2.236, 107.7, 150;
    // S = median = √5 = 2.236068. Only g7 exceeds it: factor √5/√11600 = 0.020761, g7 → [−0.830455, 1.245682, −1.660910].
    // Mean of g1, g2, g5, clipped g7: x (−2 − 2 + 0.5 − 0.830455)/4 = −1.082614,
    //   y (1 − 1 + 0.5 + 1.245682)/4 = 0.436421, z (0 + 0 − 2 − 1.660910)/4 = −0.915227.
    const result = aggregate(
      flameRule,
      REFERENCE.map((u, i) => c(`g${i + 1}`, u)),
      noNoise,
    );
    const k = 1 / Math.sqrt(2320);
    expectClose(result.delta, [(-3.5 - 40 * k) / 4, (0.5 + 60 * k) / 4, (-2 - 80 * k) / 4]);
    expectClose(result.delta, [-1.082613872, 0.436420727, -0.915227491]);
    expect(verdictsOf(result)).toEqual(['accepted', 'accepted', 'rejected', 'rejected', 'accepted', 'rejected', 'down-weighted']);
    // g3's nearest admitted update is g5: 1 − cos(g3, g5) = 1 + 0.210819 = 1.210819, above d* = 0.418682.
    expect(score(result, 2, 'nearestAdmittedDistance')).toBeCloseTo(1.210819, 5);
  });

  it('adds Gaussian noise of standard deviation lambda · S from the injected rng', () => {
    const d = 20_000;
    const v = Float32Array.from({ length: d }, (_, k) => (k % 2 === 0 ? 0.01 : -0.01));
    const norm = Math.hypot(...Array.from(v));
    const contributions = ['a', 'b', 'c'].map((id) => ({ id, clientIds: [id], delta: v, weight: 1 }));
    const run = (seed: number): Float32Array => aggregate(flameRule, contributions, { lambda: 0.01 }, createSeededRng(seed)).delta;
    const noisy = run(7);
    expect(Array.from(run(7))).toEqual(Array.from(noisy));
    let sum = 0;
    let sumSquares = 0;
    for (let k = 0; k < d; k++) {
      const e = noisy[k]! - v[k]!;
      sum += e;
      sumSquares += e * e;
    }
    const std = Math.sqrt(sumSquares / d - (sum / d) ** 2);
    expect(std / (0.01 * norm)).toBeGreaterThan(0.97);
    expect(std / (0.01 * norm)).toBeLessThan(1.03);
    expect(Math.abs(sum / d)).toBeLessThan((4 * 0.01 * norm) / Math.sqrt(d));
  });

  it('validates parameters and needs an rng for noise', () => {
    expect(flameRule.resolveParams({})).toEqual({ lambda: 0.001 });
    expectCohortError(() => flameRule.resolveParams({ lambda: -1 }), 'CONFIG_INVALID', 'ruleParams.lambda: must be a finite number >= 0 (noise level relative to the clipping bound), got -1');
    expectCohortError(() => flameRule.resolveParams({ minClusterSize: 3 }), 'CONFIG_INVALID', 'ruleParams.minClusterSize: not a parameter of flame (its parameters: lambda, maxAbs)');
    expectCohortError(
      () => flameRule.createAccumulator({ dimension: 2, params: flameRule.resolveParams({}), rng: undefined }),
      'FAILED_PRECONDITION',
      'flame: noise with lambda = 0.001 needs a random number generator, and the strategy was created without one (pass rng, or set ruleParams.lambda = 0)',
    );
    expect(() => flameRule.createAccumulator({ dimension: 2, params: { lambda: 0 }, rng: undefined })).not.toThrow();
  });
});
