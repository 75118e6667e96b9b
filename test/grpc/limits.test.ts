// Message-size limits (DESIGN §3): nothing over 4 MiB travels in one frame. The server's max receive size refuses
// bigger messages with RESOURCE_EXHAUSTED on every kind of call, stores nothing, and keeps serving afterwards.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../../shared/src/protocol/constants.js';
import {
  createToken,
  enroll,
  enrollRaw,
  enrollRequest,
  expectStatus,
  identity,
  openSession,
  openStream,
  rejection,
  startCoordinator,
  testCapabilities,
  upload,
} from '../helpers/coordinator.js';
import type { RawSession, TestCoordinator } from '../helpers/coordinator.js';

const FIVE_MIB = 5 * 1024 * 1024;

describe('gRPC message-size limits', () => {
  let tc: TestCoordinator;
  let session: RawSession;

  beforeAll(async () => {
    tc = await startCoordinator();
    const id = identity('limits');
    await enroll(tc, id);
    session = await openSession(tc, id);
  });

  afterAll(async () => {
    session?.close();
    await tc?.close();
  });

  it('the limit is 4 MiB', () => {
    expect(MAX_MESSAGE_BYTES).toBe(4 * 1024 * 1024);
  });

  it('refuses an UpdateChunk carrying 5 MiB of data with RESOURCE_EXHAUSTED, storing nothing', async () => {
    const before = tc.snapshot();
    const { error, receipt } = await upload(tc, session.token, [{ part: { $case: 'data', value: Buffer.alloc(FIVE_MIB, 1) } }]);
    expect(receipt).toBeNull();
    expectStatus(error!, status.RESOURCE_EXHAUSTED, 'larger than max', String(MAX_MESSAGE_BYTES));
    expect(tc.snapshot()).toEqual(before);
  });

  it('refuses a 5 MiB Enroll request with RESOURCE_EXHAUSTED, leaving the token usable', async () => {
    const token = await createToken(tc);
    const id = identity('limits-enroll');
    const before = tc.snapshot();
    expectStatus(await rejection(enrollRaw(tc, enrollRequest(token, id, { displayName: 'x'.repeat(FIVE_MIB) }))), status.RESOURCE_EXHAUSTED, 'larger than max');
    expect(tc.snapshot()).toEqual(before);
    expect((await enrollRaw(tc, enrollRequest(token, id))).clientId).toBe(id.clientId);
  });

  it('ends a session whose message exceeds 4 MiB with RESOURCE_EXHAUSTED', async () => {
    const stream = openStream(tc);
    try {
      stream.send('', { $case: 'hello', value: { clientId: 'c-limits', capabilities: testCapabilities([4], { platform: 'p'.repeat(FIVE_MIB) }) } });
      expectStatus(await stream.status, status.RESOURCE_EXHAUSTED, 'larger than max');
    } finally {
      stream.close();
    }
  });

  it('keeps serving other calls after refusing oversized messages', async () => {
    expect((await tc.operator.getStatus()).connectedClientIds).toContain(session.clientId);
  });
});
