/** Domain forms of the values both the coordinator and the client agent handle (the adapters map fl.v1 to these). */

/** A signed reference to a committed model version. */
export interface ModelReference {
  federationId: string;
  version: number;
  /** SHA-256 hex of the weight bytes (float32 LE, flat in layout order). */
  sha256: string;
  sizeBytes: number;
  /** Coordinator Ed25519 signature over modelSignaturePayload(federationId, version, sha256). */
  signature: Uint8Array;
}

/** The training plan clients receive with a round task. */
export interface ClientTrainingPlan {
  /** Passes over the local training split (>= 1). */
  epochs: number;
  /** Examples per gradient step (>= 1); the last batch of an epoch may be smaller. */
  batchSize: number;
  /** sgd, momentum (heavy ball, not Nesterov) or adam (beta1 0.9, beta2 0.999, epsilon 1e-7). */
  optimizer: 'sgd' | 'momentum' | 'adam';
  /** Step size (> 0). */
  learningRate: number;
  /** Momentum coefficient in [0, 1), used by 'momentum' only. */
  momentum: number;
  /** FedProx mu (>= 0): adds mu/2 · ||w − w_global||² to the loss; 0 is plain FedAvg. */
  proximalMu: number;
  /** At most this many local examples per round, drawn afresh each round from the seed (0 = all). */
  maxExamples: number;
  /** Seeds the example draw and each epoch's shuffle (uint32; one per round, mixed with the client id by the agent). */
  seed: number;
  /** Fraction in [0, 1) of local examples held out for eval_loss / eval_accuracy. */
  localEvalFraction: number;
  /** L2 clip norm of the update in model units; 0 = none. */
  clipNorm: number;
  /** Per-layer clipping: one L2 norm per tensor of the layout; empty = flat clipping by clipNorm. */
  perLayerClipNorms: number[];
  /** Secure aggregation of this round, or null for a plaintext round. */
  secagg: SecAggTaskPlan | null;
  /** Noise the client itself adds (local or distributed DP), or null when it adds none. */
  noise: ClientNoisePlan | null;
}

/**
 * Noise a client adds before its update leaves the node. local: N(0, (z·C)²) per coordinate of the clipped float
 * update, C the clip norm (or sqrt(Σ C_l²) per layer). distributed: the clipped update is scaled by `scale`, rounded
 * to integers with L2 norm at most `l2Bound` (conditional rounding), and symmetric Skellam noise of variance
 * `perClientVariance` is added per coordinate; the words replace the secure-aggregation quantization.
 */
export type ClientNoisePlan =
  | { mode: 'local'; noiseMultiplier: number }
  | { mode: 'distributed'; scale: number; l2Bound: number; perClientVariance: number };

/** What a client needs before the secure-aggregation stages start: how to quantize its update. */
export interface SecAggTaskPlan {
  /** b: inputs live in Z_{2^b}. */
  modulusBits: number;
  /** Per-coordinate clamp before quantization, model units. */
  clamp: number;
  /** Most inputs one secure sum adds (sets the headroom bits). */
  maxInputs: number;
  /** Example counts are capped at this before weighting. */
  weightCap: number;
  /** Independent secure sums in the round (1 = unbucketed). */
  buckets: number;
}

/** What the coordinator expects back: a plaintext float32 delta, or a masked uint32 vector (secure aggregation). */
export type UpdateKind = 'delta-float32' | 'masked-uint32';

/** What an agent reports about itself at enrollment and on every session open. */
export interface AgentCapabilities {
  /** TF.js backend in use: "tensorflow-gpu", "tensorflow", "wasm", "cpu". */
  backend: string;
  platform: string;
  agentVersion: string;
  numExamples: number;
  /** Input shape of one local example. */
  inputShape: number[];
  numClasses: number;
  features: string[];
  tasks: string[];
}
