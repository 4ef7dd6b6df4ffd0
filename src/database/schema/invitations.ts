import { sql } from 'drizzle-orm';
import { check, index, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tenantTable } from './tenant-table';
import { MEMBERSHIP_ROLES } from './memberships';

/**
 * Tenant table: an offer to join one tenant with a role, for an email that may
 * not have an account yet (a new tenant's first owner, or a member invited by an
 * admin). The token is shown once; only its SHA-256 is stored.
 */
export const invitations = tenantTable(
  'invitations',
  {
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
    // Serves the cursor-paginated list of pending invitations.
    index('invitations_tenant_created_idx').on(t.tenantId, t.createdAt, t.id),
    // At most one pending invitation per email and tenant: two concurrent invites cannot both win.
    uniqueIndex('invitations_tenant_pending_email_key').on(t.tenantId, t.email).where(sql`accepted_at is null`),
    check('invitations_role_valid', sql`${t.role} in ('owner', 'admin', 'member', 'viewer')`),
  ],
);

export type InvitationRow = typeof invitations.$inferSelect;
