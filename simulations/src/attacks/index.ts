/** The simulator's attack library: the catalogue, the pure attacks, and the pieces that run them in a federation. */
export type { AttackContext, AttackDefinition, AttackKind, AttackName, AttackParamValue, AttackSpec } from './spec.js';
export { ATTACKS, ATTACK_NAMES, attackDefinition, attackerCount, chooseAttackers, parseAttackSpec, resolveAttackParams } from './spec.js';
export { gaussianUpdate, scaleUpdate, signFlipUpdate } from './update-attacks.js';
export type { OptimizedAttack, OptimizedAttackOptions, Perturbation, UpdateStatistics } from './colluding.js';
export { PERTURBATIONS, alieUpdate, alieZMax, ipmUpdate, minMaxUpdate, minSumUpdate, updateStatistics } from './colluding.js';
export type { BackdoorOptions, LabelFlipOptions, PixelTrigger } from './data-attacks.js';
export { flipLabels, poisonWithBackdoor, stampTrigger, triggeredTestSet } from './data-attacks.js';
export { inverseNormalCdf } from './normal-quantile.js';
export type { CollusionRound } from './craft.js';
export { colludingUpdate, soloAttack } from './craft.js';
export type { MaliciousStep } from './trainer.js';
export { createMaliciousTrainer } from './trainer.js';
export type { CollusionBroker, CollusionBrokerOptions, CollusionMembers, CollusionResult, HonestReport } from './collusion.js';
export { createCollusionBroker } from './collusion.js';
