/** `cohort client run`: the client agent of an edge node. */
import { hostname } from 'node:os';
import path from 'node:path';
import { CohortError } from '../../shared/src/core/errors.js';
import { boolFlag, choiceFlag, parseFlags, requiredString, stringFlag } from '../../shared/src/cli/args.js';
import { createOsRng } from '../../shared/src/crypto/os-rng.js';
import { cryptoReady } from '../../shared/src/crypto/sodium.js';
import { loadDataDir } from '../../shared/src/data/index.js';
import { parseAddress } from '../../shared/src/transport/grpc-channel.js';
import type { ChannelTls } from '../../shared/src/transport/grpc-channel.js';
import { ClientAgent } from './agent.js';
import { createTfjsTrainer } from './tfjs-trainer.js';

const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;

export const CLIENT_HELP = `cohort client run --coordinator HOST:PORT --data DIR [--token TOKEN] [flags]

Runs the client agent: enrolls once with a one-time token (the Ed25519 identity is saved with 0600 permissions),
keeps a session with the coordinator (reconnecting with jittered exponential backoff), and trains on the local data
when selected. Raw data never leaves this machine.

  --coordinator HOST:PORT   coordinator address
  --data DIR                local data: IDX (train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz]),
                            train.csv (a "label" column), or train.jsonl ({"x": [...], "y": n} per line)
  --token TOKEN             one-time enrollment token (needed only the first time)
  --identity FILE           identity file (default ./.cohort/identity.json)
  --backend NAME            auto (default), tensorflow-gpu, tensorflow, wasm or cpu
  --name NAME               display name shown to operators (default: host name)
  --task NAME               data task this node serves (default: any)
  --tls-ca FILE             verify the coordinator certificate against this CA (enables TLS)
  --tls-cert FILE --tls-key FILE   client certificate for mutual TLS
`;

export async function clientCommand(argv: string[]): Promise<number> {
  if (argv[0] !== 'run') throw new CohortError('CONFIG_INVALID', `unknown command "cohort client ${argv[0] ?? ''}"; did you mean "cohort client run"?`);
  const args = parseFlags(argv.slice(1), {
    coordinator: { type: 'string' },
    data: { type: 'string' },
    token: { type: 'string' },
    identity: { type: 'string' },
    backend: { type: 'string' },
    name: { type: 'string' },
    task: { type: 'string' },
    'tls-ca': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (boolFlag(args, 'help')) {
    process.stdout.write(CLIENT_HELP);
    return 0;
  }
  const coordinator = parseAddress(requiredString(args, 'coordinator', 'HOST:PORT of the coordinator'));
  const dataDir = requiredString(args, 'data', 'a folder with the local training data');
  const backend = choiceFlag(args, 'backend', BACKEND_CHOICES, 'auto');
  const caFile = stringFlag(args, 'tls-ca');
  const certFile = stringFlag(args, 'tls-cert');
  const keyFile = stringFlag(args, 'tls-key');
  const tls: ChannelTls | null = caFile === undefined && certFile === undefined ? null : { caFile, certFile, keyFile };
  const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} agent ${line}\n`);
  await cryptoReady();
  const data = await loadDataDir(dataDir);
  log(`local data: ${data.train.count} training examples of shape [${data.train.featureShape.join(',')}] from ${data.source}`);
  const trainer = await createTfjsTrainer(backend, log);
  const task = stringFlag(args, 'task');
  const agent = new ClientAgent({
    coordinator,
    tls,
    identityFile: path.resolve(stringFlag(args, 'identity') ?? '.cohort/identity.json'),
    token: stringFlag(args, 'token'),
    displayName: stringFlag(args, 'name') ?? hostname(),
    data: { train: data.train, test: data.test },
    trainer,
    tasks: task === undefined ? [] : [task],
    rng: createOsRng(),
    log,
  });
  const stop = (): void => {
    log('stopping');
    agent.stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await agent.run();
  return 0;
}
