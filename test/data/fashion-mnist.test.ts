import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { classCounts } from '../../shared/src/core/data/dataset.js';
import { isCohortError } from '../../shared/src/core/errors.js';
import { SUBSET_RELATIVE_DIR, loadFashionMnist, locateFashionMnist, packageRoot } from '../../shared/src/data/index.js';

const subsetDir = join(packageRoot(), SUBSET_RELATIVE_DIR);
const emptyDir = mkdtempSync(join(tmpdir(), 'cohort-fmnist-'));
// Tests never depend on the machine's dataset package: the system folder is pointed at an empty temp dir.
const noSystem = { systemDir: emptyDir, env: {} };

afterAll(() => {
  rmSync(emptyDir, { recursive: true, force: true });
});

describe('locateFashionMnist', () => {
  it('prefers the flag, then $COHORT_DATA_DIR, then the system folder, then the shipped subset', () => {
    expect(locateFashionMnist({ ...noSystem, dataDir: subsetDir })).toEqual({ dir: subsetDir, origin: 'flag' });
    expect(locateFashionMnist({ ...noSystem, env: { COHORT_DATA_DIR: subsetDir } })).toEqual({ dir: subsetDir, origin: 'env' });
    expect(locateFashionMnist({ systemDir: subsetDir, env: {} })).toEqual({ dir: subsetDir, origin: 'system' });
    expect(locateFashionMnist(noSystem)).toEqual({ dir: subsetDir, origin: 'subset' });
  });

  it('does not fall back past an explicit flag or environment variable that lacks the files', () => {
    for (const options of [{ ...noSystem, dataDir: emptyDir }, { ...noSystem, env: { COHORT_DATA_DIR: emptyDir } }]) {
      let caught: unknown;
      try {
        locateFashionMnist(options);
      } catch (error) {
        caught = error;
      }
      expect(isCohortError(caught, 'DATA_INVALID')).toBe(true);
      expect(String(caught)).toContain(emptyDir);
    }
  });
});

describe('the shipped subset', () => {
  it('holds 600 training and 100 test images per class, 28x28, scaled to [0,1]', async () => {
    const data = await loadFashionMnist(noSystem);
    expect(data.origin).toBe('subset');
    expect(data.train.count).toBe(6000);
    expect(data.test.count).toBe(1000);
    expect(Array.from(classCounts(data.train))).toEqual(new Array(10).fill(600));
    expect(Array.from(classCounts(data.test))).toEqual(new Array(10).fill(100));
    expect(data.train.featureShape).toEqual([28, 28, 1]);
    let min = Infinity;
    let max = -Infinity;
    for (const v of data.test.features) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
  });
});
