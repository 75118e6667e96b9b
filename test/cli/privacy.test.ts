/** `cohort privacy epsilon|noise` as an operator runs it: the reference cases of the accountant, and bad flags. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { epsilonOf } from '../../shared/src/core/dp/rdp.js';
import { localEpsilon, localNoiseMultiplierFor } from '../../shared/src/core/dp/local.js';
import { packageRoot } from '../../shared/src/data/repo-root.js';
import { runCli } from '../helpers/cli.js';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

describe('cohort privacy', () => {
  it("prints Opacus's reference ε as JSON: q = 0.04, z = 1.5, T = 2250, δ = 1e-5 → 7.32911117143 at order 3.9", async () => {
    const r = await runCli(['privacy', 'epsilon', '--sampling-rate', '0.04', '--noise-multiplier', '1.5', '--steps', '2250', '--delta', '1e-5', '--orders', '1.1:10.9:0.1,12:63:1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { epsilon: number; order: number };
    expect(rel(out.epsilon, 7.32911117143)).toBeLessThan(1e-6);
    expect(out.order).toBe(3.9);
  });

  it('q = 1, z = 4.530877117, T = 1, δ = 1e-6 over orders 1.000..99.999: ε = 1.0, and noise inverts it', async () => {
    const eps = await runCli(['privacy', 'epsilon', '--sampling-rate', '1', '--noise-multiplier', '4.530877117', '--steps', '1', '--delta', '1e-6', '--orders', '1.001:99.999:0.001', '--json']);
    expect(eps.code, eps.stderr).toBe(0);
    expect((JSON.parse(eps.stdout) as { epsilon: number }).epsilon).toBeCloseTo(1.0, 7);
    const noise = await runCli(['privacy', 'noise', '--target-epsilon', '1', '--sampling-rate', '1', '--steps', '1', '--delta', '1e-6', '--orders', '1.001:99.999:0.001', '--json']);
    expect(noise.code, noise.stderr).toBe(0);
    expect(rel((JSON.parse(noise.stdout) as { noiseMultiplier: number }).noiseMultiplier, 4.530877117)).toBeLessThan(1e-6);
  });

  it('prints a readable line without --json', async () => {
    const r = await runCli(['privacy', 'epsilon', '--sampling-rate', '0.04', '--noise-multiplier', '1.5', '--steps', '2250', '--delta', '1e-5']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^epsilon \d+\.\d+ at order [\d.]+ \(delta 0\.00001, sampling rate 0\.04, noise multiplier 1\.5, 2250 steps\)\n$/);
  });

  it.each([
    [['--sampling-rate', '0'], '--sampling-rate: expected a number in (0, 1], got "0"'],
    [['--sampling-rate', '1.5'], '--sampling-rate: expected a number in (0, 1], got "1.5"'],
    [['--noise-multiplier', '0'], '--noise-multiplier: expected a number > 0, got "0"'],
    [['--noise-multiplier', '-2'], '--noise-multiplier: expected a number > 0, got "-2"'],
    [['--delta', '1'], '--delta: expected a number in (0, 1), got "1"'],
    [['--delta', '0'], '--delta: expected a number in (0, 1), got "0"'],
    [['--steps', '2.5'], '--steps: expected an integer >= 1, got "2.5"'],
    [['--orders', '1,2'], '--orders: every order must be a number > 1, got "1" in "1"'],
    [['--orders', '3:2:1'], '--orders: range "3:2:1" needs FROM <= TO and STEP > 0'],
  ])('names the flag for %j', async (override, message) => {
    const base: Record<string, string> = { '--sampling-rate': '0.1', '--noise-multiplier': '1', '--steps': '10', '--delta': '1e-5' };
    base[override[0]!] = override[1]!;
    // FLAG=VALUE, so that a negative value is read as the flag's value.
    const r = await runCli(['privacy', 'epsilon', ...Object.entries(base).map(([flag, value]) => `${flag}=${value}`)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('names a missing flag and an unknown sub-command', async () => {
    const missing = await runCli(['privacy', 'noise', '--sampling-rate', '0.1', '--steps', '10', '--delta', '1e-5']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--target-epsilon is required');
    const unknown = await runCli(['privacy', 'spend']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "cohort privacy spend"');
  });
});

describe('cohort simulate --dp central', () => {
  it('stops exactly before the round that would exceed the budget, and reports ε per round', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cohort-dp-'));
    try {
      const r = await runCli(
        ['simulate', '--dp', 'central', '--dp-epsilon', '8', '--dp-noise', '1.5', '--clients', '4', '--rounds', '10', '--epochs', '1', '--model', 'fmnist-mlp', '--train-size', '600', '--test-size', '200',
          '--data-dir', path.join(packageRoot(), 'data', 'fashion-mnist-subset'), '--report-dir', dir, '--json'],
        { timeoutMs: 180_000 },
      );
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      const summary = JSON.parse(r.stdout) as { roundsCommitted: number; rounds: { epsilon: number | null }[]; config: { outcome: string } };
      // Fixed cohort: q = 1. At z = 1.5 and δ = 1e-5, five rounds fit in ε = 8 and a sixth would not.
      const expected = [1, 2, 3, 4, 5].map((t) => epsilonOf({ samplingRate: 1, noiseMultiplier: 1.5, steps: t, delta: 1e-5 }).epsilon);
      expect(epsilonOf({ samplingRate: 1, noiseMultiplier: 1.5, steps: 6, delta: 1e-5 }).epsilon).toBeGreaterThan(8);
      expect(summary.config.outcome).toBe('budget-exhausted');
      expect(summary.roundsCommitted).toBe(5);
      summary.rounds.forEach((round, i) => expect(round.epsilon).toBeCloseTo(expected[i]!, 9));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 200_000);

  it('names the flag that needs --dp central', async () => {
    const r = await runCli(['simulate', '--dp-epsilon', '4']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--dp-epsilon needs --dp central, distributed or local');
  });
});

describe('cohort simulate --dp distributed (with secure aggregation) and --dp local', () => {
  const subset = (): string => path.join(packageRoot(), 'data', 'fashion-mnist-subset');
  const small = ['--clients', '4', '--epochs', '1', '--model', 'fmnist-mlp', '--train-size', '600', '--test-size', '200', '--json'];

  it('distributed: the secure sum carries the Skellam noise, spending matches the Gaussian at the same z, and the budget stops it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cohort-ddp-'));
    try {
      const r = await runCli(['simulate', '--secagg', '--dp', 'distributed', '--dp-epsilon', '8', '--dp-noise', '1.5', '--rounds', '10', ...small, '--data-dir', subset(), '--report-dir', dir], {
        timeoutMs: 180_000,
      });
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      const summary = JSON.parse(r.stdout) as {
        roundsCommitted: number;
        rounds: { epsilon: number | null; participants: number; bytesByStage: Record<string, unknown> }[];
        config: { outcome: string; federationStatusReason: string; federation: { selection: { minClients: number } } };
        privacy: { mechanism: string; amplified: boolean };
      };
      // Every client's share is sized for the 3 others of a full cohort of 4, so the sum carries exactly z = 1.5:
      // the Skellam accountant (integer orders, discretisation excess) lands within 2% of the Gaussian's ε.
      expect(summary.config.federation.selection.minClients).toBe(4);
      expect(summary.privacy).toMatchObject({ mechanism: 'distributed', amplified: false });
      expect(summary.config.outcome).toBe('budget-exhausted');
      expect(summary.roundsCommitted).toBe(5);
      summary.rounds.forEach((round, i) => {
        const gaussian = epsilonOf({ samplingRate: 1, noiseMultiplier: 1.5, steps: i + 1, delta: 1e-5 }).epsilon;
        expect(round.epsilon!).toBeGreaterThanOrEqual(gaussian * 0.999);
        expect(round.epsilon!).toBeLessThan(gaussian * 1.02);
        expect(round.epsilon!).toBeLessThanOrEqual(8);
        expect(Object.keys(round.bytesByStage)).toContain('masked-input');
      });
      const next = Number(/would bring epsilon to (\d+\.\d+), over the budget 8/.exec(summary.config.federationStatusReason)?.[1]);
      expect(next).toBeGreaterThan(8);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 200_000);

  it('local: each client noises its own update and the report gives every client\'s ε over the rounds it joined', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cohort-ldp-'));
    try {
      const r = await runCli(['simulate', '--dp', 'local', '--dp-epsilon', '8', '--rounds', '2', ...small, '--data-dir', subset(), '--report-dir', dir], { timeoutMs: 180_000 });
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      const summary = JSON.parse(r.stdout) as { roundsCommitted: number; privacy: { mechanism: string; clientEpsilons: { roundsJoined: number; epsilon: number }[] } };
      expect(summary.roundsCommitted).toBe(2);
      // z is calibrated so a client joining all 2 rounds spends exactly ε = 8 (analytic Gaussian, Δ = sqrt(2)).
      const z = localNoiseMultiplierFor(8, 1e-5, 2);
      expect(summary.privacy.clientEpsilons).toHaveLength(4);
      for (const c of summary.privacy.clientEpsilons) {
        expect(c.roundsJoined).toBe(2);
        expect(c.epsilon).toBeCloseTo(localEpsilon(z, 2, 1e-5), 6);
        expect(c.epsilon).toBeCloseTo(8, 6);
      }
      const text = readFileSync(path.join(dir, 'summary.txt'), 'utf8');
      expect(text).toContain('per-client epsilon (local DP, over the rounds each joined): min 8.000, median 8.000, max 8.000 over 4 clients');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 200_000);

  it('refuses --dp distributed without --secagg and --dp central with it, naming the flags', async () => {
    const a = await runCli(['simulate', '--dp', 'distributed']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--dp distributed needs --secagg');
    const b = await runCli(['simulate', '--dp', 'central', '--secagg']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('use --dp distributed with --secagg');
    const c = await runCli(['simulate', '--dp', 'local', '--adaptive-clip', '0.5']);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('--adaptive-clip needs --dp central');
  });
});
