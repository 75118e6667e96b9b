/** The production LocalTrainer: TF.js on the best available backend (see training/backend.ts). */
import { selectBackend, describeTopology, trainLocal } from './training/index.js';
import type { BackendName } from './training/index.js';
import type { LocalTrainer } from './agent.js';

/** Selects the TF.js backend (logged) and returns a trainer bound to it. */
export async function createTfjsTrainer(preference: 'auto' | BackendName, log?: (line: string) => void): Promise<LocalTrainer> {
  const backend = await selectBackend(preference, log);
  return {
    backend: backend.name,
    async describe(topologyJson) {
      const described = await describeTopology(topologyJson);
      return { inputShape: [...described.inputShape], numClasses: described.numClasses };
    },
    async train({ topologyJson, task, weights, data, plan }) {
      const result = await trainLocal({
        topologyJson,
        layout: task.layout,
        weights,
        data,
        plan: {
          epochs: plan.epochs,
          batchSize: plan.batchSize,
          optimizer: plan.optimizer,
          learningRate: plan.learningRate,
          momentum: plan.momentum,
          proximalMu: plan.proximalMu,
          maxExamples: plan.maxExamples,
          seed: plan.seed,
          localEvalFraction: plan.localEvalFraction,
        },
      });
      return { weights: result.weights, numExamples: result.numExamples, metrics: { ...result.metrics } };
    },
  };
}
