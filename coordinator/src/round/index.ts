// Public surface of the round module: workflow, scheduler, hub, and the client-gateway seam with its in-memory transport.
export type { ActiveRound, ClientGateway, RoundHubOptions, UploadSink } from './hub.js';
export { RoundHub } from './hub.js';
export type { InMemoryClientHandler, InMemoryGatewayOptions, InMemoryUploadOptions } from './in-memory-gateway.js';
export { InMemoryClient, InMemoryGateway } from './in-memory-gateway.js';
export type * from './messages.js';
export type { FederationRuntime, SchedulerOptions } from './scheduler.js';
export { Scheduler } from './scheduler.js';
export type { SelectionPolicy } from './selection.js';
export { fixedSelectionTarget, selectCohort } from './selection.js';
export type { Evaluator, RoundDependencies, RoundInput, RoundResult } from './workflow.js';
export { clientPlanOf, isEligible, runRound } from './workflow.js';
