/**
 * One complete secure sum with every client and the coordinator in this process and no network: the state
 * machines exchange their messages directly. Used by the invariant tests and the benchmark; the round workflow
 * runs the same state machines over the real transport.
 */
import type { SecAggContext, SecAggCrypto } from './context.js';
import { SecAggClient } from './client.js';
import type { SecAggStage } from './messages.js';
import type { SecAggDrop, SumOutcome } from './server.js';
import { SecAggServer } from './server.js';

export interface InProcessSumOptions {
  context: SecAggContext;
  /** Each client's identity key pair, by client id (ids derived from the keys). */
  identities: ReadonlyMap<string, { publicKey: Uint8Array; secretKey: Uint8Array }>;
  neighbours: ReadonlyMap<string, readonly string[]>;
  threshold: number;
  /** Each client's input (quantized, length d + 1). */
  inputs: ReadonlyMap<string, Uint32Array>;
  crypto: SecAggCrypto;
  /** Clients that stop answering at a stage (they answer every stage before it). */
  dropAt?: ReadonlyMap<string, SecAggStage>;
}

export interface InProcessSumResult {
  outcome: SumOutcome;
  clients: Map<string, SecAggClient>;
  drops: SecAggDrop[];
}

/** Runs advertise-keys → share-keys → masked-input → consistency-check → unmasking and returns the outcome. */
export function runSecureSumInProcess(options: InProcessSumOptions): InProcessSumResult {
  const { context, identities, neighbours, threshold, inputs, crypto } = options;
  const dropAt = options.dropAt ?? new Map<string, SecAggStage>();
  const ids = [...identities.keys()].sort();
  const vectorLength = inputs.get(ids[0]!)!.length;
  const server = new SecAggServer({ context, memberIds: ids, neighbours, threshold, vectorLength, crypto, identityKeyOf: (id) => identities.get(id)?.publicKey ?? null });
  const clients = new Map(ids.map((id) => [id, new SecAggClient({ context, clientId: id, identity: identities.get(id)!, crypto })]));
  const drops: SecAggDrop[] = [];
  const answers = (id: string, stage: SecAggStage): boolean => !drops.some((d) => d.clientId === id) && stageIndex(dropAt.get(id)) > stageIndex(stage);
  const collect = (): void => void drops.push(...server.takeDrops());

  for (const [id, request] of server.advertiseRequests()) if (answers(id, 'advertise-keys')) server.receiveAdvertisedKeys(id, clients.get(id)!.advertiseKeys(request));
  const shareKeys = server.closeAdvertiseKeys();
  collect();
  if (!shareKeys.ok) return { outcome: shareKeys, clients, drops };
  for (const [id, request] of shareKeys.requests) if (answers(id, 'share-keys')) server.receiveSharedKeys(id, clients.get(id)!.shareKeys(request));
  const masked = server.closeShareKeys();
  collect();
  if (!masked.ok) return { outcome: masked, clients, drops };
  for (const [id, request] of masked.requests) if (answers(id, 'masked-input')) server.receiveMaskedInput(id, clients.get(id)!.maskInput(request, inputs.get(id)!));
  const consistency = server.closeMaskedInput();
  collect();
  if (!consistency.ok) return { outcome: consistency, clients, drops };
  for (const [id, request] of consistency.requests) if (answers(id, 'consistency-check')) server.receiveConsistencySignature(id, clients.get(id)!.consistencyCheck(request));
  const unmask = server.closeConsistencyCheck();
  collect();
  if (!unmask.ok) return { outcome: unmask, clients, drops };
  for (const [id, request] of unmask.requests) if (answers(id, 'unmasking')) server.receiveUnmaskShares(id, clients.get(id)!.unmask(request));
  const outcome = server.closeUnmasking();
  collect();
  return { outcome, clients, drops };
}

const ORDER: readonly SecAggStage[] = ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking'];

function stageIndex(stage: SecAggStage | undefined): number {
  return stage === undefined ? ORDER.length : ORDER.indexOf(stage);
}
