import { describe, expect, it } from 'vitest';
import type { LabeledDataset } from '../../../shared/src/core/data/dataset.js';
import { validateDataset } from '../../../shared/src/core/data/dataset.js';
import { createSeededRng } from '../../../shared/src/core/rng/rng.js';
import { expectCohortError } from '../../../test/helpers/errors.js';
import { flipLabels, poisonWithBackdoor, stampTrigger, triggeredTestSet } from './data-attacks.js';

/** count black 28×28 images with labels 0, 1, 2, ... (mod 10). */
function images(count: number): LabeledDataset {
  return { features: new Float32Array(count * 784), labels: Int32Array.from({ length: count }, (_, i) => i % 10), count, featureShape: [28, 28, 1], numClasses: 10 };
}

/** Indices (within one image) of the pixels that are 1. */
function litPixels(features: Float32Array, index: number): number[] {
  const lit: number[] = [];
  for (let p = 0; p < 784; p++) if (features[index * 784 + p] === 1) lit.push(p);
  return lit;
}

describe('label flip', () => {
  it('maps y → 9 − y by default, and only source → target when given', () => {
    const data = images(10);
    expect([...flipLabels(data).labels]).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect([...flipLabels(data, { source: 3, target: 8 }).labels]).toEqual([0, 1, 2, 8, 4, 5, 6, 7, 8, 9]);
    expect([...data.labels]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expectCohortError(() => flipLabels(data, { source: 3, target: 10 }), 'CONFIG_INVALID', /target/);
  });
});

describe('backdoor trigger', () => {
  it('sets exactly the 3×3 bottom-right pixels (rows 25..27, columns 25..27) of the chosen image', () => {
    const data = images(2);
    const features = data.features.slice();
    stampTrigger(features, 1, data.featureShape);
    const expected = [25, 26, 27].flatMap((row) => [25, 26, 27].map((col) => row * 28 + col));
    expect(litPixels(features, 1)).toEqual(expected);
    expect(litPixels(features, 0)).toEqual([]);
    // Every channel of a pixel is set.
    const rgb = new Float32Array(4 * 4 * 3);
    stampTrigger(rgb, 0, [4, 4, 3], { size: 1, value: 0.5 });
    expect([...rgb].map((x, i) => (x === 0.5 ? i : -1)).filter((i) => i >= 0)).toEqual([45, 46, 47]);
  });

  it('poisons round(fraction · count) examples: trigger stamped and relabelled, the rest untouched, input unchanged', () => {
    const data = images(40);
    const poisoned = poisonWithBackdoor(data, { target: 0, poisonFraction: 0.25 }, createSeededRng(1));
    validateDataset(poisoned);
    const stamped = Array.from({ length: 40 }, (_, i) => i).filter((i) => litPixels(poisoned.features, i).length === 9);
    expect(stamped).toHaveLength(10);
    for (const i of stamped) expect(poisoned.labels[i]).toBe(0);
    for (let i = 0; i < 40; i++) if (!stamped.includes(i)) expect(poisoned.labels[i]).toBe(i % 10);
    expect(litPixels(data.features, 0)).toEqual([]);
    // Seeded: the same generator state poisons the same examples.
    const again = poisonWithBackdoor(data, { target: 0, poisonFraction: 0.25 }, createSeededRng(1));
    expect(again.labels).toEqual(poisoned.labels);
  });

  it('the triggered test set holds every non-target example, stamped and labelled target', () => {
    const test = triggeredTestSet(images(20), { target: 4 });
    expect(test.count).toBe(18);
    expect([...new Set(test.labels)]).toEqual([4]);
    for (let i = 0; i < test.count; i++) expect(litPixels(test.features, i)).toHaveLength(9);
  });
});
