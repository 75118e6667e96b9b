/**
 * Data the simulation harness hands to the report: plain records, no behaviour, so the report stays independent
 * of the harness and of the coordinator.
 */

/** Terminal state of one round: committed (new model version) or aborted with a reason. */
export type RoundState = 'committed' | 'aborted';

/** Figures for one round, as measured by the harness. */
export interface RoundReport {
  /** Round number, 1-based. */
  round: number;
  /** How the round ended. */
  state: RoundState;
  /** Why the round aborted (free text from the workflow); null when committed. */
  abortReason: string | null;
  /** Held-out accuracy of the model after this round, 0..1; null when not evaluated or aborted. */
  accuracy: number | null;
  /** Held-out loss after this round (the model's loss function, e.g. cross-entropy); null when not evaluated. */
  loss: number | null;
  /** Mean client training loss reported for this round; null when unknown. */
  trainLoss: number | null;
  /** Mean client training accuracy for this round, 0..1; null when unknown. */
  trainAccuracy: number | null;
  /** Clients selected for the round. */
  selected: number;
  /** Clients whose contribution made it into the aggregate. */
  participants: number;
  /** Selected clients that missed a deadline or disconnected. */
  dropouts: number;
  /** Dropouts broken down by the stage they were lost in (stage name → count). */
  dropoutsByStage: Record<string, number>;
  /**
   * Secure aggregation: session traffic per stage (stage name → bytes up and down over all clients, and the clients
   * that completed the stage). Empty for a plaintext round.
   */
  bytesByStage: Record<string, StageTraffic>;
  /** Differential privacy: ε spent after this round (at the federation's δ); null without DP. */
  epsilon: number | null;
  /** Secure aggregation: the sums the coordinator learned (one per bucket) and the fewest clients in one. */
  secureSums?: { count: number; smallestSum: number };
  /** Bytes sent by clients to the coordinator during the round. */
  bytesUp: number;
  /** Bytes sent by the coordinator to clients during the round. */
  bytesDown: number;
  /** Wall-clock duration of the round, in seconds. */
  seconds: number;
  /** Model version committed by this round; null when aborted. */
  modelVersion: number | null;
  /**
   * Backdoor runs: the fraction of triggered held-out images (true label ≠ target) the committed model classifies as
   * the target, 0..1; null for an aborted round. Absent without a backdoor.
   */
  attackSuccessRate?: number | null;
  /** Runs with an attack: how well the aggregation rule's verdicts singled out the attackers; null without verdicts. */
  detection?: RoundDetection | null;
}

/**
 * Detection quality of one round: a client counts as flagged when the rule rejected or down-weighted its
 * contribution. Precision = attackers among the flagged; recall = flagged among the attackers judged.
 */
export interface RoundDetection {
  /** Clients with a verdict this round. */
  judged: number;
  /** Attackers among them. */
  attackers: number;
  /** Clients rejected or down-weighted. */
  flagged: number;
  /** Attackers among the flagged. */
  truePositives: number;
  /** truePositives / flagged; null when nobody was flagged. */
  precision: number | null;
  /** truePositives / attackers; null when no attacker was judged. */
  recall: number | null;
}

/** The attack a run simulated (cohort simulate --attack). */
export interface AttackReport {
  /** Attack name, e.g. `sign-flip`. */
  name: string;
  /** update, colluding or data. */
  kind: string;
  /** Fraction of clients asked for; the attackers are ⌈fraction · clients⌉ of them. */
  fraction: number;
  /** Parameters as used, defaults included. */
  params: Record<string, number | string>;
  /** The attackers: client index (0-based), coordinator client id, display name. */
  attackers: { index: number; clientId: string; displayName: string }[];
  /** Over all rounds with verdicts (sums of the per-round counts); null when no round had verdicts. */
  detection: (Omit<RoundDetection, 'judged'> & { rounds: number }) | null;
  /** Backdoor: attack success rate after the last committed round; absent for other attacks. */
  finalAttackSuccessRate?: number | null;
  /** Backdoor: triggered held-out images the rate is measured on. */
  triggeredExamples?: number;
  /** Reputation at the end of the run (mean) and quarantined clients, attackers against the others; null if unread. */
  reputation: { attackers: { mean: number; quarantined: number }; benign: { mean: number; quarantined: number } } | null;
  /**
   * Clients quarantined by the end of each round (cumulative), attackers against the others, in the order of the
   * rounds; absent when not tracked.
   */
  quarantinedByRound?: { round: number; attackers: number; benign: number }[];
  /** Colluding attacks: the mean number of honest updates the attackers pooled per round. */
  meanPooled?: number;
}

/** Traffic of one protocol stage in one round. */
export interface StageTraffic {
  up: number;
  down: number;
  /** Clients that completed the stage (its survivors). */
  clients: number;
}

/** Everything known about one finished simulation run. */
export interface SimulationSummary {
  /** Held-out accuracy of the last evaluated model, 0..1; null when nothing was evaluated. */
  finalAccuracy: number | null;
  /** Held-out loss of the last evaluated model; null when nothing was evaluated. */
  finalLoss: number | null;
  /** Best held-out accuracy seen in any round, 0..1; null when nothing was evaluated. */
  bestAccuracy: number | null;
  /** Every round, in order. */
  rounds: RoundReport[];
  /** Number of rounds that committed. */
  roundsCommitted: number;
  /** Number of rounds that aborted. */
  roundsAborted: number;
  /** Folder the report files are written to. */
  reportDir: string;
  /** Number of simulated clients. */
  clients: number;
  /** Seed of the run (partitioning, selection, attacks), so the run replays. */
  seed: number;
  /** Partition spec, e.g. `iid` or `dirichlet:0.5`. */
  partition: string;
  /** Dataset name, e.g. `fashion-mnist`. */
  dataset: string;
  /** Where the dataset came from, e.g. a path or `bundled subset`. */
  datasetOrigin: string;
  /** Model name. */
  model: string;
  /** TF.js backend used by the clients, e.g. `wasm`. */
  backend: string;
  /** Wall-clock duration of the whole run, in seconds. */
  totalSeconds: number;
  /** Total bytes uploaded by clients over all rounds. */
  totalBytesUp: number;
  /** Total bytes downloaded by clients over all rounds. */
  totalBytesDown: number;
  /** The effective simulation configuration, JSON-compatible. */
  config: Record<string, unknown>;
  /**
   * Differential privacy as accounted: the mechanism, whether amplification by Poisson sampling was claimed (a fixed
   * cohort is accounted with q = 1), and for local DP each client's own ε over the rounds it joined. Absent without DP.
   */
  privacy?: PrivacyReport;
  /** The simulated attack; absent for a run without one. */
  attack?: AttackReport;
  /** Start of the run, ISO 8601. */
  startedAt: string;
  /** End of the run, ISO 8601. */
  finishedAt: string;
}

/** Privacy accounting of a DP run. */
export interface PrivacyReport {
  mechanism: string;
  targetEpsilon: number;
  delta: number;
  /** True when the cohort was Poisson-sampled and the accountant used its amplification. */
  amplified: boolean;
  /** Local DP: per client, rounds joined and ε over them; empty for central and distributed DP. */
  clientEpsilons: { clientId: string; roundsJoined: number; epsilon: number }[];
}
