/**
 * The agent's enrolled identity: an Ed25519 key (kept as its 32-byte seed), the client id the coordinator derived
 * from it, and the coordinator key pinned at enrollment. Stored as JSON with 0600 permissions in a 0700 folder.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CohortError } from '../../shared/src/core/errors.js';
import { signingKeyPairFromSeed } from '../../shared/src/crypto/sodium.js';
import type { SigningKeyPair } from '../../shared/src/crypto/sodium.js';

export interface AgentIdentity {
  clientId: string;
  /** The coordinator this identity is enrolled with (host:port). */
  coordinator: string;
  keys: SigningKeyPair;
  /** 32-byte seed of the Ed25519 key. */
  seed: Uint8Array;
  /** Coordinator Ed25519 key, pinned at enrollment; model signatures must verify against it. */
  coordinatorPublicKey: Uint8Array;
  enrolledAt: string;
}

interface IdentityFile {
  version: 1;
  clientId: string;
  coordinator: string;
  identitySeed: string;
  coordinatorPublicKey: string;
  enrolledAt: string;
}

/** Reads an identity file; null when it does not exist; CONFIG_INVALID naming the file when it is damaged. */
export function readIdentity(file: string): AgentIdentity | null {
  if (!existsSync(file)) return null;
  let parsed: Partial<IdentityFile>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<IdentityFile>;
  } catch (error) {
    throw new CohortError('CONFIG_INVALID', `identity file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  const seed = typeof parsed.identitySeed === 'string' ? Buffer.from(parsed.identitySeed, 'base64') : Buffer.alloc(0);
  const coordinatorKey = typeof parsed.coordinatorPublicKey === 'string' ? Buffer.from(parsed.coordinatorPublicKey, 'base64') : Buffer.alloc(0);
  if (parsed.version !== 1 || typeof parsed.clientId !== 'string' || seed.length !== 32 || coordinatorKey.length !== 32) {
    throw new CohortError('CONFIG_INVALID', `identity file ${file} is damaged (expected version 1 with clientId, a 32-byte identitySeed and coordinatorPublicKey)`);
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new CohortError('CONFIG_INVALID', `identity file ${file} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${file}`);
  }
  return {
    clientId: parsed.clientId,
    coordinator: parsed.coordinator ?? '',
    seed: new Uint8Array(seed),
    keys: signingKeyPairFromSeed(new Uint8Array(seed)),
    coordinatorPublicKey: new Uint8Array(coordinatorKey),
    enrolledAt: parsed.enrolledAt ?? '',
  };
}

/** Writes the identity atomically, owner-only. */
export function writeIdentity(file: string, identity: AgentIdentity): void {
  const content: IdentityFile = {
    version: 1,
    clientId: identity.clientId,
    coordinator: identity.coordinator,
    identitySeed: Buffer.from(identity.seed).toString('base64'),
    coordinatorPublicKey: Buffer.from(identity.coordinatorPublicKey).toString('base64'),
    enrolledAt: identity.enrolledAt,
  };
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.tmp-${process.pid}`;
  writeFileSync(temp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}
