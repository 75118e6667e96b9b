/** Standard gRPC health checking (grpc.health.v1.Health): "" and each service name report SERVING until shutdown. */
import { CohortError } from '../../../shared/src/core/errors.js';
import { HealthCheckResponse_ServingStatus as ServingStatus } from '../../../shared/src/gen/grpc/health/v1/health.pb.js';
import type { HealthServer } from '../../../shared/src/gen/grpc/health/v1/health.pb.js';
import type { ErrorLogger } from './errors.js';
import { serverStreamHandler, unaryHandler } from './handlers.js';

export class HealthStatus {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<() => void>();

  constructor(services: readonly string[]) {
    for (const name of ['', ...services]) this.statuses.set(name, ServingStatus.SERVING);
  }

  setAll(status: ServingStatus): void {
    for (const name of this.statuses.keys()) this.statuses.set(name, status);
    for (const watcher of [...this.watchers]) watcher();
  }

  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  all(): [string, ServingStatus][] {
    return [...this.statuses.entries()];
  }

  watch(listener: () => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }
}

/** `shutdown` ends open Watch streams (after they have seen NOT_SERVING) when the coordinator stops. */
export function createHealthService(health: HealthStatus, logError: ErrorLogger, shutdown?: AbortSignal): HealthServer {
  return {
    check: unaryHandler(logError, (call) => {
      const status = health.get(call.request.service);
      if (status === undefined) throw new CohortError('NOT_FOUND', `unknown service "${call.request.service.slice(0, 80)}"`);
      return { status };
    }),
    list: unaryHandler(logError, () => ({ statuses: Object.fromEntries(health.all().map(([name, status]) => [name, { status }])) })),
    watch: serverStreamHandler(logError, (call) => {
      const service = call.request.service;
      return new Promise<void>((resolve) => {
        let last: ServingStatus | null = null;
        const send = (): void => {
          const status = health.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
          if (status !== last) {
            last = status;
            call.write({ status });
          }
        };
        send();
        const unwatch = health.watch(send);
        const stop = (): void => {
          unwatch();
          resolve();
        };
        call.on('cancelled', stop);
        call.on('close', stop);
        if (shutdown?.aborted) stop();
        shutdown?.addEventListener('abort', stop, { once: true });
      });
    }),
  };
}
