/**
 * The coordinator's configuration file (YAML or JSON). Relative paths are resolved against the file's folder, so a
 * config works from any working directory. Command-line flags override the file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CohortError } from '../../shared/src/core/errors.js';
import { formatZodIssues, parseFederationConfig } from './federation/config.js';
import type { FederationConfigInput } from './federation/config.js';

const fileSchema = z
  .object({
    /** host:port to listen on. */
    listen: z.string().min(3).default('0.0.0.0:7443'),
    /** Database, model files, identity key, admin token. */
    dataDir: z.string().min(1).default('./cohort-data'),
    database: z.string().min(1).optional(),
    adminTokenFile: z.string().min(1).optional(),
    heartbeatMs: z.number().int().min(200).max(600_000).default(5_000),
    tls: z
      .object({ certFile: z.string().min(1), keyFile: z.string().min(1), clientCaFile: z.string().min(1).optional() })
      .strict()
      .optional(),
    /** Where the built-in Fashion-MNIST loader looks first for held-out evaluation data. */
    datasetDir: z.string().min(1).optional(),
    federations: z.array(z.record(z.string(), z.unknown())).default([]),
  })
  .strict();

export type CoordinatorFileConfig = z.output<typeof fileSchema> & { federations: FederationConfigInput[] };

/** Reads and validates a config file; errors name the file and the field. */
export function readCoordinatorConfig(file: string): CoordinatorFileConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CohortError('CONFIG_INVALID', `--config: cannot read ${file}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new CohortError('CONFIG_INVALID', `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
  const result = fileSchema.safeParse(raw ?? {});
  if (!result.success) throw new CohortError('CONFIG_INVALID', `${file}: ${formatZodIssues(result.error.issues)}`);
  const base = path.dirname(path.resolve(file));
  const resolve = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(base, p));
  const config = result.data;
  // Validate federations now so a typo fails at start-up with the federation's name in the message.
  config.federations.forEach((f, i) => parseFederationConfig(f, `${file}: federations[${i}]`));
  const federations = config.federations.map((f) => {
    const model = (f['model'] ?? {}) as Record<string, unknown>;
    const withPath = typeof model['initialWeightsPath'] === 'string' ? { ...f, model: { ...model, initialWeightsPath: resolve(model['initialWeightsPath'] as string) } } : f;
    const evaluation = withPath['evaluation'] as Record<string, unknown> | undefined | null;
    if (evaluation && typeof evaluation['dataset'] === 'string' && evaluation['dataset'] !== 'fashion-mnist') {
      return { ...withPath, evaluation: { ...evaluation, dataset: resolve(evaluation['dataset'] as string) } };
    }
    return withPath;
  }) as FederationConfigInput[];
  return {
    ...config,
    dataDir: resolve(config.dataDir)!,
    database: resolve(config.database),
    adminTokenFile: resolve(config.adminTokenFile),
    datasetDir: resolve(config.datasetDir),
    tls: config.tls === undefined ? undefined : { certFile: resolve(config.tls.certFile)!, keyFile: resolve(config.tls.keyFile)!, clientCaFile: resolve(config.tls.clientCaFile) },
    federations,
  };
}
