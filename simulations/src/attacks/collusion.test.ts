import { describe, expect, it } from 'vitest';
import type { CollusionMembers, CollusionResult } from './collusion.js';
import { createCollusionBroker } from './collusion.js';
import { ipmUpdate } from './colluding.js';

function setup(members: (roundId: string) => Promise<CollusionMembers>, marginMs = 0) {
  const delivered: Array<{ clientIndex: number; roundId: string; result: CollusionResult }> = [];
  const broker = createCollusionBroker({
    name: 'ipm',
    params: { epsilon: 0.5 },
    members,
    fallback: { n: 10, attackers: [1, 4, 7] },
    deliver: (clientIndex, roundId, result) => delivered.push({ clientIndex, roundId, result }),
    marginMs,
  });
  return { broker, delivered };
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));
const far = (): number => Date.now() + 60_000;

describe('collusion broker', () => {
  it('waits for every selected attacker, then gives all of them the one update crafted from their honest updates', async () => {
    const { broker, delivered } = setup(() => Promise.resolve({ n: 10, attackers: [1, 4, 7] }));
    const honest = [new Float32Array([1, 2]), new Float32Array([3, 4]), new Float32Array([5, 0])];
    broker.report({ clientIndex: 7, roundId: 'r1', deadlineMs: far(), delta: honest[2]! });
    broker.report({ clientIndex: 1, roundId: 'r1', deadlineMs: far(), delta: honest[0]! });
    await tick();
    expect(delivered).toHaveLength(0);
    broker.report({ clientIndex: 4, roundId: 'r1', deadlineMs: far(), delta: honest[1]! });
    await tick();
    expect(delivered.map((d) => d.clientIndex)).toEqual([1, 4, 7]);
    const expected = ipmUpdate(honest, 0.5);
    for (const d of delivered) expect('delta' in d.result && [...d.result.delta]).toEqual([...expected]);
    expect(broker.crafted).toEqual([{ roundId: 'r1', pooled: 3, n: 10, f: 3 }]);
    broker.close();
  });

  it('does not wait for attackers outside the round or that dropped out, and answers a late one with the same update', async () => {
    const { broker, delivered } = setup(() => Promise.resolve({ n: 5, attackers: [1, 4] }));
    broker.roundDone(4, 'r2', 'dropped');
    broker.report({ clientIndex: 1, roundId: 'r2', deadlineMs: far(), delta: new Float32Array([2, 2]) });
    await tick();
    expect(delivered.map((d) => d.clientIndex)).toEqual([1]);
    broker.report({ clientIndex: 4, roundId: 'r2', deadlineMs: far(), delta: new Float32Array([9, 9]) });
    expect(delivered.map((d) => d.clientIndex)).toEqual([1, 4]);
    expect(delivered[1]!.result).toEqual(delivered[0]!.result);
    broker.close();
  });

  it('crafts from whoever reported when the deadline draws near, and falls back to every attacker when members cannot be read', async () => {
    const { broker, delivered } = setup(() => Promise.reject(new Error('unavailable')));
    broker.report({ clientIndex: 1, roundId: 'r3', deadlineMs: Date.now() + 30, delta: new Float32Array([1, 1]) });
    await tick(5);
    expect(delivered).toHaveLength(0);
    await tick(80);
    expect(delivered.map((d) => d.clientIndex)).toEqual([1]);
    expect(broker.crafted[0]).toEqual({ roundId: 'r3', pooled: 1, n: 10, f: 3 });
    broker.close();
  });
});
