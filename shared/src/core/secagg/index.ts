export type { QuantizationOptions, QuantizationParams } from './quantize.js';
export { MIN_VALUE_BITS, dequantizeSum, normalisedWeight, quantizationParams, quantizeWeighted, reduceModulus } from './quantize.js';
export type { RandomBytes, ShamirField, Share } from './shamir.js';
export {
  SECRET_BYTES,
  SECRET_FIELD,
  SHARE_X_BYTES,
  createField,
  decodeShare,
  encodeShare,
  evaluatePolynomial,
  reconstructSecret,
  secretFromBytes,
  secretToBytes,
  splitSecret,
} from './shamir.js';
