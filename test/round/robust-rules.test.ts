// Robust rules by name in a federation, over the in-memory transport with a real store: the rule's verdicts are
// persisted with their scores, and a client the rule keeps rejecting is quarantined.
import { afterEach, describe, expect, it } from 'vitest';
import { FEDERATION_ID, Harness, eventually, honest, initialWeights, maxAbsDiff, rampDelta, testConfig } from './harness.js';

const harnesses: Harness[] = [];
afterEach(() => {
  for (const h of harnesses.splice(0)) h.close();
});

describe('robust aggregation in rounds', () => {
  it('multi-krum keeps the honest updates, rejects sign-flipped scaled ones, and quarantines their senders', async () => {
    // Rejected 2 of 5 (p = 0.4): z = 0.6k / √(0.24k + ½) reaches 2.5 in the 6th round.
    const config = testConfig({ rounds: 6, aggregation: { rule: 'multi-krum', params: { f: 1, m: 3 } }, selection: { cohortSize: 5, minClients: 5 }, reputation: { quarantineZ: 2.5 } });
    const h = new Harness({ config });
    harnesses.push(h);
    for (const id of ['h1', 'h2', 'h3']) h.connect(id, honest(() => rampDelta(0.01), 10));
    for (const id of ['a1', 'a2']) h.connect(id, honest(() => rampDelta(-0.5), 10));
    const scheduler = h.scheduler();
    scheduler.ensureRunning(FEDERATION_ID);
    await h.waitForEvent('federation.completed');
    await eventually(() => !scheduler.isRunning(FEDERATION_ID), 'the loop has ended');

    // Every round moved the model by exactly the honest update.
    const versions = h.store.listModelVersions(FEDERATION_ID);
    const start = initialWeights();
    const step = rampDelta(0.01);
    const expected = Float64Array.from(start, (w, i) => w + 6 * step[i]!);
    expect(maxAbsDiff(h.models.weights(versions.at(-1)!), expected)).toBeLessThan(1e-5);
    const round = h.store.listRounds(FEDERATION_ID).at(-1)!;
    const verdicts = h.store.listVerdicts(round.id);
    for (const v of verdicts) {
      expect(v.verdict).toBe(v.clientId!.startsWith('h') ? 'accepted' : 'rejected');
      expect(v.scores).toEqual(expect.objectContaining({ krumScore: expect.any(Number), l2Norm: expect.any(Number), distanceToAggregate: expect.any(Number), cosineToAggregate: expect.any(Number) }));
      if (v.verdict === 'rejected') expect(v.reason).toMatch(/^multi-krum: /);
    }
    for (const id of ['a1', 'a2']) expect(h.store.getClient(id)!.status).toBe('quarantined');
    // A client's history: every round, newest first, with the verdict it was judged by.
    const history = h.store.listClientHistory('a1', 50);
    expect(history.map((e) => e.roundNumber)).toEqual([6, 5, 4, 3, 2, 1]);
    for (const e of history) expect(e).toMatchObject({ participation: { verdict: 'rejected', contributionId: 'a1' }, verdict: { verdict: 'rejected', clientId: 'a1' } });
    for (const id of ['h1', 'h2', 'h3']) expect(h.store.getClient(id)).toMatchObject({ status: 'active', reputation: 1 });
  });

  it('refuses a federation whose rule parameters cannot work, naming the field', () => {
    expect(() => new Harness({ config: testConfig({ aggregation: { rule: 'krum', params: {} } }) })).toThrow(/ruleParams\.f/);
  });
});
