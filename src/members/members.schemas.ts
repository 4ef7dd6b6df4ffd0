import { z } from 'zod';
import { pageOf, paginationQuery } from '../common/http/cursor';
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

// Responses (GET /openapi.json); the services' view types are inferred from these.
export const memberView = z
  .object({ userId: z.uuid(), email: z.string(), name: z.string(), role: roleField, joinedAt: z.iso.datetime() })
  .meta({ id: 'Member' });
export type MemberView = z.infer<typeof memberView>;
export const memberPage = pageOf(memberView, 'MemberPage');
export const invitationView = z
  .object({ id: z.uuid(), email: z.string(), role: roleField, createdAt: z.iso.datetime(), expiresAt: z.iso.datetime() })
  .meta({ id: 'Invitation' });
export type InvitationView = z.infer<typeof invitationView>;
export const invitationPage = pageOf(invitationView, 'InvitationPage');
export const createdInvitationView = invitationView
  .extend({ token: z.string().meta({ description: 'For the invitee (POST /auth/accept-invitation); shown in this response only.' }) })
  .meta({ id: 'CreatedInvitation' });
export type CreatedInvitation = z.infer<typeof createdInvitationView>;
export const inviteMemberResultView = z.object({ invitation: createdInvitationView }).meta({ id: 'InviteMemberResult' });
/** Exactly one of the two is set. */
export const firstOwnerResultView = z
  .object({ member: memberView.nullable(), invitation: createdInvitationView.nullable() })
  .meta({ id: 'FirstOwnerResult' });
