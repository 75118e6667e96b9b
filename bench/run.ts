/**
 * `npm run bench`: measures training throughput, model transfer over loopback gRPC, round commit time, FedAvg
 * accumulation, secure aggregation, the privacy accountant and the robust aggregation rules, each against a baseline measured in the same run; prints one table per section
 * on stdout (progress goes to stderr) and writes every figure to bench/results/<timestamp>.json and
 * bench/results/latest.json.
 *
 *   node dist/bench/run.js [SECTION...] [--only SECTION[,SECTION...]]     (so: npm run bench -- secagg)
 */
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../shared/src/data/index.js';
import { runAggregationSection } from './aggregation.js';
import { runCommitSection } from './commit.js';
import type { SectionResult } from './report.js';
import { formatTable, machineInfo, writeResults } from './report.js';
import { runPrivacySection } from './privacy.js';
import { runRobustSection } from './robust.js';
import { runSecaggSection } from './secagg.js';
import { runTrainingSection } from './training.js';
import { runTransferSection } from './transfer.js';

type SectionRunner = (log: (line: string) => void) => Promise<SectionResult>;

/** Every section, in the order a full run takes them. */
const SECTIONS: Readonly<Record<string, SectionRunner>> = {
  training: runTrainingSection,
  transfer: runTransferSection,
  commit: runCommitSection,
  aggregation: runAggregationSection,
  secagg: runSecaggSection,
  privacy: runPrivacySection,
  robust: runRobustSection,
};

const USAGE = `usage: node dist/bench/run.js [SECTION[,SECTION...]...] [--only SECTION[,SECTION...]]
sections: ${Object.keys(SECTIONS).join(', ')} (default: all)`;

/**
 * The sections to run, from the command line: positional section names (`npm run bench -- secagg`) and --only
 * lists, validated alike and run in the order of SECTIONS; throws a UsageError naming what is wrong.
 */
export function parseArgs(argv: readonly string[]): string[] {
  let only: string[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let value: string | undefined;
    if (arg === '--help' || arg === '-h') throw new UsageError(USAGE, 0);
    if (arg === '--only') {
      value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--only needs a section name (one of: ${Object.keys(SECTIONS).join(', ')})`);
    } else if (arg.startsWith('--only=')) {
      value = arg.slice('--only='.length);
    } else if (!arg.startsWith('-')) {
      value = arg;
    } else {
      throw new UsageError(`unknown argument "${arg}"\n${USAGE}`);
    }
    const names = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    if (names.length === 0) throw new UsageError(`${arg.startsWith('--only') ? '--only needs' : 'expected'} a section name (one of: ${Object.keys(SECTIONS).join(', ')})`);
    for (const name of names) {
      if (!Object.hasOwn(SECTIONS, name)) throw new UsageError(`unknown section "${name}"; known sections: ${Object.keys(SECTIONS).join(', ')}`);
    }
    only = [...(only ?? []), ...names];
  }
  const wanted = new Set(only ?? Object.keys(SECTIONS));
  return Object.keys(SECTIONS).filter((name) => wanted.has(name));
}

/** A bad command line: the message is printed as is, with the exit code. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

async function main(): Promise<number> {
  let sections: string[];
  try {
    sections = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.exitCode === 0 ? '' : 'bench: '}${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
  const startedAt = new Date();
  const started = performance.now();
  const log = (line: string): void => {
    process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
  };
  const loadBefore = os.loadavg();
  const results: SectionResult[] = [];
  for (const name of sections) {
    const sectionStart = performance.now();
    log(`section ${name}: start`);
    const result = await SECTIONS[name]!(log);
    const seconds = (performance.now() - sectionStart) / 1000;
    log(`section ${name}: done in ${seconds.toFixed(1)} s`);
    results.push(result);
    process.stdout.write(`${formatTable(result)}\n\n`);
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const machine = machineInfo(os.tmpdir());
  const loadAfter = os.loadavg();
  const { file, latest } = writeResults(path.join(packageRoot(), 'bench', 'results'), startedAt, {
    startedAt: startedAt.toISOString(),
    totalSeconds,
    sections: sections,
    machine: { ...machine, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
    results: Object.fromEntries(results.map((r) => [r.section, r])),
  });
  const cpus = `${String(machine['cpus'])} x ${String(machine['cpuModel'])}`;
  process.stdout.write(
    `node ${process.version}, ${cpus}, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} at start; ${totalSeconds.toFixed(1)} s in all\n`,
  );
  process.stdout.write(`results: ${path.relative(process.cwd(), file)} (also ${path.relative(process.cwd(), latest)})\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
