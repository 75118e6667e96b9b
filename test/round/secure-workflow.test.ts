// The round workflow with secure aggregation over the in-memory transport: a real store, real crypto, simulated
// clients that run the client state machine of shared/src/core/secagg (as the agent does) and drop out on cue.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../shared/src/core/rng/rng.js';
import { SecAggClient } from '../../shared/src/core/secagg/client.js';
import type { SecAggStage } from '../../shared/src/core/secagg/messages.js';
import { quantizationParams, quantizeWeighted } from '../../shared/src/core/secagg/quantize.js';
import { createSecAggCrypto } from '../../shared/src/crypto/secagg-crypto.js';
import { cryptoReady, signingKeyPairFromSeed } from '../../shared/src/crypto/sodium.js';
import { sha256 } from '../../shared/src/crypto/hash.js';
import { clientIdFromPublicKey } from '../../shared/src/protocol/identity.js';
import type { ClientNoisePlan, SecAggTaskPlan } from '../../shared/src/protocol/types.js';
import { encodeSkellamInput } from '../../shared/src/core/dp/skellam.js';
import { spendingAfter, dpPlanOf, roundRdp } from '../../coordinator/src/privacy/budget.js';
import { DEFAULT_RDP_ORDERS, epsilonFromRdp } from '../../shared/src/core/dp/rdp.js';
import type { InMemoryClient, InMemoryClientHandler } from '../../coordinator/src/round/index.js';
import { D, FEDERATION_ID, Harness, endsOf, eventually, fedAvgByHand, initialWeights, maxAbsDiff, rampDelta, testConfig } from './harness.js';
import type { ConfigOverrides, HarnessOptions } from './harness.js';

beforeAll(async () => {
  await cryptoReady();
});

const harnesses: Harness[] = [];
afterEach(() => {
  for (const h of harnesses.splice(0)) h.close();
});

function secureHarness(overrides: ConfigOverrides = {}, options: Omit<HarnessOptions, 'config'> = {}): Harness {
  const config = testConfig({
    plan: { clipNorm: 1 },
    secagg: { enabled: true, ...overrides.secagg },
    ...overrides,
    selection: { cohortSize: 6, minClients: 3, ...overrides.selection },
    deadlines: { configureMs: 200, trainingMs: 3000, stageMs: 1500, ...overrides.deadlines },
  });
  const h = new Harness({ ...options, config });
  harnesses.push(h);
  return h;
}

interface SecureBehaviour {
  delta: Float32Array;
  numExamples: number;
  /** Stops answering (disconnects) when this stage's request arrives. */
  dropAt?: SecAggStage;
  /** Uploads a masked input this many words short. */
  shortBy?: number;
}

/** A client doing what the agent does: accept, answer every stage, quantize and mask its update, upload it. */
function secureClient(h: Harness, index: number, behaviour: SecureBehaviour): { id: string; client: InMemoryClient } {
  const keys = signingKeyPairFromSeed(sha256(`secure-workflow/${index}`));
  const id = clientIdFromPublicKey(keys.publicKey);
  const crypto = createSecAggCrypto();
  let state: SecAggClient | null = null;
  let plan: SecAggTaskPlan | null = null;
  let noise: ClientNoisePlan | null = null;
  const handler: InMemoryClientHandler = (message, client) => {
    if (message.kind === 'task') {
      plan = message.plan.secagg;
      noise = message.plan.noise;
      client.accept(message.roundId);
      return;
    }
    if (message.kind !== 'secagg') return;
    const request = message.message;
    if (behaviour.dropAt === request.stage) {
      client.disconnect('dropped on cue');
      return;
    }
    switch (request.stage) {
      case 'advertise-keys':
        state = new SecAggClient({ context: { federationId: FEDERATION_ID, roundId: message.roundId, bucket: request.bucket }, clientId: id, identity: keys, crypto });
        client.secagg(message.roundId, { stage: request.stage, reply: state.advertiseKeys(request.request) });
        return;
      case 'share-keys':
        client.secagg(message.roundId, { stage: request.stage, reply: state!.shareKeys(request.request) });
        return;
      case 'masked-input': {
        const params = quantizationParams({ modulusBits: plan!.modulusBits, clamp: plan!.clamp, maxInputs: plan!.maxInputs, weightCap: plan!.weightCap });
        const n = noise as ClientNoisePlan | null;
        const input =
          n?.mode === 'distributed'
            ? encodeSkellamInput(behaviour.delta, { clipNorm: 1, scale: n.scale, l2Bound: n.l2Bound, perClientVariance: n.perClientVariance }, plan!.modulusBits, createSeededRng(1000 + index))
            : quantizeWeighted(behaviour.delta, behaviour.numExamples, params, createSeededRng(index));
        const masked = state!.maskInput(request.request, input);
        client.uploadMasked(message.roundId, masked.subarray(0, masked.length - (behaviour.shortBy ?? 0)), { numExamples: behaviour.numExamples });
        return;
      }
      case 'consistency-check':
        client.secagg(message.roundId, { stage: request.stage, reply: state!.consistencyCheck(request.request) });
        return;
      case 'unmasking':
        client.secagg(message.roundId, { stage: request.stage, reply: state!.unmask(request.request) });
        return;
    }
  };
  return { id, client: h.connect(id, handler, undefined, keys.publicKey) };
}

function delta(i: number): Float32Array {
  return Float32Array.from({ length: D }, (_, j) => 0.01 * ((i * 7 + j * 3) % 11) - 0.05);
}

describe('a secure round', () => {
  it('commits the example-weighted mean of the survivors, learning only the sum, with survivors and bytes per stage recorded', async () => {
    const h = secureHarness();
    const behaviours = Array.from({ length: 6 }, (_, i) => ({ delta: delta(i), numExamples: 20 + 10 * i }));
    const clients = behaviours.map((b, i) => secureClient(h, i, b));
    const result = await h.runRound();
    expect(result.outcome, result.outcome === 'aborted' ? result.reason : '').toBe('committed');
    if (result.outcome !== 'committed') return;
    const expected = fedAvgByHand(initialWeights(), behaviours);
    expect(maxAbsDiff(h.models.weights(result.commit.modelVersion), expected)).toBeLessThan(1e-6);
    const round = h.store.getRound(result.round.id)!;
    expect(round.survivors).toEqual({ selected: 6, configuring: 6, 'advertise-keys': 6, 'share-keys': 6, 'masked-input': 6, 'consistency-check': 6, unmasking: 6 });
    expect(round.metrics['participants']).toBe(6);
    expect(round.metrics['total_weight']).toBeCloseTo(behaviours.reduce((n, b) => n + b.numExamples, 0), 3);
    for (const stage of ['advertise_keys', 'share_keys', 'masked_input', 'consistency_check', 'unmasking']) {
      expect(round.metrics[`bytes_down_${stage}`], stage).toBeGreaterThan(0);
    }
    // The masked inputs are d + 1 uint32 words each (the weight travels inside the sum).
    expect(round.metrics['bytes_up_masked_input']).toBe(6 * (D + 1) * 4);
    expect(h.roundEventTypes()).toEqual([
      'round.started',
      'round.stage:configuring',
      'round.stage:advertise-keys',
      'round.stage:share-keys',
      'round.stage:masked-input',
      'round.stage:consistency-check',
      'round.stage:unmasking',
      'round.stage:aggregating',
      'round.committed',
    ]);
    for (const { client } of clients) expect(endsOf(client)).toMatchObject([{ outcome: 'committed' }]);
    const verdicts = h.store.listVerdicts(result.round.id);
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]).toMatchObject({ bucket: 0, clientId: null });
    expect(h.gateway.handlerErrors).toEqual([]);
  });

  it('survives dropouts at every stage within tolerance and sums exactly the clients whose input arrived', async () => {
    // 12 clients on the complete graph: k = 11, t = 6, so any 5 may drop.
    const h = secureHarness({ selection: { cohortSize: 12, minClients: 3 } });
    const stages: (SecAggStage | undefined)[] = ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking', ...Array<undefined>(7).fill(undefined)];
    const behaviours = stages.map((dropAt, i) => ({ delta: delta(i), numExamples: 10 + i, dropAt }));
    behaviours.forEach((b, i) => secureClient(h, i, b));
    const result = await h.runRound();
    expect(result.outcome, result.outcome === 'aborted' ? result.reason : '').toBe('committed');
    if (result.outcome !== 'committed') return;
    // Inputs in the sum: everyone but the three who left before masked-input ended.
    const summed = behaviours.filter((b) => !['advertise-keys', 'share-keys', 'masked-input'].includes(b.dropAt ?? ''));
    expect(maxAbsDiff(h.models.weights(result.commit.modelVersion), fedAvgByHand(initialWeights(), summed))).toBeLessThan(1e-6);
    const round = h.store.getRound(result.round.id)!;
    expect(round.survivors).toMatchObject({ 'advertise-keys': 11, 'share-keys': 10, 'masked-input': 9, 'consistency-check': 8, unmasking: 7 });
    expect(round.metrics['participants']).toBe(9);
    const dropped = h.store.listParticipations(result.round.id).filter((p) => p.dropped);
    expect(dropped.map((p) => p.dropoutStage).sort()).toEqual(['advertise-keys', 'masked-input', 'share-keys']);
  });

  it('aborts with the stage and the counts when too many drop, and commits nothing', async () => {
    const h = secureHarness({ selection: { cohortSize: 6, minClients: 3 } });
    behavioursDropping(h, 6, 3, 'unmasking');
    const v0 = h.store.getCurrentModelVersion(FEDERATION_ID);
    const result = await h.runRound();
    expect(result.outcome).toBe('aborted');
    if (result.outcome !== 'aborted') return;
    expect(result.reason).toMatch(/^unmasking: the shares of survivor c-[0-9a-f]{20} are held by only 2 clients that revealed their shares, below the threshold 3/);
    expect(h.store.getCurrentModelVersion(FEDERATION_ID).sha256).toBe(v0.sha256);
    expect(h.store.getRound(result.round.id)!.survivors).toMatchObject({ 'masked-input': 6, 'consistency-check': 6, unmasking: 3 });
  });

  it('drops a client whose masked input has the wrong length, with a protocol-violation reason, and goes on', async () => {
    const h = secureHarness();
    const behaviours = Array.from({ length: 6 }, (_, i) => ({ delta: delta(i), numExamples: 10, ...(i === 2 ? { shortBy: 1 } : {}) }));
    const clients = behaviours.map((b, i) => secureClient(h, i, b));
    const result = await h.runRound();
    expect(result.outcome, result.outcome === 'aborted' ? result.reason : '').toBe('committed');
    if (result.outcome !== 'committed') return;
    const bad = h.store.listParticipations(result.round.id).find((p) => p.clientId === clients[2]!.id)!;
    expect(bad).toMatchObject({ dropped: true, dropoutStage: 'masked-input' });
    expect(bad.dropoutReason).toMatch(/protocol violation at masked-input: declared \d+ bytes; a masked input is 11 uint32 words/);
    const others = behaviours.filter((_, i) => i !== 2);
    expect(maxAbsDiff(h.models.weights(result.commit.modelVersion), fedAvgByHand(initialWeights(), others))).toBeLessThan(1e-6);
  });
});

describe('bucketed mode', () => {
  it('splits the cohort by a committed permutation into independent sums and aggregates the bucket means', async () => {
    const h = secureHarness({ selection: { cohortSize: 8, minClients: 4 }, secagg: { enabled: true, bucketed: true, minBucketSize: 4 } });
    const behaviours = Array.from({ length: 8 }, (_, i) => ({ delta: delta(i), numExamples: 10 + 5 * i }));
    behaviours.forEach((b, i) => secureClient(h, i, b));
    const result = await h.runRound();
    expect(result.outcome, result.outcome === 'aborted' ? result.reason : '').toBe('committed');
    if (result.outcome !== 'committed') return;
    // FedAvg over bucket means weighted by bucket totals is the global example-weighted mean.
    expect(maxAbsDiff(h.models.weights(result.commit.modelVersion), fedAvgByHand(initialWeights(), behaviours))).toBeLessThan(1e-6);
    const verdicts = h.store.listVerdicts(result.round.id);
    expect(verdicts.map((v) => v.bucket).sort()).toEqual([0, 1]);
    expect(h.store.getRound(result.round.id)!.metrics['secagg_buckets']).toBe(2);
    // The coordinator learned two sums of 4 clients each, nothing finer.
    expect(h.store.getRound(result.round.id)!.metrics['secagg_smallest_sum']).toBe(4);
  });
});

describe('group testing under bucketed secure aggregation', () => {
  it('quarantines 20% sign-flip attackers within 16 rounds from bucket verdicts alone, and no honest client', async () => {
    // 25 clients in re-drawn buckets of 2 (12 buckets; 10 once the 5 attackers are out, still enough for multi-krum
    // with f = 3, which needs more than 8); multi-krum over the bucket means. A bucket holding an attacker is
    // near 0 (one of each) or reversed (two), far from the honest buckets; which clients sent what is never seen.
    const seeded = createSeededRng(11);
    const h = secureHarness({
      rounds: 16,
      selection: { cohortSize: 25, minClients: 20 },
      secagg: { enabled: true, bucketed: true, minBucketSize: 2 },
      aggregation: { rule: 'multi-krum', params: { f: 3 } },
      deadlines: { configureMs: 500, trainingMs: 5000, stageMs: 3000 },
    }, {
      // Bucket permutations from a seeded source, so the test replays (the coordinator uses the OS CSPRNG).
      secaggRandomBytes: (n) => Uint8Array.from({ length: n }, () => seeded.nextUint32() & 0xff),
    });
    const base = rampDelta(0.01);
    const honestDelta = (i: number): Float32Array => Float32Array.from(base, (b, j) => b + 0.002 * (((i * 7 + j * 3) % 11) - 5));
    const ids = Array.from({ length: 25 }, (_, i) => secureClient(h, i, { delta: i < 5 ? honestDelta(i).map((x) => -x) : honestDelta(i), numExamples: 10 }).id);
    const attackers = new Set(ids.slice(0, 5));
    const scheduler = h.scheduler();
    scheduler.ensureRunning(FEDERATION_ID);
    await h.waitForEvent('federation.completed', () => true, 80_000);
    await eventually(() => !scheduler.isRunning(FEDERATION_ID), 'the loop has ended');

    const quarantined = h.eventLog.filter((e) => e.type === 'client.quarantined').map((e) => e.clientId!);
    expect(new Set(quarantined)).toEqual(attackers);
    for (const id of ids) {
      const client = h.store.getClient(id)!;
      expect(client.status, id).toBe(attackers.has(id) ? 'quarantined' : 'active');
      if (attackers.has(id)) expect(client.suspicion).toBeGreaterThanOrEqual(3);
      else expect(client.suspicion).toBeLessThan(3);
    }
    // Only bucket sums were judged: every verdict names a bucket of at least 2 clients, never a single client.
    for (const round of h.store.listRounds(FEDERATION_ID)) {
      for (const v of h.store.listVerdicts(round.id)) {
        expect(v.clientId).toBeNull();
        expect(v.bucket).not.toBeNull();
      }
    }
    // Once the attackers are out, every bucket is honest: the last round rejects only the f buckets multi-krum must.
    const [last] = h.store.listRounds(FEDERATION_ID);
    expect(last!.number).toBe(16);
    expect(h.store.getRound(last!.id)!.metrics['secagg_buckets']).toBe(10);

  }, 120_000);
});

describe('a secure round with distributed differential privacy', () => {
  it('commits the clipped sum plus the survivors\' Skellam noise over the fixed denominator, and accounts only the others\' noise', async () => {
    const z = 0.05;
    const h = secureHarness({ dp: { mode: 'distributed', noiseMultiplier: z }, privacy: { targetEpsilon: 1e4, targetDelta: 1e-5 }, rounds: 5 });
    const behaviours: SecureBehaviour[] = Array.from({ length: 6 }, (_, i) => ({ delta: delta(i), numExamples: 20 + 10 * i }));
    behaviours[5]!.dropAt = 'masked-input';
    behaviours.forEach((b, i) => secureClient(h, i, b));
    const result = await h.runRound();
    expect(result.outcome, result.outcome === 'aborted' ? result.reason : '').toBe('committed');
    if (result.outcome !== 'committed') return;
    // DP-FedAvg: equal weights, the expected cohort (6) as denominator, whatever the survivors' example counts.
    const weights = h.models.weights(result.commit.modelVersion);
    const start = initialWeights();
    const survivorsSum = new Float64Array(D);
    for (const b of behaviours.slice(0, 5)) for (let j = 0; j < D; j++) survivorsSum[j]! += b.delta[j]!;
    const [entry] = h.store.listPrivacyLedger(FEDERATION_ID);
    expect(entry).toMatchObject({ mechanism: 'distributed', survivors: 5, samplingRate: 1, clipNorm: 1 });
    const { scale, l2Bound, l1Bound, centralVariance, perClientVariance } = entry!.params as Record<string, number>;
    // Others' noise only: 4 of the 5 survivors' shares; the plan sized it for minClients − 1 = 2 shares at z.
    expect(centralVariance).toBeCloseTo(4 * perClientVariance!, 0);
    expect(2 * perClientVariance!).toBeCloseTo((z * l2Bound!) ** 2, 0);
    expect(entry!.noiseMultiplier).toBeCloseTo(Math.sqrt(centralVariance!) / l2Bound!, 12);
    expect(entry!.contributors).toHaveLength(5);
    // The error is the noise of all 5 survivors over scale·6: its empirical spread matches.
    let squares = 0;
    for (let j = 0; j < D; j++) squares += (weights[j]! - start[j]! - survivorsSum[j]! / 6) ** 2;
    const expectedSd = Math.sqrt(5 * perClientVariance!) / scale! / 6;
    expect(Math.sqrt(squares / D)).toBeGreaterThan(expectedSd * 0.6);
    expect(Math.sqrt(squares / D)).toBeLessThan(expectedSd * 1.4);
    // ε after the round is the Skellam accountant's on these parameters, and the planned cost bounded it.
    const own = roundRdp({ mechanism: 'distributed', samplingRate: 1, l2Bound: l2Bound!, l1Bound: l1Bound!, centralVariance: centralVariance! });
    expect(entry!.epsilonAfter).toBeCloseTo(epsilonFromRdp(DEFAULT_RDP_ORDERS, own, 1e-5).epsilon, 9);
    const plan = dpPlanOf(h.config)!;
    expect(spendingAfter([], plan, { mechanism: 'distributed', samplingRate: 1, l2Bound: 4096, l1Bound: 4096 ** 2, centralVariance: (z * 4096) ** 2 }).epsilon).toBeGreaterThanOrEqual(entry!.epsilonAfter);
    expect(h.store.getRound(result.round.id)!.metrics['epsilon']).toBeCloseTo(entry!.epsilonAfter, 12);
  });

  it('refuses a modulus too small for the cohort before any task goes out, naming the setting', async () => {
    const h = secureHarness({ dp: { mode: 'distributed', noiseMultiplier: 1 }, privacy: { targetEpsilon: 10, targetDelta: 1e-5 }, secagg: { enabled: true, modulusBits: 12 } });
    const clients = Array.from({ length: 6 }, (_, i) => secureClient(h, i, { delta: delta(i), numExamples: 10 }));
    const result = await h.runRound();
    expect(result.outcome).toBe('aborted');
    if (result.outcome !== 'aborted') return;
    expect(result.reason).toMatch(/^differential privacy \(distributed\) cannot run: .*modulusBits/);
    expect(h.store.listPrivacyLedger(FEDERATION_ID)).toEqual([]);
    for (const { client } of clients) expect(client.received.filter((m) => m.kind === 'task')).toEqual([]);
  });
});

function behavioursDropping(h: Harness, n: number, dropping: number, stage: SecAggStage): void {
  for (let i = 0; i < n; i++) secureClient(h, i, { delta: delta(i), numExamples: 10, ...(i < dropping ? { dropAt: stage } : {}) });
}
