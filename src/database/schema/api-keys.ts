import { sql } from 'drizzle-orm';
import { check, foreignKey, index, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { MEMBERSHIP_ROLES } from './memberships';
import { tenantIsolationPolicy } from './roles';
import { tenants } from './tenants';

export const apiKeys = pgTable(
  'api_keys',
  {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull().defaultRandom(),
    name: text('name').notNull(),
    role: text('role', { enum: MEMBERSHIP_ROLES }).notNull(),
    /** Non-secret, recognisable part shown in lists (e.g. "tk_3f9a2c1b"). */
    prefix: text('prefix').notNull(),
    /** SHA-256 of the secret; the secret itself is shown once and never stored. */
    secretHash: text('secret_hash').notNull(),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date', precision: 3 }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date', precision: 3 }),
  },
  (t) => [
    primaryKey({ name: 'api_keys_pkey', columns: [t.tenantId, t.id] }),
    uniqueIndex('api_keys_tenant_name_key').on(t.tenantId, t.name).where(sql`revoked_at is null`),
    index('api_keys_tenant_created_idx').on(t.tenantId, t.createdAt),
    foreignKey({ name: 'api_keys_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    check('api_keys_role_valid', sql`${t.role} in ('owner', 'admin', 'member', 'viewer')`),
    tenantIsolationPolicy('api_keys'),
  ],
).enableRLS();

export type ApiKeyRow = typeof apiKeys.$inferSelect;
