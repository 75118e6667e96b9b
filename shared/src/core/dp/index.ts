export { analyticGaussianDelta, calibrateAnalyticGaussian } from './analytic-gaussian.js';
export type { DpFedAvgOptions } from './central.js';
export { createDpFedAvgAccumulator } from './central.js';
export { clipL2InPlace, clipPerLayerInPlace, perLayerSensitivity } from './clip.js';
export type { GaussianSteps } from './rdp.js';
export { DEFAULT_RDP_ORDERS, composeRdp, epsilonFromRdp, epsilonOf, noiseMultiplierFor, rdpSubsampledGaussian } from './rdp.js';
export { erfc, logAdd, logErfc, logSub, normalCdf } from './special.js';
