// Contract suite for CoordinatorStore: every implementation (file-backed, in-memory) must pass it unchanged.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CohortError } from '../../shared/src/core/errors.js';
import type { ErrorCode } from '../../shared/src/core/errors.js';
import { GENESIS_HASH, auditEntryHash } from '../../coordinator/src/store/index.js';
import type { CommitRoundInput, CoordinatorStore, RoundRecord } from '../../coordinator/src/store/index.js';
import {
  HOUR,
  LAYOUT,
  OPERATOR,
  T0,
  capabilities,
  createRunningFederation,
  enroll,
  identityKey,
  participation,
  putModel,
  token,
} from './fixtures.js';

/** A store under test and how to dispose of it (close and delete its files). */
export interface StoreUnderTest {
  store: CoordinatorStore;
  dispose(): void;
}

const COORDINATOR = 'coordinator';

/** Runs `fn` and checks it throws a CohortError with `code` (and a message matching `message`). */
export function expectCohortError(fn: () => unknown, code: ErrorCode, message?: string | RegExp): CohortError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a CohortError ${code}`).toBeInstanceOf(CohortError);
  const error = caught as CohortError;
  expect(error.code, error.message).toBe(code);
  if (message !== undefined) expect(error.message).toMatch(message);
  return error;
}

/** Everything the interface can show, so a test can prove a failed call changed nothing. */
export function storeSnapshot(store: CoordinatorStore): unknown {
  return {
    clients: store.listClients(),
    federations: store.listFederations(),
    audit: store.listAudit(),
    perFederation: store.listFederations().map((f) => ({
      versions: store.listModelVersions(f.id),
      ledger: store.listPrivacyLedger(f.id),
      rounds: store.listRounds(f.id).map((r) => ({ round: r, participations: store.listParticipations(r.id), verdicts: store.listVerdicts(r.id) })),
    })),
  };
}

/** Starts the next round of `federationId` on its current model. */
export function startRound(store: CoordinatorStore, federationId: string, roundId: string, at: number): RoundRecord {
  const federation = store.getFederation(federationId)!;
  return store.startRound({ id: roundId, federationId, startedAt: at, modelInVersion: federation.currentModelVersion, config: { plan: { epochs: 1, batchSize: 32 } } }, COORDINATOR);
}

/** A full commit of `roundId` with new weights `seed`: c1 and c2 participated, c2 dropped out in training. */
export function commitInput(store: CoordinatorStore, roundId: string, seed: number, now: number, overrides: Partial<CommitRoundInput> = {}): CommitRoundInput {
  return {
    roundId,
    now,
    model: putModel(store, seed, new Uint8Array([seed, 1, 2, 3])),
    metrics: { eval_accuracy: 0.5 + seed / 100, participants: 1 },
    survivors: { selected: 2, configuring: 2, training: 1 },
    participations: [
      participation(roundId, 'c1'),
      participation(roundId, 'c2', { stageReached: 'configuring', dropped: true, dropoutStage: 'training', dropoutReason: 'missed the training deadline', verdict: null }),
    ],
    bytesUp: 80,
    bytesDown: 120,
    completesFederation: false,
    privacy: { mechanism: 'central', noiseMultiplier: 1.1, samplingRate: 0.02, clipNorm: 0.5, survivors: 3, epsilonAfter: 0.4 * seed, delta: 1e-5, rdp: { '2': 0.01 * seed, '32': 0.2 * seed }, params: { scale: 1000 * seed }, contributors: ['c1'] },
    verdicts: [
      { contributionId: 'c1', clientId: 'c1', bucket: null, verdict: 'accepted', reason: 'within norm bound', scores: { norm: 1.5 } },
      { contributionId: 'bucket-0', clientId: null, bucket: 0, verdict: 'down-weighted', reason: 'far from the median', scores: { distance: 3.25 } },
    ],
    ...overrides,
  };
}

/** Registers the CoordinatorStore contract tests for the implementation that `open` builds (one per test). */
export function describeCoordinatorStore(name: string, open: () => StoreUnderTest): void {
  describe(`CoordinatorStore contract: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: CoordinatorStore;

    beforeEach(() => {
      subject = open();
      store = subject.store;
    });
    afterEach(() => subject.dispose());

    describe('enrollment tokens and clients', () => {
      it('stores a token by its hash and audits its creation without the token or its hash', () => {
        const { token: plain, tokenHash } = token('a');
        const record = store.createEnrollmentToken({ id: 'tok-a', tokenHash, label: 'lab bench', createdAt: T0, expiresAt: T0 + HOUR }, OPERATOR);
        expect(record).toEqual({ id: 'tok-a', tokenHash, label: 'lab bench', createdAt: T0, expiresAt: T0 + HOUR, usedAt: null, usedByClientId: null });
        const [entry] = store.listAudit();
        expect(entry).toMatchObject({ seq: 1, at: T0, actor: OPERATOR, action: 'enrollment-token.created', subject: 'tok-a', details: { label: 'lab bench', expiresAt: T0 + HOUR } });
        const text = JSON.stringify(entry);
        expect(text).not.toContain(plain);
        expect(text).not.toContain(tokenHash);
      });

      it('refuses a second token with the same id or the same hash', () => {
        const { tokenHash } = token('a');
        store.createEnrollmentToken({ id: 'tok-a', tokenHash, label: '', createdAt: T0, expiresAt: T0 + HOUR }, OPERATOR);
        expectCohortError(() => store.createEnrollmentToken({ id: 'tok-a', tokenHash: token('b').tokenHash, label: '', createdAt: T0, expiresAt: T0 + HOUR }, OPERATOR), 'ALREADY_EXISTS', /tok-a/);
        expectCohortError(() => store.createEnrollmentToken({ id: 'tok-b', tokenHash, label: '', createdAt: T0, expiresAt: T0 + HOUR }, OPERATOR), 'ALREADY_EXISTS', /same hash/);
        expect(store.listAudit()).toHaveLength(1);
      });

      it('refuses a token that expires before it is created or whose hash is not SHA-256 hex', () => {
        expectCohortError(() => store.createEnrollmentToken({ id: 't', tokenHash: token('a').tokenHash, label: '', createdAt: T0, expiresAt: T0 }, OPERATOR), 'INVALID_ARGUMENT', /expiresAt/);
        expectCohortError(() => store.createEnrollmentToken({ id: 't', tokenHash: 'not-a-hash', label: '', createdAt: T0, expiresAt: T0 + 1 }, OPERATOR), 'INVALID_ARGUMENT', /tokenHash/);
        expect(store.listAudit()).toEqual([]);
      });

      it('enrolls a client with a valid token: active, reputation 1, token marked used, enrollment audited', () => {
        const { tokenHash } = token('a');
        store.createEnrollmentToken({ id: 'tok-a', tokenHash, label: 'lab', createdAt: T0, expiresAt: T0 + HOUR }, OPERATOR);
        const client = store.enrollClient({ tokenHash, now: T0 + 5, client: { id: 'c1', identityPublicKey: identityKey(1), displayName: 'node 1', capabilities: capabilities() } });
        expect(client).toEqual({
          id: 'c1',
          identityPublicKey: identityKey(1),
          displayName: 'node 1',
          status: 'active',
          statusReason: null,
          reputation: 1,
          scoredRounds: 0,
          suspicion: 0,
          enrolledAt: T0 + 5,
          lastSeenAt: T0 + 5,
          capabilities: capabilities(),
        });
        expect(store.getClient('c1')).toEqual(client);
        const entry = store.listAudit().at(-1)!;
        expect(entry).toMatchObject({ at: T0 + 5, actor: 'client:c1', action: 'client.enrolled', subject: 'c1', details: { tokenId: 'tok-a' } });
        // The token is now spent: using it again fails as "already used", which proves usedAt was recorded.
        expectCohortError(
          () => store.enrollClient({ tokenHash, now: T0 + 6, client: { id: 'c2', identityPublicKey: identityKey(2), displayName: '', capabilities: capabilities() } }),
          'TOKEN_INVALID',
          'enrollment token was already used',
        );
      });

      it('refuses a used token and leaves the store unchanged', () => {
        enroll(store, 1);
        const before = storeSnapshot(store);
        expectCohortError(
          () => store.enrollClient({ tokenHash: token('c1').tokenHash, now: T0 + 10, client: { id: 'c9', identityPublicKey: identityKey(9), displayName: '', capabilities: capabilities() } }),
          'TOKEN_INVALID',
          'enrollment token was already used',
        );
        expect(storeSnapshot(store)).toEqual(before);
      });

      it('refuses an expired token (from expiresAt on) and leaves the store unchanged', () => {
        const { tokenHash } = token('a');
        store.createEnrollmentToken({ id: 'tok-a', tokenHash, label: '', createdAt: T0, expiresAt: T0 + HOUR }, OPERATOR);
        const before = storeSnapshot(store);
        expectCohortError(
          () => store.enrollClient({ tokenHash, now: T0 + HOUR, client: { id: 'c1', identityPublicKey: identityKey(1), displayName: '', capabilities: capabilities() } }),
          'TOKEN_INVALID',
          'enrollment token has expired',
        );
        expect(storeSnapshot(store)).toEqual(before);
        // One millisecond earlier it was still valid.
        expect(store.enrollClient({ tokenHash, now: T0 + HOUR - 1, client: { id: 'c1', identityPublicKey: identityKey(1), displayName: '', capabilities: capabilities() } }).id).toBe('c1');
      });

      it('refuses an unknown token and leaves the store unchanged', () => {
        enroll(store, 1);
        const before = storeSnapshot(store);
        expectCohortError(
          () => store.enrollClient({ tokenHash: token('never-issued').tokenHash, now: T0, client: { id: 'c2', identityPublicKey: identityKey(2), displayName: '', capabilities: capabilities() } }),
          'TOKEN_INVALID',
          'enrollment token is not known',
        );
        expect(storeSnapshot(store)).toEqual(before);
      });

      it('refuses an identity key that is already enrolled (ALREADY_EXISTS) and leaves the token unused', () => {
        enroll(store, 1);
        const { tokenHash } = token('second');
        store.createEnrollmentToken({ id: 'tok-2', tokenHash, label: '', createdAt: T0, expiresAt: T0 + HOUR }, OPERATOR);
        const before = storeSnapshot(store);
        expectCohortError(
          () => store.enrollClient({ tokenHash, now: T0 + 2, client: { id: 'c2', identityPublicKey: identityKey(1), displayName: '', capabilities: capabilities() } }),
          'ALREADY_EXISTS',
          /identity key is already enrolled as client c1/,
        );
        expect(storeSnapshot(store)).toEqual(before);
        // The transaction rolled back, so the token can still enroll a different key.
        expect(store.enrollClient({ tokenHash, now: T0 + 3, client: { id: 'c2', identityPublicKey: identityKey(2), displayName: '', capabilities: capabilities() } }).id).toBe('c2');
      });

      it('refuses a client id that already exists and an identity key that is not 32 bytes', () => {
        enroll(store, 1);
        const { tokenHash } = token('x');
        store.createEnrollmentToken({ id: 'tok-x', tokenHash, label: '', createdAt: T0, expiresAt: T0 + HOUR }, OPERATOR);
        expectCohortError(() => store.enrollClient({ tokenHash, now: T0, client: { id: 'c1', identityPublicKey: identityKey(7), displayName: '', capabilities: capabilities() } }), 'ALREADY_EXISTS', /client c1 already exists/);
        expectCohortError(
          () => store.enrollClient({ tokenHash, now: T0, client: { id: 'c7', identityPublicKey: new Uint8Array(31), displayName: '', capabilities: capabilities() } }),
          'INVALID_ARGUMENT',
          /32-byte/,
        );
      });

      it('finds clients by id and by identity key, returns null for unknown ones, lists in enrollment order', () => {
        const c2 = enroll(store, 2, T0 + 100);
        const c1 = enroll(store, 1, T0 + 200);
        expect(store.getClientByPublicKey(identityKey(2))).toEqual(c2);
        expect(store.getClient('nobody')).toBeNull();
        expect(store.getClientByPublicKey(identityKey(3))).toBeNull();
        expect(store.listClients().map((c) => c.id)).toEqual([c2.id, c1.id]);
      });

      it('returned identity keys are copies: mutating one does not change the store', () => {
        const client = enroll(store, 1);
        client.identityPublicKey.fill(0);
        expect(store.getClient('c1')!.identityPublicKey).toEqual(identityKey(1));
      });

      it('changes client status with an audit entry; unknown clients are CLIENT_NOT_FOUND', () => {
        enroll(store, 1);
        store.setClientReputation('c1', 0.2);
        const quarantined = store.setClientStatus('c1', 'quarantined', 'flagged in 3 rounds', T0 + 50, COORDINATOR);
        expect(quarantined.reputation).toBe(0.2);
        expect(quarantined).toMatchObject({ status: 'quarantined', statusReason: 'flagged in 3 rounds' });
        expect(store.listAudit().at(-1)).toMatchObject({ at: T0 + 50, actor: COORDINATOR, action: 'client.quarantined', subject: 'c1', details: { from: 'active', to: 'quarantined' } });
        // Release clears the record that led to quarantine.
        expect(store.setClientStatus('c1', 'active', 'released by operator', T0 + 60, OPERATOR)).toMatchObject({ status: 'active', reputation: 1, scoredRounds: 0, suspicion: 0 });
        expect(store.listAudit().at(-1)).toMatchObject({ action: 'client.reactivated', details: { from: 'quarantined', to: 'active' } });
        expectCohortError(() => store.setClientStatus('nobody', 'revoked', null, T0, OPERATOR), 'CLIENT_NOT_FOUND', /client nobody/);
      });

      it('keeps a revoked client revoked (CLIENT_REVOKED) and does not re-audit an unchanged status', () => {
        enroll(store, 1);
        store.setClientStatus('c1', 'revoked', 'key leaked', T0 + 10, OPERATOR);
        const entries = store.listAudit().length;
        expect(store.setClientStatus('c1', 'revoked', 'key leaked', T0 + 20, OPERATOR).status).toBe('revoked');
        expect(store.listAudit()).toHaveLength(entries);
        expectCohortError(() => store.setClientStatus('c1', 'active', null, T0 + 30, OPERATOR), 'CLIENT_REVOKED', /c1 is revoked/);
        expect(store.getClient('c1')!.status).toBe('revoked');
      });

      it('sets reputation within [0, 1] and refuses values outside it or unknown clients', () => {
        enroll(store, 1);
        store.setClientReputation('c1', 0.25);
        expect(store.getClient('c1')!.reputation).toBe(0.25);
        expectCohortError(() => store.setClientReputation('c1', 1.5), 'INVALID_ARGUMENT', /reputation/);
        expectCohortError(() => store.setClientReputation('c1', Number.NaN), 'INVALID_ARGUMENT', /reputation/);
        expectCohortError(() => store.setClientReputation('nobody', 0.5), 'CLIENT_NOT_FOUND', /nobody/);
      });

      it('touchClient records last-seen time and new capabilities without an audit entry', () => {
        enroll(store, 1);
        const entries = store.listAudit().length;
        store.touchClient('c1', T0 + 999);
        expect(store.getClient('c1')!.lastSeenAt).toBe(T0 + 999);
        store.touchClient('c1', T0 + 1_000, capabilities({ backend: 'tensorflow', numExamples: 1_200 }));
        expect(store.getClient('c1')).toMatchObject({ lastSeenAt: T0 + 1_000, capabilities: { backend: 'tensorflow', numExamples: 1_200 } });
        expect(store.listAudit()).toHaveLength(entries);
        expectCohortError(() => store.touchClient('nobody', T0), 'CLIENT_NOT_FOUND', /nobody/);
      });
    });

    describe('federations and model versions', () => {
      it('creates a federation with model version 0 in one step and audits it', () => {
        const { federation, modelVersion } = createRunningFederation(store, 'f1');
        expect(federation).toMatchObject({ id: 'f1', name: 'federation f1', status: 'running', roundsTarget: 3, roundsCommitted: 0, currentModelVersion: 0, createdAt: T0, updatedAt: T0 });
        expect(federation.layout).toEqual(JSON.parse(JSON.stringify(federation.layout)));
        expect(modelVersion).toMatchObject({ federationId: 'f1', version: 0, parentSha256: null, roundId: null, sizeBytes: 40, metrics: {} });
        expect(store.getFederation('f1')).toEqual(federation);
        expect(store.getFederationByName('federation f1')).toEqual(federation);
        expect(store.getCurrentModelVersion('f1')).toEqual(modelVersion);
        expect(store.getModelVersion('f1', 0)).toEqual(modelVersion);
        expect(store.getModelVersionBySha('f1', modelVersion.sha256)).toEqual(modelVersion);
        expect(store.listAudit().at(-1)).toMatchObject({ action: 'federation.created', subject: 'f1', details: { name: 'federation f1', modelSha256: modelVersion.sha256 } });
      });

      it('returns null or an empty list for unknown federations and versions; getCurrentModelVersion throws FEDERATION_NOT_FOUND', () => {
        createRunningFederation(store, 'f1');
        expect(store.getFederation('nope')).toBeNull();
        expect(store.getFederationByName('nope')).toBeNull();
        expect(store.getModelVersion('f1', 1)).toBeNull();
        expect(store.getModelVersionBySha('f1', 'f'.repeat(64))).toBeNull();
        expect(store.listModelVersions('nope')).toEqual([]);
        expectCohortError(() => store.getCurrentModelVersion('nope'), 'FEDERATION_NOT_FOUND', /federation nope/);
      });

      it('refuses a duplicate federation name or id with ALREADY_EXISTS and writes nothing', () => {
        createRunningFederation(store, 'f1');
        const before = storeSnapshot(store);
        const model = putModel(store, 0);
        const base = { spec: {}, topologyJson: '{}', layout: store.getFederation('f1')!.layout, roundsTarget: 1, createdAt: T0, status: 'created' as const };
        expectCohortError(() => store.createFederation({ ...base, id: 'f2', name: 'federation f1' }, model, OPERATOR), 'ALREADY_EXISTS', /federation name "federation f1" is already used by federation f1/);
        expectCohortError(() => store.createFederation({ ...base, id: 'f1', name: 'other' }, model, OPERATOR), 'ALREADY_EXISTS', /federation f1 already exists/);
        expect(storeSnapshot(store)).toEqual(before);
      });

      it('refuses an initial model that is not in the file store or whose size does not match the layout', () => {
        const layout = { tensors: [{ name: 'w', shape: [10], offset: 0, size: 10 }], totalElements: 10 };
        const base = { id: 'f1', name: 'n', spec: {}, topologyJson: '{}', layout, roundsTarget: 1, createdAt: T0, status: 'created' as const };
        expectCohortError(() => store.createFederation(base, { sha256: 'a'.repeat(64), sizeBytes: 40, optimizerStateSha256: null }, OPERATOR), 'MODEL_NOT_FOUND', /a{64}/);
        const small = store.modelFiles.put(new Uint8Array(8));
        expectCohortError(() => store.createFederation(base, { ...small, optimizerStateSha256: null }, OPERATOR), 'INVALID_ARGUMENT', /sizeBytes is 8 .* 10 float32 weights/);
        expect(store.listFederations()).toEqual([]);
        expect(store.listAudit()).toEqual([]);
      });

      it('moves status created → running → paused → running → failed with an audit entry each, then refuses any change', () => {
        const model = putModel(store, 0);
        store.createFederation({ id: 'f1', name: 'n', spec: {}, topologyJson: '{}', layout: LAYOUT, roundsTarget: 2, createdAt: T0, status: 'created' }, model, OPERATOR);
        store.setFederationStatus('f1', 'running', null, T0 + 1, OPERATOR);
        store.setFederationStatus('f1', 'paused', 'maintenance', T0 + 2, OPERATOR);
        store.setFederationStatus('f1', 'running', null, T0 + 3, OPERATOR);
        const failed = store.setFederationStatus('f1', 'failed', '5 rounds in a row were aborted', T0 + 4, COORDINATOR);
        expect(failed).toMatchObject({ status: 'failed', statusReason: '5 rounds in a row were aborted', updatedAt: T0 + 4 });
        expect(store.listAudit().slice(1).map((e) => e.action)).toEqual(['federation.started', 'federation.paused', 'federation.resumed', 'federation.failed']);
        expectCohortError(() => store.setFederationStatus('f1', 'running', null, T0 + 5, OPERATOR), 'FEDERATION_WRONG_STATUS', /f1 is failed/);
        expectCohortError(() => store.setFederationStatus('nope', 'running', null, T0, OPERATOR), 'FEDERATION_NOT_FOUND', /federation nope/);
      });

      it('moves a running federation to budget-exhausted with its reason and audit entry, and never back', () => {
        const model = putModel(store, 0);
        store.createFederation({ id: 'f1', name: 'n', spec: {}, topologyJson: '{}', layout: LAYOUT, roundsTarget: 2, createdAt: T0, status: 'running' }, model, OPERATOR);
        const exhausted = store.setFederationStatus('f1', 'budget-exhausted', 'round 4 would spend epsilon 8.3 of 8', T0 + 1, COORDINATOR);
        expect(exhausted).toMatchObject({ status: 'budget-exhausted', statusReason: 'round 4 would spend epsilon 8.3 of 8' });
        expect(store.listAudit().at(-1)?.action).toBe('federation.budget-exhausted');
        expectCohortError(() => store.setFederationStatus('f1', 'running', null, T0 + 2, OPERATOR), 'FEDERATION_WRONG_STATUS', /f1 is budget-exhausted; its status can no longer change/);
      });

      it('lists federations in creation order', () => {
        createRunningFederation(store, 'b', { at: T0 + 1 });
        createRunningFederation(store, 'a', { at: T0 + 2 });
        expect(store.listFederations().map((f) => f.id)).toEqual(['b', 'a']);
      });
    });

    describe('rounds', () => {
      beforeEach(() => {
        enroll(store, 1);
        enroll(store, 2);
        createRunningFederation(store, 'f1');
      });

      it('starts a round in state selecting with number 1 and audits it', () => {
        const round = startRound(store, 'f1', 'r1', T0 + 10);
        expect(round).toEqual({
          id: 'r1',
          federationId: 'f1',
          number: 1,
          state: 'selecting',
          abortReason: null,
          startedAt: T0 + 10,
          endedAt: null,
          selected: [],
          survivors: {},
          modelInVersion: 0,
          modelOutVersion: null,
          metrics: {},
          bytesUp: 0,
          bytesDown: 0,
          config: { plan: { epochs: 1, batchSize: 32 } },
        });
        expect(store.getRound('r1')).toEqual(round);
        expect(store.listAudit().at(-1)).toMatchObject({ action: 'round.started', subject: 'r1', details: { federationId: 'f1', number: 1 } });
      });

      it('numbers rounds 1, 2, 3 per federation, aborted rounds included', () => {
        startRound(store, 'f1', 'r1', T0 + 10);
        store.abortRound('r1', 'too few clients', T0 + 11, COORDINATOR);
        startRound(store, 'f1', 'r2', T0 + 12);
        store.commitRound(commitInput(store, 'r2', 1, T0 + 13), COORDINATOR);
        startRound(store, 'f1', 'r3', T0 + 14);
        store.abortRound('r3', 'deadline', T0 + 15, COORDINATOR);
        expect(startRound(store, 'f1', 'r4', T0 + 16).number).toBe(4);
        createRunningFederation(store, 'f2');
        expect(startRound(store, 'f2', 'other-r1', T0 + 17).number).toBe(1);
      });

      it('refuses to start a round while another of the same federation is in progress, or when the federation is not running', () => {
        startRound(store, 'f1', 'r1', T0 + 10);
        expectCohortError(() => startRound(store, 'f1', 'r2', T0 + 11), 'FAILED_PRECONDITION', /already has round 1 \(r1\) in progress/);
        store.abortRound('r1', 'operator pause', T0 + 12, OPERATOR);
        store.setFederationStatus('f1', 'paused', null, T0 + 13, OPERATOR);
        expectCohortError(() => startRound(store, 'f1', 'r2', T0 + 14), 'FEDERATION_WRONG_STATUS', /f1 is paused/);
        expectCohortError(
          () => store.startRound({ id: 'r9', federationId: 'nope', startedAt: T0, modelInVersion: 0, config: {} }, COORDINATOR),
          'FEDERATION_NOT_FOUND',
          /federation nope/,
        );
      });

      it('refuses a round that names a model version other than the current one, or an id already used', () => {
        expectCohortError(() => store.startRound({ id: 'r1', federationId: 'f1', startedAt: T0, modelInVersion: 4, config: {} }, COORDINATOR), 'INVALID_ARGUMENT', /modelInVersion is 4/);
        startRound(store, 'f1', 'r1', T0 + 1);
        store.abortRound('r1', 'x', T0 + 2, COORDINATOR);
        expectCohortError(() => startRound(store, 'f1', 'r1', T0 + 3), 'ALREADY_EXISTS', /round r1 already exists/);
      });

      it('updateRound replaces the fields given and keeps the rest', () => {
        startRound(store, 'f1', 'r1', T0 + 10);
        store.updateRound('r1', { state: 'configuring', selected: ['c1', 'c2'], survivors: { selected: 2 } });
        const round = store.updateRound('r1', { state: 'training', survivors: { selected: 2, configuring: 2 }, bytesDown: 80, metrics: { progress: 0.5 } });
        expect(round).toMatchObject({ state: 'training', selected: ['c1', 'c2'], survivors: { selected: 2, configuring: 2 }, bytesUp: 0, bytesDown: 80, metrics: { progress: 0.5 } });
        expect(store.getRound('r1')).toEqual(round);
      });

      it('updateRound refuses terminal rounds (ROUND_WRONG_STAGE), terminal states (INVALID_ARGUMENT) and unknown rounds (ROUND_NOT_FOUND)', () => {
        startRound(store, 'f1', 'r1', T0 + 10);
        expectCohortError(() => store.updateRound('r1', { state: 'committed' as never }), 'INVALID_ARGUMENT', /commitRound or abortRound/);
        store.abortRound('r1', 'deadline', T0 + 11, COORDINATOR);
        expectCohortError(() => store.updateRound('r1', { state: 'training' }), 'ROUND_WRONG_STAGE', /round r1 is already aborted/);
        startRound(store, 'f1', 'r2', T0 + 12);
        store.commitRound(commitInput(store, 'r2', 1, T0 + 13), COORDINATOR);
        expectCohortError(() => store.updateRound('r2', { bytesUp: 1 }), 'ROUND_WRONG_STAGE', /round r2 is already committed/);
        expectCohortError(() => store.updateRound('nope', { bytesUp: 1 }), 'ROUND_NOT_FOUND', /round nope/);
      });

      it('recordParticipations inserts, then replaces a client row; refuses unknown clients and terminal rounds', () => {
        startRound(store, 'f1', 'r1', T0 + 10);
        store.recordParticipations([participation('r1', 'c1', { stageReached: 'configuring', verdict: null }), participation('r1', 'c2', { stageReached: 'configuring' })]);
        store.recordParticipations([participation('r1', 'c1', { stageReached: 'uploaded', bytesUp: 400 })]);
        const rows = store.listParticipations('r1');
        expect(rows.map((p) => [p.clientId, p.stageReached, p.bytesUp])).toEqual([
          ['c1', 'uploaded', 400],
          ['c2', 'configuring', 40],
        ]);
        expect(rows[0]).toEqual(participation('r1', 'c1', { stageReached: 'uploaded', bytesUp: 400 }));
        const before = storeSnapshot(store);
        expectCohortError(() => store.recordParticipations([participation('r1', 'c2'), participation('r1', 'ghost')]), 'CLIENT_NOT_FOUND', /client ghost/);
        expect(storeSnapshot(store)).toEqual(before);
        store.abortRound('r1', 'deadline', T0 + 11, COORDINATOR);
        expectCohortError(() => store.recordParticipations([participation('r1', 'c1')]), 'ROUND_WRONG_STAGE', /r1 is already aborted/);
        expectCohortError(() => store.recordParticipations([participation('nope', 'c1')]), 'ROUND_NOT_FOUND', /round nope/);
      });

      it('abortRound ends the round with its reason and participations, audits it, and refuses a second abort', () => {
        startRound(store, 'f1', 'r1', T0 + 10);
        store.updateRound('r1', { state: 'training' });
        const aborted = store.abortRound('r1', 'too few updates before the training deadline', T0 + 20, COORDINATOR, [
          participation('r1', 'c1', { dropped: true, dropoutStage: 'training', dropoutReason: 'timeout', stageReached: 'configuring' }),
        ]);
        expect(aborted).toMatchObject({ state: 'aborted', abortReason: 'too few updates before the training deadline', endedAt: T0 + 20, modelOutVersion: null });
        expect(store.listParticipations('r1')).toHaveLength(1);
        expect(store.listAudit().at(-1)).toMatchObject({ action: 'round.aborted', subject: 'r1', details: { stage: 'training', reason: 'too few updates before the training deadline' } });
        expect(store.getFederation('f1')!.currentModelVersion).toBe(0);
        expectCohortError(() => store.abortRound('r1', 'again', T0 + 21, COORDINATOR), 'ROUND_WRONG_STAGE', /r1 is already aborted/);
        expectCohortError(() => store.abortRound('nope', 'x', T0, COORDINATOR), 'ROUND_NOT_FOUND', /round nope/);
      });

      it('commitRound writes model version, round, participations, federation progress, ledger, verdicts and audit together', () => {
        const v0 = store.getCurrentModelVersion('f1');
        startRound(store, 'f1', 'r1', T0 + 10);
        const input = commitInput(store, 'r1', 1, T0 + 20);
        const result = store.commitRound(input, COORDINATOR);

        expect(result.modelVersion).toEqual({
          id: result.modelVersion.id,
          federationId: 'f1',
          version: 1,
          sha256: input.model.sha256,
          parentSha256: v0.sha256,
          sizeBytes: 40,
          roundId: 'r1',
          optimizerStateSha256: input.model.optimizerStateSha256,
          metrics: input.metrics,
          createdAt: T0 + 20,
        });
        expect(result.round).toMatchObject({ state: 'committed', endedAt: T0 + 20, modelOutVersion: 1, survivors: input.survivors, metrics: input.metrics, bytesUp: 80, bytesDown: 120 });
        expect(result.federation).toMatchObject({ status: 'running', roundsCommitted: 1, currentModelVersion: 1, updatedAt: T0 + 20 });
        expect(store.getCurrentModelVersion('f1')).toEqual(result.modelVersion);
        expect(store.getRound('r1')).toEqual(result.round);
        expect(store.getFederation('f1')).toEqual(result.federation);
        expect(store.listParticipations('r1')).toEqual(input.participations);
        expect(store.listPrivacyLedger('f1')).toEqual([{ ...input.privacy, federationId: 'f1', roundId: 'r1', roundNumber: 1, at: T0 + 20 }]);
        expect(store.listVerdicts('r1')).toEqual(input.verdicts!.map((v) => ({ ...v, roundId: 'r1', at: T0 + 20 })));
        expect(store.listAudit().at(-1)).toMatchObject({
          actor: COORDINATOR,
          action: 'round.committed',
          subject: 'r1',
          details: { modelVersion: 1, sha256: input.model.sha256, parentSha256: v0.sha256, participants: 2, dropped: 1, verdicts: { accepted: 1, 'down-weighted': 1 } },
        });

        startRound(store, 'f1', 'r2', T0 + 30);
        const second = store.commitRound(commitInput(store, 'r2', 2, T0 + 40, { privacy: undefined, verdicts: undefined }), COORDINATOR);
        expect(second.modelVersion).toMatchObject({ version: 2, parentSha256: input.model.sha256 });
        expect(store.listModelVersions('f1').map((v) => v.version)).toEqual([0, 1, 2]);
        expect(store.listPrivacyLedger('f1')).toHaveLength(1);
        expect(store.listVerdicts('r2')).toEqual([]);
      });

      it('commitRound with completesFederation marks the federation completed and no further round can start', () => {
        startRound(store, 'f1', 'r1', T0 + 10);
        const result = store.commitRound(commitInput(store, 'r1', 1, T0 + 20, { completesFederation: true }), COORDINATOR);
        expect(result.federation).toMatchObject({ status: 'completed', roundsCommitted: 1, currentModelVersion: 1 });
        expect(result.federation.statusReason).toMatch(/round target/);
        expect(store.listAudit().slice(-2).map((e) => e.action)).toEqual(['round.committed', 'federation.completed']);
        expectCohortError(() => startRound(store, 'f1', 'r2', T0 + 30), 'FEDERATION_WRONG_STATUS', /f1 is completed/);
      });

      it('commitRound on an aborted round throws ROUND_WRONG_STAGE and writes no model version, participation, ledger or audit row', () => {
        startRound(store, 'f1', 'r1', T0 + 10);
        store.abortRound('r1', 'deadline', T0 + 11, COORDINATOR);
        const before = storeSnapshot(store);
        expectCohortError(() => store.commitRound(commitInput(store, 'r1', 1, T0 + 20), COORDINATOR), 'ROUND_WRONG_STAGE', /round r1 is already aborted; it cannot be committed/);
        expect(storeSnapshot(store)).toEqual(before);
        expect(store.listModelVersions('f1')).toHaveLength(1);
        expect(store.listParticipations('r1')).toEqual([]);
        expect(store.listPrivacyLedger('f1')).toEqual([]);
      });

      it('commitRound failing after its first writes (a verdict names an unknown client) rolls every write back', () => {
        startRound(store, 'f1', 'r1', T0 + 10);
        store.updateRound('r1', { state: 'aggregating' });
        const before = storeSnapshot(store);
        // Model version, participations, round and ledger rows are written before the verdicts are checked.
        const input = commitInput(store, 'r1', 1, T0 + 20, {
          completesFederation: true,
          verdicts: [{ contributionId: 'ghost', clientId: 'ghost', bucket: null, verdict: 'rejected', reason: 'x', scores: {} }],
        });
        expectCohortError(() => store.commitRound(input, COORDINATOR), 'CLIENT_NOT_FOUND', /client ghost/);
        expect(storeSnapshot(store)).toEqual(before);
        expect(store.getRound('r1')!.state).toBe('aggregating');
        expect(store.getFederation('f1')).toMatchObject({ status: 'running', roundsCommitted: 0, currentModelVersion: 0 });
        // Nothing half-done blocks the retry.
        expect(store.commitRound(commitInput(store, 'r1', 1, T0 + 21), COORDINATOR).modelVersion.version).toBe(1);
      });

      it('commitRound refuses a model file that is not in the file store, and bad inputs, naming the field', () => {
        startRound(store, 'f1', 'r1', T0 + 10);
        const before = storeSnapshot(store);
        const good = commitInput(store, 'r1', 1, T0 + 20);
        expectCohortError(() => store.commitRound({ ...good, model: { ...good.model, sha256: 'b'.repeat(64) } }, COORDINATOR), 'MODEL_NOT_FOUND', /b{64}/);
        expectCohortError(() => store.commitRound({ ...good, model: { ...good.model, optimizerStateSha256: 'c'.repeat(64) } }, COORDINATOR), 'MODEL_NOT_FOUND', /optimizer state/);
        expectCohortError(() => store.commitRound({ ...good, metrics: { loss: Number.NaN } }, COORDINATOR), 'INVALID_ARGUMENT', /metrics\.loss/);
        expectCohortError(() => store.commitRound({ ...good, bytesUp: -1 }, COORDINATOR), 'INVALID_ARGUMENT', /bytesUp/);
        expectCohortError(() => store.commitRound({ ...good, privacy: { ...good.privacy!, samplingRate: 0 } }, COORDINATOR), 'INVALID_ARGUMENT', /samplingRate/);
        expectCohortError(() => store.commitRound({ ...good, privacy: { ...good.privacy!, clipNorm: 0 } }, COORDINATOR), 'INVALID_ARGUMENT', /clipNorm must be > 0/);
        expectCohortError(() => store.commitRound({ ...good, privacy: { ...good.privacy!, mechanism: 'magic' as 'central' } }, COORDINATOR), 'INVALID_ARGUMENT', /privacy.mechanism must be central, distributed or local/);
        expectCohortError(() => store.commitRound({ ...good, privacy: { ...good.privacy!, params: { scale: Number.NaN } } }, COORDINATOR), 'INVALID_ARGUMENT', /privacy.params/);
        expectCohortError(() => store.commitRound({ ...good, privacy: { ...good.privacy!, contributors: [''] } }, COORDINATOR), 'INVALID_ARGUMENT', /privacy.contributors must be a list of client ids/);
        expectCohortError(() => store.commitRound({ ...good, verdicts: [good.verdicts![0]!, good.verdicts![0]!] }, COORDINATOR), 'INVALID_ARGUMENT', /appears twice/);
        expectCohortError(() => store.commitRound({ ...good, roundId: 'nope' }, COORDINATOR), 'ROUND_NOT_FOUND', /round nope/);
        expect(storeSnapshot(store)).toEqual(before);
      });

      it('listRounds returns newest first, honours limit and beforeNumber, and is empty for unknown federations', () => {
        for (let i = 1; i <= 4; i++) {
          startRound(store, 'f1', `r${i}`, T0 + i);
          store.abortRound(`r${i}`, 'deadline', T0 + i, COORDINATOR);
        }
        expect(store.listRounds('f1').map((r) => r.number)).toEqual([4, 3, 2, 1]);
        expect(store.listRounds('f1', { limit: 2 }).map((r) => r.number)).toEqual([4, 3]);
        expect(store.listRounds('f1', { limit: 2, beforeNumber: 3 }).map((r) => r.number)).toEqual([2, 1]);
        expect(store.listRounds('nope')).toEqual([]);
      });

      it('abortNonTerminalRounds aborts every round in progress, across federations, and leaves finished rounds alone', () => {
        createRunningFederation(store, 'f2');
        startRound(store, 'f1', 'r1', T0 + 1);
        store.commitRound(commitInput(store, 'r1', 1, T0 + 2), COORDINATOR);
        startRound(store, 'f1', 'r2', T0 + 3);
        store.updateRound('r2', { state: 'training' });
        startRound(store, 'f2', 'x1', T0 + 4);
        const aborted = store.abortNonTerminalRounds('coordinator restarted', T0 + 100, COORDINATOR);
        expect(aborted.map((r) => [r.id, r.state, r.abortReason, r.endedAt])).toEqual([
          ['r2', 'aborted', 'coordinator restarted', T0 + 100],
          ['x1', 'aborted', 'coordinator restarted', T0 + 100],
        ]);
        expect(store.getRound('r1')!.state).toBe('committed');
        expect(store.listAudit().slice(-2).map((e) => [e.action, e.subject])).toEqual([
          ['round.aborted', 'r2'],
          ['round.aborted', 'x1'],
        ]);
        expect(store.abortNonTerminalRounds('coordinator restarted', T0 + 200, COORDINATOR)).toEqual([]);
        // The federation resumes: a new round can start on the last committed model.
        expect(startRound(store, 'f1', 'r3', T0 + 300)).toMatchObject({ number: 3, modelInVersion: 1 });
      });

      it('lists the privacy ledger by round number and verdicts in the order given', () => {
        for (let i = 1; i <= 3; i++) {
          startRound(store, 'f1', `r${i}`, T0 + i * 10);
          store.commitRound(commitInput(store, `r${i}`, i, T0 + i * 10 + 5), COORDINATOR);
        }
        expect(store.listPrivacyLedger('f1').map((e) => [e.roundNumber, e.epsilonAfter])).toEqual([
          [1, 0.4],
          [2, 0.8],
          [3, 0.4 * 3],
        ]);
        expect(store.listVerdicts('r2').map((v) => v.contributionId)).toEqual(['c1', 'bucket-0']);
        expect(store.listPrivacyLedger('nope')).toEqual([]);
        expect(store.listVerdicts('nope')).toEqual([]);
      });
    });

    describe('audit trail', () => {
      it('chains entries: the first links to 64 zeros, each next to the previous hash, each hash recomputes', () => {
        const a = store.appendAudit({ actor: OPERATOR, action: 'test.first', subject: 's1', details: { b: 2, a: [1, { y: true, x: null }] } }, T0);
        const b = store.appendAudit({ actor: OPERATOR, action: 'test.second', subject: 's2' }, T0 + 1);
        expect(a).toMatchObject({ seq: 1, prevHash: GENESIS_HASH });
        expect(b).toMatchObject({ seq: 2, prevHash: a.hash, details: {} });
        expect(a.hash).toBe(auditEntryHash(a));
        expect(b.hash).toBe(auditEntryHash(b));
        expect(store.listAudit()).toEqual([a, b]);
        expect(store.verifyAuditChain()).toEqual({ ok: true, entries: 2 });
      });

      it('lists entries after a seq, up to a limit', () => {
        for (let i = 0; i < 5; i++) store.appendAudit({ actor: OPERATOR, action: 'test.n', subject: `s${i}` }, T0 + i);
        expect(store.listAudit({ afterSeq: 2 }).map((e) => e.seq)).toEqual([3, 4, 5]);
        expect(store.listAudit({ afterSeq: 1, limit: 2 }).map((e) => e.seq)).toEqual([2, 3]);
      });

      it('refuses details that JSON would alter (NaN, undefined in arrays, typed arrays) and empty actor or action', () => {
        expectCohortError(() => store.appendAudit({ actor: OPERATOR, action: 'x', subject: 's', details: { loss: Number.NaN } }, T0), 'INVALID_ARGUMENT', /details\.loss/);
        expectCohortError(() => store.appendAudit({ actor: OPERATOR, action: 'x', subject: 's', details: { key: new Uint8Array(2) } }, T0), 'INVALID_ARGUMENT', /details\.key/);
        expectCohortError(() => store.appendAudit({ actor: '', action: 'x', subject: 's' }, T0), 'INVALID_ARGUMENT', /actor/);
        expect(store.listAudit()).toEqual([]);
      });

      it('verifies a chain built by every audited operation', () => {
        enroll(store, 1);
        enroll(store, 2);
        createRunningFederation(store, 'f1');
        startRound(store, 'f1', 'r1', T0 + 10);
        store.commitRound(commitInput(store, 'r1', 1, T0 + 20), COORDINATOR);
        store.setClientStatus('c2', 'quarantined', 'flagged', T0 + 30, COORDINATOR);
        startRound(store, 'f1', 'r2', T0 + 40);
        store.abortNonTerminalRounds('coordinator restarted', T0 + 50, COORDINATOR);
        const entries = store.listAudit();
        expect(entries.map((e) => e.action)).toEqual([
          'enrollment-token.created',
          'client.enrolled',
          'enrollment-token.created',
          'client.enrolled',
          'federation.created',
          'round.started',
          'round.committed',
          'client.quarantined',
          'round.started',
          'round.aborted',
        ]);
        expect(store.verifyAuditChain()).toEqual({ ok: true, entries: entries.length });
      });
    });
  });
}
