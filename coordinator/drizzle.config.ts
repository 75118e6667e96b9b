// drizzle-kit configuration for the coordinator's SQLite store. Paths are relative to the repository root, where
// `npm run db:generate` runs. Generated migrations are committed; openStore() applies them at start-up.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './coordinator/src/store/schema.ts',
  out: './coordinator/drizzle',
  strict: true,
  verbose: true,
});
