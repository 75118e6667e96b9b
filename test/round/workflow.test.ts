import { float32ToBytes } from '../../shared/src/core/tensor/bytes.js';
// The plaintext round workflow end to end over the in-memory transport: a real store on a temp file, the real
// strategy, simulated clients that accept, decline, go silent, disconnect, upload good and bad updates.
import { afterEach, describe, expect, it } from 'vitest';
import { createSeededRng, shuffleInPlace } from '../../shared/src/core/rng/rng.js';
import { verify } from '../../shared/src/crypto/sodium.js';
import { modelSignaturePayload } from '../../shared/src/protocol/signing.js';
import { selectCohort } from '../../coordinator/src/round/selection.js';
import type { InMemoryClient, InMemoryClientHandler } from '../../coordinator/src/round/index.js';
import type { ParticipationRecord } from '../../coordinator/src/store/index.js';
import {
  D,
  FEDERATION_ID,
  Harness,
  acceptOnly,
  capabilities,
  decliner,
  endsOf,
  expectCohortError,
  fedAvgByHand,
  honest,
  initialWeights,
  maxAbsDiff,
  rampDelta,
  settle,
  tasksOf,
  testConfig,
} from './harness.js';

const harnesses: Harness[] = [];
function harness(...args: ConstructorParameters<typeof Harness>): Harness {
  const h = new Harness(...args);
  harnesses.push(h);
  return h;
}
afterEach(() => {
  for (const h of harnesses.splice(0)) h.close();
});

function participationsById(h: Harness, roundId: string): Map<string, ParticipationRecord> {
  return new Map(h.store.listParticipations(roundId).map((p) => [p.clientId, p]));
}

function roundIdOf(client: InMemoryClient): string {
  const task = tasksOf(client)[0];
  if (task === undefined) throw new Error(`client ${client.clientId} received no task`);
  return task.roundId;
}

describe('a committed round', () => {
  it('applies the example-weighted mean of the updates, stores version 1 with parent version 0, and records everything', async () => {
    const h = harness();
    const updates = [
      { id: 'c1', delta: rampDelta(0.01), numExamples: 10, loss: 0.9 },
      { id: 'c2', delta: rampDelta(-0.02), numExamples: 30, loss: 0.5 },
      { id: 'c3', delta: Float32Array.from({ length: D }, (_, i) => (i % 2 === 0 ? 0.25 : -0.125)), numExamples: 60, loss: 0.3 },
    ];
    const downloaded = new Map<string, Float32Array>();
    const clients = updates.map((u) =>
      h.connect(u.id, (message, client) => {
        if (message.kind !== 'task') return;
        client.accept(message.roundId);
        downloaded.set(u.id, client.download(message.model));
        client.upload(message.roundId, u.delta, { numExamples: u.numExamples, metrics: { train_loss: u.loss } });
      }),
    );
    const v0 = h.store.getCurrentModelVersion(FEDERATION_ID);

    const result = await h.runRound();

    expect(result.outcome).toBe('committed');
    if (result.outcome !== 'committed') return;
    const v1 = result.commit.modelVersion;
    expect(v1.version).toBe(1);
    expect(v1.parentSha256).toBe(v0.sha256);
    expect(v1.roundId).toBe(result.round.id);
    expect(h.store.getCurrentModelVersion(FEDERATION_ID).sha256).toBe(v1.sha256);
    const expected = fedAvgByHand(initialWeights(), updates);
    expect(maxAbsDiff(h.models.weights(v1), expected)).toBeLessThan(1e-6);

    const round = h.store.getRound(result.round.id)!;
    expect(round).toMatchObject({ number: 1, state: 'committed', modelInVersion: 0, modelOutVersion: 1, selected: ['c1', 'c2', 'c3'], abortReason: null });
    expect(round.survivors).toEqual({ selected: 3, configuring: 3, training: 3 });
    expect(round.metrics['participants']).toBe(3);
    expect(round.metrics['dropouts']).toBe(0);
    expect(round.metrics['total_weight']).toBe(100);
    expect(round.metrics['client_train_loss']).toBeCloseTo((10 * 0.9 + 30 * 0.5 + 60 * 0.3) / 100, 12);
    expect(round.bytesUp).toBe(3 * D * 4);
    expect(round.bytesDown).toBe(3 * D * 4);
    for (const u of updates) expect(downloaded.get(u.id)).toEqual(initialWeights());
    expect(h.federation).toMatchObject({ roundsCommitted: 1, currentModelVersion: 1, status: 'running' });

    const participations = participationsById(h, round.id);
    expect([...participations.keys()]).toEqual(['c1', 'c2', 'c3']);
    for (const u of updates) {
      expect(participations.get(u.id)).toMatchObject({ stageReached: 'training', dropped: false, dropoutStage: null, numExamples: u.numExamples, backend: 'cpu', metrics: { train_loss: u.loss } });
    }

    expect(h.roundEventTypes()).toEqual(['round.started', 'round.stage:configuring', 'round.stage:training', 'round.stage:aggregating', 'round.committed']);
    expect(h.eventLog.every((e, i) => i === 0 || e.seq > h.eventLog[i - 1]!.seq)).toBe(true);

    for (const client of clients) {
      const [task] = tasksOf(client);
      // The upload deadline clients are given is the training deadline, absolute.
      expect(task!.deadlineMs - round.startedAt).toBeGreaterThanOrEqual(h.config.deadlines.trainingMs);
      expect(task!.deadlineMs - round.endedAt!).toBeLessThanOrEqual(h.config.deadlines.trainingMs);
      expect(task).toMatchObject({ roundId: round.id, federationId: FEDERATION_ID, roundNumber: 1, updateKind: 'delta-float32', model: { version: 0, sha256: v0.sha256 } });
      expect(task!.layout.totalElements).toBe(D);
      const ends = endsOf(client);
      expect(ends).toHaveLength(1);
      expect(ends[0]).toMatchObject({ outcome: 'committed', model: { version: 1, sha256: v1.sha256 } });
      // The new model reference is signed by the coordinator key clients pin.
      const ref = ends[0]!.model!;
      expect(verify(ref.signature, modelSignaturePayload(FEDERATION_ID, 1, ref.sha256), h.keys.publicKey)).toBe(true);
    }
    expect(h.gateway.handlerErrors).toEqual([]);
  });
});

describe('not enough clients', () => {
  it('aborts in selection with a reason naming the counts, and commits nothing', async () => {
    const h = harness();
    h.connect('c1', honest(() => rampDelta(0.1)));

    const result = await h.runRound();

    expect(result.outcome).toBe('aborted');
    if (result.outcome !== 'aborted') return;
    expect(result.reason).toBe('too few eligible clients: 1 selected of 1 eligible, minimum 2');
    expect(h.store.getRound(result.round.id)).toMatchObject({ state: 'aborted', abortReason: result.reason, modelOutVersion: null });
    expect(h.store.listModelVersions(FEDERATION_ID)).toHaveLength(1);
    expect(h.federation).toMatchObject({ roundsCommitted: 0, currentModelVersion: 0 });
    expect(h.roundEventTypes()).toEqual(['round.started', 'round.aborted']);
  });

  it('aborts in configuring when too few clients accept, naming the stage and counts', async () => {
    const h = harness();
    h.connect('c1', acceptOnly);
    h.connect('c2', decliner('busy'));
    h.connect('c3', null);

    const result = await h.runRound();

    expect(result.outcome).toBe('aborted');
    if (result.outcome !== 'aborted') return;
    expect(result.reason).toBe('too few clients accepted the task (configuring): 1 of 3 selected, minimum 2');
    expect(h.store.getRound(result.round.id)).toMatchObject({ state: 'aborted', survivors: { selected: 3, configuring: 1 } });
    expect(h.store.listModelVersions(FEDERATION_ID)).toHaveLength(1);
  });
});

describe('dropouts', () => {
  // c1 declines, c2 never answers, c3 disconnects once training starts, c4 and c5 upload, c6 misses the deadline.
  function sixClients(h: Harness): Record<string, InMemoryClient> {
    const disconnectInTraining: InMemoryClientHandler = (message, client) => {
      if (message.kind !== 'task') return;
      client.accept(message.roundId);
      void h.waitForEvent('round.stage', (e) => e.message.endsWith('entered training')).then(() => client.disconnect('network lost'));
    };
    return {
      c1: h.connect('c1', decliner('low battery')),
      c2: h.connect('c2', null),
      c3: h.connect('c3', disconnectInTraining),
      c4: h.connect('c4', honest(() => rampDelta(0.5), 20)),
      c5: h.connect('c5', honest(() => rampDelta(-0.25), 60)),
      c6: h.connect('c6', acceptOnly),
    };
  }

  function expectDropouts(h: Harness, roundId: string): void {
    const p = participationsById(h, roundId);
    expect(p.get('c1')).toMatchObject({ dropped: true, dropoutStage: 'configuring', dropoutReason: 'declined the task: low battery' });
    expect(p.get('c2')).toMatchObject({ dropped: true, dropoutStage: 'configuring', dropoutReason: 'did not answer the task before the configure deadline' });
    expect(p.get('c3')).toMatchObject({ dropped: true, dropoutStage: 'training', dropoutReason: 'disconnected: network lost' });
    expect(p.get('c4')).toMatchObject({ dropped: false, stageReached: 'training', numExamples: 20 });
    expect(p.get('c5')).toMatchObject({ dropped: false, stageReached: 'training', numExamples: 60 });
    expect(p.get('c6')).toMatchObject({ dropped: true, dropoutStage: 'training', dropoutReason: 'did not upload an update before the training deadline' });
  }

  it('drops decliners, silent, disconnected and late clients with stage and reason, and commits when enough survive', async () => {
    const h = harness({ config: testConfig({ selection: { cohortSize: 6, minClients: 2 }, deadlines: { configureMs: 30, trainingMs: 150 } }) });
    const c = sixClients(h);

    const result = await h.runRound();

    expect(result.outcome).toBe('committed');
    expectDropouts(h, result.round.id);
    const round = h.store.getRound(result.round.id)!;
    expect(round.survivors).toEqual({ selected: 6, configuring: 4, training: 2 });
    expect(round.metrics['dropouts']).toBe(4);
    expect(round.metrics['participants']).toBe(2);
    const expected = fedAvgByHand(initialWeights(), [
      { delta: rampDelta(0.5), numExamples: 20 },
      { delta: rampDelta(-0.25), numExamples: 60 },
    ]);
    expect(maxAbsDiff(h.models.weights(h.store.getCurrentModelVersion(FEDERATION_ID)), expected)).toBeLessThan(1e-6);
    // Every dropout still connected is told why it is out; the disconnected one cannot be.
    expect(endsOf(c.c1!).map((e) => [e.outcome, e.reason])).toEqual([['released', 'dropped at configuring: declined the task: low battery']]);
    expect(endsOf(c.c2!).map((e) => e.outcome)).toEqual(['released']);
    expect(endsOf(c.c3!)).toEqual([]);
    expect(endsOf(c.c6!).map((e) => [e.outcome, e.reason])).toEqual([['released', 'dropped at training: did not upload an update before the training deadline']]);
    expect(endsOf(c.c4!).map((e) => e.outcome)).toEqual(['committed']);
  });

  it('aborts after the training deadline when fewer than minClients uploaded, naming the stage and counts', async () => {
    const h = harness({ config: testConfig({ selection: { cohortSize: 6, minClients: 3 }, deadlines: { configureMs: 30, trainingMs: 150 } }) });
    const c = sixClients(h);

    const result = await h.runRound();

    expect(result.outcome).toBe('aborted');
    if (result.outcome !== 'aborted') return;
    expect(result.reason).toBe('too few updates before the training deadline: 2 of 4 accepted, minimum 3');
    expectDropouts(h, result.round.id);
    expect(h.store.getRound(result.round.id)).toMatchObject({ state: 'aborted', abortReason: result.reason, survivors: { selected: 6, configuring: 4, training: 2 } });
    expect(h.store.listModelVersions(FEDERATION_ID)).toHaveLength(1);
    expect(endsOf(c.c4!).map((e) => [e.outcome, e.reason])).toEqual([['aborted', result.reason]]);
    expect(h.roundEventTypes()).toEqual(['round.started', 'round.stage:configuring', 'round.stage:training', 'round.aborted']);
  });

  it('drops a client that reports a training failure, at the training stage', async () => {
    const h = harness();
    h.connect('c1', honest(() => rampDelta(0.1)));
    h.connect('c2', honest(() => rampDelta(0.2)));
    h.connect('c3', (message, client) => {
      if (message.kind !== 'task') return;
      client.accept(message.roundId);
      // Reported once the round is training, as a real agent would after local training blew up.
      void h.waitForEvent('round.stage', (e) => e.message.endsWith('entered training')).then(() => client.fail(message.roundId, 'out of memory'));
    });

    const result = await h.runRound();

    expect(result.outcome).toBe('committed');
    expect(participationsById(h, result.round.id).get('c3')).toMatchObject({ dropped: true, dropoutStage: 'training', dropoutReason: 'client reported failure: out of memory' });
  });

  it('keeps the update of a client that disconnects after uploading: it is in the aggregate, so it is no dropout', async () => {
    const h = harness({ config: testConfig({ selection: { cohortSize: 3, minClients: 3 } }) });
    h.connect('c1', (message, client) => {
      if (message.kind !== 'task') return;
      client.upload(message.roundId, rampDelta(1), { numExamples: 10 });
      client.disconnect('agent exited after uploading');
    });
    h.connect('c2', honest(() => rampDelta(2), 10));
    h.connect('c3', honest(() => rampDelta(3), 20));

    const result = await h.runRound();

    expect(result.outcome).toBe('committed');
    const round = h.store.getRound(result.round.id)!;
    expect(round.survivors['training']).toBe(3);
    expect(round.metrics['participants']).toBe(3);
    expect(participationsById(h, round.id).get('c1')).toMatchObject({ dropped: false, stageReached: 'training', numExamples: 10 });
  });
});

describe('poisson mode', () => {
  it('waits for every accepted client rather than a cohort count', async () => {
    const h = harness({ config: testConfig({ selection: { mode: 'poisson', samplingRate: 1, cohortSize: 1, minClients: 2 } }) });
    for (const id of ['c1', 'c2', 'c3']) h.connect(id, honest(() => rampDelta(0.1), 10));
    h.connect('slow', (message, client) => {
      if (message.kind !== 'task') return;
      client.accept(message.roundId);
      setTimeout(() => client.upload(message.roundId, rampDelta(0.5), { numExamples: 30 }), 60);
    });

    const result = await h.runRound();

    expect(result.outcome).toBe('committed');
    expect(result.round.selected).toEqual(['c1', 'c2', 'c3', 'slow']);
    expect(h.store.getRound(result.round.id)!.survivors).toEqual({ selected: 4, configuring: 4, training: 4 });
    const expected = fedAvgByHand(initialWeights(), [...[1, 2, 3].map(() => ({ delta: rampDelta(0.1), numExamples: 10 })), { delta: rampDelta(0.5), numExamples: 30 }]);
    expect(maxAbsDiff(h.models.weights(h.store.getCurrentModelVersion(FEDERATION_ID)), expected)).toBeLessThan(1e-6);
  });
});

describe('fixed mode with over-selection', () => {
  it('closes the round when cohortSize updates arrived, releases the rest, and refuses late uploads', async () => {
    // cohortSize 2 with 100% over-selection asks 4 clients; the training deadline is far away.
    const h = harness({ config: testConfig({ selection: { cohortSize: 2, overSelection: 1, minClients: 2 }, deadlines: { configureMs: 1000, trainingMs: 5000 } }) });
    const c = ['c1', 'c2', 'c3', 'c4'].map((id) => h.connect(id, acceptOnly));
    const started = Date.now();
    const pending = h.runRound();
    await settle();
    const roundId = roundIdOf(c[0]!);
    expect(h.store.getRound(roundId)).toMatchObject({ state: 'training', selected: ['c1', 'c2', 'c3', 'c4'] });

    c[0]!.upload(roundId, rampDelta(1), { numExamples: 10 });
    c[1]!.upload(roundId, rampDelta(3), { numExamples: 30 });
    // The cohort is full: a third update is refused before the round even closes.
    expectCohortError(() => c[2]!.upload(roundId, rampDelta(100), { numExamples: 10 }), 'FAILED_PRECONDITION', /already has its cohort of 2 updates/);
    const result = await pending;

    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.outcome).toBe('committed');
    const round = h.store.getRound(roundId)!;
    expect(round.survivors).toEqual({ selected: 4, configuring: 4, training: 2 });
    const expected = fedAvgByHand(initialWeights(), [
      { delta: rampDelta(1), numExamples: 10 },
      { delta: rampDelta(3), numExamples: 30 },
    ]);
    expect(maxAbsDiff(h.models.weights(h.store.getCurrentModelVersion(FEDERATION_ID)), expected)).toBeLessThan(1e-6);
    for (const released of [c[2]!, c[3]!]) {
      expect(endsOf(released).map((e) => [e.outcome, e.reason])).toEqual([['released', 'the cohort was filled by faster clients']]);
      expect(participationsById(h, roundId).get(released.clientId)).toMatchObject({ dropped: false, dropoutReason: 'released: the cohort was filled by faster clients' });
    }
    // After the round: refused as stale, which the gRPC adapter answers with FAILED_PRECONDITION too.
    expectCohortError(() => c[3]!.upload(roundId, rampDelta(1), { numExamples: 10 }), 'ROUND_STALE', /round 1 of federation fed-1 is committed, not accepting updates/);
  });

  it('does not turn a released client whose upload was in flight into a dropout, nor tell it twice', async () => {
    const h = harness({ config: testConfig({ selection: { cohortSize: 2, overSelection: 0.5, minClients: 2 }, deadlines: { configureMs: 1000, trainingMs: 5000 } }) });
    const c = ['c1', 'c2', 'c3'].map((id) => h.connect(id, acceptOnly));
    const pending = h.runRound();
    await settle();
    const roundId = roundIdOf(c[0]!);

    // c3's upload header is accepted, its bytes are still on the way when c1 and c2 fill the cohort.
    const sink = c[2]!.beginUpload(roundId, D * 4, { numExamples: 5 });
    c[0]!.upload(roundId, rampDelta(1), { numExamples: 10 });
    c[1]!.upload(roundId, rampDelta(2), { numExamples: 10 });
    const result = await pending;
    expect(result.outcome).toBe('committed');
    // The bytes arrive too late; the transport abandons the upload as the gRPC adapter does.
    expectCohortError(() => sink.deliver({ payload: float32ToBytes(rampDelta(9)), numExamples: 5, metrics: {}, bytes: D * 4 }), 'ROUND_STALE');
    sink.abandon('round no longer accepts the update');

    expect(endsOf(c[2]!).map((e) => e.outcome)).toEqual(['released']);
    expect(participationsById(h, roundId).get('c3')).toMatchObject({ dropped: false, dropoutReason: 'released: the cohort was filled by faster clients' });
  });
});

describe('upload validation', () => {
  it('refuses bad uploads with the right code, drops only clients that sent bad update bytes, and aggregates only good updates', async () => {
    const ids = ['good1', 'good2', 'header', 'short', 'nan', 'dup', 'kind', 'zero', 'twice', 'decl'];
    const h = harness({ config: testConfig({ selection: { cohortSize: ids.length, minClients: 2 }, deadlines: { configureMs: 1000, trainingMs: 3000 } }) });
    const c = Object.fromEntries(ids.map((id) => [id, h.connect(id, id === 'decl' ? decliner('no data') : acceptOnly)])) as Record<string, InMemoryClient>;
    const pending = h.runRound();
    await settle();
    const roundId = roundIdOf(c['good1']!);
    const good: { delta: Float32Array; numExamples: number }[] = [];
    const upload = (id: string, delta: Float32Array, numExamples: number): void => {
      c[id]!.upload(roundId, delta, { numExamples });
      good.push({ delta, numExamples });
    };

    upload('good1', rampDelta(0.1), 10);
    upload('good2', rampDelta(-0.3), 30);

    // Header says the wrong size: refused before any byte is read; the client may retry.
    expectCohortError(() => c['header']!.upload(roundId, rampDelta(1), { numExamples: 5, totalBytes: D * 4 - 4 }), 'UPDATE_WRONG_LENGTH', /declares 36 bytes; the model has 10 float32 parameters \(40 bytes\)/);
    upload('header', rampDelta(0.2), 5);

    // Header right, body wrong: a protocol violation, the client is out.
    expectCohortError(() => c['short']!.upload(roundId, new Float32Array(D - 1), { numExamples: 5, totalBytes: D * 4 }), 'UPDATE_WRONG_LENGTH', /update has 9 elements, expected 10/);
    const poisoned = rampDelta(1);
    poisoned[3] = Number.NaN;
    expectCohortError(() => c['nan']!.upload(roundId, poisoned, { numExamples: 1000 }), 'UPDATE_NOT_FINITE', /element 3 is NaN/);

    upload('dup', rampDelta(0.4), 15);
    expectCohortError(() => c['dup']!.upload(roundId, rampDelta(50), { numExamples: 15 }), 'FAILED_PRECONDITION', /already received from client dup/);

    expectCohortError(() => c['kind']!.upload(roundId, rampDelta(1), { numExamples: 5, kind: 'masked-uint32' }), 'INVALID_ARGUMENT', /expects delta-float32 updates .*got masked-uint32/);
    upload('kind', rampDelta(0.05), 5);

    expectCohortError(() => c['zero']!.upload(roundId, rampDelta(1), { numExamples: 0 }), 'INVALID_ARGUMENT', /num_examples must be an integer in \[1, 2\^31\], got 0/);
    upload('zero', rampDelta(-0.05), 7);

    const sink = c['twice']!.beginUpload(roundId, D * 4, { numExamples: 3 });
    expectCohortError(() => c['twice']!.beginUpload(roundId, D * 4, { numExamples: 3 }), 'FAILED_PRECONDITION', /already in progress/);
    sink.abandon('stream reset');

    expectCohortError(() => c['decl']!.upload(roundId, rampDelta(1), { numExamples: 5 }), 'ROUND_NOT_SELECTED', /^client decl was dropped from round \d+ \(\S+\) at configuring: declined the task: no data$/);
    expectCohortError(() => c['nan']!.upload(roundId, rampDelta(1), { numExamples: 5 }), 'ROUND_NOT_SELECTED', /^client nan was dropped from round \d+ \(\S+\) at training: protocol violation/);
    expectCohortError(() => c['good1']!.upload('no-such-round', rampDelta(1), { numExamples: 5 }), 'ROUND_NOT_FOUND');
    const late = h.connect('latecomer', acceptOnly);
    expectCohortError(() => late.upload(roundId, rampDelta(1), { numExamples: 5 }), 'ROUND_NOT_SELECTED', /^client latecomer was not selected for round \d+ \(\S+\)$/);

    const result = await pending;

    expect(result.outcome).toBe('committed');
    const p = participationsById(h, roundId);
    for (const id of ['good1', 'good2', 'header', 'dup', 'kind', 'zero']) expect(p.get(id), id).toMatchObject({ dropped: false, stageReached: 'training' });
    expect(p.get('short')).toMatchObject({ dropped: true, dropoutStage: 'training', dropoutReason: 'protocol violation: contribution "short" (clients short): update has 9 elements, expected 10' });
    expect(p.get('nan')).toMatchObject({ dropped: true, dropoutStage: 'training', dropoutReason: 'protocol violation: contribution "nan" (clients nan): update element 3 is NaN, expected a finite number' });
    expect(p.get('twice')).toMatchObject({ dropped: true, dropoutStage: 'training', dropoutReason: 'upload failed: stream reset' });
    expect(p.get('decl')).toMatchObject({ dropped: true, dropoutStage: 'configuring' });
    expect(p.has('latecomer')).toBe(false);
    expect(h.store.getRound(roundId)!.survivors).toEqual({ selected: 10, configuring: 9, training: 6 });
    // The duplicate's second vector and the NaN never reached the aggregate.
    const weights = h.models.weights(h.store.getCurrentModelVersion(FEDERATION_ID));
    expect(maxAbsDiff(weights, fedAvgByHand(initialWeights(), good))).toBeLessThan(1e-6);
  });
});

describe('cancellation', () => {
  it('aborts a round in training when its signal fires (federation paused), with that reason, committing nothing', async () => {
    const h = harness({ config: testConfig({ deadlines: { configureMs: 1000, trainingMs: 10_000 } }) });
    const c = ['c1', 'c2', 'c3'].map((id) => h.connect(id, acceptOnly));
    const controller = new AbortController();
    const started = Date.now();
    const pending = h.runRound(controller.signal);
    await settle();
    c[0]!.upload(roundIdOf(c[0]!), rampDelta(1), { numExamples: 10 });
    const inFlight = c[1]!.beginUpload(roundIdOf(c[1]!), D * 4, { numExamples: 10 });

    controller.abort('federation paused by operator');
    const result = await pending;
    // c2's bytes arrive after the abort: refused, and c2 is not told a second time.
    expectCohortError(() => inFlight.deliver({ payload: float32ToBytes(rampDelta(1)), numExamples: 10, metrics: {}, bytes: D * 4 }), 'ROUND_STALE');
    inFlight.abandon('round no longer accepts the update');

    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.outcome).toBe('aborted');
    if (result.outcome !== 'aborted') return;
    expect(result.reason).toBe('federation paused by operator');
    expect(h.store.getRound(result.round.id)).toMatchObject({ state: 'aborted', abortReason: 'federation paused by operator' });
    expect(h.store.listModelVersions(FEDERATION_ID)).toHaveLength(1);
    for (const client of c) expect(endsOf(client).map((e) => [e.outcome, e.reason])).toEqual([['aborted', 'federation paused by operator']]);
  });

  it('aborts a round waiting in configuring when the coordinator shuts down', async () => {
    const h = harness({ config: testConfig({ deadlines: { configureMs: 10_000, trainingMs: 20_000 } }) });
    for (const id of ['c1', 'c2', 'c3']) h.connect(id, null);
    const controller = new AbortController();
    const pending = h.runRound(controller.signal);
    await settle();

    controller.abort('coordinator shutting down');
    const result = await pending;

    expect(result).toMatchObject({ outcome: 'aborted', reason: 'coordinator shutting down' });
    expect(h.store.getRound(result.round.id)!.state).toBe('aborted');
  });
});

describe('eligibility', () => {
  it('never selects quarantined, revoked, unknown or incompatible clients', async () => {
    const h = harness({ config: testConfig({ task: 'fashion-mnist', selection: { cohortSize: 20, minClients: 2 } }) });
    const delta = honest(() => rampDelta(0.1));
    const everyone = [
      h.connect('ok-any-task', delta),
      h.connect('ok-same-task', delta, capabilities({ tasks: ['fashion-mnist', 'mnist'] })),
      h.connect('ok-unknown-shape', delta, capabilities({ inputShape: [] })),
      h.connect('quarantined', delta),
      h.connect('revoked', delta),
      h.connect('wrong-shape', delta, capabilities({ inputShape: [32, 32, 3] })),
      h.connect('wrong-rank', delta, capabilities({ inputShape: [784] })),
      h.connect('wrong-task', delta, capabilities({ tasks: ['speech-commands'] })),
    ];
    // Connected, but never enrolled in this coordinator's store.
    everyone.push(h.gateway.connect('stranger', capabilities(), delta));
    h.store.setClientStatus('quarantined', 'quarantined', 'flagged by robust aggregation', Date.now(), 'operator');
    h.store.setClientStatus('revoked', 'revoked', 'key compromised', Date.now(), 'operator');

    for (let round = 1; round <= 3; round++) {
      const result = await h.runRound();
      expect(result.outcome).toBe('committed');
      expect(result.round.selected).toEqual(['ok-any-task', 'ok-same-task', 'ok-unknown-shape']);
    }
    for (const client of everyone.slice(3)) expect(client.received, client.clientId).toEqual([]);
  });
});

describe('determinism', () => {
  it('selects the same cohort for the same seed whatever order clients connected in', async () => {
    const ids = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8'];
    const cohortFor = async (order: string[], selectionSeed: number): Promise<string[]> => {
      const h = harness({ config: testConfig({ selectionSeed, selection: { cohortSize: 3, minClients: 2 } }) });
      for (const id of order) h.connect(id, honest(() => rampDelta(0.1)));
      const result = await h.runRound();
      expect(result.outcome).toBe('committed');
      return result.round.selected;
    };
    const shuffled = [...ids];
    shuffleInPlace(createSeededRng(5), shuffled);

    const forward = await cohortFor(ids, 42);
    expect(await cohortFor([...ids].reverse(), 42)).toEqual(forward);
    expect(await cohortFor(shuffled, 42)).toEqual(forward);
    // It is the per-round seeded generator's pick, not an artefact of connection order.
    const policy = testConfig({ selection: { cohortSize: 3 } }).selection;
    expect(forward).toEqual(selectCohort(ids, policy, createSeededRng('42/round-tests/round-1')));
    // And the seed matters.
    const others = await Promise.all([1, 2, 3].map((seed) => cohortFor(ids, seed)));
    expect(others.some((cohort) => cohort.join() !== forward.join())).toBe(true);
  });
});
