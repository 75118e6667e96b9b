/**
 * `cohort coordinator serve` and the operator commands (`cohort coordinator token create`, `cohort federation ...`,
 * `cohort rounds`, `cohort clients ...`, `cohort model export`, `cohort events watch`, `cohort status`).
 * Operator commands talk to a running coordinator over the authenticated OperatorService.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CohortError } from '../../shared/src/core/errors.js';
import { boolFlag, durationFlag, numberFlag, parseFlags, requiredString, stringFlag } from '../../shared/src/cli/args.js';
import type { FlagSpec, ParsedArgs } from '../../shared/src/cli/args.js';
import { FederationStatus } from '../../shared/src/gen/fl/v1/operator.pb.js';
import type { Federation, Round } from '../../shared/src/gen/fl/v1/operator.pb.js';
import { parseAddress } from '../../shared/src/transport/grpc-channel.js';
import type { ChannelTls } from '../../shared/src/transport/grpc-channel.js';
import { readCoordinatorConfig } from './config-file.js';
import { parseFederationConfig } from './federation/config.js';
import { federationConfigToProto } from './federation/spec-proto.js';
import { OperatorClient } from './operator-client.js';

export const DEFAULT_COORDINATOR = '127.0.0.1:7443';

const SERVE_FLAGS: FlagSpec = {
  config: { type: 'string' },
  listen: { type: 'string' },
  'data-dir': { type: 'string' },
  'admin-token-file': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-client-ca': { type: 'string' },
  'dataset-dir': { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export const SERVE_HELP = `cohort coordinator serve [--config FILE] [flags]

Runs the coordinator: gRPC on --listen, state in SQLite under --data-dir. Federations listed in the config file are
created and started on first start; rounds left unfinished by a crash are marked aborted and training resumes from
the last committed model.

  --config FILE            coordinator.yaml (or .json); flags below override it
  --listen HOST:PORT       address to listen on (default 0.0.0.0:7443; port 0 = ephemeral)
  --data-dir DIR           database, model files, identity key, admin token (default ./cohort-data)
  --admin-token-file FILE  operator credential file (created 0600 if missing; default DATA_DIR/admin-token)
  --tls-cert FILE --tls-key FILE    serve TLS with this PEM certificate chain and key
  --tls-client-ca FILE     require client certificates signed by this CA (mutual TLS)
  --dataset-dir DIR        where held-out evaluation looks for Fashion-MNIST first
  --heartbeat-ms N         heartbeat interval asked of clients (default 5000)
`;

/** `cohort coordinator serve`: runs until SIGINT/SIGTERM. */
export async function serveCommand(argv: string[]): Promise<number> {
  const args = parseFlags(argv, SERVE_FLAGS);
  if (boolFlag(args, 'help')) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const configFile = stringFlag(args, 'config');
  const file = configFile === undefined ? null : readCoordinatorConfig(configFile);
  const listen = stringFlag(args, 'listen') ?? file?.listen ?? '0.0.0.0:7443';
  parseAddress(listen, '--listen');
  const dataDir = path.resolve(stringFlag(args, 'data-dir') ?? file?.dataDir ?? './cohort-data');
  const cert = stringFlag(args, 'tls-cert') ?? file?.tls?.certFile;
  const key = stringFlag(args, 'tls-key') ?? file?.tls?.keyFile;
  const clientCa = stringFlag(args, 'tls-client-ca') ?? file?.tls?.clientCaFile;
  if ((cert === undefined) !== (key === undefined)) throw new CohortError('CONFIG_INVALID', '--tls-cert and --tls-key go together');
  if (clientCa !== undefined && cert === undefined) throw new CohortError('CONFIG_INVALID', '--tls-client-ca needs --tls-cert and --tls-key (mutual TLS runs over TLS)');
  // Loaded only now: the coordinator pulls in TF.js, which operator commands and bad flags do not need.
  const { Coordinator } = await import('./coordinator.js');
  const coordinator = await Coordinator.create({
    dataDir,
    databasePath: file?.database,
    listen,
    tls: cert === undefined ? null : { certFile: cert, keyFile: key!, clientCaFile: clientCa },
    adminTokenFile: stringFlag(args, 'admin-token-file') ?? file?.adminTokenFile,
    heartbeatMs: numberFlag(args, 'heartbeat-ms', file?.heartbeatMs ?? 5000, { min: 200, max: 600_000, integer: true }),
    federations: file?.federations ?? [],
    datasetDir: stringFlag(args, 'dataset-dir') ?? file?.datasetDir,
  });
  const info = await coordinator.start();
  const line = (text: string): boolean => process.stdout.write(`${text}\n`);
  line(`cohort coordinator listening on ${info.address}${cert === undefined ? ' (plaintext: use TLS beyond loopback)' : clientCa === undefined ? ' (TLS)' : ' (mutual TLS)'}`);
  line(`database: ${info.databasePath}`);
  line(`admin token: ${info.adminTokenFile ?? '(given in the configuration)'}`);
  line(`coordinator key: ${Buffer.from(info.publicKey).toString('base64')}`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      line(`${signal}: shutting down (rounds in progress are aborted, nothing half-done is committed)`);
      void coordinator.stop().then(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

const CONNECTION_FLAGS: FlagSpec = {
  coordinator: { type: 'string' },
  'admin-token': { type: 'string' },
  'admin-token-file': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const CONNECTION_HELP = `Connection (every operator command):
  --coordinator HOST:PORT   coordinator address (default $COHORT_COORDINATOR or ${DEFAULT_COORDINATOR})
  --admin-token TOKEN       operator credential (default $COHORT_ADMIN_TOKEN)
  --admin-token-file FILE   ... or read it from this file (default $COHORT_ADMIN_TOKEN_FILE or ./cohort-data/admin-token)
  --tls-ca FILE             verify the coordinator's TLS certificate against this CA (enables TLS)
  --tls-cert FILE --tls-key FILE   client certificate for mutual TLS
  --json                    print JSON instead of tables
`;

export const OPERATOR_HELP = `Operator commands (talk to a running coordinator):
  cohort coordinator token create [--label L] [--ttl 24h] [--count N]   one-time enrollment tokens
  cohort federation create --spec FILE [--start]     create a federation from a JSON/YAML spec
  cohort federation list | status ID | start ID | pause ID
  cohort rounds ID [--limit N]                        rounds of a federation, newest first
  cohort round ROUND_ID                               one round with its participations
  cohort clients list | revoke ID | quarantine ID | release ID  [--reason TEXT]
  cohort clients history ID [--limit N]               a client's rounds with the verdicts it was judged by
  cohort model export ID --out DIR [--version N]      weights.bin + TF.js model.json + signed metadata
  cohort events watch [--federation ID]               live coordinator events
  cohort status                                       coordinator status

${CONNECTION_HELP}`;

function connect(args: ParsedArgs): OperatorClient {
  const address = parseAddress(stringFlag(args, 'coordinator') ?? process.env['COHORT_COORDINATOR'] ?? DEFAULT_COORDINATOR, '--coordinator');
  let token = stringFlag(args, 'admin-token') ?? process.env['COHORT_ADMIN_TOKEN'];
  if (token === undefined) {
    const file = stringFlag(args, 'admin-token-file') ?? process.env['COHORT_ADMIN_TOKEN_FILE'] ?? './cohort-data/admin-token';
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (error) {
      throw new CohortError('CONFIG_INVALID', `--admin-token-file: cannot read ${file} (${(error as Error).message}); pass --admin-token or --admin-token-file`);
    }
  }
  const caFile = stringFlag(args, 'tls-ca');
  const certFile = stringFlag(args, 'tls-cert');
  const keyFile = stringFlag(args, 'tls-key');
  const tls: ChannelTls | null = caFile === undefined && certFile === undefined ? null : { caFile, certFile, keyFile };
  return new OperatorClient(address, token, tls);
}

function print(args: ParsedArgs, json: unknown, human: () => string): void {
  process.stdout.write(boolFlag(args, 'json') ? `${JSON.stringify(json, bufferReplacer, 2)}\n` : `${human()}\n`);
}

function bufferReplacer(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}

/** Left-aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const STATUS_NAMES: Record<number, string> = {
  [FederationStatus.FEDERATION_STATUS_CREATED]: 'created',
  [FederationStatus.FEDERATION_STATUS_RUNNING]: 'running',
  [FederationStatus.FEDERATION_STATUS_PAUSED]: 'paused',
  [FederationStatus.FEDERATION_STATUS_COMPLETED]: 'completed',
  [FederationStatus.FEDERATION_STATUS_FAILED]: 'failed',
  [FederationStatus.FEDERATION_STATUS_BUDGET_EXHAUSTED]: 'budget-exhausted',
};

function pct(value: number | undefined): string {
  return value === undefined ? '-' : `${(value * 100).toFixed(1)}%`;
}

function federationLine(f: Federation): string[] {
  return [f.id, f.spec?.name ?? '', STATUS_NAMES[f.status] ?? String(f.status), `${f.roundsCommitted}/${f.spec?.rounds ?? '?'}`, String(f.currentModel?.version ?? ''), pct(f.lastMetrics?.values['eval_accuracy']), f.statusReason];
}

function roundLine(r: Round): string[] {
  const m = r.metrics?.values ?? {};
  return [String(r.number), r.state, pct(m['eval_accuracy']), m['eval_loss']?.toFixed(3) ?? '-', `${r.survivors['training'] ?? r.survivors['masked-input'] ?? 0}/${r.selected.length}`, ((r.endedAtMs - r.startedAtMs) / 1000).toFixed(1), r.abortReason];
}

async function withClient<T>(args: ParsedArgs, body: (client: OperatorClient) => Promise<T>): Promise<T> {
  const client = connect(args);
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

/** `cohort coordinator token create`. */
async function tokenCommand(argv: string[]): Promise<number> {
  if (argv[0] !== 'create') throw new CohortError('CONFIG_INVALID', `unknown command "cohort coordinator token ${argv[0] ?? ''}"; did you mean "token create"?`);
  const args = parseFlags(argv.slice(1), { ...CONNECTION_FLAGS, label: { type: 'string' }, ttl: { type: 'string' }, count: { type: 'string' } });
  if (boolFlag(args, 'help')) {
    process.stdout.write(`cohort coordinator token create [--label L] [--ttl 24h] [--count N]\n\n${CONNECTION_HELP}`);
    return 0;
  }
  const ttl = durationFlag(args, 'ttl', 24 * 3600);
  const count = numberFlag(args, 'count', 1, { min: 1, max: 10_000, integer: true });
  const label = stringFlag(args, 'label') ?? '';
  const tokens = await withClient(args, async (client) => {
    const out = [];
    for (let i = 0; i < count; i++) out.push(await client.createEnrollmentToken(count > 1 && label ? `${label}-${i + 1}` : label, ttl));
    return out;
  });
  print(args, tokens, () => tokens.map((t) => t.token).join('\n'));
  if (!boolFlag(args, 'json')) process.stderr.write(`${tokens.length} one-time token(s), valid until ${new Date(tokens[0]!.expiresAtMs).toISOString()}\n`);
  return 0;
}

/** Reads a federation spec file (JSON or YAML) and validates it locally before sending. */
export function readFederationSpec(file: string): ReturnType<typeof parseFederationConfig> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CohortError('CONFIG_INVALID', `--spec: cannot read ${file}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new CohortError('CONFIG_INVALID', `--spec: ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
  return parseFederationConfig(raw, file);
}

async function federationCommand(argv: string[]): Promise<number> {
  const sub = argv[0];
  const args = parseFlags(argv.slice(1), { ...CONNECTION_FLAGS, spec: { type: 'string' }, start: { type: 'boolean' } }, true);
  if (sub === undefined || boolFlag(args, 'help')) {
    process.stdout.write(OPERATOR_HELP);
    return 0;
  }
  const id = (): string => {
    const value = args.positionals[0];
    if (value === undefined) throw new CohortError('CONFIG_INVALID', `cohort federation ${sub}: give the federation id or name`);
    return value;
  };
  return withClient(args, async (client) => {
    switch (sub) {
      case 'create': {
        const config = readFederationSpec(requiredString(args, 'spec', 'a JSON or YAML federation spec'));
        const f = await client.createFederation(federationConfigToProto(config), boolFlag(args, 'start'));
        print(args, f, () => `created federation ${f.spec?.name} (${f.id}), ${STATUS_NAMES[f.status]}, ${f.layout?.totalElements ?? 0} parameters`);
        return 0;
      }
      case 'list': {
        const list = await client.listFederations();
        print(args, list, () => table(['id', 'name', 'status', 'rounds', 'model', 'accuracy', 'reason'], list.map(federationLine)));
        return 0;
      }
      case 'status': {
        const f = await client.getFederation(id());
        print(args, f, () => table(['id', 'name', 'status', 'rounds', 'model', 'accuracy', 'reason'], [federationLine(f)]));
        return 0;
      }
      case 'start':
      case 'pause': {
        const f = sub === 'start' ? await client.startFederation(id()) : await client.pauseFederation(id());
        print(args, f, () => `federation ${f.spec?.name} is ${STATUS_NAMES[f.status]}`);
        return 0;
      }
      default:
        throw new CohortError('CONFIG_INVALID', `unknown command "cohort federation ${sub}" (create, list, status, start, pause)`);
    }
  });
}

/** `cohort privacy budget FEDERATION`: the budget, what is spent, and the ledger by round. */
export async function privacyBudgetCommand(argv: string[]): Promise<number> {
  const args = parseFlags(argv, CONNECTION_FLAGS, true);
  const federationId = args.positionals[0];
  if (federationId === undefined || boolFlag(args, 'help')) {
    process.stdout.write(`cohort privacy budget FEDERATION\n\n${CONNECTION_HELP}`);
    return federationId === undefined && !boolFlag(args, 'help') ? 2 : 0;
  }
  const budget = await withClient(args, (client) => client.getPrivacyBudget(federationId));
  print(args, budget, () =>
    [
      budget.targetEpsilon === 0
        ? 'no privacy budget (differential privacy is off)'
        : `budget epsilon ${budget.targetEpsilon} at delta ${budget.targetDelta}; spent ${budget.spentEpsilon.toFixed(4)} in ${budget.entries.length} round(s)`,
      '',
      table(
        ['round', 'mechanism', 'sampling rate', 'noise multiplier', 'clip norm', 'survivors', 'epsilon after'],
        budget.entries.map((e) => [String(e.roundNumber), e.mechanism, String(e.samplingRate), String(e.noiseMultiplier), String(e.clipNorm), String(e.survivors), e.epsilonAfter.toFixed(4)]),
      ),
      ...(budget.accounting === 'per-client'
        ? [
            '',
            'local DP: epsilon is per client, over the rounds its noised update went into; "epsilon after" is the largest',
            table(['client', 'rounds joined', 'epsilon'], budget.clientEpsilons.map((c) => [c.clientId, String(c.roundsJoined), c.epsilon.toFixed(4)])),
          ]
        : []),
    ].join('\n'),
  );
  return 0;
}

async function roundsCommand(argv: string[]): Promise<number> {
  const args = parseFlags(argv, { ...CONNECTION_FLAGS, limit: { type: 'string' } }, true);
  const federationId = args.positionals[0];
  if (federationId === undefined || boolFlag(args, 'help')) {
    process.stdout.write(`cohort rounds FEDERATION [--limit N]\n\n${CONNECTION_HELP}`);
    return federationId === undefined && !boolFlag(args, 'help') ? 2 : 0;
  }
  const limit = numberFlag(args, 'limit', 50, { min: 1, max: 1000, integer: true });
  const rounds = await withClient(args, (client) => client.listRounds(federationId, limit));
  print(args, rounds, () => table(['round', 'state', 'accuracy', 'loss', 'updates', 'seconds', 'abort reason'], rounds.map(roundLine)));
  return 0;
}

async function roundCommand(argv: string[]): Promise<number> {
  const args = parseFlags(argv, CONNECTION_FLAGS, true);
  const roundId = args.positionals[0];
  if (roundId === undefined) throw new CohortError('CONFIG_INVALID', 'cohort round: give the round id (see cohort rounds FEDERATION)');
  const r = await withClient(args, (client) => client.getRound(roundId));
  print(args, r, () =>
    [
      table(['round', 'state', 'accuracy', 'loss', 'updates', 'seconds', 'abort reason'], [roundLine(r)]),
      '',
      `survivors per stage: ${Object.entries(r.survivors).map(([stage, n]) => `${stage} ${n}`).join(' → ') || '-'}`,
      '',
      table(
        ['client', 'stage', 'dropped', 'examples', 'backend', 'verdict', 'reason'],
        r.participations.map((p) => [p.clientId, p.stageReached, p.dropped ? `at ${p.dropoutStage}` : 'no', String(p.numExamples), p.backend, p.verdict, p.dropoutReason]),
      ),
      ...(r.verdicts.length === 0
        ? []
        : [
            '',
            'verdicts (what the aggregation rule decided):',
            table(
              ['contribution', 'verdict', 'norm', 'distance', 'cosine', 'share', 'reason'],
              r.verdicts.map((v) => [v.contributionId, v.verdict, score(v.scores['l2Norm']), score(v.scores['distanceToAggregate']), score(v.scores['cosineToAggregate']), score(v.scores['share']), v.reason]),
            ),
          ]),
    ].join('\n'),
  );
  return 0;
}

/** A verdict score for a table: 4 significant digits, or '-' when the rule did not report it. */
function score(value: number | undefined): string {
  return value === undefined ? '-' : Number(value.toPrecision(4)).toString();
}

async function clientsCommand(argv: string[]): Promise<number> {
  const sub = argv[0];
  const args = parseFlags(argv.slice(1), { ...CONNECTION_FLAGS, reason: { type: 'string' }, limit: { type: 'string' } }, true);
  if (sub === undefined || boolFlag(args, 'help')) {
    process.stdout.write(OPERATOR_HELP);
    return 0;
  }
  return withClient(args, async (client) => {
    if (sub === 'list') {
      const list = await client.listClients();
      print(args, list, () =>
        table(
          ['id', 'name', 'status', 'reputation', 'suspicion', 'connected', 'backend', 'examples', 'last seen'],
          list.map((c) => [c.id, c.displayName, c.status, c.reputation.toFixed(3), c.suspicion.toFixed(2), c.connected ? 'yes' : 'no', c.capabilities?.backend ?? '', String(c.capabilities?.numExamples ?? 0), c.lastSeenAtMs ? new Date(c.lastSeenAtMs).toISOString() : '-']),
        ),
      );
      return 0;
    }
    if (sub === 'history') {
      const clientId = args.positionals[0];
      if (clientId === undefined) throw new CohortError('CONFIG_INVALID', 'cohort clients history: give the client id');
      const limit = numberFlag(args, 'limit', 50, { min: 1, max: 1000, integer: true });
      const history = await client.getClientHistory(clientId, limit);
      const c = history.client!;
      print(args, history, () =>
        [
          `client ${c.id} (${c.displayName}): ${c.status}${c.statusReason ? ` (${c.statusReason})` : ''}; reputation ${c.reputation.toFixed(3)}, suspicion z ${c.suspicion.toFixed(2)} after ${c.scoredRounds} scored rounds`,
          '',
          table(
            ['federation', 'round', 'state', 'stage', 'dropped', 'verdict', 'contribution', 'reason'],
            history.entries.map((e) => [
              e.federationId,
              String(e.roundNumber),
              e.roundState,
              e.participation?.stageReached ?? '',
              e.participation?.dropped ? `at ${e.participation.dropoutStage}` : 'no',
              e.verdict?.verdict ?? '-',
              e.verdict?.contributionId ?? '-',
              e.verdict?.reason ?? e.participation?.dropoutReason ?? '',
            ]),
          ),
        ].join('\n'),
      );
      return 0;
    }
    if (sub !== 'revoke' && sub !== 'quarantine' && sub !== 'release') {
      throw new CohortError('CONFIG_INVALID', `unknown command "cohort clients ${sub}" (list, history, revoke, quarantine, release)`);
    }
    const clientId = args.positionals[0];
    if (clientId === undefined) throw new CohortError('CONFIG_INVALID', `cohort clients ${sub}: give the client id`);
    const c = await client.setClientStatus(sub, clientId, stringFlag(args, 'reason') ?? '');
    print(args, c, () => `client ${c.id} is ${c.status}`);
    return 0;
  });
}

async function modelCommand(argv: string[]): Promise<number> {
  if (argv[0] !== 'export') throw new CohortError('CONFIG_INVALID', `unknown command "cohort model ${argv[0] ?? ''}"; did you mean "model export"?`);
  const args = parseFlags(argv.slice(1), { ...CONNECTION_FLAGS, out: { type: 'string' }, version: { type: 'string' } }, true);
  const federationId = args.positionals[0];
  if (federationId === undefined) throw new CohortError('CONFIG_INVALID', 'cohort model export: give the federation id or name');
  const out = requiredString(args, 'out', 'a folder to write model.json and weights.bin into');
  const version = numberFlag(args, 'version', 0, { min: 0, integer: true });
  const { header, bytes } = await withClient(args, (client) => client.exportModel(federationId, version));
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'weights.bin'), bytes);
  const topology = JSON.parse(header.topologyJson) as unknown;
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'cohort',
    modelTopology: topology,
    weightsManifest: [{ paths: ['weights.bin'], weights: (header.layout?.tensors ?? []).map((t) => ({ name: t.name, shape: t.shape, dtype: 'float32' })) }],
  };
  writeFileSync(path.join(out, 'model.json'), `${JSON.stringify(modelJson)}\n`);
  const meta = {
    federationId: header.model?.federationId,
    version: header.model?.version,
    sha256: header.model?.sha256,
    sizeBytes: header.model?.sizeBytes,
    signature: Buffer.from(header.model?.signature ?? Buffer.alloc(0)).toString('base64'),
  };
  writeFileSync(path.join(out, 'cohort-model.json'), `${JSON.stringify(meta, null, 2)}\n`);
  print(args, meta, () => `exported model version ${meta.version} (${meta.sha256}) to ${out}/model.json and weights.bin`);
  return 0;
}

async function eventsCommand(argv: string[]): Promise<number> {
  if (argv[0] !== 'watch') throw new CohortError('CONFIG_INVALID', `unknown command "cohort events ${argv[0] ?? ''}"; did you mean "events watch"?`);
  const args = parseFlags(argv.slice(1), { ...CONNECTION_FLAGS, federation: { type: 'string' }, after: { type: 'string' } });
  const client = connect(args);
  return new Promise<number>((resolve) => {
    const stop = client.watchEvents(stringFlag(args, 'federation') ?? '', numberFlag(args, 'after', 0, { min: 0, integer: true }), (event) => {
      process.stdout.write(boolFlag(args, 'json') ? `${JSON.stringify(event)}\n` : `${new Date(event.timeMs).toISOString()} ${event.type} ${event.message}\n`);
    }, (error) => {
      client.close();
      if (error !== null) process.stderr.write(`cohort: event stream ended: ${error.details}\n`);
      resolve(error === null ? 0 : 1);
    });
    process.once('SIGINT', () => {
      stop();
      client.close();
      resolve(0);
    });
  });
}

async function statusCommand(argv: string[]): Promise<number> {
  const args = parseFlags(argv, CONNECTION_FLAGS);
  const s = await withClient(args, (client) => client.getStatus());
  print(args, s, () =>
    [`cohort coordinator ${s.version}, up ${(s.uptimeMs / 1000).toFixed(0)} s`, `clients: ${s.connectedClients} connected of ${s.enrolledClients} enrolled`, `running federations: ${s.runningFederations}`, `key: ${Buffer.from(s.coordinatorPublicKey).toString('base64')}`].join('\n'),
  );
  return 0;
}

/** Dispatches `cohort coordinator ...`. */
export async function coordinatorCommand(argv: string[]): Promise<number> {
  switch (argv[0]) {
    case 'serve':
      return serveCommand(argv.slice(1));
    case 'token':
      return tokenCommand(argv.slice(1));
    default:
      throw new CohortError('CONFIG_INVALID', `unknown command "cohort coordinator ${argv[0] ?? ''}" (serve, token create)`);
  }
}

/** Dispatches the operator command groups; null when `group` is not one of them. */
export function operatorCommand(group: string, argv: string[]): Promise<number> | null {
  switch (group) {
    case 'federation':
      return federationCommand(argv);
    case 'rounds':
      return roundsCommand(argv);
    case 'round':
      return roundCommand(argv);
    case 'clients':
      return clientsCommand(argv);
    case 'model':
      return modelCommand(argv);
    case 'events':
      return eventsCommand(argv);
    case 'status':
      return statusCommand(argv);
    default:
      return null;
  }
}
