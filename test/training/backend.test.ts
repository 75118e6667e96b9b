// Backend selection. One process per test file, so this file sees a fresh TF.js engine.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { isCohortError } from '../../shared/src/core/errors.js';
import { selectBackend } from '../../client/src/training/index.js';

const resolvable = (pkg: string): boolean => {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
};
const hasTfjsNode = resolvable('@tensorflow/tfjs-node') || resolvable('@tensorflow/tfjs-node-gpu');

describe('selectBackend', () => {
  it('rejects an unknown backend name', async () => {
    await expect(selectBackend('metal' as 'cpu')).rejects.toThrow(/unknown backend "metal"/);
  });

  it.skipIf(resolvable('@tensorflow/tfjs-node-gpu'))('fails clearly when a forced backend is missing, and can still choose afterwards', async () => {
    let caught: unknown;
    try {
      await selectBackend('tensorflow-gpu', () => {});
    } catch (error) {
      caught = error;
    }
    expect(isCohortError(caught, 'FAILED_PRECONDITION')).toBe(true);
    expect(String(caught)).toMatch(/backend "tensorflow-gpu" is not available: @tensorflow\/tfjs-node-gpu/);
  });

  it('walks the preference order, says why it skipped each backend, and logs its choice', async () => {
    const lines: string[] = [];
    const info = await selectBackend('auto', (line) => lines.push(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`training backend: ${info.detail}`);
    if (!hasTfjsNode) {
      expect(info.name).toBe('wasm');
      expect(info.detail).toMatch(/^wasm \((SIMD|no SIMD), \d+ threads?\)$/);
      expect(info.skipped.map((s) => s.backend)).toEqual(['tensorflow-gpu', 'tensorflow']);
      expect(info.skipped[1]!.reason).toMatch(/@tensorflow\/tfjs-node not available/);
    }
  });

  it('is idempotent per process and refuses to switch to another named backend', async () => {
    const first = await selectBackend('auto');
    expect(await selectBackend('auto')).toBe(first);
    expect(await selectBackend(first.name)).toBe(first);
    const other = first.name === 'cpu' ? 'wasm' : 'cpu';
    let caught: unknown;
    try {
      await selectBackend(other);
    } catch (error) {
      caught = error;
    }
    expect(isCohortError(caught, 'FAILED_PRECONDITION')).toBe(true);
    expect(String(caught)).toContain(`backend "${other}" requested, but this process already runs on "${first.name}"`);
  });
});
