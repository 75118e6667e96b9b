// OperatorService fed bad credentials, invalid specs and unknown or wrong-state targets: the right status, a message
// that names the field or the id, and no change to the store (tables and model files).
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientOptimizer } from '../../shared/src/gen/fl/v1/common.pb.js';
import { NoiseMode } from '../../shared/src/gen/fl/v1/common.pb.js';
import type { ModelChunk } from '../../shared/src/gen/fl/v1/client.pb.js';
import type { Federation, FederationSpec } from '../../shared/src/gen/fl/v1/operator.pb.js';
import {
  call,
  collectStream,
  denseTopology,
  enroll,
  expectStatus,
  federationSpec,
  identity,
  operatorMetadata,
  rejection,
  startCoordinator,
} from '../helpers/coordinator.js';
import type { TestCoordinator } from '../helpers/coordinator.js';

const TOPOLOGY = denseTopology(4, 3);

/** A valid spec (as the wire carries it) for `name`; tests break one field at a time. */
function validSpec(name: string): FederationSpec {
  return federationSpec({ name, model: { topologyJson: TOPOLOGY, initSeed: 1 }, selection: { cohortSize: 3, minClients: 2 } });
}

describe('OperatorService contract', () => {
  let tc: TestCoordinator;
  let federation: Federation;

  beforeAll(async () => {
    tc = await startCoordinator();
    federation = await tc.operator.createFederation(validSpec('ops'), false);
  });

  afterAll(async () => {
    await tc?.close();
  });

  /** A failing call: status, message fragments, store (tables + model files) unchanged. */
  async function expectRefused(promise: () => Promise<unknown>, code: status, ...fragments: string[]): Promise<void> {
    const before = tc.snapshot();
    expectStatus(await rejection(promise()), code, ...fragments);
    expect(tc.snapshot()).toEqual(before);
  }

  describe('credentials', () => {
    const credentials: [string, string | null, string][] = [
      ['no authorization metadata', null, 'missing operator credential'],
      ['a non-Bearer scheme', 'Basic YWRtaW46YWRtaW4=', 'malformed authorization metadata'],
      ['"Bearer" without a token', 'Bearer', 'malformed authorization metadata'],
      ['a wrong admin token', 'Bearer not-the-admin-token-0123456789', 'admin token is not valid'],
    ];

    for (const [what, value, message] of credentials) {
      it(`refuses unary calls with ${what} with UNAUTHENTICATED "${message}", changing nothing`, async () => {
        const md = () => operatorMetadata(value);
        const raw = tc.operatorRaw;
        const calls: (() => Promise<unknown>)[] = [
          () => call((cb) => raw.getStatus({}, md(), cb)),
          () => call((cb) => raw.listFederations({}, md(), cb)),
          () => call((cb) => raw.createFederation({ spec: validSpec('sneaky'), start: true }, md(), cb)),
          () => call((cb) => raw.startFederation({ federationId: federation.id }, md(), cb)),
          () => call((cb) => raw.createEnrollmentToken({ label: 'sneaky', ttlSeconds: 60 }, md(), cb)),
          () => call((cb) => raw.revokeClient({ clientId: 'c-anyone', reason: '' }, md(), cb)),
          () => call((cb) => raw.getRound({ roundId: 'r' }, md(), cb)),
          () => call((cb) => raw.getPrivacyBudget({ federationId: federation.id }, md(), cb)),
        ];
        for (const invoke of calls) await expectRefused(invoke, status.UNAUTHENTICATED, message);
      });

      it(`refuses the WatchEvents and ExportModel streams with ${what} with UNAUTHENTICATED before any message`, async () => {
        const watch = await collectStream(tc.operatorRaw.watchEvents({ federationId: '', afterSeq: 0 }, operatorMetadata(value)));
        expectStatus(watch.status, status.UNAUTHENTICATED, message);
        expect(watch.messages).toEqual([]);
        const exported = await collectStream<ModelChunk>(tc.operatorRaw.exportModel({ federationId: federation.id, version: 0 }, operatorMetadata(value)));
        expectStatus(exported.status, status.UNAUTHENTICATED, message);
        expect(exported.messages).toEqual([]);
      });
    }
  });

  describe('CreateFederation', () => {
    /** `mutate` breaks a valid spec; the call must fail with INVALID_ARGUMENT naming the field. */
    async function expectInvalid(mutate: (spec: FederationSpec) => void, ...fragments: string[]): Promise<void> {
      const spec = validSpec('broken');
      mutate(spec);
      await expectRefused(() => tc.operator.createFederation(spec, true), status.INVALID_ARGUMENT, ...fragments);
    }

    it('refuses a request without a spec', async () => {
      await expectRefused(() => call((cb) => tc.operatorRaw.createFederation({ spec: undefined, start: false }, operatorMetadata(), cb)), status.INVALID_ARGUMENT, 'spec is missing');
    });

    it('refuses invalid plan fields, naming plan.<field> and the bound', async () => {
      await expectInvalid((s) => (s.plan!.batchSize = 70_000), 'plan.batchSize', '65536');
      await expectInvalid((s) => (s.plan!.epochs = 5000), 'plan.epochs', '1000');
      await expectInvalid((s) => (s.plan!.learningRate = 1000), 'plan.learningRate');
      await expectInvalid((s) => (s.plan!.momentum = 1), 'plan.momentum');
      await expectInvalid((s) => (s.plan!.optimizer = 99 as ClientOptimizer), 'plan.optimizer: unknown enum value 99');
    });

    it('refuses an unknown built-in model, listing the known ones', async () => {
      await expectInvalid(
        (s) => {
          s.model!.topologyJson = '';
          s.model!.builtin = 'resnet50';
        },
        'model.builtin: unknown model "resnet50"',
        'fmnist-cnn',
        'fmnist-mlp',
      );
    });

    it('refuses per-layer clip norms that do not match the model tensors, naming them', async () => {
      await expectInvalid((s) => (s.plan!.clipping = { clipNorm: 0, adaptive: false, targetQuantile: 0, perLayerClipNorms: [1], adaptiveLearningRate: 0, countNoise: 0 }), 'plan.perLayerClipNorms: 1 norms for a model of', 'tensors');
    });

    it('refuses a model with both or neither of builtin and topology_json', async () => {
      await expectInvalid((s) => (s.model!.builtin = 'fmnist-mlp'), 'model', 'give exactly one of builtin or topologyJson');
      await expectInvalid((s) => (s.model!.topologyJson = ''), 'model', 'give exactly one of builtin or topologyJson');
    });

    it('refuses a topology that is not JSON or not a classifier', async () => {
      await expectInvalid((s) => (s.model!.topologyJson = '{not json'), 'model topology is not valid JSON');
      await expectInvalid((s) => (s.model!.topologyJson = '{"hello": "world"}'), 'model topology needs "class_name" and "config"');
    });

    it('refuses selection.minClients greater than the cohort size, naming both', async () => {
      await expectInvalid(
        (s) => {
          s.selection!.cohortSize = 3;
          s.selection!.minClients = 5;
        },
        'selection.minClients',
        'selection.cohortSize (3)',
      );
      await expectInvalid((s) => (s.selection!.samplingRate = 1.5), 'selection.samplingRate');
    });

    it('refuses initial weights of the wrong length, giving the byte count and the parameter count', async () => {
      await expectInvalid((s) => (s.model!.initialWeights = Buffer.alloc(8)), 'model.initial_weights: 8 bytes', '15 float32 parameters (60 bytes)');
    });

    it('refuses initial weights that are not finite, naming the parameter', async () => {
      const weights = new Float32Array(15).fill(0.1);
      weights[3] = Number.POSITIVE_INFINITY;
      await expectInvalid((s) => (s.model!.initialWeights = Buffer.from(weights.buffer)), 'model.initial_weights: parameter 3 is not finite');
    });

    it('refuses an unreadable initial-weights path or evaluation dataset, naming the field', async () => {
      await expectInvalid((s) => (s.model!.initialWeightsPath = '/nonexistent/cohort/weights.bin'), 'model.initialWeightsPath', 'cannot read');
      await expectInvalid((s) => (s.evaluation = { dataset: '/nonexistent/cohort/dataset', split: 'test', maxExamples: 0 }), 'evaluation.dataset "/nonexistent/cohort/dataset" cannot be loaded');
      await expectInvalid(
        (s) => (s.aggregation = { rule: 'fltrust', params: {}, rootDataset: { dataset: '/nonexistent/cohort/root', split: '', examples: 0 } }),
        'aggregation.rootDataset "/nonexistent/cohort/root" cannot be loaded',
      );
      await expectInvalid((s) => (s.aggregation = { rule: 'fltrust', params: {}, rootDataset: undefined }), 'aggregation.rootDataset: rule fltrust judges every update');
    });

    it('refuses a bad name, privacy target or server-optimizer setting, naming the field', async () => {
      await expectInvalid((s) => (s.name = 'bad name!'), 'name: letters, digits');
      await expectInvalid((s) => (s.privacy = { targetEpsilon: 1, targetDelta: 2 }), 'privacy.targetDelta');
      await expectInvalid((s) => (s.serverOptimizer!.learningRate = -1), 'serverOptimizer.learningRate');
    });

    it('refuses differential-privacy settings that cannot hold, naming the field', async () => {
      const noise = { noiseMultiplier: 1, mechanism: '', perClientScale: 0, expectedCohortSize: 0, quantizationScale: 0, l2Bound: 0, perClientVariance: 0, wrapProbability: 0 };
      const withDp = (s: FederationSpec, mode: NoiseMode, mechanism = ''): void => {
        s.plan!.clipping = { clipNorm: 1, adaptive: false, targetQuantile: 0, perLayerClipNorms: [], adaptiveLearningRate: 0, countNoise: 0 };
        s.plan!.noise = { ...noise, mode, mechanism };
        s.privacy = { targetEpsilon: 8, targetDelta: 1e-5 };
      };
      await expectInvalid((s) => withDp(s, NoiseMode.NOISE_MODE_DISTRIBUTED), 'dp.mode: distributed noise needs secagg.enabled');
      await expectInvalid((s) => withDp(s, NoiseMode.NOISE_MODE_DISTRIBUTED, 'laplace'), 'plan.noise.mechanism "laplace" is not supported (skellam)');
      await expectInvalid((s) => {
        withDp(s, NoiseMode.NOISE_MODE_LOCAL);
        s.plan!.clipping!.adaptive = true;
        s.plan!.clipping!.targetQuantile = 0.5;
      }, 'dp.adaptiveClipping: needs dp.mode central');
    });

    it('refuses a duplicate name with ALREADY_EXISTS', async () => {
      await expectRefused(() => tc.operator.createFederation(validSpec('ops'), false), status.ALREADY_EXISTS, 'a federation named "ops" already exists');
    });
  });

  describe('federations, rounds and models by id', () => {
    it('answers NOT_FOUND naming the id for Get/Start/Pause/ListRounds/GetPrivacyBudget of an unknown federation', async () => {
      const calls: (() => Promise<unknown>)[] = [
        () => tc.operator.getFederation('no-such-fed'),
        () => tc.operator.startFederation('no-such-fed'),
        () => tc.operator.pauseFederation('no-such-fed'),
        () => tc.operator.listRounds('no-such-fed'),
        () => tc.operator.getPrivacyBudget('no-such-fed'),
        () => tc.operator.exportModel('no-such-fed', 0),
      ];
      for (const invoke of calls) await expectRefused(invoke, status.NOT_FOUND, 'federation "no-such-fed" does not exist');
    });

    it('answers INVALID_ARGUMENT for an empty federation id', async () => {
      await expectRefused(() => tc.operator.getFederation(''), status.INVALID_ARGUMENT, 'federation_id is empty');
      await expectRefused(() => tc.operator.listRounds(''), status.INVALID_ARGUMENT, 'federation_id is empty');
    });

    it('ends WatchEvents for an unknown federation with NOT_FOUND', async () => {
      const watch = await collectStream(tc.operatorRaw.watchEvents({ federationId: 'no-such-fed', afterSeq: 0 }, operatorMetadata()));
      expectStatus(watch.status, status.NOT_FOUND, 'federation "no-such-fed" does not exist');
      expect(watch.messages).toEqual([]);
    });

    it('refuses to pause a federation that is not running with FAILED_PRECONDITION giving its status', async () => {
      await expectRefused(() => tc.operator.pauseFederation(federation.id), status.FAILED_PRECONDITION, 'federation ops is created, not running');
      const other = await tc.operator.createFederation(validSpec('ops-paused'), true);
      await tc.operator.pauseFederation(other.id);
      await expectRefused(() => tc.operator.pauseFederation(other.id), status.FAILED_PRECONDITION, 'federation ops-paused is paused, not running');
    });

    it('answers NOT_FOUND for an unknown round and INVALID_ARGUMENT for an empty round id', async () => {
      await expectRefused(() => tc.operator.getRound('no-such-round'), status.NOT_FOUND, 'round "no-such-round" does not exist');
      await expectRefused(() => tc.operator.getRound(''), status.INVALID_ARGUMENT, 'round_id is empty');
    });

    it('answers NOT_FOUND for a model version the federation does not have', async () => {
      await expectRefused(() => tc.operator.exportModel(federation.id, 7), status.NOT_FOUND, 'federation ops has no model version 7');
    });

    it('exports version 0 (the current model) as a header and chunks that match it', async () => {
      const { header, bytes } = await tc.operator.exportModel(federation.id, 0);
      expect(header.model).toMatchObject({ federationId: federation.id, version: 0, sha256: federation.currentModel!.sha256, sizeBytes: 60 });
      expect(bytes.length).toBe(60);
    });
  });

  describe('clients and tokens', () => {
    it('answers NOT_FOUND naming the client for revoke/quarantine/release of an unknown client', async () => {
      for (const action of ['revoke', 'quarantine', 'release'] as const) {
        await expectRefused(() => tc.operator.setClientStatus(action, 'c-00000000000000000000', 'why'), status.NOT_FOUND, 'client "c-00000000000000000000" does not exist');
      }
    });

    it('answers INVALID_ARGUMENT for an empty client id or an over-long reason', async () => {
      await expectRefused(() => tc.operator.setClientStatus('quarantine', '', ''), status.INVALID_ARGUMENT, 'client_id is empty');
      await expectRefused(() => tc.operator.setClientStatus('quarantine', 'c-x', 'r'.repeat(501)), status.INVALID_ARGUMENT, 'reason is longer than 500');
    });

    it('refuses to release or quarantine a revoked client with FAILED_PRECONDITION (revocation is final)', async () => {
      const id = identity('operator-revoked');
      await enroll(tc, id);
      await tc.operator.setClientStatus('revoke', id.clientId, 'compromised');
      await expectRefused(() => tc.operator.setClientStatus('release', id.clientId, ''), status.FAILED_PRECONDITION, `client ${id.clientId} is revoked`, 'revocation is final');
      await expectRefused(() => tc.operator.setClientStatus('quarantine', id.clientId, ''), status.FAILED_PRECONDITION, `client ${id.clientId} is revoked`);
    });

    it('answers a client history: NOT_FOUND for an unknown client, a bad limit named, an enrolled client with no rounds', async () => {
      await expectRefused(() => tc.operator.getClientHistory('c-00000000000000000000'), status.NOT_FOUND, 'client "c-00000000000000000000" does not exist');
      await expectRefused(() => tc.operator.getClientHistory(''), status.INVALID_ARGUMENT, 'client_id is empty');
      const id = identity('operator-history');
      await enroll(tc, id);
      await expectRefused(() => tc.operator.getClientHistory(id.clientId, 1001), status.INVALID_ARGUMENT, 'limit must be at most 1000, got 1001');
      const history = await tc.operator.getClientHistory(id.clientId);
      expect(history.client).toMatchObject({ id: id.clientId, status: 'active', reputation: 1, scoredRounds: 0 });
      expect(history.entries).toEqual([]);
    });

    it('refuses a token TTL out of range or an over-long label with INVALID_ARGUMENT giving the bounds', async () => {
      const max = 365 * 24 * 3600;
      await expectRefused(() => tc.operator.createEnrollmentToken('too long-lived', max + 1), status.INVALID_ARGUMENT, `ttl_seconds must be between 1 and ${max}, got ${max + 1}`);
      await expectRefused(() => tc.operator.createEnrollmentToken('l'.repeat(129), 60), status.INVALID_ARGUMENT, 'label is longer than 128');
    });
  });

  it('logged no internal error', () => {
    expect(tc.logs.filter((line) => line.includes('internal error'))).toEqual([]);
  });
});
