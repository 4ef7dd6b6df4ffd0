import { sql } from 'drizzle-orm';
import { check, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import type { Feature, Limits } from '../../tenancy/entitlements';

/**
 * Platform table: the plans tenants are sold (features on/off and limits).
 * Not tenant-scoped (every tenant reads its own plan's row through the tenant
 * lookup); reached only through SystemDb. Seeded by migration with free, pro
 * and enterprise; the platform admin edits them with PUT /plans/:id.
 */
export const plans = pgTable(
  'plans',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    features: text('features').array().$type<Feature[]>().notNull().default(sql`'{}'::text[]`),
    /** Every limit by name; null is unlimited (LIMITS in tenancy/entitlements.ts). */
    limits: jsonb('limits').$type<Limits>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    check('plans_id_format', sql`${t.id} ~ '^[a-z0-9_-]{1,50}$'`),
    check('plans_limits_object', sql`jsonb_typeof(${t.limits}) = 'object'`),
  ],
);

export type PlanRow = typeof plans.$inferSelect;
