/** Public surface of the simulation report: types, pure renderers, the report writer and the progress display. */
export type { AttackReport, PrivacyReport, RoundDetection, RoundReport, RoundState, SimulationSummary } from './types.js';
export type { AccuracyChartOptions, SimulationSummaryJson, SummaryTableOptions } from './render.js';
export {
  SUMMARY_SCHEMA_VERSION,
  renderAccuracyChartSvg,
  renderRoundsCsv,
  renderSummaryTable,
  roundToJson,
  summaryToJson,
} from './render.js';
export { ReportWriteError, roundFileName, writeReport } from './write.js';
export type { ProgressDisplay, ProgressDisplayOptions, ProgressState } from './progress.js';
export { createProgressDisplay, formatRoundLine } from './progress.js';
export type { SweepChartOptions, SweepJson, SweepRow } from './sweep.js';
export { SWEEP_SCHEMA_VERSION, renderSweepCsv, renderSweepSvg, renderSweepTable, sortSweepRows, sweepRowOf, sweepRunDirName, sweepToJson, writeSweepReport } from './sweep.js';
