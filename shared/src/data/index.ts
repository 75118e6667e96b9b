/** Data adapters: IDX, CSV and JSONL readers, data-directory detection, and Fashion-MNIST location. */
export type { IdxDtype, IdxTensor } from './idx.js';
export { idxImages, idxLabels, inferNumClasses, maybeGunzip, parseIdx, readIdxDataset } from './idx.js';
export type { TextDataOptions } from './csv.js';
export { parseCsvDataset, readCsvDataset } from './csv.js';
export { parseJsonlDataset, readJsonlDataset } from './jsonl.js';
export type { LoadedData } from './load-data-dir.js';
export { DATA_DIR_LAYOUTS, hasIdxTrainPair, loadDataDir } from './load-data-dir.js';
export type { FashionMnist, FashionMnistOrigin, LocateOptions } from './fashion-mnist.js';
export {
  DATA_DIR_ENV,
  FASHION_MNIST_CLASSES,
  SUBSET_RELATIVE_DIR,
  SYSTEM_FASHION_MNIST_DIR,
  locateFashionMnist,
  loadFashionMnist,
} from './fashion-mnist.js';
export { packageRoot } from './repo-root.js';
