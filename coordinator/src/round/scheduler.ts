/**
 * Runs each running federation's rounds one after another: waits for enough eligible clients, runs a round, stops
 * when the round target is reached, retries aborted rounds with backoff, and fails the federation after too many
 * aborts in a row. Pausing or shutting down aborts the round in progress; nothing half-done is committed.
 */
import type { Strategy } from '../../../shared/src/core/aggregation/index.js';
import type { Rng } from '../../../shared/src/core/rng/rng.js';
import type { FederationConfig } from '../federation/config.js';
import type { FederationRecord } from '../store/types.js';
import { isEligible, runRound } from './workflow.js';
import type { RoundDependencies, RoundResult } from './workflow.js';
import { budgetExhaustion, dpPlanOf, spendingAfter } from '../privacy/budget.js';

/** Per-federation things built once: validated config, strategy, selection rng, model input shape. */
export interface FederationRuntime {
  config: FederationConfig;
  strategy: Strategy;
  /** Cohort-selection randomness for a given round number. */
  selectionRngFor: (roundNumber: number) => Rng;
  inputShape: readonly number[] | null;
}

export interface SchedulerOptions {
  /** Poll interval while waiting for clients. */
  pollMs?: number;
  /** First retry delay after an aborted round; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  onRoundFinished?: (federationId: string, result: RoundResult) => void;
}

interface Loop {
  controller: AbortController;
  done: Promise<void>;
}

export class Scheduler {
  private readonly loops = new Map<string, Loop>();
  private readonly pollMs: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    private readonly deps: RoundDependencies,
    private readonly runtimeOf: (federation: FederationRecord) => Promise<FederationRuntime>,
    private readonly options: SchedulerOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 200;
    this.backoffMs = options.backoffMs ?? 250;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
  }

  /** Starts the round loop of a running federation (no-op when it already runs). */
  ensureRunning(federationId: string): void {
    if (this.loops.has(federationId)) return;
    const controller = new AbortController();
    const done = this.loop(federationId, controller.signal)
      .catch((error: unknown) => {
        // A loop that cannot go on must not leave the federation looking 'running': fail it with the reason.
        this.deps.log(`scheduler loop of federation ${federationId} failed: ${String((error as Error)?.stack ?? error)}`);
        const reason = `scheduler stopped: ${error instanceof Error ? error.message : String(error)}`;
        try {
          const federation = this.deps.store.getFederation(federationId);
          if (federation !== null && federation.status === 'running') {
            this.deps.store.setFederationStatus(federationId, 'failed', reason, this.deps.now(), 'coordinator');
            this.deps.events.emit({ type: 'federation.failed', federationId, message: reason });
          }
        } catch (inner) {
          this.deps.log(`could not mark federation ${federationId} failed: ${String(inner)}`);
        }
      })
      .finally(() => {
        if (this.loops.get(federationId)?.controller === controller) this.loops.delete(federationId);
      });
    this.loops.set(federationId, { controller, done });
  }

  /** Stops a federation's loop, aborting its round in progress with the reason. */
  async stop(federationId: string, reason: string): Promise<void> {
    const loop = this.loops.get(federationId);
    if (loop === undefined) return;
    loop.controller.abort(reason);
    await loop.done;
  }

  async stopAll(reason: string): Promise<void> {
    await Promise.all([...this.loops.keys()].map((id) => this.stop(id, reason)));
  }

  isRunning(federationId: string): boolean {
    return this.loops.has(federationId);
  }

  private async loop(federationId: string, signal: AbortSignal): Promise<void> {
    const { store, events, now } = this.deps;
    let aborts = 0;
    while (!signal.aborted) {
      const federation = store.getFederation(federationId);
      if (federation === null || federation.status !== 'running') return;
      if (federation.roundsCommitted >= federation.roundsTarget) {
        store.setFederationStatus(federationId, 'completed', null, now(), 'coordinator');
        events.emit({ type: 'federation.completed', federationId, message: `federation ${federation.name} completed ${federation.roundsCommitted} rounds` });
        return;
      }
      const runtime = await this.runtimeOf(federation);
      // Privacy budget: a round whose spending would exceed it is never started (the ledger is the source of truth).
      const dp = dpPlanOf(runtime.config);
      if (dp !== null) {
        const ledger = store.listPrivacyLedger(federationId);
        const reason = budgetExhaustion(ledger, dp, federation.roundsCommitted, store.listClients().filter((c) => c.status === 'active').map((c) => c.id), runtime.config.selection.minClients);
        if (reason !== null) {
          const spent = spendingAfter(ledger, dp, null).epsilon;
          store.setFederationStatus(federationId, 'budget-exhausted', reason, now(), 'coordinator');
          events.emit({ type: 'federation.budget-exhausted', federationId, message: reason, metrics: { epsilon: spent, rounds: federation.roundsCommitted } });
          return;
        }
      }
      if (!(await this.waitForClients(federation, runtime, signal))) return;
      const result = await runRound(this.deps, { federation, ...runtime, signal });
      this.options.onRoundFinished?.(federationId, result);
      if (result.outcome === 'committed') {
        aborts = 0;
        if (result.commit.federation.status === 'completed') {
          events.emit({
            type: 'federation.completed',
            federationId,
            message: `federation ${federation.name} completed ${result.commit.federation.roundsCommitted} rounds`,
            metrics: result.commit.round.metrics,
          });
          return;
        }
        continue;
      }
      if (signal.aborted) return;
      aborts++;
      if (aborts >= runtime.config.maxConsecutiveAborts) {
        const reason = `${aborts} rounds in a row were aborted; last: ${result.reason}`;
        store.setFederationStatus(federationId, 'failed', reason, now(), 'coordinator');
        events.emit({ type: 'federation.failed', federationId, message: reason });
        return;
      }
      await sleep(Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (aborts - 1)), signal);
    }
  }

  /** Resolves true once enough eligible clients are connected, false when stopped first. */
  private async waitForClients(federation: FederationRecord, runtime: FederationRuntime, signal: AbortSignal): Promise<boolean> {
    const { selection } = runtime.config;
    while (!signal.aborted) {
      // minConnected counts connected clients (a quarantined one is still connected); minClients counts eligible ones.
      const idle = this.deps.gateway.connected().filter((c) => !this.deps.hub.isBusy(c.clientId));
      const eligible = idle.filter((c) => isEligible(c, runtime.config, runtime.inputShape, this.deps.store.getClient(c.clientId)?.status));
      if (eligible.length >= selection.minClients && idle.length >= selection.minConnected) return true;
      const current = this.deps.store.getFederation(federation.id);
      if (current === null || current.status !== 'running') return false;
      await sleep(this.pollMs, signal);
    }
    return false;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
