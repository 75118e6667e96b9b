/** Client-side training on TF.js: backend choice, built-in topologies, topology inspection, local training, evaluation. */
export type { BackendInfo, BackendName } from './backend.js';
export { selectBackend } from './backend.js';
export type { BuiltinTopologyName } from './topologies.js';
export { builtinTopology, denseClassifierTopology } from './topologies.js';
export type { TopologyDescription } from './model.js';
export { describeTopology } from './model.js';
export type { EvaluateInput, EvaluationResult, LocalTrainingPlan, TrainingResult, TrainLocalInput } from './train.js';
export { evaluateModel, trainLocal } from './train.js';
