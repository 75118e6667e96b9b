// Lint: typescript-eslint recommended, plus the rule that keeps shared/src/core pure (no I/O, clock or ambient randomness).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'shared/src/gen/**', 'coordinator/drizzle/**', 'bench/results/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', performance: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
    },
  },
  {
    files: ['shared/src/core/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['node:*', 'fs', 'path', 'os', 'crypto', 'worker_threads', 'child_process', 'net', 'http', 'https'], message: 'shared/src/core is pure: no Node I/O. Put adapters in shared/src/crypto or the component that owns the I/O.' },
        { group: ['@grpc/*', 'drizzle-orm', 'drizzle-orm/*', 'better-sqlite3', '@tensorflow/*', 'libsodium*'], message: 'shared/src/core is pure: no framework imports.' },
        { group: ['../../crypto/*', '../crypto/*', '../../gen/*', '../gen/*'], message: 'shared/src/core must not depend on adapters or generated code.' },
      ] }],
      'no-restricted-properties': ['error',
        { object: 'Math', property: 'random', message: 'Take an Rng parameter (shared/src/core/rng).' },
        { object: 'Date', property: 'now', message: 'Take the time as a parameter.' },
      ],
      'no-restricted-globals': ['error', { name: 'performance', message: 'Take the time as a parameter.' }, { name: 'process', message: 'No process access in core.' }],
    },
  },
);
