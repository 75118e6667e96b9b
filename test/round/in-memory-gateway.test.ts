import { bytesToFloat32 } from '../../shared/src/core/tensor/bytes.js';
// The in-memory ClientGateway on its own: sessions, message delivery, answers routed through the hub.
import { describe, expect, it } from 'vitest';
import { InMemoryGateway, RoundHub } from '../../coordinator/src/round/index.js';
import type { ActiveRound, InboundRoundMessage, OutboundMessage, UploadHeaderInfo, UploadSink } from '../../coordinator/src/round/index.js';
import { capabilities, expectCohortError, settle } from './harness.js';

/** A round that records what reaches it through the hub. */
function recordingRound(roundId: string, clients: string[]): ActiveRound & { seen: string[]; delivered: Float32Array[] } {
  const seen: string[] = [];
  const delivered: Float32Array[] = [];
  return {
    roundId,
    federationId: 'f',
    seen,
    delivered,
    involves: (clientId) => clients.includes(clientId),
    exclusionReason: (clientId) => `client ${clientId} is not in round ${roundId}`,
    onMessage: (clientId, message: InboundRoundMessage) => void seen.push(`${clientId}:${message.kind}:${message.kind === 'ack' ? message.accepted : message.kind === 'failed' ? message.reason : message.message.stage}`),
    onDisconnect: (clientId, reason) => void seen.push(`${clientId}:disconnect:${reason}`),
    beginUpload: (clientId, header: UploadHeaderInfo): UploadSink => {
      seen.push(`${clientId}:upload:${header.kind}:${header.totalBytes}:${header.numExamples}:${header.sha256.length}`);
      return {
        expectedBytes: header.totalBytes,
        expectedElements: header.totalBytes / 4,
        deliver: (update) => void delivered.push(bytesToFloat32(update.payload)),
        abandon: (reason) => void seen.push(`${clientId}:abandon:${reason}`),
      };
    },
    recordDownload: () => undefined,
  };
}

const end = (roundId: string): OutboundMessage => ({ kind: 'end', roundId, outcome: 'aborted', reason: 'test', model: null });

describe('in-memory gateway', () => {
  it('lists connected clients in connection order and sends only to them', () => {
    const gateway = new InMemoryGateway({ hub: new RoundHub({ findRound: () => null }), now: () => 1234 });
    gateway.connect('b', capabilities({ backend: 'wasm' }));
    gateway.connect('a', capabilities());
    expect(gateway.connected()).toEqual([
      { clientId: 'b', capabilities: capabilities({ backend: 'wasm' }), connectedAt: 1234 },
      { clientId: 'a', capabilities: capabilities(), connectedAt: 1234 },
    ]);
    expect(gateway.isConnected('a')).toBe(true);
    expect(gateway.send('nobody', end('r'))).toBe(false);
    expect(gateway.send('a', end('r'))).toBe(true);
    expect(gateway.clientOf('a')!.received).toEqual([end('r')]);
  });

  it('runs a handler after send() has returned, never inside it', async () => {
    const gateway = new InMemoryGateway({ hub: new RoundHub({ findRound: () => null }) });
    const order: string[] = [];
    gateway.connect('a', capabilities(), (message) => void order.push(`handled ${message.roundId}`));
    gateway.send('a', end('r1'));
    order.push('send returned');
    await settle();
    expect(order).toEqual(['send returned', 'handled r1']);
  });

  it('routes answers through the hub: acks, failures, uploads with a hash, disconnects', async () => {
    const hub = new RoundHub({ findRound: () => null });
    const round = recordingRound('r1', ['a']);
    hub.register(round);
    const gateway = new InMemoryGateway({ hub });
    const a = gateway.connect('a', capabilities(), (message, client) => {
      client.accept(message.roundId);
      client.decline(message.roundId, 'changed my mind');
      client.fail(message.roundId, 'oom');
      client.upload(message.roundId, new Float32Array([1, 2, 3]), { numExamples: 7 });
    });
    gateway.send('a', end('r1'));
    await settle();
    a.disconnect('bye');

    expect(round.seen).toEqual(['a:ack:true', 'a:ack:false', 'a:failed:oom', 'a:upload:delta-float32:12:7:64', 'a:disconnect:bye']);
    expect(round.delivered).toEqual([new Float32Array([1, 2, 3])]);
    expect(a.connected).toBe(false);
    expect(gateway.isConnected('a')).toBe(false);
    expect(gateway.handlerErrors).toEqual([]);

    // An ended session's messages go nowhere, and it can no longer upload.
    a.accept('r1');
    expectCohortError(() => a.upload('r1', new Float32Array(3)), 'UNAUTHENTICATED', /session of client a ended/);
    expect(round.seen).toHaveLength(5);
  });

  it('abandons an upload whose body the round refuses, as the gRPC adapter does', () => {
    const hub = new RoundHub({ findRound: () => null });
    const round = recordingRound('r1', ['a']);
    round.beginUpload = () => ({
      expectedBytes: 8,
      expectedElements: 2,
      deliver: () => {
        throw new Error('bad body');
      },
      abandon: (reason) => void round.seen.push(`abandon:${reason}`),
    });
    hub.register(round);
    const a = new InMemoryGateway({ hub }).connect('a', capabilities());
    expect(() => a.upload('r1', new Float32Array(2))).toThrow('bad body');
    expect(round.seen).toEqual(['abandon:bad body']);
  });

  it('refuses to download without a model repository', () => {
    const a = new InMemoryGateway({ hub: new RoundHub({ findRound: () => null }) }).connect('a', capabilities());
    expect(() => a.download({ federationId: 'f', version: 0, sha256: 'ab'.repeat(32), sizeBytes: 40, signature: new Uint8Array(64) })).toThrow(/without a model repository/);
  });

  it('keeps handler errors, thrown or rejected, away from the workflow', async () => {
    const gateway = new InMemoryGateway({ hub: new RoundHub({ findRound: () => null }) });
    gateway.connect('sync', capabilities(), () => {
      throw new Error('sync boom');
    });
    gateway.connect('async', capabilities(), async () => {
      throw new Error('async boom');
    });
    expect(gateway.send('sync', end('r'))).toBe(true);
    expect(gateway.send('async', end('r'))).toBe(true);
    await settle();
    expect(gateway.handlerErrors.map((e) => [e.clientId, (e.error as Error).message])).toEqual([
      ['sync', 'sync boom'],
      ['async', 'async boom'],
    ]);

    const reported: string[] = [];
    const custom = new InMemoryGateway({ hub: new RoundHub({ findRound: () => null }), onHandlerError: (id) => void reported.push(id) });
    custom.connect('x', capabilities(), () => {
      throw new Error('x');
    });
    custom.send('x', end('r'));
    await settle();
    expect(reported).toEqual(['x']);
    expect(custom.handlerErrors).toEqual([]);
  });

  it('replaces an older session of the same client, which the round sees as a disconnect', () => {
    const hub = new RoundHub({ findRound: () => null });
    const round = recordingRound('r1', ['a']);
    hub.register(round);
    const gateway = new InMemoryGateway({ hub });
    const old = gateway.connect('a', capabilities());
    const fresh = gateway.connect('a', capabilities());

    expect(round.seen).toEqual(['a:disconnect:replaced by a newer session of the same client']);
    expect(old.connected).toBe(false);
    expect(fresh.connected).toBe(true);
    // The stale session closing later does not end the new one.
    old.disconnect('late close');
    expect(fresh.connected).toBe(true);
    expect(round.seen).toHaveLength(1);
  });
});
