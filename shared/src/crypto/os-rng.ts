/** Rng backed by the OS CSPRNG (node:crypto), buffered to amortise the syscall. */
import { randomBytes } from 'node:crypto';
import type { Rng } from '../core/rng/rng.js';

export function createOsRng(): Rng {
  let buffer = new Uint32Array(0);
  let index = 0;
  const nextUint32 = (): number => {
    if (index >= buffer.length) {
      const bytes = randomBytes(4096);
      buffer = new Uint32Array(bytes.buffer, bytes.byteOffset, 1024);
      index = 0;
    }
    return buffer[index++]!;
  };
  return { nextUint32, nextFloat: () => (nextUint32() * 2 ** 21 + (nextUint32() >>> 11)) / 2 ** 53 };
}
