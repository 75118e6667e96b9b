import { describe, expect, it } from 'vitest';
import { inverseNormalCdf } from './normal-quantile.js';

describe('inverseNormalCdf', () => {
  it('matches reference quantiles (scipy.stats.norm.ppf) to 1e-12 in all three regions of AS 241', () => {
    const reference: Array<[number, number]> = [
      [0.5, 0],
      [0.68, 0.4676987991145084],
      [0.72, 0.5828415072712162],
      [0.9, 1.2815515655446004],
      [0.975, 1.959963984540054],
      [0.02425, -1.972961051311885],
      [0.999999, 4.753424308817087],
      [1e-10, -6.361340902404056],
    ];
    for (const [p, z] of reference) expect(Math.abs(inverseNormalCdf(p) - z), `p = ${p}`).toBeLessThan(1e-12);
  });

  it('is odd around 1/2 and infinite at the ends; refuses p outside [0, 1]', () => {
    for (const p of [0.01, 0.2, 0.3, 0.49]) expect(inverseNormalCdf(p)).toBeCloseTo(-inverseNormalCdf(1 - p), 12);
    expect(inverseNormalCdf(0)).toBe(-Infinity);
    expect(inverseNormalCdf(1)).toBe(Infinity);
    expect(() => inverseNormalCdf(1.5)).toThrow(RangeError);
    expect(() => inverseNormalCdf(Number.NaN)).toThrow(RangeError);
  });
});
