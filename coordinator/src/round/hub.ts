/**
 * Routes what clients send (session messages, uploads, downloads, disconnects) to the round that is waiting for it.
 * The round workflow registers itself while it runs; the gRPC adapters only ever talk to the hub.
 */
import { CohortError } from '../../../shared/src/core/errors.js';
import type { RoundRecord } from '../store/types.js';
import type { ConnectedClient, InboundRoundMessage, OutboundMessage, ReceivedUpdate, UploadHeaderInfo } from './messages.js';

/** How the workflow reaches clients: one interface, a gRPC implementation and an in-memory one for tests. */
export interface ClientGateway {
  /** Clients with a live, authenticated session. */
  connected(): ConnectedClient[];
  isConnected(clientId: string): boolean;
  /** Queues a message on the client's session; false when the client is not connected. */
  send(clientId: string, message: OutboundMessage): boolean;
}

/** Where a validated upload's bytes go once fully received and hash-checked. */
export interface UploadSink {
  readonly expectedBytes: number;
  /** Vector length expected (d). */
  readonly expectedElements: number;
  deliver(update: ReceivedUpdate): void;
  /** The upload failed after it began (stream error, hash mismatch); the client is a dropout. */
  abandon(reason: string): void;
}

/** A round that is running and may receive client input. */
export interface ActiveRound {
  readonly roundId: string;
  readonly federationId: string;
  involves(clientId: string): boolean;
  /** Why a client is not (or no longer) in this round: not selected, dropped (with stage and reason), released. */
  exclusionReason(clientId: string): string;
  onMessage(clientId: string, message: InboundRoundMessage): void;
  onDisconnect(clientId: string, reason: string): void;
  /** Checks that this client may upload this update now; throws a CohortError saying why not. */
  beginUpload(clientId: string, header: UploadHeaderInfo): UploadSink;
  recordDownload(clientId: string, bytes: number): void;
}

export interface RoundHubOptions {
  /** Looks a round up in the store, to tell a stale round from an unknown one. */
  findRound: (roundId: string) => RoundRecord | null;
  log?: (line: string) => void;
}

export class RoundHub {
  private readonly rounds = new Map<string, ActiveRound>();

  constructor(private readonly options: RoundHubOptions) {}

  register(round: ActiveRound): void {
    this.rounds.set(round.roundId, round);
  }

  unregister(roundId: string): void {
    this.rounds.delete(roundId);
  }

  /** True while the client takes part in any running round (a client trains for one round at a time). */
  isBusy(clientId: string): boolean {
    for (const round of this.rounds.values()) if (round.involves(clientId)) return true;
    return false;
  }

  /** A session message about a round; messages for rounds that are over are dropped (late answers are normal). */
  dispatch(clientId: string, roundId: string, message: InboundRoundMessage): void {
    const round = this.rounds.get(roundId);
    if (round === undefined || !round.involves(clientId)) {
      this.options.log?.(`dropped ${message.kind} from client ${clientId} for round ${roundId || '(none)'}: not an active round of this client`);
      return;
    }
    round.onMessage(clientId, message);
  }

  disconnected(clientId: string, reason: string): void {
    for (const round of [...this.rounds.values()]) if (round.involves(clientId)) round.onDisconnect(clientId, reason);
  }

  /** Validates an upload against the round it names; the error says precisely why it is refused. */
  beginUpload(clientId: string, header: UploadHeaderInfo): UploadSink {
    const round = this.rounds.get(header.roundId);
    if (round === undefined) {
      const stored = header.roundId.length > 0 ? this.options.findRound(header.roundId) : null;
      if (stored === null) throw new CohortError('ROUND_NOT_FOUND', `round "${header.roundId}" does not exist`);
      throw new CohortError('ROUND_STALE', `round ${stored.number} of federation ${stored.federationId} is ${stored.state}, not accepting updates`);
    }
    if (!round.involves(clientId)) throw new CohortError('ROUND_NOT_SELECTED', round.exclusionReason(clientId));
    return round.beginUpload(clientId, header);
  }

  /** Attributes downloaded model bytes to the client's running round in that federation. */
  recordDownload(clientId: string, federationId: string, bytes: number): void {
    for (const round of this.rounds.values()) {
      if (round.federationId === federationId && round.involves(clientId)) round.recordDownload(clientId, bytes);
    }
  }
}
