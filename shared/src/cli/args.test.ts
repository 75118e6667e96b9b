import { describe, expect, it } from 'vitest';
import { isCohortError } from '../core/errors.js';
import type { FlagSpec } from './args.js';
import { boolFlag, choiceFlag, durationFlag, numberFlag, parseFlags, requiredString, stringFlag } from './args.js';

const spec: FlagSpec = {
  port: { type: 'string' },
  ttl: { type: 'string' },
  mode: { type: 'string' },
  name: { type: 'string' },
  verbose: { type: 'boolean' },
  tag: { type: 'string', multiple: true },
};

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(isCohortError(error, 'CONFIG_INVALID'), String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

const args = (...argv: string[]) => parseFlags(argv, spec);

describe('parseFlags', () => {
  it('parses values, booleans, repeated flags and positionals when allowed', () => {
    const parsed = parseFlags(['--port', '50051', '--verbose', '--tag', 'a', '--tag=b', 'extra'], spec, true);
    expect(parsed.values).toMatchObject({ port: '50051', verbose: true, tag: ['a', 'b'] });
    expect(parsed.positionals).toEqual(['extra']);
  });

  it('names an unknown flag and points to --help', () => {
    expect(configError(() => args('--prot', '1'))).toBe("unknown flag '--prot' (see --help)");
    expect(configError(() => args('-x'))).toBe("unknown flag '-x' (see --help)");
  });

  it('names a flag whose value is missing', () => {
    expect(configError(() => args('--port'))).toMatch(/'--port <value>' argument missing/);
  });

  it('names a boolean flag given a value', () => {
    expect(configError(() => args('--verbose=yes'))).toMatch(/'--verbose' does not take an argument/);
  });

  it('names a flag whose value looks like a flag, and shows the --flag=value form', () => {
    expect(configError(() => args('--port', '-3'))).toMatch(/'--port' argument is ambiguous.*'--port=-XYZ'/s);
  });

  it('names an unexpected positional argument', () => {
    expect(configError(() => args('stray'))).toMatch(/'stray'/);
  });
});

describe('string and boolean flags', () => {
  it('reads strings, absent flags and booleans', () => {
    const parsed = args('--name', 'fed-1', '--verbose');
    expect(stringFlag(parsed, 'name')).toBe('fed-1');
    expect(stringFlag(parsed, 'mode')).toBeUndefined();
    expect(boolFlag(parsed, 'verbose')).toBe(true);
    expect(boolFlag(args(), 'verbose')).toBe(false);
  });

  it('names a string flag used as a switch', () => {
    expect(configError(() => stringFlag(args('--verbose'), 'verbose'))).toBe('--verbose takes a value');
  });

  it('names a required flag that is missing or empty, with the hint', () => {
    expect(configError(() => requiredString(args(), 'name'))).toBe('--name is required');
    expect(configError(() => requiredString(args('--name', ''), 'name', 'the federation to start'))).toBe('--name is required: the federation to start');
    expect(requiredString(args('--name', 'f'), 'name')).toBe('f');
  });
});

describe('numberFlag', () => {
  it('returns the fallback when absent and the number when valid', () => {
    expect(numberFlag(args(), 'port', 50051)).toBe(50051);
    expect(numberFlag(args('--port', '8080'), 'port', 0, { min: 1, max: 65535, integer: true })).toBe(8080);
    expect(numberFlag(args('--port', '0.25'), 'port', 0, { min: 0, max: 1 })).toBe(0.25);
    expect(numberFlag(args('--port=-3'), 'port', 0)).toBe(-3);
  });

  it.each([
    ['abc', /^--port: expected an integer in 1\.\.65535, got "abc"$/],
    ['', /^--port: expected an integer in 1\.\.65535, got ""$/],
    ['  ', /^--port: expected an integer in 1\.\.65535, got " {2}"$/],
    ['1.5', /^--port: expected an integer in 1\.\.65535, got "1\.5"$/],
    ['0', /^--port: expected an integer in 1\.\.65535, got "0"$/],
    ['65536', /^--port: expected an integer in 1\.\.65535, got "65536"$/],
    ['Infinity', /^--port: expected an integer/],
    ['NaN', /^--port: expected an integer/],
  ])('names the flag, the range and the value for %j', (raw, message) => {
    expect(configError(() => numberFlag(args(`--port=${raw}`), 'port', 1, { min: 1, max: 65535, integer: true }))).toMatch(message);
  });

  it('writes an open range with infinities', () => {
    expect(configError(() => numberFlag(args('--port', 'x'), 'port', 1))).toBe('--port: expected a number in -inf..inf, got "x"');
    expect(configError(() => numberFlag(args('--port=-1'), 'port', 1, { min: 0 }))).toBe('--port: expected a number in 0..inf, got "-1"');
  });
});

describe('durationFlag', () => {
  it.each([
    ['90', 90],
    ['90s', 90],
    ['15m', 900],
    ['24h', 86_400],
    ['7d', 604_800],
    ['1.5m', 90],
    [' 2h ', 7200],
  ])('reads %j as %d seconds', (raw, seconds) => {
    expect(durationFlag(args(`--ttl=${raw}`), 'ttl', 0)).toBe(seconds);
  });

  it('returns the fallback when absent', () => {
    expect(durationFlag(args(), 'ttl', 3600)).toBe(3600);
  });

  it('refuses a zero duration instead of letting it mean "default"', () => {
    expect(configError(() => durationFlag(args('--ttl=0'), 'ttl', 60))).toBe('--ttl: must be at least 1s, got "0"');
    expect(configError(() => durationFlag(args('--ttl=0.2s'), 'ttl', 60))).toBe('--ttl: must be at least 1s, got "0.2s"');
  });

  it.each(['', 'soon', '5 m', '10ms', '-5m', '1w', 'h'])('names the flag for %j', (raw) => {
    expect(configError(() => durationFlag(args(`--ttl=${raw}`), 'ttl', 0))).toBe(`--ttl: expected a duration like 90s, 15m, 24h or 7d, got "${raw}"`);
  });
});

describe('choiceFlag', () => {
  const modes = ['fixed', 'poisson'] as const;

  it('returns the choice or the fallback', () => {
    expect(choiceFlag(args('--mode', 'poisson'), 'mode', modes, 'fixed')).toBe('poisson');
    expect(choiceFlag(args(), 'mode', modes, 'fixed')).toBe('fixed');
  });

  it('names the flag and the choices for anything else, case included', () => {
    expect(configError(() => choiceFlag(args('--mode', 'random'), 'mode', modes, 'fixed'))).toBe('--mode: expected one of fixed, poisson, got "random"');
    expect(configError(() => choiceFlag(args('--mode', 'Fixed'), 'mode', modes, 'fixed'))).toBe('--mode: expected one of fixed, poisson, got "Fixed"');
  });
});
