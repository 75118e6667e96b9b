/**
 * Federation configuration: the one validated, defaulted form of a federation spec. Operators write it as JSON or
 * YAML (friendly field names below); the operator API carries it as fl.v1.FederationSpec and maps it here through
 * the same parser, so both paths get the same defaults and the same error messages naming the field.
 */
import { z } from 'zod';
import { CohortError } from '../../../shared/src/core/errors.js';
import { quantizationParams } from '../../../shared/src/core/secagg/quantize.js';

const positiveInt = z.number().int().min(1);
const nonNegative = z.number().min(0);
const fraction = z.number().min(0).max(1);

const modelSchema = z
  .object({
    /** Built-in architecture ("fmnist-cnn", "fmnist-mlp"). */
    builtin: z.string().min(1).optional(),
    /** TF.js layers topology JSON text (model.toJSON()). */
    topologyJson: z.string().min(2).optional(),
    /** Path on the coordinator host of initial weights (float32 LE, flat in layout order). */
    initialWeightsPath: z.string().min(1).optional(),
    /** Seed of the Glorot-uniform initialisation when no initial weights are given. */
    initSeed: z.number().int().min(0).default(0),
  })
  .strict()
  .refine((m) => (m.builtin === undefined) !== (m.topologyJson === undefined), {
    message: 'give exactly one of builtin or topologyJson',
  });

const planSchema = z
  .object({
    epochs: positiveInt.max(1000).default(1),
    batchSize: positiveInt.max(65536).default(32),
    optimizer: z.enum(['sgd', 'momentum', 'adam']).default('sgd'),
    learningRate: z.number().gt(0).max(100).default(0.05),
    momentum: fraction.lt(1).default(0.9),
    proximalMu: nonNegative.default(0),
    maxExamples: z.number().int().min(0).default(0),
    seed: z.number().int().min(0).default(0),
    localEvalFraction: fraction.lt(1).default(0),
    clipNorm: nonNegative.default(0),
    /** Per-layer clipping: one L2 norm per tensor of the model, in layout order (checked when the model is built). */
    perLayerClipNorms: z.array(z.number().gt(0)).max(4096).default(() => []),
  })
  .strict();

const selectionSchema = z
  .object({
    mode: z.enum(['fixed', 'poisson']).default('fixed'),
    cohortSize: positiveInt.default(10),
    overSelection: nonNegative.max(10).default(0),
    samplingRate: z.number().gt(0).max(1).default(0.1),
    minClients: positiveInt.default(2),
    minConnected: z.number().int().min(0).default(0),
  })
  .strict();

const deadlinesSchema = z
  .object({
    configureMs: positiveInt.default(30_000),
    trainingMs: positiveInt.default(600_000),
    stageMs: positiveInt.default(60_000),
  })
  .strict();

const serverOptimizerSchema = z
  .object({
    kind: z.enum(['fedavg', 'fedavgm', 'fedadam', 'fedyogi']).default('fedavg'),
    learningRate: z.number().gt(0).optional(),
    momentum: fraction.lt(1).optional(),
    beta1: fraction.lt(1).optional(),
    beta2: fraction.lt(1).optional(),
    tau: z.number().gt(0).optional(),
  })
  .strict();

/** FLTrust's root dataset: a small clean sample the coordinator trains on each round to get its reference update. */
const rootDatasetSchema = z
  .object({
    /** "fashion-mnist", a dataset the simulator registers, or a folder on the coordinator host (IDX, CSV or JSONL). */
    dataset: z.string().min(1),
    split: z.enum(['train', 'test']).default('train'),
    /** The first this many examples of the split (the FLTrust paper uses 100). */
    examples: positiveInt.max(100_000).default(100),
  })
  .strict();

const aggregationSchema = z
  .object({
    rule: z.string().min(1).default('fedavg'),
    params: z.record(z.string(), z.number()).default({}),
    /** Rule fltrust only: the root dataset of the server's reference update. */
    rootDataset: rootDatasetSchema.optional(),
  })
  .strict();

/** Per-client reputation from verdicts, and quarantine (see shared/src/core/aggregation/reputation.ts). */
const reputationSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** η: weight of the newest round in the moving average of outcome scores (1 accepted, ½ down-weighted, 0 rejected). */
    learningRate: z.number().gt(0).max(1).default(0.2),
    /**
     * Quarantine (never select again until released) when the suspicion z-score reaches this: the one-sided test of
     * "fares no worse than its rounds' average" that works on bucket verdicts too (group testing; see reputation.ts).
     */
    quarantineZ: z.number().gt(0).max(100).default(3),
    /** Scored rounds before a client can be quarantined. */
    minRounds: positiveInt.max(10_000).default(3),
  })
  .strict();

const evaluationSchema = z
  .object({
    /** "fashion-mnist" or a folder on the coordinator host (IDX, CSV or JSONL). */
    dataset: z.string().min(1),
    split: z.enum(['test', 'train']).default('test'),
    maxExamples: z.number().int().min(0).default(0),
  })
  .strict();

const secAggSchema = z
  .object({
    /** Secure aggregation (SecAgg+): the coordinator learns only sums. */
    enabled: z.boolean().default(false),
    /** Neighbour degree k of the SecAgg+ graph; default 4·⌈log2 n⌉ (even), at most n − 1. */
    neighbours: positiveInt.optional(),
    /** Shamir threshold t, more than half of k; default ⌊k/2⌋ + 1. */
    threshold: positiveInt.optional(),
    /** Inputs are quantized into Z_{2^modulusBits}. */
    modulusBits: z.number().int().min(10).max(32).default(32),
    /** Per-coordinate clamp before quantization, model units; default plan.clipNorm. */
    clamp: z.number().gt(0).optional(),
    /** Example counts are capped at this before weighting; default the largest count the cohort reports. */
    weightCap: positiveInt.optional(),
    /** Bucketed mode: the cohort is split into independent secure sums (robust rules run over their means). */
    bucketed: z.boolean().default(false),
    /** Bucketed mode: every bucket has at least this many clients (the coordinator learns sums of no fewer). */
    minBucketSize: z.number().int().min(2).default(10),
    /** Bucketed mode: exactly this many buckets (each still at least minBucketSize); default as many as fit. */
    buckets: positiveInt.optional(),
  })
  .strict()
  // Asking for a number of buckets is asking for bucketed mode.
  .transform((s) => (s.buckets !== undefined ? { ...s, bucketed: true } : s));

const adaptiveClippingSchema = z
  .object({
    /** γ: the fraction of clients whose update should fit under the clip norm (the paper's default, the median). */
    targetQuantile: z.number().gt(0).lt(1).default(0.5),
    /** η_C: geometric step of the clip-norm update per round. */
    learningRate: z.number().gt(0).max(10).default(0.2),
    /** σ_b: noise on the count of unclipped clients; default the paper's expected cohort / 20, but at least z. */
    countNoise: z.number().gt(0).optional(),
  })
  .strict();

const dpSchema = z
  .object({
    /**
     * off; central: Gaussian noise z·C on the sum of clipped updates, added by the coordinator (DP-FedAvg);
     * distributed: each client adds Skellam noise to its quantized update, so the secure sum carries it all (needs
     * secagg); local: each client adds Gaussian noise to its own clipped update, ε is per client.
     */
    mode: z.enum(['off', 'central', 'distributed', 'local']).default('off'),
    /** z; default calibrated so that `rounds` rounds spend the privacy budget. */
    noiseMultiplier: z.number().gt(0).optional(),
    /** Central mode: the clip norm follows a quantile of update norms; plan.clipNorm is where it starts. */
    adaptiveClipping: adaptiveClippingSchema.nullable().default(null),
    /** Distributed mode: chance any coordinate of the secure sum wraps around the modulus (a utility loss, not a privacy one). */
    wrapProbability: z.number().gt(0).lt(1e-3).default(1e-9),
  })
  .strict();

const privacySchema = z
  .object({
    targetEpsilon: z.number().gt(0),
    targetDelta: z.number().gt(0).lt(1),
  })
  .strict();

const federationSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only, starting with a letter or digit'),
    task: z.string().max(128).default(''),
    model: modelSchema,
    // Defaults built per parse: zod only shallow-copies a default value, so a shared object would let one config's
    // nested objects (aggregation.params) leak into every later parse.
    plan: planSchema.default(() => planSchema.parse({})),
    selection: selectionSchema.default(() => selectionSchema.parse({})),
    deadlines: deadlinesSchema.default(() => deadlinesSchema.parse({})),
    serverOptimizer: serverOptimizerSchema.default(() => serverOptimizerSchema.parse({})),
    aggregation: aggregationSchema.default(() => aggregationSchema.parse({})),
    reputation: reputationSchema.default(() => reputationSchema.parse({})),
    evaluation: evaluationSchema.nullable().default(null),
    rounds: positiveInt.max(1_000_000).default(10),
    privacy: privacySchema.nullable().default(null),
    secagg: secAggSchema.default(() => secAggSchema.parse({})),
    dp: dpSchema.default(() => dpSchema.parse({})),
    /** Seed for cohort selection; 0 = OS randomness. */
    selectionSeed: z.number().int().min(0).default(0),
    /** After this many aborted rounds in a row the federation fails and waits for an operator. */
    maxConsecutiveAborts: positiveInt.max(10_000).default(10),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.selection.mode === 'fixed' && f.selection.minClients > f.selection.cohortSize) {
      ctx.addIssue({ code: 'custom', path: ['selection', 'minClients'], message: `must be <= selection.cohortSize (${f.selection.cohortSize})` });
    }
    const secagg = f.secagg;
    if (secagg.enabled) {
      if (secagg.clamp === undefined && f.plan.clipNorm === 0 && f.plan.perLayerClipNorms.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['secagg', 'clamp'], message: 'secure aggregation needs a bound on every coordinate: set plan.clipNorm or secagg.clamp' });
      }
      if (secagg.threshold !== undefined && secagg.neighbours !== undefined && 2 * secagg.threshold <= secagg.neighbours) {
        ctx.addIssue({ code: 'custom', path: ['secagg', 'threshold'], message: `must be more than half of secagg.neighbours (${secagg.neighbours}), or a dishonest coordinator could collect both shares of one client` });
      }
      if (secagg.threshold !== undefined && secagg.neighbours !== undefined && secagg.threshold > secagg.neighbours) {
        ctx.addIssue({ code: 'custom', path: ['secagg', 'threshold'], message: `must be <= secagg.neighbours (${secagg.neighbours})` });
      }
      if (f.selection.minClients < 2) {
        ctx.addIssue({ code: 'custom', path: ['selection', 'minClients'], message: 'must be >= 2 with secure aggregation (a sum of one client is that client)' });
      }
      // The fixed cohort bounds how many inputs one sum adds: check now that the modulus leaves them room.
      if (f.selection.mode === 'fixed') {
        try {
          quantizationParams({ modulusBits: secagg.modulusBits, clamp: secagg.clamp ?? (f.plan.clipNorm || 1), maxInputs: f.selection.cohortSize, weightCap: 1 });
        } catch (error) {
          ctx.addIssue({ code: 'custom', path: ['secagg', 'modulusBits'], message: (error as Error).message });
        }
      }
      if (secagg.bucketed && f.selection.mode === 'fixed' && Math.floor(f.selection.cohortSize / (secagg.buckets ?? 1)) < secagg.minBucketSize) {
        ctx.addIssue({
          code: 'custom',
          path: ['secagg', secagg.buckets === undefined ? 'minBucketSize' : 'buckets'],
          message: `${secagg.buckets ?? 1} bucket(s) of a cohort of ${f.selection.cohortSize} are smaller than secagg.minBucketSize (${secagg.minBucketSize})`,
        });
      }
    }
    if (f.dp.mode !== 'off') {
      if (f.plan.clipNorm === 0 && f.plan.perLayerClipNorms.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['plan', 'clipNorm'], message: 'must be > 0 (or give plan.perLayerClipNorms) with differential privacy: clipping bounds each client\'s contribution' });
      }
      if (f.privacy === null) ctx.addIssue({ code: 'custom', path: ['privacy'], message: 'give targetEpsilon and targetDelta: a DP federation needs a budget to account against' });
      if (f.dp.mode === 'central' && f.secagg.enabled) {
        ctx.addIssue({ code: 'custom', path: ['dp', 'mode'], message: 'central noise is added by the coordinator, which sees only sums under secure aggregation; use mode distributed' });
      }
      if (f.dp.mode === 'distributed' && !f.secagg.enabled) {
        ctx.addIssue({ code: 'custom', path: ['dp', 'mode'], message: 'distributed noise needs secagg.enabled: the secure sum is what carries the clients\' noise' });
      }
      if (f.dp.mode === 'distributed' && f.secagg.bucketed) {
        ctx.addIssue({ code: 'custom', path: ['dp', 'mode'], message: 'distributed noise with bucketed secure aggregation is not supported: every bucket sum would need the full noise' });
      }
      if (f.dp.adaptiveClipping !== null && f.dp.mode !== 'central') {
        ctx.addIssue({ code: 'custom', path: ['dp', 'adaptiveClipping'], message: `needs dp.mode central (the coordinator counts the clients that were clipped), got ${f.dp.mode}` });
      }
      if (f.dp.adaptiveClipping !== null && f.plan.perLayerClipNorms.length > 0) {
        ctx.addIssue({ code: 'custom', path: ['dp', 'adaptiveClipping'], message: 'adapts one flat clip norm; it cannot be combined with plan.perLayerClipNorms' });
      }
    }
    if (f.aggregation.rule === 'fltrust' && f.aggregation.rootDataset === undefined) {
      ctx.addIssue({ code: 'custom', path: ['aggregation', 'rootDataset'], message: "rule fltrust judges every update against the server's own update on a clean root dataset: name it here" });
    }
    if (f.aggregation.rule !== 'fltrust' && f.aggregation.rootDataset !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['aggregation', 'rootDataset'], message: `only rule fltrust trains on a root dataset; rule ${f.aggregation.rule} would ignore it` });
    }
    // DP-FedAvg's guarantee is for the clipped sum over a fixed denominator; a robust rule would change both.
    if (f.dp.mode !== 'off' && f.aggregation.rule !== 'fedavg') {
      ctx.addIssue({ code: 'custom', path: ['aggregation', 'rule'], message: `differential privacy (${f.dp.mode}) aggregates with DP-FedAvg, whose accounting assumes the clipped mean; rule ${f.aggregation.rule} cannot be combined with it` });
    }
    // The training deadline runs from the moment tasks are sent, so it must leave time after the configure stage.
    if (f.deadlines.configureMs >= f.deadlines.trainingMs) {
      ctx.addIssue({ code: 'custom', path: ['deadlines', 'configureMs'], message: `must be < deadlines.trainingMs (${f.deadlines.trainingMs})` });
    }
  });

/** A validated federation configuration with every default filled in. */
export type FederationConfig = z.output<typeof federationSchema>;
/** What an operator may write: every field with a default is optional. */
export type FederationConfigInput = z.input<typeof federationSchema>;

/** Parses and validates a federation config; CONFIG_INVALID names every bad field ("plan.batchSize: ..."). */
export function parseFederationConfig(input: unknown, source = 'federation spec'): FederationConfig {
  const result = federationSchema.safeParse(input);
  if (!result.success) {
    throw new CohortError('CONFIG_INVALID', `${source}: ${formatZodIssues(result.error.issues)}`);
  }
  return result.data;
}

/** "a.b: message; c: message" from zod issues. */
export function formatZodIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return path.length > 0 ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
