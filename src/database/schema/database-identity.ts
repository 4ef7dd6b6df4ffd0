import { sql } from 'drizzle-orm';
import { boolean, check, pgTable, text } from 'drizzle-orm/pg-core';

/**
 * Platform table: which database of the tenant directory this one is. Empty on the shared
 * database; one row (the name registered in TENANT_DATABASES) on a dedicated one, written when it
 * is provisioned (src/database/tenant-databases.ts). tenancy_set() (drizzle/0015) compares it with
 * tenants.database to refuse a tenant placed elsewhere. A table, not a database-level setting:
 * ALTER DATABASE ... SET of a custom parameter needs a superuser, which an owner role is not.
 */
export const databaseIdentity = pgTable(
  'database_identity',
  {
    /** Always true: the primary key allows one row. */
    single: boolean('single').primaryKey().default(true),
    name: text('name').notNull(),
  },
  (t) => [check('database_identity_single', sql`${t.single}`), check('database_identity_name', sql`${t.name} ~ '^[a-z][a-z0-9_-]{0,62}$' and ${t.name} <> 'shared'`)],
);
