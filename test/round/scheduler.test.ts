// The scheduler over the in-memory transport: rounds until the target, retries with backoff, failure after too many
// aborts, pause, and a restart over the same store file that resumes from the last committed model.
import { afterEach, describe, expect, it } from 'vitest';
import type { InMemoryClientHandler, RoundResult } from '../../coordinator/src/round/index.js';
import { epsilonOf } from '../../shared/src/core/dp/rdp.js';
import { localEpsilon, localNoiseMultiplierFor } from '../../shared/src/core/dp/local.js';
import { joinsByClient } from '../../coordinator/src/privacy/budget.js';
import {
  FEDERATION_ID,
  Harness,
  acceptOnly,
  decliner,
  eventually,
  fedAvgByHand,
  honest,
  initialWeights,
  makeTempDir,
  maxAbsDiff,
  rampDelta,
  removeDir,
  sleep,
  testConfig,
} from './harness.js';

const harnesses: Harness[] = [];
const dirs: string[] = [];
function harness(...args: ConstructorParameters<typeof Harness>): Harness {
  const h = new Harness(...args);
  harnesses.push(h);
  return h;
}
afterEach(() => {
  for (const h of harnesses.splice(0)) h.close();
  for (const dir of dirs.splice(0)) removeDir(dir);
});

/** Accepts every task and uploads rampDelta(0.1 · round number) with 10 examples. */
const perRound = honest((task) => rampDelta(0.1 * task.roundNumber), 10);

describe('scheduler', () => {
  it('runs rounds until the target, then marks the federation completed and stops', async () => {
    const h = harness({ config: testConfig({ rounds: 3 }) });
    for (const id of ['c1', 'c2', 'c3']) h.connect(id, perRound);
    const scheduler = h.scheduler();

    scheduler.ensureRunning(FEDERATION_ID);
    await h.waitForEvent('federation.completed');
    await eventually(() => !scheduler.isRunning(FEDERATION_ID), 'the loop has ended');

    expect(h.federation).toMatchObject({ status: 'completed', roundsCommitted: 3, currentModelVersion: 3 });
    const rounds = h.store.listRounds(FEDERATION_ID).reverse();
    expect(rounds.map((r) => [r.number, r.state, r.modelInVersion, r.modelOutVersion])).toEqual([
      [1, 'committed', 0, 1],
      [2, 'committed', 1, 2],
      [3, 'committed', 2, 3],
    ]);
    // Each version is its parent plus that round's mean update; the lineage is unbroken.
    const versions = h.store.listModelVersions(FEDERATION_ID);
    let expected: Float64Array = Float64Array.from(initialWeights());
    for (let v = 1; v <= 3; v++) {
      expect(versions[v]!.parentSha256).toBe(versions[v - 1]!.sha256);
      expected = fedAvgByHand(Float32Array.from(expected), [{ delta: rampDelta(0.1 * v), numExamples: 10 }]);
      expect(maxAbsDiff(h.models.weights(versions[v]!), expected)).toBeLessThan(1e-5);
    }
    expect(h.eventLog.filter((e) => e.type === 'federation.completed')).toHaveLength(1);
  });

  it('retries after aborted rounds with doubling backoff, then commits', async () => {
    const h = harness({ config: testConfig({ rounds: 1 }) });
    // Both clients decline rounds 1 and 2 (busy), then take part.
    const busyTwice: InMemoryClientHandler = (message, client) => {
      if (message.kind !== 'task') return;
      if (message.roundNumber <= 2) client.decline(message.roundId, 'busy');
      else client.upload(message.roundId, rampDelta(0.5), { numExamples: 10 });
    };
    h.connect('c1', busyTwice);
    h.connect('c2', busyTwice);
    const finished: RoundResult[] = [];
    const scheduler = h.scheduler({ backoffMs: 50, maxBackoffMs: 1000, onRoundFinished: (_, result) => finished.push(result) });

    scheduler.ensureRunning(FEDERATION_ID);
    await h.waitForEvent('federation.completed');

    expect(finished.map((r) => r.outcome)).toEqual(['aborted', 'aborted', 'committed']);
    expect(finished[0]).toMatchObject({ reason: 'too few clients accepted the task (configuring): 0 of 2 selected, minimum 2' });
    const at = (type: string, round: number): number => h.eventLog.find((e) => e.type === type && e.metrics['round'] === round)!.timeMs;
    // 50 ms, then 100 ms. Timers count from the event loop's cached clock, so allow them to fire a little early.
    expect(at('round.started', 2) - at('round.aborted', 1)).toBeGreaterThanOrEqual(40);
    expect(at('round.started', 3) - at('round.aborted', 2)).toBeGreaterThanOrEqual(90);
    expect(h.federation).toMatchObject({ status: 'completed', roundsCommitted: 1 });
  });

  it('fails the federation after maxConsecutiveAborts aborted rounds in a row', async () => {
    const h = harness({ config: testConfig({ rounds: 5, maxConsecutiveAborts: 3 }) });
    h.connect('c1', decliner('busy'));
    h.connect('c2', decliner('busy'));
    const scheduler = h.scheduler();

    scheduler.ensureRunning(FEDERATION_ID);
    const failed = await h.waitForEvent('federation.failed');
    await eventually(() => !scheduler.isRunning(FEDERATION_ID), 'the loop has ended');
    // Nothing starts afterwards.
    await sleep(30);

    const reason = '3 rounds in a row were aborted; last: too few clients accepted the task (configuring): 0 of 2 selected, minimum 2';
    expect(failed.message).toBe(reason);
    expect(h.federation).toMatchObject({ status: 'failed', statusReason: reason, roundsCommitted: 0 });
    expect(h.store.listRounds(FEDERATION_ID).map((r) => r.state)).toEqual(['aborted', 'aborted', 'aborted']);
  });

  it('marks the federation failed with the reason when its loop cannot go on (e.g. its runtime cannot be built)', async () => {
    const h = harness({ config: testConfig({ rounds: 2 }) });
    const scheduler = h.scheduler({
      runtimeOf: () => Promise.reject(new Error('stored spec is unreadable')),
    });
    scheduler.ensureRunning(FEDERATION_ID);
    const failed = await h.waitForEvent('federation.failed');
    expect(failed.message).toBe('scheduler stopped: stored spec is unreadable');
    expect(h.federation).toMatchObject({ status: 'failed', statusReason: 'scheduler stopped: stored spec is unreadable' });
  });

  it('stops on pause: the round in progress is aborted with the reason and no further round starts', async () => {
    const h = harness({ config: testConfig({ deadlines: { configureMs: 1000, trainingMs: 10_000 } }) });
    for (const id of ['c1', 'c2', 'c3']) h.connect(id, acceptOnly);
    const scheduler = h.scheduler();
    scheduler.ensureRunning(FEDERATION_ID);
    await h.waitForEvent('round.stage', (e) => e.message.endsWith('entered training'));
    const started = Date.now();

    // What the operator API does on pause.
    h.store.setFederationStatus(FEDERATION_ID, 'paused', 'paused by operator', Date.now(), 'operator');
    await scheduler.stop(FEDERATION_ID, 'federation paused by operator');
    await sleep(30);

    expect(Date.now() - started).toBeLessThan(1000);
    expect(scheduler.isRunning(FEDERATION_ID)).toBe(false);
    const rounds = h.store.listRounds(FEDERATION_ID);
    expect(rounds).toHaveLength(1);
    expect(rounds[0]).toMatchObject({ state: 'aborted', abortReason: 'federation paused by operator' });
    expect(h.federation).toMatchObject({ status: 'paused', roundsCommitted: 0 });
  });

  it('stops waiting for clients when the federation is paused meanwhile', async () => {
    const h = harness();
    h.connect('c1', perRound);
    const scheduler = h.scheduler({ pollMs: 5 });
    scheduler.ensureRunning(FEDERATION_ID);
    await sleep(20);
    expect(scheduler.isRunning(FEDERATION_ID)).toBe(true);

    h.store.setFederationStatus(FEDERATION_ID, 'paused', 'paused by operator', Date.now(), 'operator');
    await eventually(() => !scheduler.isRunning(FEDERATION_ID), 'the loop has ended');

    expect(h.store.listRounds(FEDERATION_ID)).toEqual([]);
  });

  it('resumes after a restart from the last committed model, the interrupted round marked aborted', async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const config = testConfig({ rounds: 3 });

    // First run: round 1 commits, then the coordinator stops between rounds.
    const before = new Harness({ dir, config });
    for (const id of ['c1', 'c2', 'c3']) before.connect(id, perRound);
    const first = before.scheduler();
    let stopped: Promise<void> | null = null;
    before.events.subscribe((event) => {
      if (event.type === 'round.committed') stopped ??= first.stop(FEDERATION_ID, 'coordinator shutting down');
    });
    first.ensureRunning(FEDERATION_ID);
    await before.waitForEvent('round.committed');
    await stopped;
    const v1 = before.store.getCurrentModelVersion(FEDERATION_ID);
    expect(v1.version).toBe(1);
    const v1Weights = new Float32Array(before.models.weights(v1));
    // ... and crashes in the middle of round 2: a round left in training.
    const crashed = before.store.startRound({ id: 'round-2-crashed', federationId: FEDERATION_ID, startedAt: Date.now(), modelInVersion: 1, config: {} }, 'coordinator');
    before.store.updateRound(crashed.id, { state: 'training', selected: ['c1', 'c2', 'c3'] });
    before.store.close();

    // Restart over the same files.
    const after = harness({ dir, config, createFederation: false });
    const aborted = after.store.abortNonTerminalRounds('coordinator restarted', Date.now(), 'coordinator');
    expect(aborted.map((r) => [r.id, r.state, r.abortReason])).toEqual([['round-2-crashed', 'aborted', 'coordinator restarted']]);
    expect(after.federation).toMatchObject({ status: 'running', roundsCommitted: 1, currentModelVersion: 1 });
    for (const id of ['c1', 'c2', 'c3']) after.connect(id, perRound);
    const second = after.scheduler();
    second.ensureRunning(FEDERATION_ID);
    await after.waitForEvent('federation.completed');

    expect(after.federation).toMatchObject({ status: 'completed', roundsCommitted: 3, currentModelVersion: 3 });
    const rounds = after.store.listRounds(FEDERATION_ID).reverse();
    expect(rounds.map((r) => [r.number, r.state, r.modelInVersion, r.modelOutVersion])).toEqual([
      [1, 'committed', 0, 1],
      [2, 'aborted', 1, null],
      [3, 'committed', 1, 2],
      [4, 'committed', 2, 3],
    ]);
    // Round 3 trained the model round 1 committed, read back from the reopened store's files.
    const v2 = after.store.getModelVersion(FEDERATION_ID, 2)!;
    expect(v2.parentSha256).toBe(v1.sha256);
    const expected = fedAvgByHand(v1Weights, [{ delta: rampDelta(0.3), numExamples: 10 }]);
    expect(maxAbsDiff(after.models.weights(v2), expected)).toBeLessThan(1e-6);
  });
});

describe('scheduler with central differential privacy', () => {
  it('stops exactly before the round that would exceed the budget, with the ledger as the record', async () => {
    const z = 4;
    const budget = 2;
    const config = testConfig({ rounds: 20, plan: { clipNorm: 1 }, dp: { mode: 'central', noiseMultiplier: z }, privacy: { targetEpsilon: budget, targetDelta: 1e-5 } });
    const h = harness({ config });
    for (const id of ['c1', 'c2', 'c3']) h.connect(id, honest(() => rampDelta(0.01), 10));
    // Fixed cohort: no amplification claimed, q = 1.
    let allowed = 0;
    while (epsilonOf({ samplingRate: 1, noiseMultiplier: z, steps: allowed + 1, delta: 1e-5 }).epsilon <= budget) allowed++;
    expect(allowed).toBeGreaterThan(1);
    expect(allowed).toBeLessThan(20);

    const scheduler = h.scheduler();
    scheduler.ensureRunning(FEDERATION_ID);
    await h.waitForEvent('federation.budget-exhausted');
    await eventually(() => !scheduler.isRunning(FEDERATION_ID), 'the loop has ended');

    expect(h.federation).toMatchObject({ status: 'budget-exhausted', roundsCommitted: allowed });
    expect(h.federation.statusReason).toMatch(new RegExp(`^round ${allowed + 1} would bring epsilon to \\d+\\.\\d+, over the budget 2 \\(delta 0\\.00001\\); spent \\d+\\.\\d+ in ${allowed} rounds$`));
    const ledger = h.store.listPrivacyLedger(FEDERATION_ID);
    expect(ledger.map((e) => e.roundNumber)).toEqual(Array.from({ length: allowed }, (_, i) => i + 1));
    for (const [i, e] of ledger.entries()) {
      expect(e).toMatchObject({ mechanism: 'central', noiseMultiplier: z, samplingRate: 1, clipNorm: 1, survivors: 3, delta: 1e-5 });
      expect(e.epsilonAfter).toBeCloseTo(epsilonOf({ samplingRate: 1, noiseMultiplier: z, steps: i + 1, delta: 1e-5 }).epsilon, 9);
    }
    expect(ledger.at(-1)!.epsilonAfter).toBeLessThanOrEqual(budget);
    const last = h.store.listRounds(FEDERATION_ID)[0]!;
    expect(last.metrics).toMatchObject({ dp_noise_multiplier: z, dp_amplified: 0 });
    expect(last.metrics['epsilon']).toBeCloseTo(ledger.at(-1)!.epsilonAfter, 12);
  });

  it('a restarted coordinator recomputes spending from the ledger and never starts the round over budget', async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    // At z = 4 with q = 1 a budget of 2 allows three rounds (checked below).
    const config = testConfig({ rounds: 20, plan: { clipNorm: 1 }, dp: { mode: 'central', noiseMultiplier: 4 }, privacy: { targetEpsilon: 2, targetDelta: 1e-5 } });
    const first = new Harness({ config, dir });
    for (const id of ['c1', 'c2', 'c3']) first.connect(id, honest(() => rampDelta(0.01), 10));
    const s1 = first.scheduler();
    s1.ensureRunning(FEDERATION_ID);
    await first.waitForEvent('round.committed');
    await s1.stop(FEDERATION_ID, 'coordinator restarting');
    const committedBefore = first.federation.roundsCommitted;
    first.close();

    const second = new Harness({ config, dir, createFederation: false });
    harnesses.push(second);
    for (const id of ['c1', 'c2', 'c3']) second.connect(id, honest(() => rampDelta(0.01), 10));
    const s2 = second.scheduler();
    s2.ensureRunning(FEDERATION_ID);
    await second.waitForEvent('federation.budget-exhausted');
    const ledger = second.store.listPrivacyLedger(FEDERATION_ID);
    expect(ledger.length).toBe(second.federation.roundsCommitted);
    expect(ledger.length).toBeGreaterThanOrEqual(committedBefore);
    expect(ledger.at(-1)!.epsilonAfter).toBeLessThanOrEqual(2);
    expect(ledger.length).toBe(3);
    expect(epsilonOf({ samplingRate: 1, noiseMultiplier: 4, steps: ledger.length + 1, delta: 1e-5 }).epsilon).toBeGreaterThan(2);
  });
});

describe('scheduler with local differential privacy', () => {
  it('accounts each client on its own, stops selecting a client at its budget, and ends budget-exhausted when too few can join', async () => {
    const budget = 2;
    // z a hair above the one that lets a client join exactly twice.
    const z = localNoiseMultiplierFor(budget, 1e-5, 2) * 1.001;
    expect(localEpsilon(z, 3, 1e-5)).toBeGreaterThan(budget);
    const config = testConfig({ rounds: 20, plan: { clipNorm: 1 }, dp: { mode: 'local', noiseMultiplier: z }, privacy: { targetEpsilon: budget, targetDelta: 1e-5 } });
    const h = harness({ config });
    const tasks: { clientId: string; noise: unknown }[] = [];
    for (const id of ['c1', 'c2', 'c3', 'c4']) {
      h.connect(id, (message, client) => {
        if (message.kind !== 'task') return;
        tasks.push({ clientId: id, noise: message.plan.noise });
        client.accept(message.roundId);
        client.upload(message.roundId, rampDelta(0.01), { numExamples: 10 });
      });
    }
    const scheduler = h.scheduler();
    scheduler.ensureRunning(FEDERATION_ID);
    await h.waitForEvent('federation.budget-exhausted');
    await eventually(() => !scheduler.isRunning(FEDERATION_ID), 'the loop has ended');

    // Clients are told to add the noise themselves.
    expect(tasks.length).toBeGreaterThan(0);
    for (const t of tasks) expect(t.noise).toEqual({ mode: 'local', noiseMultiplier: z });
    const ledger = h.store.listPrivacyLedger(FEDERATION_ID);
    const joins = joinsByClient(ledger);
    // 4 clients × 2 joins each, in cohorts of at most 3 and at least 2.
    expect([...joins.values()].every((n) => n <= 2)).toBe(true);
    expect([...joins.values()].reduce((a, b) => a + b, 0)).toBe(8);
    for (const [i, e] of ledger.entries()) {
      expect(e).toMatchObject({ mechanism: 'local', noiseMultiplier: z, rdp: {} });
      const most = Math.max(...joinsByClient(ledger.slice(0, i + 1)).values());
      expect(e.epsilonAfter).toBeCloseTo(localEpsilon(z, most, 1e-5), 9);
      expect(e.epsilonAfter).toBeLessThanOrEqual(budget);
    }
    expect(h.federation.status).toBe('budget-exhausted');
    expect(h.federation.statusReason).toMatch(/^round \d+ needs 2 clients but only 0 active clients can join again without their own epsilon passing the budget 2 \(delta 0\.00001\); 4 have spent it/);
  });
});

describe('scheduler with adaptive clipping', () => {
  it('grows the clip norm while every client is clipped, hands it to clients, and charges the total z', async () => {
    const z = 1;
    const config = testConfig({
      rounds: 3,
      plan: { clipNorm: 0.5 },
      dp: { mode: 'central', noiseMultiplier: z, adaptiveClipping: { targetQuantile: 0.5, learningRate: 0.2 } },
      privacy: { targetEpsilon: 1e3, targetDelta: 1e-5 },
    });
    const h = harness({ config });
    const clipNorms: number[] = [];
    for (const id of ['c1', 'c2', 'c3']) {
      h.connect(id, (message, client) => {
        if (message.kind !== 'task') return;
        if (id === 'c1') clipNorms.push(message.plan.clipNorm);
        client.accept(message.roundId);
        // Every client was clipped: its update norm was above C.
        client.upload(message.roundId, rampDelta(0.001), { numExamples: 10, metrics: { clipped: 1 } });
      });
    }
    const scheduler = h.scheduler();
    scheduler.ensureRunning(FEDERATION_ID);
    await h.waitForEvent('federation.completed');
    const ledger = h.store.listPrivacyLedger(FEDERATION_ID);
    expect(ledger).toHaveLength(3);
    expect(clipNorms[0]).toBe(0.5);
    for (const [i, e] of ledger.entries()) {
      const p = e.params;
      // σ_b = max(expected cohort / 20, z) = 1; the update gets z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2).
      expect(p['countNoise']).toBe(1);
      expect(p['updateNoiseMultiplier']).toBeCloseTo(1 / Math.sqrt(1 - 1 / 4), 12);
      expect(e.noiseMultiplier).toBe(z);
      expect(e.clipNorm).toBeCloseTo(clipNorms[i]!, 12);
      expect(p['nextClipNorm']).toBeCloseTo(e.clipNorm * Math.exp(-0.2 * (p['noisedQuantile']! - 0.5)), 12);
      if (i + 1 < ledger.length) expect(clipNorms[i + 1]).toBeCloseTo(p['nextClipNorm']!, 12);
      expect(e.epsilonAfter).toBeCloseTo(epsilonOf({ samplingRate: 1, noiseMultiplier: z, steps: i + 1, delta: 1e-5 }).epsilon, 9);
    }
  });
});

describe('scheduler with reputation and quarantine', () => {
  it('refuses an update above the declared clip before aggregation, records why, and quarantines a client that keeps doing it', async () => {
    // minConnected 3: the quarantined client stays connected, so the last rounds still start with the other two.
    const config = testConfig({ rounds: 8, plan: { clipNorm: 1 }, selection: { minConnected: 3 } });
    const h = harness({ config });
    for (const id of ['c1', 'c2']) h.connect(id, honest(() => rampDelta(0.01), 10));
    let attackerTasks = 0;
    h.connect('c3', (message, client) => {
      if (message.kind !== 'task') return;
      attackerTasks++;
      client.accept(message.roundId);
      // Model replacement: far above the clip norm the plan declares.
      client.upload(message.roundId, rampDelta(50), { numExamples: 10 });
    });
    const scheduler = h.scheduler();
    scheduler.ensureRunning(FEDERATION_ID);
    await h.waitForEvent('federation.completed');

    // Rejected alone among 3 (p = ⅓): z = ⅔k / √(2k/9 + ½) is 2.95 at k = 6 and 3.25 at k = 7, so it is quarantined in
    // its 7th round and never selected after.
    expect(attackerTasks).toBe(7);
    const attacker = h.store.getClient('c3')!;
    expect(attacker.status).toBe('quarantined');
    expect(attacker.reputation).toBeCloseTo(0.8 ** 7, 12);
    expect(attacker.suspicion).toBeCloseTo((14 / 3) / Math.sqrt(14 / 9 + 0.5), 9);
    expect(attacker.statusReason).toMatch(
      /^suspicion z 3\.25 reached 3 after 7 scored rounds \(fared worse than its rounds' average by 4\.67 rejections; reputation 0\.210\); last: rejected in round 7 of federation .*refused before aggregation: .*update L2 norm .* is above the declared clip norm 1/,
    );
    expect(h.eventLog.filter((e) => e.type === 'client.quarantined').map((e) => e.clientId)).toEqual(['c3']);
    for (const id of ['c1', 'c2']) expect(h.store.getClient(id)).toMatchObject({ status: 'active', reputation: 1, scoredRounds: 8 });
    // Better than their rounds' average: negative suspicion.
    expect(h.store.getClient('c1')!.suspicion).toBeLessThan(-1);
    const first = h.store.listRounds(FEDERATION_ID).at(-1)!;
    const verdicts = h.store.listVerdicts(first.id);
    expect(verdicts.find((v) => v.clientId === 'c3')).toMatchObject({ verdict: 'rejected', reason: expect.stringMatching(/^refused before aggregation: update L2 norm/) });
    expect(verdicts.filter((v) => v.verdict === 'accepted').map((v) => v.clientId).sort()).toEqual(['c1', 'c2']);
  });

  it('leaves reputation alone when the federation turns it off', async () => {
    const h = harness({ config: testConfig({ rounds: 4, plan: { clipNorm: 1 }, reputation: { enabled: false } }) });
    for (const id of ['c1', 'c2']) h.connect(id, honest(() => rampDelta(0.01), 10));
    h.connect('c3', honest(() => rampDelta(50), 10));
    const scheduler = h.scheduler();
    scheduler.ensureRunning(FEDERATION_ID);
    await h.waitForEvent('federation.completed');
    expect(h.store.getClient('c3')).toMatchObject({ status: 'active', reputation: 1, scoredRounds: 0 });
  });
});
