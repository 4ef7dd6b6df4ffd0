import { z } from 'zod';
import { paginationQuery } from '../common/http/cursor';
import { uuidParam } from '../common/http/zod-validation.pipe';
import { MEMBERSHIP_ROLES } from '../database/schema/memberships';
import { emailField } from '../users/users.schemas';

export const roleField = z.enum(MEMBERSHIP_ROLES);

/**
 * POST /members: always creates an invitation. Strict: `password` or `name`
 * (anything that would set an account's attributes) is a 400, so an admin can
 * never choose the credentials of a global account.
 */
export const inviteMemberSchema = z.strictObject({
  email: emailField,
  role: roleField,
});
export type InviteMemberInput = z.infer<typeof inviteMemberSchema>;

export const changeRoleSchema = z.strictObject({ role: roleField });
export type ChangeRoleInput = z.infer<typeof changeRoleSchema>;

export const memberParamsSchema = z.strictObject({ userId: uuidParam });
export const invitationParamsSchema = z.strictObject({ id: uuidParam });
export const listQuerySchema = z.strictObject(paginationQuery);
export type ListQuery = z.infer<typeof listQuerySchema>;
