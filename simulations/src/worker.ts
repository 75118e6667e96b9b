/**
 * Simulator worker thread: hosts a share of the simulated client agents. Each agent is a real gRPC client with its
 * own channel, identity and session; they share this thread's TF.js engine (training calls are serialized).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { LabeledDataset } from '../../shared/src/core/data/dataset.js';
import { createSeededRng, deriveSeed } from '../../shared/src/core/rng/rng.js';
import { cryptoReady } from '../../shared/src/crypto/sodium.js';
import { CohortError } from '../../shared/src/core/errors.js';
import { ClientAgent, clipTransform } from '../../client/src/agent.js';
import type { AgentRoundSummary, InjectedFault, LocalTrainer } from '../../client/src/agent.js';
import { createTfjsTrainer } from '../../client/src/tfjs-trainer.js';
import type { AgentTask } from '../../client/src/transport/coordinator-client.js';
import { createMaliciousTrainer, soloAttack } from './attacks/index.js';
import type { AttackKind, AttackName, AttackParamValue, CollusionResult } from './attacks/index.js';
import type { DropoutStage } from './defaults.js';

export interface WorkerClient {
  index: number;
  token: string;
  identitySeed: Uint8Array;
  displayName: string;
  train: LabeledDataset;
}

export interface WorkerInput {
  address: string;
  clients: WorkerClient[];
  backend: 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
  seed: number;
  /** Probability that a selected client drops out of a round. */
  dropoutRate: number;
  /** Where it drops: a fixed stage, or any (chosen per dropout). */
  dropoutStage: DropoutStage;
  /** Secure aggregation on: 'any' includes its stages. */
  secagg: boolean;
  verbose: boolean;
  /** The attack the attackers among this worker's clients mount (their data is already poisoned); null for none. */
  attack: WorkerAttack | null;
}

/** An attack as a worker runs it: parameters resolved, attackers by client index. */
export interface WorkerAttack {
  name: AttackName;
  kind: AttackKind;
  params: Record<string, AttackParamValue>;
  attackers: number[];
}

export type WorkerMessage =
  | { type: 'ready'; backend: string; clients: { index: number; clientId: string | null }[] }
  | { type: 'round'; clientIndex: number; summary: AgentRoundSummary }
  | { type: 'log'; line: string }
  | { type: 'fatal'; message: string }
  | { type: 'stopped' }
  /** A colluding attacker's honest (clipped) update, for the harness to pool. */
  | { type: 'attack-honest'; clientIndex: number; roundId: string; deadlineMs: number; delta: Float32Array };

/** Harness → worker: stop, or the crafted update of a colluding attacker. */
export type HarnessMessage = { type: 'stop' } | ({ type: 'attack-update'; clientIndex: number; roundId: string } & CollusionResult);

const FAULTS_BY_STAGE: Record<DropoutStage, InjectedFault[]> = {
  any: ['ignore-task', 'disconnect-before-training', 'disconnect-after-training'],
  configuring: ['ignore-task'],
  training: ['disconnect-before-training'],
  upload: ['disconnect-after-training'],
  'advertise-keys': ['disconnect-at-advertise-keys'],
  'share-keys': ['disconnect-at-share-keys'],
  'masked-input': ['disconnect-at-masked-input'],
  'consistency-check': ['disconnect-at-consistency-check'],
  unmasking: ['disconnect-at-unmasking'],
};

/** With secure aggregation, 'any' also covers its five stages. */
const SECURE_ANY: InjectedFault[] = [
  ...FAULTS_BY_STAGE.any,
  'disconnect-at-advertise-keys',
  'disconnect-at-share-keys',
  'disconnect-at-masked-input',
  'disconnect-at-consistency-check',
  'disconnect-at-unmasking',
];

/** Seeded per (simulation, client, round): the same run drops the same clients at the same rounds. */
export function faultFor(input: Pick<WorkerInput, 'seed' | 'dropoutRate' | 'dropoutStage'> & { secagg?: boolean }, clientIndex: number, roundNumber: number): InjectedFault {
  if (input.dropoutRate <= 0) return 'none';
  const rng = createSeededRng(deriveSeed(input.seed, `dropout/${clientIndex}/${roundNumber}`));
  if (rng.nextFloat() >= input.dropoutRate) return 'none';
  const choices = input.dropoutStage === 'any' && input.secagg === true ? SECURE_ANY : FAULTS_BY_STAGE[input.dropoutStage];
  return choices[Math.floor(rng.nextFloat() * choices.length)]!;
}

async function main(): Promise<void> {
  const input = workerData as WorkerInput;
  const port = parentPort!;
  const post = (message: WorkerMessage): void => port.postMessage(message);
  await cryptoReady();
  const log = (line: string): void => {
    if (input.verbose) post({ type: 'log', line });
  };
  const trainer = await createTfjsTrainer(input.backend, log);
  const colluding = new Map<string, { resolve: (delta: Float32Array) => void; reject: (error: Error) => void }>();
  const attackers = new Set(input.attack?.attackers ?? []);
  const trainerOf = (clientIndex: number): LocalTrainer => {
    const attack = input.attack;
    if (attack === null || !attackers.has(clientIndex)) return trainer;
    if (attack.kind === 'colluding') {
      return createMaliciousTrainer(trainer, (honest, task) => {
        // Pooled as the coordinator would see it from a benign client: clipped to the plan.
        const delta = clipTransform(honest, { task, metrics: {} });
        const key = `${clientIndex}/${task.roundId}`;
        const answer = new Promise<Float32Array>((resolve, reject) => {
          const timer = setTimeout(
            () => {
              colluding.delete(key);
              reject(new CohortError('DEADLINE_EXCEEDED', `round ${task.roundNumber}: no crafted update from the other attackers before the deadline`));
            },
            Math.max(0, task.deadlineMs - Date.now()),
          );
          colluding.set(key, {
            resolve: (value) => {
              clearTimeout(timer);
              resolve(value);
            },
            reject: (error) => {
              clearTimeout(timer);
              reject(error);
            },
          });
        });
        port.postMessage({ type: 'attack-honest', clientIndex, roundId: task.roundId, deadlineMs: task.deadlineMs, delta } satisfies WorkerMessage, [delta.buffer as ArrayBuffer]);
        return answer;
      });
    }
    const solo = soloAttack(attack.name, attack.params, input.seed, clientIndex);
    return solo === null ? trainer : createMaliciousTrainer(trainer, (honest, task: AgentTask) => solo(honest, task.roundNumber));
  };
  const agents = input.clients.map(
    (client) =>
      new ClientAgent({
        coordinator: input.address,
        tls: null,
        identityFile: null,
        identitySeed: new Uint8Array(client.identitySeed),
        token: client.token,
        displayName: client.displayName,
        data: { train: client.train, test: null },
        trainer: trainerOf(client.index),
        rng: createSeededRng(deriveSeed(input.seed, `backoff/${client.index}`)),
        log: (line) => log(`${client.displayName}: ${line}`),
        reconnectBaseMs: 200,
        reconnectMaxMs: 2_000,
        faults: (task: AgentTask) => faultFor(input, client.index, task.roundNumber),
        // Seeded stochastic rounding: the same run quantizes the same way, so secure sums replay bit for bit.
        roundingRng: createSeededRng(deriveSeed(input.seed, `rounding/${client.index}`)),
        noiseRng: createSeededRng(deriveSeed(input.seed, `noise/${client.index}`)),
        onRoundDone: (summary) => post({ type: 'round', clientIndex: client.index, summary }),
      }),
  );
  port.on('message', (message: HarnessMessage) => {
    if (message.type === 'stop') for (const agent of agents) agent.stop();
    if (message.type === 'attack-update') {
      const key = `${message.clientIndex}/${message.roundId}`;
      const waiting = colluding.get(key);
      colluding.delete(key);
      if ('delta' in message) waiting?.resolve(message.delta);
      else waiting?.reject(new CohortError('INTERNAL', message.error));
    }
  });
  const runs = agents.map((agent, i) =>
    agent.run().catch((error: unknown) => post({ type: 'fatal', message: `${input.clients[i]!.displayName}: ${(error as Error).message}` })),
  );
  // Agents enroll on their first session; report ids once every agent has one or has failed.
  void (async () => {
    for (let tries = 0; tries < 600 && agents.some((a) => a.clientId === null); tries++) await new Promise((r) => setTimeout(r, 100));
    post({ type: 'ready', backend: trainer.backend, clients: agents.map((a, i) => ({ index: input.clients[i]!.index, clientId: a.clientId })) });
  })();
  await Promise.all(runs);
  post({ type: 'stopped' });
}

if (parentPort !== null) {
  main().catch((error: unknown) => {
    parentPort!.postMessage({ type: 'fatal', message: (error as Error)?.stack ?? String(error) } satisfies WorkerMessage);
  });
}
