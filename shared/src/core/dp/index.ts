export { analyticGaussianDelta, calibrateAnalyticGaussian } from './analytic-gaussian.js';
export type { DpFedAvgOptions } from './central.js';
export { createDpFedAvgAccumulator } from './central.js';
export { clipL2InPlace, clipPerLayerInPlace, perLayerSensitivity } from './clip.js';
export type { GaussianSteps } from './rdp.js';
export { DEFAULT_RDP_ORDERS, composeRdp, epsilonFromRdp, epsilonOf, noiseMultiplierFor, rdpSubsampledGaussian } from './rdp.js';
export { erfc, logAdd, logErfc, logSub, normalCdf } from './special.js';
export type { AdaptiveClipOptions } from './adaptive-clip.js';
export { nextClipNorm, noisedUnclippedFraction, updateNoiseMultiplier, validateAdaptiveClip } from './adaptive-clip.js';
export { addGaussianNoiseInPlace, analyticGaussianEpsilon, localEpsilon, localNoiseMultiplierFor } from './local.js';
export type { SkellamEncoding, SkellamPlan, SkellamPlanInput } from './skellam.js';
export {
  SKELLAM_RDP_ORDERS,
  decodeSkellamSum,
  encodeSkellamInput,
  planSkellam,
  rdpPoissonSubsampled,
  samplePoisson,
  skellamRdp,
  skellamRoundRdp,
  skellamTailBound,
} from './skellam.js';
