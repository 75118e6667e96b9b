// ClientService.UploadUpdate against a real round in its training stage, driven by raw sessions: every malformed,
// misdirected or out-of-order upload is refused with the right status and a precise message, and leaves every
// round, participation and model row as it was. Uploads that fail after their header was accepted make the client a
// dropout (the workflow's rule); the round still commits from the clients that uploaded properly, and only their
// updates are in the committed model.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../shared/src/crypto/hash.js';
import { UpdateKind } from '../../shared/src/gen/fl/v1/client.pb.js';
import type { UpdateChunk, UpdateHeader } from '../../shared/src/gen/fl/v1/client.pb.js';
import type { Federation } from '../../shared/src/gen/fl/v1/operator.pb.js';
import {
  bodyIs,
  challengeAnswer,
  denseTopology,
  enroll,
  expectStatus,
  federationSpec,
  identity,
  openSession,
  openStream,
  startCoordinator,
  testCapabilities,
  upload,
  waitFor,
} from '../helpers/coordinator.js';
import type { RawSession, TestCoordinator, TestIdentity } from '../helpers/coordinator.js';

/** input [4] → dense 3 softmax: 4·3 + 3 = 15 float32 parameters, 60 bytes. */
const PARAMS = 15;
const BYTES = PARAMS * 4;
const COHORT = ['a', 'b', 'c', 'd', 'e', 'f', 'g'] as const;
type Member = (typeof COHORT)[number];

function vector(fill: number): Buffer {
  return Buffer.from(new Float32Array(PARAMS).fill(fill).buffer);
}

function header(roundId: string, bytes: Buffer, overrides: Partial<UpdateHeader> = {}): UpdateChunk {
  return {
    part: {
      $case: 'header',
      value: {
        roundId,
        kind: UpdateKind.UPDATE_KIND_DELTA_FLOAT32,
        totalBytes: bytes.length,
        sha256: sha256Hex(bytes),
        numExamples: 10,
        metrics: { values: { train_loss: 0.5 } },
        ...overrides,
      },
    },
  };
}

function data(bytes: Buffer): UpdateChunk {
  return { part: { $case: 'data', value: bytes } };
}

describe('ClientService.UploadUpdate contract', () => {
  let tc: TestCoordinator;
  let federation: Federation;
  let roundId: string;
  const ids = Object.fromEntries(COHORT.map((m) => [m, identity(`upload-${m}`)])) as Record<Member, TestIdentity>;
  const late = identity('upload-late');
  const sessions = {} as Record<Member | 'late', RawSession>;

  beforeAll(async () => {
    tc = await startCoordinator();
    for (const id of [...Object.values(ids), late]) await enroll(tc, id);
    federation = await tc.operator.createFederation(
      federationSpec({
        name: 'uploads',
        model: { topologyJson: denseTopology(4, 3), initSeed: 7 },
        selection: { mode: 'fixed', cohortSize: COHORT.length, minClients: 1, minConnected: COHORT.length },
        deadlines: { configureMs: 30_000, trainingMs: 120_000 },
        rounds: 2,
        selectionSeed: 3,
      }),
      true,
    );
    for (const m of COHORT) sessions[m] = await openSession(tc, ids[m], testCapabilities([4]));
    // Every cohort member gets the task of round 1 and accepts it.
    for (const m of COHORT) {
      const task = await sessions[m].next(bodyIs('roundTask'));
      roundId = task.roundId;
      sessions[m].send(roundId, { $case: 'taskAck', value: { accepted: true, reason: '' } });
    }
    await waitFor('round 1 to reach training', () => tc.coordinator.store.getRound(roundId)?.state === 'training');
    // Connected after selection: enrolled, authenticated, but not in round 1.
    sessions.late = await openSession(tc, late, testCapabilities([4]));
  });

  afterAll(async () => {
    for (const s of Object.values(sessions)) s?.close();
    await tc?.close();
  });

  /** One upload that must be refused with `code` and the fragments, leaving the store exactly as it was. */
  async function expectRefused(token: string | null, chunks: UpdateChunk[], code: status, ...fragments: string[]): Promise<void> {
    const before = tc.snapshot();
    const { error, receipt } = await upload(tc, token, chunks);
    expect(receipt).toBeNull();
    expectStatus(error!, code, ...fragments);
    expect(tc.snapshot()).toEqual(before);
  }

  function token(m: Member | 'late'): string {
    return sessions[m].token;
  }

  it('runs round 1 with the whole cohort in training', () => {
    const round = tc.coordinator.store.getRound(roundId)!;
    expect(round).toMatchObject({ federationId: federation.id, number: 1, state: 'training' });
    expect([...round.selected].sort()).toEqual(COHORT.map((m) => ids[m].clientId).sort());
  });

  it('refuses an upload without a session token or with a dead one with UNAUTHENTICATED', async () => {
    const bytes = vector(0.01);
    await expectRefused(null, [header(roundId, bytes), data(bytes)], status.UNAUTHENTICATED, 'missing session token');
    await expectRefused('forged-token', [header(roundId, bytes), data(bytes)], status.UNAUTHENTICATED, 'session token is not valid');
  });

  it('refuses data before the header, an empty message and a stream without a header with INVALID_ARGUMENT', async () => {
    const bytes = vector(0.01);
    await expectRefused(token('a'), [data(bytes), header(roundId, bytes)], status.INVALID_ARGUMENT, 'the first upload message must be the header');
    await expectRefused(token('a'), [{ part: undefined }], status.INVALID_ARGUMENT, 'upload message has neither header nor data');
    await expectRefused(token('a'), [], status.INVALID_ARGUMENT, 'upload ended without a header');
  });

  it('refuses a malformed header with INVALID_ARGUMENT naming the field and the bad value', async () => {
    const bytes = vector(0.01);
    const body = [data(bytes)];
    await expectRefused(token('a'), [header('', bytes), ...body], status.INVALID_ARGUMENT, 'header.round_id is empty');
    await expectRefused(token('a'), [header(roundId, bytes, { sha256: 'XYZ' }), ...body], status.INVALID_ARGUMENT, 'header.sha256 must be a lowercase hex SHA-256', '"XYZ"');
    await expectRefused(token('a'), [header(roundId, bytes, { kind: UpdateKind.UPDATE_KIND_UNSPECIFIED }), ...body], status.INVALID_ARGUMENT, 'update kind 0 is not one of');
    await expectRefused(token('a'), [header(roundId, bytes, { kind: UpdateKind.UPDATE_KIND_MASKED_UINT32 }), ...body], status.INVALID_ARGUMENT, 'expects delta-float32 updates', 'got masked-uint32');
    await expectRefused(token('a'), [header(roundId, bytes, { numExamples: 0 }), ...body], status.INVALID_ARGUMENT, 'num_examples must be an integer in [1, 2^31], got 0');
  });

  it('refuses a header whose total_bytes is not the model size with INVALID_ARGUMENT giving declared and expected sizes', async () => {
    const short = vector(0.01).subarray(0, BYTES - 4);
    await expectRefused(token('a'), [header(roundId, short), data(short)], status.INVALID_ARGUMENT, `update declares ${BYTES - 4} bytes`, `${PARAMS} float32 parameters (${BYTES} bytes)`);
    const bytes = vector(0.01);
    await expectRefused(token('a'), [header(roundId, bytes, { totalBytes: 1 << 30 }), data(bytes)], status.INVALID_ARGUMENT, `update declares ${1 << 30} bytes`);
  });

  it('refuses an unknown round id with NOT_FOUND naming it', async () => {
    const bytes = vector(0.01);
    await expectRefused(token('a'), [header('no-such-round', bytes), data(bytes)], status.NOT_FOUND, 'round "no-such-round" does not exist');
  });

  it('refuses an upload from a client that was not selected with FAILED_PRECONDITION naming client and round', async () => {
    const bytes = vector(0.01);
    await expectRefused(token('late'), [header(roundId, bytes), data(bytes)], status.FAILED_PRECONDITION, `client ${late.clientId} was not selected for round`, roundId);
  });

  it('refuses a second header with INVALID_ARGUMENT (the client becomes a dropout; no row changes yet)', async () => {
    const bytes = vector(0.01);
    await expectRefused(token('b'), [header(roundId, bytes), header(roundId, bytes), data(bytes)], status.INVALID_ARGUMENT, 'upload has a second header');
  });

  it('refuses bytes beyond the declared size with INVALID_ARGUMENT', async () => {
    const bytes = vector(0.01);
    await expectRefused(token('c'), [header(roundId, bytes), data(bytes), data(Buffer.alloc(4))], status.INVALID_ARGUMENT, `upload exceeds its declared ${BYTES} bytes`);
  });

  it('refuses an upload that ends short of the declared size with INVALID_ARGUMENT giving both counts', async () => {
    const bytes = vector(0.01);
    await expectRefused(token('d'), [header(roundId, bytes), data(bytes.subarray(0, 56))], status.INVALID_ARGUMENT, `upload ended after 56 of ${BYTES} declared bytes`);
  });

  it('refuses bytes whose SHA-256 does not match the header with INVALID_ARGUMENT giving both hashes', async () => {
    const declared = vector(0.01);
    const sent = vector(0.02);
    await expectRefused(token('e'), [header(roundId, declared), data(sent)], status.INVALID_ARGUMENT, `upload SHA-256 ${sha256Hex(sent)} does not match the header's ${sha256Hex(declared)}`);
  });

  it('refuses an update containing NaN with INVALID_ARGUMENT naming the element', async () => {
    const values = new Float32Array(PARAMS).fill(0.01);
    values[5] = Number.NaN;
    const bytes = Buffer.from(values.buffer);
    await expectRefused(token('f'), [header(roundId, bytes), data(bytes)], status.INVALID_ARGUMENT, 'update element 5 is NaN');
  });

  it('refuses a retry from a client dropped by a failed upload with FAILED_PRECONDITION', async () => {
    const bytes = vector(0.01);
    await expectRefused(token('b'), [header(roundId, bytes), data(bytes)], status.FAILED_PRECONDITION, `client ${ids.b.clientId}`, roundId);
  });

  it('accepts a valid upload after all those refusals, with a receipt of its hash and size', async () => {
    const bytes = vector(0.01);
    const { error, receipt } = await upload(tc, token('a'), [header(roundId, bytes, { numExamples: 10 }), data(bytes)]);
    expect(error).toBeNull();
    expect(receipt).toEqual({ sha256: sha256Hex(bytes), bytesReceived: BYTES });
  });

  it('refuses a second upload for the same round with FAILED_PRECONDITION "already received"', async () => {
    const bytes = vector(0.01);
    await expectRefused(token('a'), [header(roundId, bytes), data(bytes)], status.FAILED_PRECONDITION, `update for round 1 was already received from client ${ids.a.clientId}`);
  });

  it('ignores round messages pipelined behind a failed handshake that claims a cohort member (the member still uploads)', async () => {
    const forger = openStream(tc);
    try {
      forger.send('', { $case: 'hello', value: { clientId: ids.g.clientId, capabilities: testCapabilities([4]) } });
      const challenge = await forger.next(bodyIs('challenge'));
      forger.send('', challengeAnswer({ keys: identity('forger').keys, clientId: ids.g.clientId }, challenge));
      forger.send(roundId, { $case: 'taskFailed', value: { accepted: false, reason: 'forged failure' } });
      expectStatus(await forger.status, status.UNAUTHENTICATED, 'challenge signature does not verify');
    } finally {
      forger.close();
    }
    // Had the forged taskFailed been dispatched, G would be a dropout and this upload refused.
    const bytes = vector(0.03);
    const { error } = await upload(tc, token('g'), [header(roundId, bytes, { numExamples: 30 }), data(bytes)]);
    expect(error).toBeNull();
  });

  it('commits round 1 from the two proper updates only; the refused uploads are recorded as dropouts', async () => {
    await waitFor('round 1 to commit', () => tc.coordinator.store.getRound(roundId)?.state === 'committed');
    const participations = new Map(tc.coordinator.store.listParticipations(roundId).map((p) => [p.clientId, p]));
    expect(participations.get(ids.a.clientId)).toMatchObject({ dropped: false, stageReached: 'training', numExamples: 10 });
    expect(participations.get(ids.g.clientId)).toMatchObject({ dropped: false, stageReached: 'training', numExamples: 30 });
    const reasons: Record<'b' | 'c' | 'd' | 'e' | 'f', string> = {
      b: 'second header',
      c: 'exceeds its declared',
      d: 'ended after 56',
      e: 'does not match the header',
      f: 'update element 5 is NaN',
    };
    for (const [m, fragment] of Object.entries(reasons) as [Member, string][]) {
      const p = participations.get(ids[m].clientId)!;
      expect(p.dropped).toBe(true);
      expect(p.dropoutReason).toContain(fragment);
    }
    // FedAvg with server learning rate 1: the model moved by the example-weighted mean of A's and G's deltas only.
    const v0 = tc.coordinator.store.getModelVersion(federation.id, 0)!;
    const v1 = tc.coordinator.store.getModelVersion(federation.id, 1)!;
    const w0 = new Float32Array(new Uint8Array(tc.coordinator.store.modelFiles.read(v0.sha256)).buffer);
    const w1 = new Float32Array(new Uint8Array(tc.coordinator.store.modelFiles.read(v1.sha256)).buffer);
    const expected = (0.01 * 10 + 0.03 * 30) / 40;
    for (let i = 0; i < PARAMS; i++) expect(w1[i]! - w0[i]!).toBeCloseTo(expected, 6);
  });

  it('refuses an upload to a committed round with FAILED_PRECONDITION saying it is committed', async () => {
    const bytes = vector(0.01);
    await expectRefused(token('a'), [header(roundId, bytes), data(bytes)], status.FAILED_PRECONDITION, `round 1 of federation ${federation.id} is committed, not accepting updates`);
  });

  it('refuses an upload to an aborted round with FAILED_PRECONDITION saying it is aborted', async () => {
    const round2 = await waitFor('round 2 to start', () => tc.coordinator.store.listRounds(federation.id).find((r) => r.number === 2));
    await tc.operator.pauseFederation(federation.id);
    await waitFor('round 2 to be aborted', () => tc.coordinator.store.getRound(round2.id)?.state === 'aborted');
    const bytes = vector(0.01);
    await expectRefused(token('a'), [header(round2.id, bytes), data(bytes)], status.FAILED_PRECONDITION, `round 2 of federation ${federation.id} is aborted, not accepting updates`);
  });

  it('logged no internal error', () => {
    expect(tc.logs.filter((line) => line.includes('internal error'))).toEqual([]);
  });
});
