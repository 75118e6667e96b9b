// Standard gRPC health checking (grpc.health.v1.Health): the server and each Cohort service report SERVING, an
// unknown service is NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch), and a watcher sees NOT_SERVING when the
// coordinator stops.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthCheckResponse_ServingStatus as ServingStatus } from '../../shared/src/gen/grpc/health/v1/health.pb.js';
import type { HealthCheckResponse } from '../../shared/src/gen/grpc/health/v1/health.pb.js';
import { call, expectStatus, rejection, startCoordinator, waitFor } from '../helpers/coordinator.js';
import type { TestCoordinator } from '../helpers/coordinator.js';

describe('grpc.health.v1.Health', () => {
  let tc: TestCoordinator;

  beforeAll(async () => {
    tc = await startCoordinator();
  });

  afterAll(async () => {
    await tc?.close();
  });

  function check(service: string): Promise<HealthCheckResponse> {
    return call<HealthCheckResponse>((cb) => tc.health.check({ service }, cb));
  }

  it('reports SERVING for the server as a whole ("") and for each Cohort service', async () => {
    for (const service of ['', 'fl.v1.ClientService', 'fl.v1.OperatorService']) {
      expect((await check(service)).status).toBe(ServingStatus.SERVING);
    }
  });

  it('answers Check for an unknown service with NOT_FOUND naming it', async () => {
    expectStatus(await rejection(check('fl.v1.NoSuchService')), status.NOT_FOUND, 'unknown service "fl.v1.NoSuchService"');
  });

  it('answers Watch for an unknown service with SERVICE_UNKNOWN (and keeps the stream open)', async () => {
    const stream = tc.health.watch({ service: 'fl.v1.NoSuchService' });
    stream.on('error', () => undefined);
    const first = await new Promise<HealthCheckResponse>((resolve) => stream.once('data', resolve));
    stream.cancel();
    expect(first.status).toBe(ServingStatus.SERVICE_UNKNOWN);
  });

  it('lets a watcher see SERVING, then NOT_SERVING once the coordinator stops', async () => {
    const seen: ServingStatus[] = [];
    const stream = tc.health.watch({ service: 'fl.v1.ClientService' });
    stream.on('error', () => undefined);
    stream.on('data', (response: HealthCheckResponse) => seen.push(response.status));
    await waitFor('the first health status', () => seen.length > 0);
    expect(seen).toEqual([ServingStatus.SERVING]);
    const stopping = tc.coordinator.stop('health test');
    await waitFor('NOT_SERVING', () => seen.includes(ServingStatus.NOT_SERVING));
    stream.cancel();
    await stopping;
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
  });
});
