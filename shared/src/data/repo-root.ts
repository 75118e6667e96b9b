/**
 * Locates files shipped with the package (data/, proto/) at run time: compiled code runs from dist/..., tests and
 * tsx from the sources, so a fixed relative path would be wrong in one of them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CohortError } from '../core/errors.js';

/** The package name whose root we look for. */
const PACKAGE_NAME = 'cohort';

let cached: string | null = null;

/** Absolute path of the directory whose package.json names the "cohort" package, walking up from this module. */
export function packageRoot(): string {
  if (cached !== null) return cached;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; ) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && readName(manifest) === PACKAGE_NAME) {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new CohortError('NOT_FOUND', `no package.json named "${PACKAGE_NAME}" above ${start}`);
}

function readName(manifest: string): string | undefined {
  try {
    const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
    return typeof parsed.name === 'string' ? parsed.name : undefined;
  } catch {
    // An unreadable or non-JSON package.json on the way up is not ours; keep walking.
    return undefined;
  }
}
