import { sql } from 'drizzle-orm';
import { check, foreignKey, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { entitlementsOf, type PlanOverrides } from '../../tenancy/entitlements';
import type { Tenant } from '../../tenancy/tenant';
import { PlanRow, plans } from './plans';
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
    /** The platform admin's per-tenant exceptions to the plan (features on/off, limits). */
    planOverrides: jsonb('plan_overrides').$type<PlanOverrides>().notNull().default({}),
    /**
     * The tenant directory: the database holding this tenant's rows, "shared" (this one) or a name
     * registered in TENANT_DATABASES. PostgreSQL refuses a tenant on any other database
     * (tenancy_set(), drizzle/0015), so a stale routing decision fails instead of reading or writing there.
     */
    database: text('database').notNull().default('shared'),
    /**
     * 'paused' while a move copies this tenant's rows away from this database (src/lifecycle,
     * README "Moving a tenant"): tenancy_set() then makes the tenant's transactions READ ONLY here
     * (writes fail with 25006, answered 503 TENANT_MOVING), reads go on. NULL otherwise. Read on
     * the database the statement runs on: the shared row, or a dedicated database's anchor.
     */
    moveState: text('move_state', { enum: ['paused'] }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('tenants_slug_key').on(t.slug),
    // Serves the FK check when a plan is deleted and finding a plan's tenants after it changed.
    index('tenants_plan_idx').on(t.plan, t.id),
    check('tenants_slug_format', sql`${t.slug} ~ '^[a-z0-9]([a-z0-9-]{1,61})[a-z0-9]$'`),
    check('tenants_status_valid', sql`${t.status} in ('active', 'suspended')`),
    // A plan in use cannot be deleted; renaming one is not offered (its id is what clients see).
    foreignKey({ name: 'tenants_plan_fk', columns: [t.plan], foreignColumns: [plans.id] }),
    check('tenants_database_name', sql`${t.database} ~ '^[a-z][a-z0-9_-]{0,62}$'`),
    check('tenants_move_state_valid', sql`${t.moveState} is null or ${t.moveState} = 'paused'`),
    check('tenants_plan_overrides_object', sql`jsonb_typeof(${t.planOverrides}) = 'object'`),
  ],
);

export type TenantRow = typeof tenants.$inferSelect;

/** What every layer knows of a tenant (its row with its plan's entitlements), built in one place. */
export function tenantFromRow(row: TenantRow, plan: PlanRow): Tenant {
  return { id: row.id, slug: row.slug, name: row.name, status: row.status, plan: row.plan, entitlements: entitlementsOf(plan, row.planOverrides), database: row.database };
}
