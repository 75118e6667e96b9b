/** CLI entry points answer bad input with a clear message naming the flag or file, and exit non-zero. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cohort-cli-'));

describe('cohort CLI errors', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints help and the version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('cohort simulate');
    expect((await runCli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('names an unknown command', async () => {
    const result = await runCli(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command "frobnicate"');
  });

  it('coordinator serve names a missing or invalid config file and bad fields', async () => {
    const missing = await runCli(['coordinator', 'serve', '--config', path.join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.yaml');
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'listen: 127.0.0.1:0\nfederations:\n  - name: x\n    model: { builtin: fmnist-cnn }\n    plan: { batchSize: 0 }\n');
    const bad = await runCli(['coordinator', 'serve', '--config', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('plan.batchSize');
    const listen = await runCli(['coordinator', 'serve', '--listen', 'nowhere', '--data-dir', path.join(dir, 'd')]);
    expect(listen.code).toBe(2);
    expect(listen.stderr).toContain('--listen');
  });

  it('client run names missing flags, a bad address and an empty data folder', async () => {
    const noData = await runCli(['client', 'run', '--coordinator', '127.0.0.1:1']);
    expect(noData.code).toBe(2);
    expect(noData.stderr).toContain('--data');
    const badAddress = await runCli(['client', 'run', '--coordinator', 'localhost', '--data', dir]);
    expect(badAddress.code).toBe(2);
    expect(badAddress.stderr).toContain('--coordinator');
    const empty = await runCli(['client', 'run', '--coordinator', '127.0.0.1:1', '--data', dir]);
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain(dir);
  });

  it('operator commands name an unreadable admin token file', async () => {
    const result = await runCli(['status', '--coordinator', '127.0.0.1:1', '--admin-token-file', path.join(dir, 'missing-token')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('missing-token');
  });
});
