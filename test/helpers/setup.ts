// Per-worker test setup: libsodium is initialised once before any test runs.
import { beforeAll } from 'vitest';
import { cryptoReady } from '../../shared/src/crypto/sodium.js';

beforeAll(async () => {
  await cryptoReady();
});
