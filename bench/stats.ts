/** Small timing and statistics helpers shared by the benchmark sections. */

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Milliseconds `fn` takes, measured with performance.now(). */
export async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Milliseconds `fn` takes, measured with performance.now(). */
export function timeSync(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

/** Megabytes (10^6 bytes) per second for `bytes` moved in `ms` milliseconds. */
export function megabytesPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

/** A summary of repeated measurements: every sample and their median, min and max. */
export interface Samples {
  readonly samples: number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Summarises a non-empty list of measurements. */
export function summarize(samples: readonly number[]): Samples {
  return { samples: [...samples], median: median(samples), min: Math.min(...samples), max: Math.max(...samples) };
}
