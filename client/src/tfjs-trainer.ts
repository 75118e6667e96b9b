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
      // Clipping acts on the update after training (the agent's transforms), not inside the training loop.
      const { clipNorm: _clipNorm, perLayerClipNorms: _perLayer, secagg: _secagg, ...local } = plan;
      const result = await trainLocal({ topologyJson, layout: task.layout, weights, data, plan: local });
      return { weights: result.weights, numExamples: result.numExamples, metrics: { ...result.metrics } };
    },
  };
}
