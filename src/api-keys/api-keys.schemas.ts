import { z } from 'zod';
import { pageOf, paginationQuery } from '../common/http/cursor';
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

// Responses (GET /openapi.json); the service's view types are inferred from these.
export const apiKeyView = z
  .object({
    id: z.uuid(),
    name: z.string(),
    role: z.enum(MEMBERSHIP_ROLES),
    /** `tk_` + 8 hex of the id: recognisable, never the secret. */
    prefix: z.string(),
    createdAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime().nullable(),
    revokedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'ApiKey' });
export type ApiKeyView = z.infer<typeof apiKeyView>;
export const createdApiKeyView = apiKeyView
  .extend({ key: z.string().meta({ description: 'The whole key (`tk_<key id>_<tenant id>_<secret>`), shown in this response only.' }) })
  .meta({ id: 'CreatedApiKey' });
export type CreatedApiKey = z.infer<typeof createdApiKeyView>;
export const apiKeyPage = pageOf(apiKeyView, 'ApiKeyPage');
