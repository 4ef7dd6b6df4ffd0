import { sql } from 'drizzle-orm';
import { check, index, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tenantTable } from './tenant-table';
import { MEMBERSHIP_ROLES } from './memberships';

export const apiKeys = tenantTable(
  'api_keys',
  {
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
    uniqueIndex('api_keys_tenant_name_key').on(t.tenantId, t.name).where(sql`revoked_at is null`),
    index('api_keys_tenant_created_idx').on(t.tenantId, t.createdAt),
    check('api_keys_role_valid', sql`${t.role} in ('owner', 'admin', 'member', 'viewer')`),
  ],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
