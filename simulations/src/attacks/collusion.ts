/**
 * The meeting point of colluding attackers, run by the simulation harness (the attackers live in several worker
 * threads). Each attacker reports its honest update for a round and waits; once every attacker selected for that
 * round has reported (or dropped out, or the round's deadline draws near) the broker crafts one update from the
 * reports and hands it to each of them. No I/O of its own: who is in a round and how to reach an attacker are
 * injected.
 */
import type { AttackName, AttackParamValue } from './spec.js';
import { colludingUpdate } from './craft.js';

/** Who takes part in a round. */
export interface CollusionMembers {
  /** Clients selected for the round. */
  readonly n: number;
  /** Indices of the attackers among them. */
  readonly attackers: readonly number[];
}

/** An attacker's honest update for a round (clipped as the plan asks, like every benign update). */
export interface HonestReport {
  readonly clientIndex: number;
  readonly roundId: string;
  /** The round's training deadline, ms since the epoch: the broker answers before it. */
  readonly deadlineMs: number;
  readonly delta: Float32Array;
}

export type CollusionResult = { delta: Float32Array } | { error: string };

export interface CollusionBrokerOptions {
  readonly name: AttackName;
  readonly params: Readonly<Record<string, AttackParamValue>>;
  /** Who is in a round; asked once per round. On failure `fallback` stands in. */
  members(roundId: string): Promise<CollusionMembers>;
  readonly fallback: CollusionMembers;
  /** Hands the crafted update (or why there is none) to one attacker. */
  deliver(clientIndex: number, roundId: string, result: CollusionResult): void;
  /** Answer at the latest this long before the deadline (default 2000 ms). */
  readonly marginMs?: number;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

export interface CollusionBroker {
  report(report: HonestReport): void;
  /** An attacker's round ended; if it did not upload before reporting (dropped, declined), nobody waits for it. */
  roundDone(clientIndex: number, roundId: string, outcome: string): void;
  /** Rounds crafted so far, with how many honest updates each pooled (for the report). */
  readonly crafted: ReadonlyArray<{ roundId: string; pooled: number; n: number; f: number }>;
  close(): void;
}

interface RoundState {
  readonly roundId: string;
  readonly reports: Map<number, Float32Array>;
  readonly gone: Set<number>;
  members: CollusionMembers | null;
  timer: ReturnType<typeof setTimeout> | null;
  result: CollusionResult | null;
}

/** How many finished rounds are remembered for attackers that report late. */
const KEEP_FINISHED = 8;

export function createCollusionBroker(options: CollusionBrokerOptions): CollusionBroker {
  const now = options.now ?? Date.now;
  const margin = options.marginMs ?? 2_000;
  const rounds = new Map<string, RoundState>();
  const finished: string[] = [];
  const crafted: Array<{ roundId: string; pooled: number; n: number; f: number }> = [];
  let closed = false;

  const stateOf = (roundId: string): RoundState => {
    let state = rounds.get(roundId);
    if (state !== undefined) return state;
    const created: RoundState = { roundId, reports: new Map(), gone: new Set(), members: null, timer: null, result: null };
    rounds.set(roundId, created);
    options.members(roundId).then(
      (members) => {
        created.members = members;
        check(created);
      },
      (error: unknown) => {
        options.log?.(`collusion: cannot read the members of round ${roundId} (${(error as Error).message}); assuming every attacker`);
        created.members = options.fallback;
        check(created);
      },
    );
    state = created;
    return state;
  };

  const check = (state: RoundState): void => {
    if (state.result !== null || state.members === null || state.reports.size === 0) return;
    if (state.members.attackers.every((i) => state.reports.has(i) || state.gone.has(i))) finish(state);
  };

  const finish = (state: RoundState): void => {
    if (state.result !== null || closed) return;
    if (state.timer !== null) clearTimeout(state.timer);
    const members = state.members ?? options.fallback;
    const indices = [...state.reports.keys()].sort((a, b) => a - b);
    try {
      const honest = indices.map((i) => state.reports.get(i)!);
      state.result = { delta: colludingUpdate(options.name, options.params, honest, { n: members.n, f: members.attackers.length }) };
      crafted.push({ roundId: state.roundId, pooled: honest.length, n: members.n, f: members.attackers.length });
    } catch (error) {
      state.result = { error: `collusion failed: ${(error as Error).message}` };
    }
    state.reports.clear();
    for (const i of indices) options.deliver(i, state.roundId, state.result);
    finished.push(state.roundId);
    while (finished.length > KEEP_FINISHED) rounds.delete(finished.shift()!);
  };

  return {
    report(report) {
      if (closed) return;
      const state = stateOf(report.roundId);
      if (state.result !== null) {
        // Late (its accomplices did not wait for it): it sends what they sent.
        options.deliver(report.clientIndex, report.roundId, state.result);
        return;
      }
      state.reports.set(report.clientIndex, report.delta);
      if (state.timer === null) state.timer = setTimeout(() => finish(state), Math.max(0, report.deadlineMs - now() - margin));
      check(state);
    },
    roundDone(clientIndex, roundId, outcome) {
      if (closed || outcome === 'uploaded') return;
      const state = stateOf(roundId);
      if (state.reports.has(clientIndex)) return;
      state.gone.add(clientIndex);
      check(state);
    },
    crafted,
    close() {
      closed = true;
      for (const state of rounds.values()) if (state.timer !== null) clearTimeout(state.timer);
      rounds.clear();
    },
  };
}
