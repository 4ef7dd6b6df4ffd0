import { z } from 'zod';
import { DATABASE_NAME_PATTERN } from '../config/env.schema';
import { pageOf, paginationQuery } from '../common/http/cursor';
import { createdInvitationView, firstOwnerResultView } from '../members/members.schemas';
import { UUID_PATTERN } from '../common/uuid';
import { RESERVED_SLUGS, SLUG_PATTERN } from '../tenancy/tenant-identifier';
import { TENANT_STATUSES } from '../database/schema';
import { emailField, passwordField, personNameField } from '../users/users.schemas';
import { planOverridesSchema } from '../plans/plans.schemas';

const name = z.string().trim().min(1).max(200);
const plan = z.string().trim().min(1).max(50).regex(/^[a-z0-9_-]+$/, 'lowercase letters, digits, "-" and "_" only');

export const createTenantSchema = z.strictObject({
  slug: z
    .string()
    .regex(SLUG_PATTERN, '3-63 characters: lowercase letters, digits and "-", not starting or ending with "-"')
    .refine((slug) => !RESERVED_SLUGS.has(slug), 'this name is reserved')
    // x-tenant-id reads a UUID as an id, so a UUID-shaped slug could never be named by slug.
    .refine((slug) => !UUID_PATTERN.test(slug), 'must not look like a tenant id (UUID)'),
  name,
  plan: plan.optional(),
  /**
   * The first owner (optional). With a password and an email that has no account: the account is
   * created as owner. Otherwise (no password, or the email already has an account, which is never
   * linked without its holder's consent): an owner invitation, token returned once.
   */
  owner: z.strictObject({ email: emailField, password: passwordField.optional(), name: personNameField.optional() }).optional(),
  /**
   * Placement (the tenant directory): "shared" (default) or the name of a dedicated database registered in
   * TENANT_DATABASES. A dedicated database is created, migrated and given the tenant's anchor row first.
   */
  database: z.string().regex(DATABASE_NAME_PATTERN, 'a database name: lowercase letters, digits, "-" and "_", starting with a letter').optional(),
});
export type CreateTenantInput = z.infer<typeof createTenantSchema>;

export const updateTenantSchema = z
  .strictObject({ name: name.optional(), plan: plan.optional(), status: z.enum(TENANT_STATUSES).optional() })
  .refine((body) => Object.keys(body).length > 0, 'at least one of name, plan, status is required');
export type UpdateTenantInput = z.infer<typeof updateTenantSchema>;

export const listTenantsQuerySchema = z.strictObject(paginationQuery);

export const inviteOwnerSchema = z.strictObject({ email: emailField });
export type InviteOwnerInput = z.infer<typeof inviteOwnerSchema>;

// Responses (GET /openapi.json); the service's view type is inferred from these.
export const tenantView = z
  .object({ id: z.uuid(), slug: z.string(), name: z.string(), status: z.enum(TENANT_STATUSES), plan: z.string(), planOverrides: planOverridesSchema, database: z.string(), createdAt: z.iso.datetime(), updatedAt: z.iso.datetime() })
  .meta({ id: 'Tenant' });
export type TenantView = z.infer<typeof tenantView>;
export const tenantPage = pageOf(tenantView, 'TenantPage');
export const createdTenantView = tenantView.extend({ owner: firstOwnerResultView.optional() }).meta({ id: 'CreatedTenant' });
export const ownerInvitationResultView = z.object({ invitation: createdInvitationView }).meta({ id: 'OwnerInvitationResult' });
