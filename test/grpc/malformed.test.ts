/**
 * Bytes that are not a valid protobuf message are bad input: INVALID_ARGUMENT naming the method, never INTERNAL,
 * and nothing stored changes. Sent with a raw grpc-js client whose serializer passes bytes through untouched.
 */
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_METADATA_KEY } from '../../shared/src/protocol/constants.js';
import { ADMIN_TOKEN, startCoordinator } from '../helpers/coordinator.js';
import type { TestCoordinator } from '../helpers/coordinator.js';

// Field 1 (federation_id, a string) declared 16 bytes long with only 2 following: truncated.
const TRUNCATED = Buffer.from([0x0a, 0x10, 0x61, 0x62]);

describe('undecodable requests', () => {
  let tc: TestCoordinator;
  let raw: Client;

  beforeAll(async () => {
    tc = await startCoordinator();
    raw = new Client(tc.address, credentials.createInsecure());
  });

  afterAll(async () => {
    raw?.close();
    await tc?.close();
  });

  function unaryRaw(method: string, body: Buffer, metadata: Metadata): Promise<ServiceError> {
    return new Promise((resolve, reject) => {
      raw.makeUnaryRequest(method, (b: Buffer) => b, (b: Buffer) => b, body, metadata, (error) => (error === null ? reject(new Error('accepted garbage')) : resolve(error)));
    });
  }

  it('answers a truncated unary request with INVALID_ARGUMENT naming the method and leaves the store unchanged', async () => {
    const before = tc.snapshot();
    const metadata = new Metadata();
    metadata.set(OPERATOR_METADATA_KEY, `Bearer ${ADMIN_TOKEN}`);
    const error = await unaryRaw('/fl.v1.OperatorService/GetFederation', TRUNCATED, metadata);
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toContain('/fl.v1.OperatorService/GetFederation');
    expect(error.details).toContain('not a valid protobuf message');
    const enroll = await unaryRaw('/fl.v1.ClientService/Enroll', TRUNCATED, new Metadata());
    expect(enroll.code).toBe(status.INVALID_ARGUMENT);
    expect(tc.snapshot()).toEqual(before);
  });

  it('answers a garbled session message with INVALID_ARGUMENT', async () => {
    const stream = raw.makeBidiStreamRequest('/fl.v1.ClientService/Session', (b: Buffer) => b, (b: Buffer) => b, new Metadata());
    const ended = new Promise<ServiceError>((resolve) => stream.on('error', (e: ServiceError) => resolve(e)));
    stream.on('data', () => undefined);
    stream.write(TRUNCATED);
    const error = await ended;
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toContain('/fl.v1.ClientService/Session');
  });
});
