/**
 * The coordinator's own use of data, on datasets named by the federation ("fashion-mnist" or a folder of
 * IDX/CSV/JSONL files on the coordinator host), each loaded once:
 * - held-out evaluation: the candidate model of each round is scored on `evaluation.dataset`;
 * - FLTrust's reference: the round's model is trained on `aggregation.rootDataset` as the clients train.
 */
import { CohortError } from '../../shared/src/core/errors.js';
import type { LabeledDataset } from '../../shared/src/core/data/dataset.js';
import { subsetDataset } from '../../shared/src/core/data/dataset.js';
import { loadDataDir } from '../../shared/src/data/index.js';
import { loadFashionMnist } from '../../shared/src/data/fashion-mnist.js';
import { evaluateModel, trainLocal } from '../../client/src/training/index.js';
import type { ClientTrainingPlan } from '../../shared/src/protocol/types.js';
import type { FederationConfig } from './federation/config.js';
import type { Evaluator, RootTrainer } from './round/workflow.js';
import type { FederationRecord } from './store/types.js';

export interface EvaluationOptions {
  /** --data-dir for the built-in Fashion-MNIST loader. */
  dataDir?: string;
  /** Named in-memory datasets (the simulator registers its held-out sample); checked before files. */
  datasets?: Record<string, LabeledDataset>;
}

/** Where a dataset comes from: a name, a split and how many of its first examples (0 = all). */
interface DatasetRef {
  dataset: string;
  split: 'train' | 'test';
  maxExamples: number;
}

export class HeldOutEvaluator implements Evaluator, RootTrainer {
  private readonly datasets = new Map<string, LabeledDataset>();

  constructor(private readonly options: EvaluationOptions = {}) {}

  /** Loads (and caches) a split a federation names (evaluation or root dataset); errors name the dataset. */
  async dataset(evaluation: DatasetRef, field = 'evaluation.dataset'): Promise<LabeledDataset> {
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
      if (split === null) throw new CohortError('CONFIG_INVALID', `${field}: ${evaluation.dataset} has no ${evaluation.split} split`);
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

  /**
   * FLTrust's reference: the round's model trained on the first `examples` of the root dataset with the clients'
   * plan (all of them, none held out), returned as trained − weights. Not clipped: FLTrust rescales the clients'
   * updates to this one's norm.
   */
  async rootUpdate(federation: FederationRecord, config: FederationConfig, weights: Float32Array, plan: ClientTrainingPlan): Promise<Float32Array> {
    const root = config.aggregation.rootDataset;
    if (root === undefined) throw new CohortError('CONFIG_INVALID', `aggregation.rootDataset: rule ${config.aggregation.rule} asked for a root update and the federation names no root dataset`);
    const data = await this.dataset({ dataset: root.dataset, split: root.split, maxExamples: root.examples }, 'aggregation.rootDataset');
    const { epochs, batchSize, optimizer, learningRate, momentum, proximalMu, seed } = plan;
    const trained = await trainLocal({
      topologyJson: federation.topologyJson,
      layout: federation.layout,
      weights,
      data,
      plan: { epochs, batchSize, optimizer, learningRate, momentum, proximalMu, seed, maxExamples: 0, localEvalFraction: 0 },
    });
    return Float32Array.from(trained.weights, (w, i) => w - weights[i]!);
  }
}
