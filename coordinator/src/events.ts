/**
 * In-process event bus behind the operator's WatchEvents stream and the simulator's progress display. Keeps the
 * last events in a ring so a watcher can resume from a sequence number.
 */

export type EventType =
  | 'federation.created'
  | 'federation.started'
  | 'federation.paused'
  | 'federation.completed'
  | 'federation.failed'
  | 'federation.budget-exhausted'
  | 'round.started'
  | 'round.stage'
  | 'round.progress'
  | 'round.committed'
  | 'round.aborted'
  | 'client.enrolled'
  | 'client.connected'
  | 'client.disconnected'
  | 'client.quarantined'
  | 'client.revoked'
  | 'client.released';

export interface CoordinatorEvent {
  seq: number;
  timeMs: number;
  type: EventType;
  federationId: string;
  roundId: string;
  clientId: string;
  message: string;
  metrics: Record<string, number>;
}

export type EventInput = Pick<CoordinatorEvent, 'type'> & Partial<Omit<CoordinatorEvent, 'seq' | 'timeMs' | 'type'>>;

export class EventBus {
  private seq = 0;
  private readonly ring: CoordinatorEvent[] = [];
  private readonly listeners = new Set<(event: CoordinatorEvent) => void>();

  constructor(
    private readonly now: () => number,
    private readonly capacity = 2000,
  ) {}

  emit(input: EventInput): CoordinatorEvent {
    const event: CoordinatorEvent = {
      seq: ++this.seq,
      timeMs: this.now(),
      type: input.type,
      federationId: input.federationId ?? '',
      roundId: input.roundId ?? '',
      clientId: input.clientId ?? '',
      message: input.message ?? '',
      metrics: input.metrics ?? {},
    };
    this.ring.push(event);
    if (this.ring.length > this.capacity) this.ring.shift();
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A failing watcher must not break the coordinator; it is removed.
        this.listeners.delete(listener);
      }
    }
    return event;
  }

  /** Replays retained events with seq > afterSeq (when afterSeq > 0), then delivers new ones. */
  subscribe(listener: (event: CoordinatorEvent) => void, afterSeq = 0): () => void {
    if (afterSeq > 0) for (const event of this.ring) if (event.seq > afterSeq) listener(event);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get lastSeq(): number {
    return this.seq;
  }
}
