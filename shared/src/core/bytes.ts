/** Byte-string helpers shared by pure code and adapters. */

const encoder = new TextEncoder();

/** Concatenates byte strings and UTF-8 strings (domain-separated signing and hashing payloads). */
export function concatBytes(...parts: (Uint8Array | string)[]): Uint8Array {
  const encoded = parts.map((p) => (typeof p === 'string' ? encoder.encode(p) : p));
  const out = new Uint8Array(encoded.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of encoded) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
