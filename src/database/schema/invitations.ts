import { sql } from 'drizzle-orm';
import { check, foreignKey, index, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { MEMBERSHIP_ROLES } from './memberships';
import { tenantIsolationPolicy } from './roles';
import { tenants } from './tenants';

/**
 * Tenant table: an offer to join one tenant with a role, for an email that may
 * not have an account yet (a new tenant's first owner, or a member invited by an
 * admin). The token is shown once; only its SHA-256 is stored.
 */
export const invitations = pgTable(
  'invitations',
  {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull().defaultRandom(),
    /** Stored lower-case, like users.email. */
    email: text('email').notNull(),
    role: text('role', { enum: MEMBERSHIP_ROLES }).notNull(),
    tokenHash: text('token_hash').notNull(),
    /** The principal (user or API key) that invited; null for a tenant's first owner (platform admin). */
    invitedBy: uuid('invited_by'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
    acceptedAt: timestamp('accepted_at', { withTimezone: true, mode: 'date', precision: 3 }),
    acceptedBy: uuid('accepted_by'),
  },
  (t) => [
    primaryKey({ name: 'invitations_pkey', columns: [t.tenantId, t.id] }),
    // Serves the cursor-paginated list of pending invitations.
    index('invitations_tenant_created_idx').on(t.tenantId, t.createdAt, t.id),
    // At most one pending invitation per email and tenant: two concurrent invites cannot both win.
    uniqueIndex('invitations_tenant_pending_email_key').on(t.tenantId, t.email).where(sql`accepted_at is null`),
    foreignKey({ name: 'invitations_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    check('invitations_role_valid', sql`${t.role} in ('owner', 'admin', 'member', 'viewer')`),
    tenantIsolationPolicy('invitations'),
  ],
).enableRLS();

export type InvitationRow = typeof invitations.$inferSelect;
