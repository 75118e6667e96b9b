import { describe, expect, it } from 'vitest';
import { expectCohortError } from '../../../test/helpers/errors.js';
import { ATTACK_NAMES, attackerCount, chooseAttackers, parseAttackSpec, resolveAttackParams } from './spec.js';

describe('--attack NAME:FRACTION[:k=v,...]', () => {
  it('parses name, fraction and parameters, filling defaults', () => {
    expect(parseAttackSpec('sign-flip:0.2')).toEqual({ name: 'sign-flip', kind: 'update', fraction: 0.2, params: { scale: 1 } });
    expect(parseAttackSpec('backdoor:0.1:target=2,boost=10')).toEqual({ name: 'backdoor', kind: 'data', fraction: 0.1, params: { target: 2, poison: 0.5, size: 3, boost: 10 } });
    expect(parseAttackSpec('min-max:0.3:perturbation=unit-vec').params).toEqual({ perturbation: 'unit-vec', gamma0: 10 });
    expect(parseAttackSpec('alie:0.2').params).toEqual({});
    expect(parseAttackSpec('label-flip:0.2:source=1,target=7').params).toEqual({ source: 1, target: 7 });
  });

  it('names the flag and what is wrong: unknown attack (listing the known ones), fraction, parameters', () => {
    expectCohortError(() => parseAttackSpec('flood:0.2'), 'CONFIG_INVALID', new RegExp(`--attack: unknown attack "flood"; known attacks: ${ATTACK_NAMES.join(', ')}`));
    for (const bad of ['sign-flip', 'sign-flip:0', 'sign-flip:1', 'sign-flip:-0.1', 'sign-flip:x', 'sign-flip:']) {
      expectCohortError(() => parseAttackSpec(bad), 'CONFIG_INVALID', /--attack/);
    }
    expectCohortError(() => parseAttackSpec('sign-flip:0.2:gamma=3'), 'CONFIG_INVALID', /sign-flip has no parameter "gamma" \(its parameters: scale\)/);
    expectCohortError(() => parseAttackSpec('sign-flip:0.2:scale=-1'), 'CONFIG_INVALID', /scale must be a number > 0/);
    expectCohortError(() => parseAttackSpec('sign-flip:0.2:scale'), 'CONFIG_INVALID', /k=v/);
    expectCohortError(() => parseAttackSpec('min-sum:0.2:perturbation=cube'), 'CONFIG_INVALID', /one of std, unit-vec, sign/);
    expectCohortError(() => parseAttackSpec('label-flip:0.2:source=1'), 'CONFIG_INVALID', /together/);
    expectCohortError(() => parseAttackSpec('sign-flip:0.2:scale=1:extra'), 'CONFIG_INVALID', /NAME:FRACTION/);
  });

  it('picks ⌈fraction · clients⌉ attackers by a seeded draw, the same for the same seed', () => {
    expect(attackerCount(0.34, 6)).toBe(3);
    expect(attackerCount(0.2, 20)).toBe(4);
    expect(attackerCount(0.01, 10)).toBe(1);
    const a = chooseAttackers(0.2, 20, 1);
    expect(a).toHaveLength(4);
    expect(new Set(a).size).toBe(4);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(chooseAttackers(0.2, 20, 1)).toEqual(a);
    expect(a.every((i) => i >= 0 && i < 20)).toBe(true);
  });

  it('resolves run-dependent defaults: scaling boosts by the cohort size (model replacement with η = 1)', () => {
    expect(resolveAttackParams(parseAttackSpec('scaling:0.2'), { cohortSize: 20, numClasses: 10 })).toEqual({ gamma: 20 });
    expect(resolveAttackParams(parseAttackSpec('scaling:0.2:gamma=3'), { cohortSize: 20, numClasses: 10 })).toEqual({ gamma: 3 });
    expectCohortError(() => resolveAttackParams(parseAttackSpec('backdoor:0.2:target=12'), { cohortSize: 5, numClasses: 10 }), 'CONFIG_INVALID', /--attack: backdoor target/);
  });
});
