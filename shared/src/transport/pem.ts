/** Reads a PEM file named by a flag or config field; the error names both the field and the path. */
import { readFileSync } from 'node:fs';
import { CohortError } from '../core/errors.js';

export function readPemFile(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new CohortError('CONFIG_INVALID', `${field}: cannot read ${path}: ${(error as Error).message}`);
  }
}
