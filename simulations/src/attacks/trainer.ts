/**
 * The attacker's malicious training step: a LocalTrainer that trains honestly, then hands back weights whose
 * difference from the global model is the update the attack chose. The agent around it is the real, unmodified
 * client agent (same session, clipping, secure aggregation and DP), so an attacker looks like any other client on
 * the wire.
 */
import { CohortError } from '../../../shared/src/core/errors.js';
import { difference } from '../../../shared/src/core/tensor/ops.js';
import type { LocalTrainer } from '../../../client/src/agent.js';
import type { AgentTask } from '../../../client/src/transport/coordinator-client.js';

/** Honest update (trained minus global weights, model units) in, the update to send out. */
export type MaliciousStep = (honest: Float32Array, task: AgentTask) => Float32Array | Promise<Float32Array>;

/**
 * Wraps a trainer with a malicious step. The step runs after the inner training resolved, so an attacker waiting for
 * its accomplices does not hold a worker's serialized TF.js engine. The returned weights are global + malicious in
 * float32, so the agent's difference recovers the malicious update to within float32 rounding of the weights.
 */
export function createMaliciousTrainer(inner: LocalTrainer, step: MaliciousStep): LocalTrainer {
  return {
    get backend() {
      return inner.backend;
    },
    describe: (topologyJson) => inner.describe(topologyJson),
    async train(input) {
      const trained = await inner.train(input);
      const malicious = await step(difference(trained.weights, input.weights), input.task);
      if (malicious.length !== input.weights.length) {
        throw new CohortError('INTERNAL', `the malicious step returned ${malicious.length} elements for a model of ${input.weights.length}`);
      }
      const weights = new Float32Array(input.weights.length);
      for (let i = 0; i < weights.length; i++) weights[i] = input.weights[i]! + malicious[i]!;
      return { ...trained, weights };
    },
  };
}
