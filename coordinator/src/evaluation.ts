/**
 * Held-out evaluation on the coordinator: the candidate model of each round is scored on a dataset named by the
 * federation ("fashion-mnist" or a folder of IDX/CSV/JSONL files on the coordinator host). Datasets are loaded once.
 */
import { CohortError } from '../../shared/src/core/errors.js';
import type { LabeledDataset } from '../../shared/src/core/data/dataset.js';
import { subsetDataset } from '../../shared/src/core/data/dataset.js';
import { loadDataDir } from '../../shared/src/data/index.js';
import { loadFashionMnist } from '../../shared/src/data/fashion-mnist.js';
import { evaluateModel } from '../../client/src/training/index.js';
import type { FederationConfig } from './federation/config.js';
import type { Evaluator } from './round/workflow.js';
import type { FederationRecord } from './store/types.js';

export interface EvaluationOptions {
  /** --data-dir for the built-in Fashion-MNIST loader. */
  dataDir?: string;
  /** Named in-memory datasets (the simulator registers its held-out sample); checked before files. */
  datasets?: Record<string, LabeledDataset>;
}

export class HeldOutEvaluator implements Evaluator {
  private readonly datasets = new Map<string, LabeledDataset>();

  constructor(private readonly options: EvaluationOptions = {}) {}

  /** Loads (and caches) the evaluation split a federation names; errors name the dataset. */
  async dataset(evaluation: NonNullable<FederationConfig['evaluation']>): Promise<LabeledDataset> {
    const key = `${evaluation.dataset}|${evaluation.split}|${evaluation.maxExamples}`;
    const cached = this.datasets.get(key);
    if (cached !== undefined) return cached;
    let data: LabeledDataset;
    const registered = this.options.datasets?.[evaluation.dataset];
    if (registered !== undefined) {
      data = registered;
    } else if (evaluation.dataset === 'fashion-mnist') {
      const loaded = await loadFashionMnist({ dataDir: this.options.dataDir });
      data = evaluation.split === 'train' ? loaded.train : loaded.test;
    } else {
      const loaded = await loadDataDir(evaluation.dataset);
      const split = evaluation.split === 'train' ? loaded.train : loaded.test;
      if (split === null) throw new CohortError('CONFIG_INVALID', `evaluation.dataset: ${evaluation.dataset} has no ${evaluation.split} split`);
      data = split;
    }
    if (evaluation.maxExamples > 0 && data.count > evaluation.maxExamples) {
      data = subsetDataset(data, Array.from({ length: evaluation.maxExamples }, (_, i) => i));
    }
    this.datasets.set(key, data);
    return data;
  }

  async evaluate(federation: FederationRecord, config: FederationConfig, weights: Float32Array): Promise<Record<string, number>> {
    if (config.evaluation === null) return {};
    const data = await this.dataset(config.evaluation);
    const result = await evaluateModel({ topologyJson: federation.topologyJson, layout: federation.layout, weights, data });
    return { eval_accuracy: result.accuracy, eval_loss: result.loss, eval_examples: result.numExamples };
  }
}
