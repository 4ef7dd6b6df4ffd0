import { z } from 'zod';
import { emailField, passwordField, personNameField } from '../users/users.schemas';
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
