import { z } from 'zod';
import { emailField, passwordField, personNameField, userProfileView } from '../users/users.schemas';
import { MEMBERSHIP_ROLES, TENANT_STATUSES } from '../database/schema';
import { MAX_PASSWORD_LENGTH } from '../users/password-hasher';

/** Any length up to the cap at sign-in: the length policy applies when a password is set, not when one is tried. */
export const loginSchema = z.strictObject({
  email: emailField,
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});
export type LoginInput = z.infer<typeof loginSchema>;

export const acceptInvitationSchema = z.strictObject({
  token: z.string().min(1).max(200),
  /** Sets the password of a new account; an existing account must give its current one. */
  password: passwordField,
  name: personNameField.optional(),
});
export type AcceptInvitationInput = z.infer<typeof acceptInvitationSchema>;

export const switchTenantSchema = z.strictObject({
  /** Id (UUID) or slug of another tenant the user belongs to. */
  tenant: z.string().trim().min(1).max(100),
});
export type SwitchTenantInput = z.infer<typeof switchTenantSchema>;

// Responses (GET /openapi.json).
const tenantSummary = z.object({ id: z.uuid(), slug: z.string(), name: z.string() }).meta({ id: 'TenantSummary' });
export const sessionView = z
  .object({
    accessToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresIn: z.int().meta({ description: 'Seconds' }),
    expiresAt: z.iso.datetime(),
    user: userProfileView,
    tenant: tenantSummary,
    role: z.enum(MEMBERSHIP_ROLES),
  })
  .meta({ id: 'Session' });
export const meView = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('user'),
      user: userProfileView,
      tenant: tenantSummary,
      role: z.enum(MEMBERSHIP_ROLES),
      tenants: z.array(tenantSummary.extend({ status: z.enum(TENANT_STATUSES), role: z.enum(MEMBERSHIP_ROLES) })),
    }),
    z.object({
      type: z.literal('api-key'),
      apiKey: z.object({ id: z.uuid(), name: z.string() }),
      tenant: tenantSummary,
      role: z.enum(MEMBERSHIP_ROLES),
      tenants: z.array(z.never()).meta({ description: 'Always empty for an API key' }),
    }),
  ])
  .meta({ id: 'Me' });
