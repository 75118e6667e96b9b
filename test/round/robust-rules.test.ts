// Robust rules by name in a federation, over the in-memory transport with a real store: the rule's verdicts are
// persisted with their scores, and a client the rule keeps rejecting is quarantined.
import { afterEach, describe, expect, it } from 'vitest';
import { D, FEDERATION_ID, Harness, eventually, honest, initialWeights, maxAbsDiff, rampDelta, testConfig } from './harness.js';

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

  it('fltrust trains the server update on the root dataset each round and judges every update against it', async () => {
    const config = testConfig({ rounds: 2, aggregation: { rule: 'fltrust', params: {}, rootDataset: { dataset: 'root', split: 'train', examples: 100 } }, selection: { cohortSize: 5, minClients: 5 } });
    const h = new Harness({ config });
    harnesses.push(h);
    const calls: { weights: Float32Array; epochs: number }[] = [];
    // The server's update points where the honest ones do, at twice their length.
    h.deps.rootTrainer = {
      rootUpdate: (_federation, _config, weights, plan) => {
        calls.push({ weights: Float32Array.from(weights), epochs: plan.epochs });
        return Promise.resolve(rampDelta(0.02));
      },
    };
    for (const id of ['h1', 'h2', 'h3']) h.connect(id, honest(() => rampDelta(0.01), 10));
    for (const id of ['a1', 'a2']) h.connect(id, honest(() => rampDelta(-0.5), 10));
    const first = await h.runRound();
    expect(first.outcome, first.outcome === 'aborted' ? first.reason : '').toBe('committed');
    const second = await h.runRound();
    expect(second.outcome).toBe('committed');
    if (second.outcome !== 'committed') return;
    // Each round: the honest updates rescaled to the server update's norm, so the model moves by the server update.
    const start = initialWeights();
    expect(maxAbsDiff(h.models.weights(second.commit.modelVersion), Float64Array.from(start, (w, i) => w + 2 * rampDelta(0.02)[i]!))).toBeLessThan(1e-5);
    // Trained from each round's model in: the initial one, then round 1's.
    expect(calls).toHaveLength(2);
    expect(maxAbsDiff(calls[0]!.weights, start)).toBe(0);
    expect(maxAbsDiff(calls[1]!.weights, Float64Array.from(start, (w, i) => w + rampDelta(0.02)[i]!))).toBeLessThan(1e-6);
    for (const v of h.store.listVerdicts(second.round.id)) {
      expect(v.verdict).toBe(v.clientId!.startsWith('h') ? 'accepted' : 'rejected');
      expect(v.scores['cosineToServer']).toBeCloseTo(v.clientId!.startsWith('h') ? 1 : -1, 6);
    }
  });

  it('fltrust aborts the round, with the reason, when the server update cannot be trained', async () => {
    const config = testConfig({ rounds: 1, aggregation: { rule: 'fltrust', params: {}, rootDataset: { dataset: 'root', split: 'train', examples: 100 } }, selection: { cohortSize: 2, minClients: 2 } });
    const h = new Harness({ config });
    harnesses.push(h);
    for (const id of ['h1', 'h2']) h.connect(id, honest(() => rampDelta(0.01), 10));
    h.deps.rootTrainer = null;
    const untrained = await h.runRound();
    expect(untrained.outcome === 'aborted' && untrained.reason).toBe('rule fltrust needs a reference update on the root dataset, and this coordinator has no trainer for it');
    h.deps.rootTrainer = { rootUpdate: () => Promise.reject(new Error('aggregation.rootDataset: root has no train split')) };
    const failed = await h.runRound();
    expect(failed.outcome === 'aborted' && failed.reason).toBe("the server's update on the root dataset failed: aggregation.rootDataset: root has no train split");
    h.deps.rootTrainer = { rootUpdate: () => Promise.resolve(new Float32Array(D)) };
    const zero = await h.runRound();
    expect(zero.outcome === 'aborted' && zero.reason).toBe("fltrust: the server's root-dataset update is the zero vector, so trust (cosine with it) is undefined");
  });

  it('refuses a federation whose rule parameters cannot work, naming the field', () => {
    expect(() => new Harness({ config: testConfig({ aggregation: { rule: 'krum', params: {} } }) })).toThrow(/ruleParams\.f/);
  });
});
