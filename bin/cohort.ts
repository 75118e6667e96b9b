#!/usr/bin/env node
/** The `cohort` command: coordinator, client agent, simulator and operator commands. */
import { CohortError } from '../shared/src/core/errors.js';
import { COHORT_VERSION } from '../shared/src/protocol/constants.js';
import { describeGrpcError } from '../shared/src/transport/grpc-channel.js';

const HELP = `cohort ${COHORT_VERSION}: federated learning coordinator, client agent and simulator

  cohort simulate [flags]                  a whole federation on this machine (coordinator + N real clients)
  cohort coordinator serve --config FILE   run the coordinator
  cohort client run --coordinator HOST:PORT --data DIR [--token T]    run a client agent
  cohort data split --clients N --out DIR  per-client Fashion-MNIST folders for client agents
  cohort coordinator token create          one-time enrollment tokens (operator)
  cohort federation|rounds|round|clients|model|events|status ...     operator commands
  cohort privacy epsilon|noise ...         plan differential privacy: ε for a noise level, or the noise for an ε

Run any command with --help for its flags.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    case '--version':
    case 'version':
      process.stdout.write(`${COHORT_VERSION}\n`);
      return 0;
    case 'simulate':
      return (await import('../simulations/src/cli.js')).simulateCommand(rest);
    case 'data':
      return (await import('../simulations/src/cli.js')).dataCommand(rest);
    case 'coordinator':
      return (await import('../coordinator/src/cli.js')).coordinatorCommand(rest);
    case 'privacy':
      return (await import('../coordinator/src/privacy-cli.js')).privacyCommand(rest);
    case 'client':
      if (rest[0] === '--help' || rest[0] === '-h' || rest.length === 0) {
        process.stdout.write((await import('../client/src/cli.js')).CLIENT_HELP);
        return 0;
      }
      return (await import('../client/src/cli.js')).clientCommand(rest);
    default: {
      const { operatorCommand, OPERATOR_HELP } = await import('../coordinator/src/cli.js');
      const run = operatorCommand(command, rest);
      if (run === null) throw new CohortError('CONFIG_INVALID', `unknown command "${command}"\n\n${HELP}\n${OPERATOR_HELP}`);
      return run;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Domain errors carry a message meant for people; gRPC errors get their status name; anything else is a bug.
    const message = error instanceof CohortError ? error.message : typeof (error as { code?: unknown })?.code === 'number' ? describeGrpcError(error) : ((error as Error)?.stack ?? String(error));
    process.stderr.write(`cohort: ${message}\n`);
    process.exitCode = error instanceof CohortError && error.code === 'CONFIG_INVALID' ? 2 : 1;
  },
);
