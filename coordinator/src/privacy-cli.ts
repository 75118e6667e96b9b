/**
 * `cohort privacy`: planning tools for operators, over the pure accountant in shared/src/core/dp.
 *   cohort privacy epsilon --sampling-rate Q --noise-multiplier Z --steps T --delta D [--orders LIST] [--json]
 *   cohort privacy noise --target-epsilon E --sampling-rate Q --steps T --delta D [--orders LIST] [--json]
 */
import { CohortError } from '../../shared/src/core/errors.js';
import { DEFAULT_RDP_ORDERS, epsilonOf, noiseMultiplierFor } from '../../shared/src/core/dp/rdp.js';
import { boolFlag, parseFlags, stringFlag } from '../../shared/src/cli/args.js';
import type { ParsedArgs } from '../../shared/src/cli/args.js';

export const PRIVACY_HELP = `cohort privacy: plan a federation's differential privacy (Rényi-DP accountant of the Poisson-subsampled Gaussian)

  cohort privacy epsilon --sampling-rate Q --noise-multiplier Z --steps T --delta D [--orders LIST] [--json]
      ε after T rounds that sample each client with probability Q and add Gaussian noise of Z times the clip norm
  cohort privacy noise --target-epsilon E --sampling-rate Q --steps T --delta D [--orders LIST] [--json]
      the smallest noise multiplier Z that keeps T such rounds within (E, D)

  cohort privacy budget FEDERATION [--coordinator HOST:PORT] [--admin-token-file F] [--json]
      a running federation's budget, the epsilon spent, and its privacy ledger by round

  --orders LIST   Rényi orders: comma-separated numbers > 1 and ranges FROM:TO:STEP, e.g. 1.1:10.9:0.1,11:63:1,128
                  (default 1.1, 1.2, …, 10.9, 11..63, 128, 256, 512, 1024)
  --json          print {"epsilon": …, "order": …} or {"noiseMultiplier": …} on stdout
`;

const FLAGS = {
  'sampling-rate': { type: 'string' },
  'noise-multiplier': { type: 'string' },
  'target-epsilon': { type: 'string' },
  steps: { type: 'string' },
  delta: { type: 'string' },
  orders: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function privacyCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(PRIVACY_HELP);
    return 0;
  }
  // The ledger of a running federation lives on the coordinator: an operator call.
  if (sub === 'budget') return (await import('./cli.js')).privacyBudgetCommand(rest);
  if (sub !== 'epsilon' && sub !== 'noise') throw new CohortError('CONFIG_INVALID', `unknown command "cohort privacy ${sub}"; expected epsilon, noise or budget\n\n${PRIVACY_HELP}`);
  const args = parseFlags(rest, FLAGS);
  if (boolFlag(args, 'help')) {
    process.stdout.write(PRIVACY_HELP);
    return 0;
  }
  const samplingRate = numberIn(args, 'sampling-rate', { min: 0, minOpen: true, max: 1 }, 'in (0, 1]');
  const steps = integerAtLeast(args, 'steps', 1);
  const delta = numberIn(args, 'delta', { min: 0, minOpen: true, max: 1, maxOpen: true }, 'in (0, 1)');
  const orders = ordersFlag(args);
  const json = boolFlag(args, 'json');
  if (sub === 'epsilon') {
    const noiseMultiplier = numberIn(args, 'noise-multiplier', { min: 0, minOpen: true, max: Number.MAX_VALUE }, '> 0');
    const { epsilon, order } = epsilonOf({ samplingRate, noiseMultiplier, steps, delta, orders });
    if (json) process.stdout.write(`${JSON.stringify({ epsilon, order })}\n`);
    else process.stdout.write(`epsilon ${formatFigure(epsilon)} at order ${order} (delta ${delta}, sampling rate ${samplingRate}, noise multiplier ${noiseMultiplier}, ${steps} steps)\n`);
    return 0;
  }
  const targetEpsilon = numberIn(args, 'target-epsilon', { min: 0, minOpen: true, max: Number.MAX_VALUE }, '> 0');
  const noiseMultiplier = noiseMultiplierFor({ targetEpsilon, samplingRate, steps, delta, orders });
  if (json) process.stdout.write(`${JSON.stringify({ noiseMultiplier })}\n`);
  else process.stdout.write(`noise multiplier ${formatFigure(noiseMultiplier)} (epsilon ${targetEpsilon}, delta ${delta}, sampling rate ${samplingRate}, ${steps} steps)\n`);
  return 0;
}

function formatFigure(value: number): string {
  return Number.isFinite(value) ? value.toPrecision(10).replace(/\.?0+$/, '') : String(value);
}

function required(args: ParsedArgs, name: string): string {
  const raw = stringFlag(args, name);
  if (raw === undefined || raw.trim() === '') throw new CohortError('CONFIG_INVALID', `--${name} is required`);
  return raw;
}

function numberIn(args: ParsedArgs, name: string, range: { min: number; max: number; minOpen?: boolean; maxOpen?: boolean }, text: string): number {
  const raw = required(args, name);
  const value = Number(raw);
  const ok = Number.isFinite(value) && (range.minOpen ? value > range.min : value >= range.min) && (range.maxOpen ? value < range.max : value <= range.max);
  if (!ok) throw new CohortError('CONFIG_INVALID', `--${name}: expected a number ${text}, got "${raw}"`);
  return value;
}

function integerAtLeast(args: ParsedArgs, name: string, min: number): number {
  const raw = required(args, name);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new CohortError('CONFIG_INVALID', `--${name}: expected an integer >= ${min}, got "${raw}"`);
  return value;
}

/** "1.1:10.9:0.1,11:63:1,128" → orders; every order must be a number > 1. */
export function parseOrders(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    if (part === '') throw new CohortError('CONFIG_INVALID', `--orders: empty entry in "${text}"`);
    const pieces = part.split(':');
    if (pieces.length === 1) {
      out.push(order(pieces[0]!, part));
      continue;
    }
    if (pieces.length !== 3) throw new CohortError('CONFIG_INVALID', `--orders: "${part}" is neither a number nor FROM:TO:STEP`);
    const from = order(pieces[0]!, part);
    const to = order(pieces[1]!, part);
    const step = Number(pieces[2]);
    if (!(Number.isFinite(step) && step > 0) || to < from) throw new CohortError('CONFIG_INVALID', `--orders: range "${part}" needs FROM <= TO and STEP > 0`);
    const count = Math.floor((to - from) / step + 1e-9) + 1;
    if (out.length + count > 1_000_000) throw new CohortError('CONFIG_INVALID', `--orders: more than 1,000,000 orders`);
    // Each order from the index, rounded to 12 significant digits, so 0.1 steps do not drift.
    for (let i = 0; i < count; i++) out.push(Number((from + i * step).toPrecision(12)));
  }
  return out;
}

function order(text: string, part: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(Number.isFinite(value) && value > 1)) throw new CohortError('CONFIG_INVALID', `--orders: every order must be a number > 1, got "${text}" in "${part}"`);
  return value;
}

function ordersFlag(args: ParsedArgs): readonly number[] {
  const raw = stringFlag(args, 'orders');
  return raw === undefined ? DEFAULT_RDP_ORDERS : parseOrders(raw);
}
