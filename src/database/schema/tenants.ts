import { sql } from 'drizzle-orm';
import { check, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { TENANT_STATUSES } from '../../tenancy/tenant';

export { TENANT_STATUSES, type TenantStatus } from '../../tenancy/tenant';

/** Platform table: one row per customer. Not tenant-scoped; reached only through SystemDb. */
export const tenants = pgTable(
  'tenants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    status: text('status', { enum: TENANT_STATUSES }).notNull().default('active'),
    plan: text('plan').notNull().default('free'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('tenants_slug_key').on(t.slug),
    check('tenants_slug_format', sql`${t.slug} ~ '^[a-z0-9]([a-z0-9-]{1,61})[a-z0-9]$'`),
    check('tenants_status_valid', sql`${t.status} in ('active', 'suspended')`),
  ],
);

export type TenantRow = typeof tenants.$inferSelect;
