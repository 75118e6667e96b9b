// The shipped example specs stay valid: each parses as `cohort federation create --spec` reads it, and a DP example
// resolves to a round plan (its noise multiplier calibrated to the budget).
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFederationSpec } from '../../coordinator/src/cli.js';
import { dpPlanOf } from '../../coordinator/src/privacy/budget.js';
import { epsilonFromRdp, DEFAULT_RDP_ORDERS } from '../../shared/src/core/dp/rdp.js';
import { packageRoot } from '../../shared/src/data/repo-root.js';
import { plannedRound, roundRdp } from '../../coordinator/src/privacy/budget.js';

const dir = path.join(packageRoot(), 'examples');
const specs = readdirSync(dir).filter((f) => f.startsWith('federation') && f.endsWith('.yaml'));

describe('examples/', () => {
  it('ships a distributed-DP example among the federation specs', () => {
    expect(specs).toContain('federation-dp-distributed.yaml');
  });

  for (const file of specs) {
    it(`${file} is a valid federation spec`, () => {
      const config = readFederationSpec(path.join(dir, file));
      const plan = dpPlanOf(config);
      if (config.dp.mode === 'off') {
        expect(plan).toBeNull();
        return;
      }
      // The calibrated z spends at most the budget over every round.
      const one = roundRdp(plannedRound(plan!));
      const epsilon = epsilonFromRdp(DEFAULT_RDP_ORDERS, one.map((v) => v * config.rounds), plan!.delta).epsilon;
      expect(epsilon).toBeLessThanOrEqual(plan!.targetEpsilon * (1 + 1e-9));
      expect(epsilon).toBeGreaterThan(plan!.targetEpsilon * 0.99);
    });
  }
});
