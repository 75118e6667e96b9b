// ClientService.DownloadModel: refusals (credential, arguments, unknown federation or model, offset) with the right
// status and a precise message; a valid download is a header then chunks of at most 1 MiB whose bytes hash to the
// advertised SHA-256 under a coordinator signature that verifies. Nothing a download does changes the store.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSha256, sha256Hex } from '../../shared/src/crypto/hash.js';
import { verify } from '../../shared/src/crypto/sodium.js';
import type { DownloadModelRequest, ModelChunk, ModelHeader } from '../../shared/src/gen/fl/v1/client.pb.js';
import type { Federation } from '../../shared/src/gen/fl/v1/operator.pb.js';
import { CHUNK_BYTES } from '../../shared/src/protocol/constants.js';
import { modelSignaturePayload } from '../../shared/src/protocol/signing.js';
import {
  collectStream,
  denseTopology,
  enroll,
  expectStatus,
  federationSpec,
  identity,
  openSession,
  sessionMetadata,
  startCoordinator,
} from '../helpers/coordinator.js';
import type { RawSession, TestCoordinator } from '../helpers/coordinator.js';

/** 1024 inputs → 300 classes: 307,500 float32 weights = 1,230,000 bytes, two chunks. */
const BIG_INPUTS = 1024;
const BIG_UNITS = 300;
const BIG_BYTES = (BIG_INPUTS + 1) * BIG_UNITS * 4;

describe('ClientService.DownloadModel contract', () => {
  let tc: TestCoordinator;
  let session: RawSession;
  let big: Federation;
  let small: Federation;

  beforeAll(async () => {
    tc = await startCoordinator();
    const id = identity('downloader');
    await enroll(tc, id);
    session = await openSession(tc, id);
    big = await tc.operator.createFederation(federationSpec({ name: 'download-big', model: { topologyJson: denseTopology(BIG_INPUTS, BIG_UNITS), initSeed: 1 } }), false);
    small = await tc.operator.createFederation(federationSpec({ name: 'download-small', model: { topologyJson: denseTopology(4, 3), initSeed: 2 } }), false);
  });

  afterAll(async () => {
    session?.close();
    await tc?.close();
  });

  function download(request: Partial<DownloadModelRequest>, token: string | null = session.token) {
    const full: DownloadModelRequest = { federationId: big.id, sha256: big.currentModel!.sha256, offset: 0, ...request };
    return collectStream<ModelChunk>(tc.client.downloadModel(full, sessionMetadata(token)));
  }

  /** A refused download: status, message fragments, no message before the status, store unchanged. */
  async function expectRefused(request: Partial<DownloadModelRequest>, token: string | null, code: status, ...fragments: string[]): Promise<void> {
    const before = tc.snapshot();
    const result = await download(request, token);
    expectStatus(result.status, code, ...fragments);
    expect(result.messages).toEqual([]);
    expect(tc.snapshot()).toEqual(before);
  }

  function split(messages: ModelChunk[]): { header: ModelHeader; chunks: Buffer[] } {
    const [first, ...rest] = messages;
    if (first?.part?.$case !== 'header') throw new Error(`first message is ${first?.part?.$case}, not the header`);
    return {
      header: first.part.value,
      chunks: rest.map((m) => {
        if (m.part?.$case !== 'data') throw new Error(`expected data after the header, got ${m.part?.$case}`);
        return m.part.value;
      }),
    };
  }

  it('refuses a call without a session token, or with one that is not a live session, with UNAUTHENTICATED', async () => {
    await expectRefused({}, null, status.UNAUTHENTICATED, 'missing session token', 'x-cohort-session');
    await expectRefused({}, '', status.UNAUTHENTICATED, 'missing session token');
    await expectRefused({}, 'not-a-session-token', status.UNAUTHENTICATED, 'session token is not valid');
  });

  it('refuses an empty federation id with INVALID_ARGUMENT', async () => {
    await expectRefused({ federationId: '' }, session.token, status.INVALID_ARGUMENT, 'federation_id is empty');
  });

  it('refuses a sha256 that is not 64 lowercase hex characters with INVALID_ARGUMENT quoting it', async () => {
    await expectRefused({ sha256: '' }, session.token, status.INVALID_ARGUMENT, 'sha256 must be a lowercase hex SHA-256 (64 characters)', 'got ""');
    await expectRefused({ sha256: 'abc123' }, session.token, status.INVALID_ARGUMENT, 'sha256 must be a lowercase hex', 'got "abc123"');
    const upper = big.currentModel!.sha256.toUpperCase();
    await expectRefused({ sha256: upper }, session.token, status.INVALID_ARGUMENT, 'sha256 must be a lowercase hex', upper);
  });

  it('refuses an unknown federation with NOT_FOUND naming it', async () => {
    await expectRefused({ federationId: 'no-such-federation' }, session.token, status.NOT_FOUND, 'federation "no-such-federation" does not exist');
  });

  it('refuses a model that is not a version of the federation (unknown, or another federation\'s) with NOT_FOUND', async () => {
    const unknown = sha256Hex('not a model');
    await expectRefused({ sha256: unknown }, session.token, status.NOT_FOUND, `model ${unknown} is not a version of federation download-big`);
    const other = small.currentModel!.sha256;
    await expectRefused({ sha256: other }, session.token, status.NOT_FOUND, `model ${other} is not a version of federation download-big`);
  });

  it('refuses an offset beyond the model size with INVALID_ARGUMENT giving both numbers', async () => {
    await expectRefused({ offset: BIG_BYTES + 1 }, session.token, status.INVALID_ARGUMENT, `offset ${BIG_BYTES + 1} is beyond the model size ${BIG_BYTES}`);
  });

  it('streams a header then chunks of at most 1 MiB whose SHA-256 matches and whose signature verifies with the coordinator key', async () => {
    const before = tc.snapshot();
    const result = await download({});
    expect(result.status.code).toBe(status.OK);
    const { header, chunks } = split(result.messages);
    const ref = header.model!;
    expect(ref).toMatchObject({ federationId: big.id, version: 0, sha256: big.currentModel!.sha256, sizeBytes: BIG_BYTES });
    expect(header.offset).toBe(0);
    expect(header.layout?.totalElements).toBe((BIG_INPUTS + 1) * BIG_UNITS);
    expect(header.layout?.tensors.map((t) => [t.name, t.shape])).toEqual([
      ['dense_out/kernel', [BIG_INPUTS, BIG_UNITS]],
      ['dense_out/bias', [BIG_UNITS]],
    ]);
    expect(JSON.parse(header.topologyJson)).toEqual(JSON.parse(denseTopology(BIG_INPUTS, BIG_UNITS)));
    expect(chunks.length).toBe(Math.ceil(BIG_BYTES / CHUNK_BYTES));
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(CHUNK_BYTES);
    const hash = createSha256();
    let total = 0;
    for (const chunk of chunks) {
      hash.update(chunk);
      total += chunk.length;
    }
    expect(total).toBe(BIG_BYTES);
    expect(hash.digestHex()).toBe(ref.sha256);
    expect(verify(new Uint8Array(ref.signature), modelSignaturePayload(ref.federationId, ref.version, ref.sha256), tc.info.publicKey)).toBe(true);
    // The signature binds the federation: it does not verify for another one.
    expect(verify(new Uint8Array(ref.signature), modelSignaturePayload(small.id, ref.version, ref.sha256), tc.info.publicKey)).toBe(false);
    expect(tc.snapshot()).toEqual(before);
  });

  it('resumes from an offset: the header says where, and the chunks are the tail of the model', async () => {
    const full = Buffer.concat(split((await download({})).messages).chunks);
    const offset = CHUNK_BYTES + 12_345;
    const resumed = split((await download({ offset })).messages);
    expect(resumed.header.offset).toBe(offset);
    expect(Buffer.concat(resumed.chunks).equals(full.subarray(offset))).toBe(true);
    const atEnd = await download({ offset: BIG_BYTES });
    expect(atEnd.status.code).toBe(status.OK);
    expect(split(atEnd.messages).chunks).toEqual([]);
  });

  it('logged no internal error', () => {
    expect(tc.logs.filter((line) => line.includes('internal error'))).toEqual([]);
  });
});
