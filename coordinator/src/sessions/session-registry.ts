/**
 * Live, authenticated client sessions. One session per client: a newer session replaces the older one. A session
 * that sends no heartbeat for three intervals is closed and its client counts as disconnected (a dropout for any
 * round it was in). Implements the round workflow's ClientGateway over whatever transport opened the session.
 */
import { randomBytes } from 'node:crypto';
import { CohortError } from '../../../shared/src/core/errors.js';
import type { ClientGateway } from '../round/hub.js';
import type { ConnectedClient, OutboundMessage } from '../round/messages.js';
import type { ClientCapabilitiesRecord } from '../store/types.js';

export interface SessionTransport {
  /** Queues a message on the session's stream. */
  send(message: OutboundMessage): void;
  /** Ends the stream (the reason goes to the client as a status message). */
  close(reason: string): void;
}

interface Session {
  clientId: string;
  token: string;
  capabilities: ClientCapabilitiesRecord;
  connectedAt: number;
  lastHeard: number;
  transport: SessionTransport;
}

export interface SessionRegistryOptions {
  now: () => number;
  heartbeatMs: number;
  /** Called once per closed session, after it is removed. */
  onClosed: (clientId: string, reason: string) => void;
}

export class SessionRegistry implements ClientGateway {
  private readonly byClient = new Map<string, Session>();
  private readonly byToken = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;
  private lastSweep: number;

  constructor(private readonly options: SessionRegistryOptions) {
    this.lastSweep = options.now();
    this.sweeper = setInterval(() => this.sweep(), options.heartbeatMs);
    this.sweeper.unref();
  }

  /** Registers an authenticated session and returns its token; an older session of the same client is closed. */
  open(clientId: string, capabilities: ClientCapabilitiesRecord, transport: SessionTransport): string {
    const previous = this.byClient.get(clientId);
    if (previous !== undefined) this.close(clientId, previous.token, 'replaced by a newer session of the same client');
    const now = this.options.now();
    const session: Session = { clientId, token: randomBytes(32).toString('base64url'), capabilities, connectedAt: now, lastHeard: now, transport };
    this.byClient.set(clientId, session);
    this.byToken.set(session.token, session);
    return session.token;
  }

  /** Closes a session if it is still the client's current one (token given) or whatever session it has. */
  close(clientId: string, token: string | null, reason: string): void {
    const session = this.byClient.get(clientId);
    if (session === undefined || (token !== null && session.token !== token)) return;
    this.byClient.delete(clientId);
    this.byToken.delete(session.token);
    try {
      session.transport.close(reason);
    } finally {
      this.options.onClosed(clientId, reason);
    }
  }

  closeAll(reason: string): void {
    for (const clientId of [...this.byClient.keys()]) this.close(clientId, null, reason);
    clearInterval(this.sweeper);
  }

  /** The client id a session token belongs to; UNAUTHENTICATED when it is not a live session's token. */
  authenticate(token: string | undefined): string {
    if (token === undefined || token.length === 0) {
      throw new CohortError('UNAUTHENTICATED', 'missing session token: open a session first and send its token in the "x-cohort-session" metadata');
    }
    const session = this.byToken.get(token);
    if (session === undefined) throw new CohortError('UNAUTHENTICATED', 'session token is not valid (the session ended or was replaced)');
    return session.clientId;
  }

  heard(clientId: string): void {
    const session = this.byClient.get(clientId);
    if (session !== undefined) session.lastHeard = this.options.now();
  }

  connected(): ConnectedClient[] {
    return [...this.byClient.values()].map((s) => ({ clientId: s.clientId, capabilities: s.capabilities, connectedAt: s.connectedAt }));
  }

  isConnected(clientId: string): boolean {
    return this.byClient.has(clientId);
  }

  send(clientId: string, message: OutboundMessage): boolean {
    const session = this.byClient.get(clientId);
    if (session === undefined) return false;
    try {
      session.transport.send(message);
      return true;
    } catch {
      this.close(clientId, session.token, 'session stream failed');
      return false;
    }
  }

  private sweep(): void {
    const now = this.options.now();
    const lag = now - this.lastSweep;
    this.lastSweep = now;
    // After a stall of this process (a long evaluation, GC), heartbeats may be waiting unread in socket buffers:
    // judge liveness only on a sweep that ran on time.
    if (lag > 2 * this.options.heartbeatMs) return;
    const cutoff = now - 3 * this.options.heartbeatMs;
    for (const session of [...this.byClient.values()]) {
      if (session.lastHeard < cutoff) this.close(session.clientId, session.token, 'no heartbeat for 3 intervals');
    }
  }
}
