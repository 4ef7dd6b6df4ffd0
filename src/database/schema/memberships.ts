import { sql } from 'drizzle-orm';
import { check, foreignKey, index, pgPolicy, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tenantTable } from './tenant-table';
import { appUser } from './roles';
import { users } from './users';

export const MEMBERSHIP_ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type MembershipRole = (typeof MEMBERSHIP_ROLES)[number];

export const memberships = tenantTable(
  'memberships',
  {
    userId: uuid('user_id').notNull(),
    role: text('role', { enum: MEMBERSHIP_ROLES }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('memberships_tenant_user_key').on(t.tenantId, t.userId),
    index('memberships_user_idx').on(t.userId),
    foreignKey({ name: 'memberships_user_fk', columns: [t.userId], foreignColumns: [users.id] }).onDelete('cascade'),
    check('memberships_role_valid', sql`${t.role} in ('owner', 'admin', 'member', 'viewer')`),
    // The one cross-tenant read: a signed-in user may list their own memberships
    // (to pick a tenant). Read-only, and only when app.user_id is set for the transaction.
    pgPolicy('memberships_self_read', {
      as: 'permissive',
      for: 'select',
      to: appUser,
      using: sql`user_id = (select nullif(current_setting('app.user_id', true), '')::uuid)`,
    }),
  ],
);

export type MembershipRow = typeof memberships.$inferSelect;
