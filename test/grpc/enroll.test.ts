// ClientService.Enroll fed malformed input, bad proofs and unusable tokens: the right status, a message that says
// what was wrong, and no change to the store (a token survives a failed attempt and still enrolls afterwards).
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign } from '../../shared/src/crypto/sodium.js';
import { enrollmentProofPayload } from '../../shared/src/protocol/signing.js';
import {
  createToken,
  enrollRaw,
  enrollRequest,
  expectStatus,
  identity,
  rejection,
  testCapabilities,
  startCoordinator,
} from '../helpers/coordinator.js';
import type { TestCoordinator } from '../helpers/coordinator.js';

describe('ClientService.Enroll contract', () => {
  let tc: TestCoordinator;

  beforeAll(async () => {
    tc = await startCoordinator();
  });

  afterAll(async () => {
    await tc?.close();
  });

  /** Runs a failing enrollment and checks its status, message and that the store did not change. */
  async function expectRefused(request: Parameters<typeof enrollRaw>[1], code: status, ...fragments: string[]): Promise<void> {
    const before = tc.snapshot();
    expectStatus(await rejection(enrollRaw(tc, request)), code, ...fragments);
    expect(tc.snapshot()).toEqual(before);
  }

  it('enrolls a well-formed request and returns the derived client id and the coordinator key (the snapshot sees it)', async () => {
    const id = identity('enroll-ok');
    const token = await createToken(tc);
    const before = tc.snapshot();
    const response = await enrollRaw(tc, enrollRequest(token, id));
    expect(response.clientId).toBe(id.clientId);
    expect(new Uint8Array(response.coordinatorPublicKey)).toEqual(tc.info.publicKey);
    // The read-only snapshot connection observes the coordinator's writes: "unchanged" below means something.
    const after = tc.snapshot();
    expect(after).not.toEqual(before);
    expect(after.tables['clients']?.map((row) => row['id'])).toContain(id.clientId);
  });

  it('refuses an empty token with INVALID_ARGUMENT "token is empty"', async () => {
    await expectRefused(enrollRequest('', identity('empty-token')), status.INVALID_ARGUMENT, 'token is empty');
  });

  it('refuses a token longer than 256 characters with INVALID_ARGUMENT', async () => {
    await expectRefused(enrollRequest('x'.repeat(257), identity('long-token')), status.INVALID_ARGUMENT, 'token is longer than 256');
  });

  it('refuses an identity key of the wrong length with INVALID_ARGUMENT naming the field and the actual length', async () => {
    const token = await createToken(tc);
    const id = identity('short-key');
    await expectRefused(
      enrollRequest(token, id, { identityPublicKey: Buffer.from(id.keys.publicKey.subarray(0, 31)) }),
      status.INVALID_ARGUMENT,
      'identity_public_key',
      '32-byte',
      'got 31 bytes',
    );
    await expectRefused(enrollRequest(token, id, { identityPublicKey: Buffer.alloc(0) }), status.INVALID_ARGUMENT, 'identity_public_key', 'got 0 bytes');
  });

  it('refuses a proof of the wrong length with INVALID_ARGUMENT naming the field and the actual length', async () => {
    const token = await createToken(tc);
    const id = identity('short-proof');
    await expectRefused(enrollRequest(token, id, { proof: Buffer.alloc(63) }), status.INVALID_ARGUMENT, 'proof', '64-byte', 'got 63 bytes');
  });

  it('refuses a proof that does not verify with UNAUTHENTICATED, and the token still enrolls afterwards', async () => {
    const token = await createToken(tc);
    const id = identity('bad-proof');
    const other = identity('someone-else');
    // Signed by another key; signed over another token; flipped bit.
    const foreign = sign(enrollmentProofPayload(token, id.keys.publicKey), other.keys.secretKey);
    const wrongToken = sign(enrollmentProofPayload(`${token}x`, id.keys.publicKey), id.keys.secretKey);
    const flipped = Buffer.from(enrollRequest(token, id).proof);
    flipped[10]! ^= 1;
    for (const proof of [foreign, wrongToken, flipped]) {
      await expectRefused(enrollRequest(token, id, { proof: Buffer.from(proof) }), status.UNAUTHENTICATED, 'enrollment proof does not verify', 'identity_public_key');
    }
    const response = await enrollRaw(tc, enrollRequest(token, id));
    expect(response.clientId).toBe(id.clientId);
  });

  it('refuses an unknown token with UNAUTHENTICATED "not known"', async () => {
    await expectRefused(enrollRequest('cht_never-issued-0123456789', identity('unknown-token')), status.UNAUTHENTICATED, 'enrollment token is not known');
  });

  it('refuses a token that was already used with UNAUTHENTICATED "already used"', async () => {
    const token = await createToken(tc);
    await enrollRaw(tc, enrollRequest(token, identity('first-user')));
    await expectRefused(enrollRequest(token, identity('second-user')), status.UNAUTHENTICATED, 'enrollment token was already used');
  });

  it('refuses an expired token with UNAUTHENTICATED "expired"', async () => {
    const token = await createToken(tc, 1);
    tc.advanceClock(1_001);
    await expectRefused(enrollRequest(token, identity('too-late')), status.UNAUTHENTICATED, 'enrollment token has expired');
  });

  it('refuses an identity key that is already enrolled with ALREADY_EXISTS naming the client, leaving the new token unused', async () => {
    const id = identity('enrolled-twice');
    await enrollRaw(tc, enrollRequest(await createToken(tc), id));
    const second = await createToken(tc);
    await expectRefused(enrollRequest(second, id), status.ALREADY_EXISTS, 'identity key is already enrolled', id.clientId);
    // The second token was not consumed: another identity can use it.
    const other = identity('uses-the-spare-token');
    expect((await enrollRaw(tc, enrollRequest(second, other))).clientId).toBe(other.clientId);
  });

  it('refuses oversized client-controlled fields (display name, capabilities) with INVALID_ARGUMENT naming them', async () => {
    const token = await createToken(tc);
    const id = identity('bloated');
    await expectRefused(enrollRequest(token, id, { displayName: 'd'.repeat(129) }), status.INVALID_ARGUMENT, 'display_name is longer than 128');
    await expectRefused(enrollRequest(token, id, { capabilities: testCapabilities([4], { backend: 'b'.repeat(129) }) }), status.INVALID_ARGUMENT, 'capabilities.backend');
    await expectRefused(enrollRequest(token, id, { capabilities: testCapabilities([4], { features: Array.from({ length: 33 }, (_, i) => `f${i}`) }) }), status.INVALID_ARGUMENT, 'capabilities.features');
    await expectRefused(enrollRequest(token, id, { capabilities: testCapabilities([4, 0]) }), status.INVALID_ARGUMENT, 'capabilities.input_shape [4,0]');
    // None of that consumed the token.
    expect((await enrollRaw(tc, enrollRequest(token, id))).clientId).toBe(id.clientId);
  });

  it('logged no internal error for any of the refusals', () => {
    expect(tc.logs.filter((line) => line.includes('internal error'))).toEqual([]);
  });
});
