// ClientService.Session fed out-of-order and unauthenticated input: every handshake failure ends the stream with the
// right status and a precise message, nothing is stored, and nothing sent after a failure is acted on.
import { status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_METADATA_KEY } from '../../shared/src/protocol/constants.js';
import {
  bodyIs,
  challengeAnswer,
  collectStream,
  enroll,
  expectStatus,
  identity,
  metadata,
  openSession,
  openStream,
  startCoordinator,
  testCapabilities,
  waitFor,
} from '../helpers/coordinator.js';
import type { RawStream, TestCoordinator } from '../helpers/coordinator.js';

describe('ClientService.Session contract', () => {
  let tc: TestCoordinator;
  const alice = identity('session-alice');
  const streams: RawStream[] = [];

  /** A raw stream closed after the test. */
  function stream(): RawStream {
    const s = openStream(tc);
    streams.push(s);
    return s;
  }

  beforeAll(async () => {
    tc = await startCoordinator();
    await enroll(tc, alice);
  });

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    // Each test starts with no live session on the coordinator.
    await waitFor('closed sessions to be gone', () => tc.coordinator.api.status().connectedClients === 0);
  });

  afterAll(async () => {
    await tc?.close();
  });

  it('completes hello → challenge → signed answer → ready and hands out a session token', async () => {
    const session = await openSession(tc, alice);
    streams.push(session);
    expect(session.token.length).toBeGreaterThan(20);
    expect((await tc.operator.getStatus()).connectedClientIds).toContain(alice.clientId);
  });

  it('ends the stream with FAILED_PRECONDITION when the first message is not hello, storing nothing', async () => {
    const before = tc.snapshot();
    const s = stream();
    s.send('', { $case: 'heartbeat', value: { clientTimeMs: 1 } });
    expectStatus(await s.status, status.FAILED_PRECONDITION, 'first session message must be hello', 'got heartbeat');
    const s2 = stream();
    s2.send('', challengeAnswer(alice, { roundId: '', body: { $case: 'challenge', value: { nonce: Buffer.alloc(32) } } }));
    expectStatus(await s2.status, status.FAILED_PRECONDITION, 'first session message must be hello', 'got challengeAnswer');
    expect(tc.snapshot()).toEqual(before);
  });

  it('ends the stream with INVALID_ARGUMENT for a message without a body and for a hello without a client id', async () => {
    const s = stream();
    s.send('', undefined);
    expectStatus(await s.status, status.INVALID_ARGUMENT, 'session message has no body');
    const s2 = stream();
    s2.send('', { $case: 'hello', value: { clientId: '', capabilities: testCapabilities() } });
    expectStatus(await s2.status, status.INVALID_ARGUMENT, 'hello.client_id is empty');
  });

  it('ends the stream with UNAUTHENTICATED for a client id that is not enrolled, naming it', async () => {
    const before = tc.snapshot();
    const stranger = identity('session-stranger');
    const s = stream();
    s.send('', { $case: 'hello', value: { clientId: stranger.clientId, capabilities: testCapabilities() } });
    expectStatus(await s.status, status.UNAUTHENTICATED, `client ${stranger.clientId} is not enrolled`);
    expect(tc.snapshot()).toEqual(before);
  });

  it('ends the stream with INVALID_ARGUMENT for oversized hello capabilities', async () => {
    const s = stream();
    s.send('', { $case: 'hello', value: { clientId: alice.clientId, capabilities: testCapabilities([4], { platform: 'p'.repeat(200) }) } });
    expectStatus(await s.status, status.INVALID_ARGUMENT, 'capabilities.platform');
  });

  it('ends the stream with UNAUTHENTICATED when the challenge answer is signed by another key, over another nonce, or malformed', async () => {
    const before = tc.snapshot();
    const mallory = identity('session-mallory');
    const cases: ((challenge: Parameters<typeof challengeAnswer>[1]) => ReturnType<typeof challengeAnswer>)[] = [
      // Signed with Mallory's key while claiming to be Alice.
      (challenge) => challengeAnswer({ keys: mallory.keys, clientId: alice.clientId }, challenge),
      // Alice's key over a different nonce (a replayed answer).
      () => challengeAnswer(alice, { roundId: '', body: { $case: 'challenge', value: { nonce: Buffer.alloc(32, 7) } } }),
      // Not a signature at all.
      (challenge) => challengeAnswer(alice, challenge, new Uint8Array(10)),
    ];
    for (const answer of cases) {
      const s = stream();
      s.send('', { $case: 'hello', value: { clientId: alice.clientId, capabilities: testCapabilities() } });
      const challenge = await s.next(bodyIs('challenge'));
      s.send('', answer(challenge));
      expectStatus(await s.status, status.UNAUTHENTICATED, `challenge signature does not verify for client ${alice.clientId}`);
    }
    expect(tc.snapshot()).toEqual(before);
    expect((await tc.operator.getStatus()).connectedClientIds).not.toContain(alice.clientId);
  });

  it('ends the stream with FAILED_PRECONDITION when the challenge is answered with something else', async () => {
    const s = stream();
    s.send('', { $case: 'hello', value: { clientId: alice.clientId, capabilities: testCapabilities() } });
    await s.next(bodyIs('challenge'));
    s.send('', { $case: 'hello', value: { clientId: alice.clientId, capabilities: testCapabilities() } });
    expectStatus(await s.status, status.FAILED_PRECONDITION, 'expected challenge_answer after the challenge', 'got hello');
  });

  it('acts on nothing a client pipelines after a failed handshake (no round message is dispatched for the claimed id)', async () => {
    const mallory = identity('session-pipeliner');
    const s = stream();
    s.send('', { $case: 'hello', value: { clientId: alice.clientId, capabilities: testCapabilities() } });
    const challenge = await s.next(bodyIs('challenge'));
    // A bad answer followed at once by round messages "as Alice": none may reach the round hub.
    s.send('', challengeAnswer({ keys: mallory.keys, clientId: alice.clientId }, challenge));
    s.send('pipelined-round', { $case: 'taskFailed', value: { accepted: false, reason: 'forged' } });
    s.send('pipelined-round', { $case: 'taskAck', value: { accepted: false, reason: 'forged' } });
    expectStatus(await s.status, status.UNAUTHENTICATED, 'challenge signature does not verify');
    expect(tc.logs.filter((line) => line.includes('pipelined-round'))).toEqual([]);
  });

  it('ends the stream (OK, no session) when the client half-closes in the middle of the handshake', async () => {
    const before = tc.snapshot();
    const s = stream();
    s.send('', { $case: 'hello', value: { clientId: alice.clientId, capabilities: testCapabilities() } });
    await s.next(bodyIs('challenge'));
    s.call.end();
    expectStatus(await s.status, status.OK);
    expect(tc.snapshot()).toEqual(before);
    expect((await tc.operator.getStatus()).connectedClientIds).not.toContain(alice.clientId);
  });

  it('ends an authenticated session with FAILED_PRECONDITION on a second hello, and its token stops working', async () => {
    const session = await openSession(tc, alice);
    streams.push(session);
    session.send('', { $case: 'hello', value: { clientId: alice.clientId, capabilities: testCapabilities() } });
    expectStatus(await session.status, status.FAILED_PRECONDITION, 'session is already authenticated', 'unexpected hello');
    const download = await collectStream(tc.client.downloadModel({ federationId: 'any', sha256: '0'.repeat(64), offset: 0 }, metadata(SESSION_METADATA_KEY, session.token)));
    expectStatus(download.status, status.UNAUTHENTICATED, 'session token is not valid');
    expect((await tc.operator.getStatus()).connectedClientIds).not.toContain(alice.clientId);
  });

  it('ends an authenticated session with FAILED_PRECONDITION on a second challenge answer', async () => {
    const session = await openSession(tc, alice);
    streams.push(session);
    session.send('', { $case: 'challengeAnswer', value: { signature: Buffer.alloc(64) } });
    expectStatus(await session.status, status.FAILED_PRECONDITION, 'session is already authenticated', 'unexpected challengeAnswer');
  });

  it('refuses a revoked client with PERMISSION_DENIED and the revocation reason', async () => {
    const bob = identity('session-bob');
    await enroll(tc, bob);
    await tc.operator.setClientStatus('revoke', bob.clientId, 'key leaked');
    const before = tc.snapshot();
    const s = stream();
    s.send('', { $case: 'hello', value: { clientId: bob.clientId, capabilities: testCapabilities() } });
    expectStatus(await s.status, status.PERMISSION_DENIED, `client ${bob.clientId} is revoked`, 'key leaked');
    expect(tc.snapshot()).toEqual(before);
  });

  it('refuses a client revoked between hello and its challenge answer with PERMISSION_DENIED', async () => {
    const carol = identity('session-carol');
    await enroll(tc, carol);
    const s = stream();
    s.send('', { $case: 'hello', value: { clientId: carol.clientId, capabilities: testCapabilities() } });
    const challenge = await s.next(bodyIs('challenge'));
    await tc.operator.setClientStatus('revoke', carol.clientId, 'revoked mid-handshake');
    const before = tc.snapshot();
    s.send('', challengeAnswer(carol, challenge));
    expectStatus(await s.status, status.PERMISSION_DENIED, `client ${carol.clientId} is revoked`, 'revoked mid-handshake');
    expect(tc.snapshot()).toEqual(before);
    expect((await tc.operator.getStatus()).connectedClientIds).not.toContain(carol.clientId);
  });

  it('ends a live session with ABORTED and the reason when its client is revoked', async () => {
    const dave = identity('session-dave');
    await enroll(tc, dave);
    const session = await openSession(tc, dave);
    streams.push(session);
    await tc.operator.setClientStatus('revoke', dave.clientId, 'decommissioned');
    expectStatus(await session.status, status.ABORTED, 'client revoked', 'decommissioned');
  });

  it('a newer session of the same client replaces the older one, whose token stops working', async () => {
    const erin = identity('session-erin');
    await enroll(tc, erin);
    const first = await openSession(tc, erin);
    streams.push(first);
    const second = await openSession(tc, erin);
    streams.push(second);
    expectStatus(await first.status, status.ABORTED, 'replaced by a newer session');
    const download = await collectStream(tc.client.downloadModel({ federationId: 'x', sha256: '0'.repeat(64), offset: 0 }, metadata(SESSION_METADATA_KEY, first.token)));
    expectStatus(download.status, status.UNAUTHENTICATED, 'session token is not valid');
  });

  it('drops a secure-aggregation answer for a round the client is not in (logged), and the session goes on', async () => {
    const session = await openSession(tc, alice);
    streams.push(session);
    const before = tc.snapshot();
    session.send('no-such-round', { $case: 'consistencySignature', value: { signature: Buffer.alloc(64) } });
    await waitFor('the coordinator to log the dropped message', () => tc.logs.some((line) => line.includes(`dropped secagg from client ${alice.clientId} for round no-such-round`)));
    session.send('', { $case: 'heartbeat', value: { clientTimeMs: 1 } });
    expect((await tc.operator.getStatus()).connectedClientIds).toContain(alice.clientId);
    expect(tc.snapshot()).toEqual(before);
  });

  it('ends a session with INVALID_ARGUMENT naming the field of an oversized secure-aggregation message', async () => {
    const session = await openSession(tc, alice);
    streams.push(session);
    const before = tc.snapshot();
    const keys = { clientId: alice.clientId, cipherPublicKey: Buffer.alloc(2048), maskPublicKey: Buffer.alloc(32), signature: Buffer.alloc(64), identityPublicKey: Buffer.alloc(32), selfMaskCommitment: Buffer.alloc(32) };
    session.send('r', { $case: 'advertisedKeys', value: keys });
    expectStatus(await session.status, status.INVALID_ARGUMENT, 'advertised_keys.cipher_public_key is 2048 bytes, more than 1024');
    expect(tc.snapshot()).toEqual(before);
    const shares = await openSession(tc, alice);
    streams.push(shares);
    const beforeShares = tc.snapshot();
    shares.send('r', { $case: 'unmaskShares', value: { selfMaskShares: [{ ownerClientId: '', share: Buffer.alloc(37) }], maskKeyShares: [] } });
    expectStatus(await shares.status, status.INVALID_ARGUMENT, 'unmask_shares.self_mask_shares.owner_client_id: client id must be 1..128 characters');
    expect(tc.snapshot()).toEqual(beforeShares);
  });

  it('logged no internal error', () => {
    expect(tc.logs.filter((line) => line.includes('internal error'))).toEqual([]);
  });
});

describe('ClientService.Session handshake deadline', () => {
  let tc: TestCoordinator;
  const frank = identity('session-frank');

  beforeAll(async () => {
    tc = await startCoordinator({ handshakeTimeoutMs: 150 });
    await enroll(tc, frank);
  });

  afterAll(async () => {
    await tc?.close();
  });

  it('ends a stream that never says hello with DEADLINE_EXCEEDED', async () => {
    const s = openStream(tc);
    try {
      expectStatus(await s.status, status.DEADLINE_EXCEEDED, 'session handshake not completed within the time limit');
    } finally {
      s.close();
    }
  });

  it('ends a stream that never answers the challenge with DEADLINE_EXCEEDED, storing nothing', async () => {
    const before = tc.snapshot();
    const s = openStream(tc);
    try {
      s.send('', { $case: 'hello', value: { clientId: frank.clientId, capabilities: testCapabilities() } });
      await s.next(bodyIs('challenge'));
      expectStatus(await s.status, status.DEADLINE_EXCEEDED, 'session handshake not completed');
    } finally {
      s.close();
    }
    expect(tc.snapshot()).toEqual(before);
    expect((await tc.operator.getStatus()).connectedClientIds).toEqual([]);
  });
});
