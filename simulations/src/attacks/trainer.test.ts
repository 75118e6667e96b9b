import { describe, expect, it } from 'vitest';
import type { LocalTrainer } from '../../../client/src/agent.js';
import type { AgentTask } from '../../../client/src/transport/coordinator-client.js';
import type { LabeledDataset } from '../../../shared/src/core/data/dataset.js';
import { createMaliciousTrainer } from './trainer.js';
import { signFlipUpdate } from './update-attacks.js';

/** A "trainer" that adds a fixed step to the weights. */
function fakeTrainer(step: Float32Array): LocalTrainer {
  return {
    backend: 'fake',
    describe: () => Promise.resolve({ inputShape: [2], numClasses: 2 }),
    train: ({ weights }) => Promise.resolve({ weights: Float32Array.from(weights, (w, i) => w + step[i]!), numExamples: 7, metrics: { train_loss: 0.5 } }),
  };
}

const input = (weights: Float32Array): Parameters<LocalTrainer['train']>[0] => ({
  topologyJson: '{}',
  task: { roundNumber: 3 } as AgentTask,
  weights,
  data: {} as LabeledDataset,
  plan: {} as Parameters<LocalTrainer['train']>[0]['plan'],
});

describe('createMaliciousTrainer', () => {
  it('hands the step the honest update and returns weights whose difference from the global model is the malicious one', async () => {
    const global = new Float32Array([0.25, -0.5, 1]);
    const seen: Float32Array[] = [];
    const trainer = createMaliciousTrainer(fakeTrainer(new Float32Array([0.125, 0.25, -0.5])), (honest, task) => {
      seen.push(honest);
      expect(task.roundNumber).toBe(3);
      return signFlipUpdate(honest);
    });
    const out = await trainer.train(input(global));
    expect([...seen[0]!]).toEqual([0.125, 0.25, -0.5]);
    expect(Array.from(out.weights, (w, i) => w - global[i]!)).toEqual([-0.125, -0.25, 0.5]);
    // Everything else is what honest training reported.
    expect(out.numExamples).toBe(7);
    expect(out.metrics).toEqual({ train_loss: 0.5 });
    expect(trainer.backend).toBe('fake');
  });

  it('awaits an asynchronous step (colluding attackers wait for each other)', async () => {
    const trainer = createMaliciousTrainer(fakeTrainer(new Float32Array([1, 1])), async () => {
      await new Promise((r) => setTimeout(r, 5));
      return new Float32Array([3, -3]);
    });
    const out = await trainer.train(input(new Float32Array([0, 0])));
    expect([...out.weights]).toEqual([3, -3]);
  });

  it('refuses a step that returns the wrong length', async () => {
    const trainer = createMaliciousTrainer(fakeTrainer(new Float32Array([1, 1])), () => new Float32Array(1));
    await expect(trainer.train(input(new Float32Array([0, 0])))).rejects.toThrow(/1 elements for a model of 2/);
  });
});
