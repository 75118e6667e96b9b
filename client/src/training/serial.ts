/**
 * One TF.js job at a time. The engine (backend, tape, scopes) and the cached models are global to the thread, so
 * two interleaved async training or evaluation calls would corrupt each other's weights and gradients.
 */
let tail: Promise<unknown> = Promise.resolve();

/** Runs `task` after every task queued before it has settled; a failure does not block the queue. */
export function serialize<T>(task: () => Promise<T>): Promise<T> {
  const run = tail.then(task, task);
  tail = run.catch(() => undefined);
  return run;
}
