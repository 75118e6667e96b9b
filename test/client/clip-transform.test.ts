// The agent's clipping step: flat clipping by the plan's clip norm, or per-layer clipping by the layout.
import { describe, expect, it } from 'vitest';
import { clipTransform } from '../../client/src/agent.js';
import type { AgentTask } from '../../client/src/transport/coordinator-client.js';
import { createLayout } from '../../shared/src/core/tensor/layout.js';

const layout = createLayout([{ name: 'dense/kernel', shape: [2] }, { name: 'dense/bias', shape: [2] }]);

function task(clipNorm: number, perLayerClipNorms: number[]): AgentTask {
  return { layout, plan: { clipNorm, perLayerClipNorms } } as unknown as AgentTask;
}

const norm = (v: Float32Array, from = 0, to = v.length): number => Math.sqrt(v.subarray(from, to).reduce((s, x) => s + x * x, 0));

describe('clipTransform', () => {
  it('clips the whole update to the clip norm and records the norm before', () => {
    const metrics: Record<string, number> = {};
    const out = clipTransform(Float32Array.from([3, 4, 0, 0]), { task: task(1, []), metrics });
    expect(norm(out)).toBeCloseTo(1, 6);
    expect(metrics).toEqual({ update_norm: 5, clipped: 1 });
  });

  it('clips each tensor to its own norm when the plan gives per-layer norms', () => {
    const metrics: Record<string, number> = {};
    const out = clipTransform(Float32Array.from([3, 4, 0.3, 0.4]), { task: task(0, [1, 1]), metrics });
    expect(norm(out, 0, 2)).toBeCloseTo(1, 6);
    expect(norm(out, 2, 4)).toBeCloseTo(0.5, 6);
    expect(metrics['clipped']).toBe(1);
    const small: Record<string, number> = {};
    clipTransform(Float32Array.from([0.3, 0.4, 0.3, 0.4]), { task: task(0, [1, 1]), metrics: small });
    expect(small['clipped']).toBe(0);
  });
});
