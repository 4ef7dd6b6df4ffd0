import { defineConfig } from 'drizzle-kit';

// Generation needs no database. `npm run db:migrate` applies migrations with the
// owner role (DATABASE_MIGRATION_URL); the API itself never runs DDL.
// DRIZZLE_MIGRATIONS_OUT is for `npm run db:verify` only: it generates into a
// scratch copy of drizzle/ to see whether the schema has changes without a migration.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/database/schema/index.ts',
  out: process.env.DRIZZLE_MIGRATIONS_OUT ?? './drizzle',
  entities: { roles: { provider: '' } },
  dbCredentials: { url: process.env.DATABASE_MIGRATION_URL ?? 'postgres://app_owner@127.0.0.1:5432/app' },
  strict: true,
  verbose: true,
});
