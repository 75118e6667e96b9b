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
  epochs: number;
  batchSize: number;
  optimizer: 'sgd' | 'momentum' | 'adam';
  learningRate: number;
  /** Momentum for 'momentum'; beta1 for 'adam'. */
  momentum: number;
  /** FedProx proximal term mu (0 = plain local SGD). */
  proximalMu: number;
  /** Cap on local examples per epoch (0 = all). */
  maxExamples: number;
  /** Shuffle seed for this round; the agent mixes in its own id. */
  seed: number;
  /** Fraction of local data held out for local evaluation metrics. */
  localEvalFraction: number;
  /** L2 clip norm of the update in model units; 0 = none. */
  clipNorm: number;
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
