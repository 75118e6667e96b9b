/**
 * The audit log's hash chain: each entry's hash covers the previous entry's hash and the entry's own canonical JSON,
 * so rewriting, removing or reordering any entry breaks every link after it.
 */
import { sha256Hex } from '../../../shared/src/crypto/hash.js';
import type { AuditEntry } from './types.js';

/** prevHash of the first entry: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers and strings as JSON.stringify
 * writes them (which is what RFC 8785 prescribes for finite numbers). Keys whose value is undefined are left out,
 * as JSON.stringify does, so a value and its parsed-back copy serialise identically.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item: unknown) => canonicalJson(item ?? null)).join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: cannot serialise a ${typeof value}`);
}

/** SHA-256 hex over prevHash followed by the canonical JSON of (seq, at, actor, action, subject, details). */
export function auditEntryHash(entry: Omit<AuditEntry, 'hash'>): string {
  const body = canonicalJson({
    seq: entry.seq,
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    subject: entry.subject,
    details: entry.details,
  });
  return sha256Hex(entry.prevHash + body);
}
