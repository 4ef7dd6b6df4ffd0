import { z } from 'zod';
import { paginationQuery } from '../common/http/cursor';
import { uuidParam } from '../common/http/zod-validation.pipe';
import { MEMBERSHIP_ROLES } from '../database/schema/memberships';

export const createApiKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  role: z.enum(MEMBERSHIP_ROLES),
});
export type CreateApiKeyInput = z.infer<typeof createApiKeySchema>;

export const apiKeyParamsSchema = z.strictObject({ id: uuidParam });
export const listApiKeysQuerySchema = z.strictObject(paginationQuery);
export type ListApiKeysQuery = z.infer<typeof listApiKeysQuerySchema>;
