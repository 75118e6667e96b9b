/**
 * Command-line parsing shared by every `cohort` sub-command: node:util parseArgs in strict mode, with errors that
 * name the bad flag, and typed readers for numbers, sizes and durations.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { CohortError } from '../core/errors.js';

export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parses argv against the flag spec; unknown flags and missing values become CONFIG_INVALID naming the flag. */
export function parseFlags(argv: string[], options: FlagSpec, allowPositionals = false): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (error) {
    const message = (error as Error).message.replace(/^Unknown option '(.*)'.*$/s, "unknown flag '$1' (see --help)");
    throw new CohortError('CONFIG_INVALID', message);
  }
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new CohortError('CONFIG_INVALID', `--${name} takes a value`);
  return value;
}

export function requiredString(args: ParsedArgs, name: string, hint = ''): string {
  const value = stringFlag(args, name);
  if (value === undefined || value.length === 0) throw new CohortError('CONFIG_INVALID', `--${name} is required${hint ? `: ${hint}` : ''}`);
  return value;
}

export function boolFlag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** A number flag within [min, max] (integer when `integer`). */
export function numberFlag(args: ParsedArgs, name: string, fallback: number, limits: { min?: number; max?: number; integer?: boolean } = {}): number {
  const raw = stringFlag(args, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  const { min = -Infinity, max = Infinity, integer = false } = limits;
  if (raw.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    const range = `${Number.isFinite(min) ? min : '-inf'}..${Number.isFinite(max) ? max : 'inf'}`;
    throw new CohortError('CONFIG_INVALID', `--${name}: expected ${integer ? 'an integer' : 'a number'} in ${range}, got "${raw}"`);
  }
  return value;
}

/** Durations like "30s", "5m", "2h", "1d" or plain seconds. Returns seconds. */
export function durationFlag(args: ParsedArgs, name: string, fallbackSeconds: number): number {
  const raw = stringFlag(args, name);
  if (raw === undefined) return fallbackSeconds;
  const match = /^(\d+(?:\.\d+)?)(s|m|h|d)?$/.exec(raw.trim());
  if (match === null) throw new CohortError('CONFIG_INVALID', `--${name}: expected a duration like 90s, 15m, 24h or 7d, got "${raw}"`);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  const seconds = Math.round(Number(match[1]) * unit);
  if (seconds < 1) throw new CohortError('CONFIG_INVALID', `--${name}: must be at least 1s, got "${raw}"`);
  return seconds;
}

/** One of a fixed set of words. */
export function choiceFlag<T extends string>(args: ParsedArgs, name: string, choices: readonly T[], fallback: T): T {
  const raw = stringFlag(args, name);
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) throw new CohortError('CONFIG_INVALID', `--${name}: expected one of ${choices.join(', ')}, got "${raw}"`);
  return raw as T;
}
