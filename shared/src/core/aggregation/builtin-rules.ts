/**
 * Rules available by name in federation configs (`aggregation.rule`). A module of its own, so the rule modules can
 * import rules.ts's helpers without an import cycle through this list.
 */
import { centeredClipRule, medianRule, normBoundRule, trimmedMeanRule } from './robust/coordinate-wise.js';
import { DISTANCE_BASED_RULES } from './robust/distance-based.js';
import { flameRule, fltrustRule, foolsgoldRule } from './robust/similarity-based.js';
import type { AggregationRule } from './rules.js';
import { fedAvgRule } from './rules.js';

export const BUILTIN_AGGREGATION_RULES: readonly AggregationRule[] = [
  fedAvgRule,
  medianRule,
  trimmedMeanRule,
  normBoundRule,
  centeredClipRule,
  ...DISTANCE_BASED_RULES,
  // FLTrust judges against the server's update on its root dataset, which the coordinator trains each round.
  fltrustRule,
  foolsgoldRule,
  flameRule,
];
