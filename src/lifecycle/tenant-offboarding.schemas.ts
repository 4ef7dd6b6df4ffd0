import { z } from 'zod';
import { paginationQuery, pageOf } from '../common/http/cursor';
import { TENANT_DELETION_STATUSES, TENANT_DELETION_STEPS } from '../database/schema';

/**
 * DELETE /tenants/:idOrSlug?confirm=<slug>&reason=...: the slug must be typed out (confirm), so
 * a wrong id pasted into the path deletes nothing. In the query (a DELETE carries no body here).
 */
export const deleteTenantQuerySchema = z.strictObject({
  confirm: z.string().min(1).max(63).meta({ description: "The tenant's slug, typed out: required, must equal the tenant's slug" }),
  reason: z.string().trim().min(1).max(500).optional(),
  /**
   * Export the tenant's data (every row and file: README "Export and import") before deleting it; the archive is kept
   * at the platform-level key the report's exportKey names (GET /tenant-deletions/:id/export), outside the tenant's prefix.
   */
  export: z.enum(['true', 'false']).optional().transform((value) => value === 'true'),
});
export type DeleteTenantQuery = z.infer<typeof deleteTenantQuerySchema>;

export const listTenantDeletionsQuerySchema = z.strictObject(paginationQuery);

export const tenantDeletionParamsSchema = z.strictObject({ id: z.uuid() });

const stepView = z.object({
  name: z.enum(TENANT_DELETION_STEPS),
  attempt: z.number().int(),
  status: z.enum(['done', 'skipped', 'failed']),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  counts: z.record(z.string(), z.number()).optional(),
  note: z.string().optional(),
});

// Responses (GET /openapi.json); the service's view type is inferred from these.
export const tenantDeletionView = z
  .object({
    id: z.uuid(),
    tenantId: z.uuid(),
    tenantSlug: z.string(),
    database: z.string(),
    requestedBy: z.string(),
    reason: z.string().nullable(),
    /** Whether the tenant's data is exported before its rows are deleted, and where the archive is once written. */
    exportRequested: z.boolean(),
    exportKey: z.string().nullable(),
    status: z.enum(TENANT_DELETION_STATUSES),
    attempts: z.number().int(),
    /** The tenant's rows when the deletion first counted them, per table. */
    rowsBefore: z.record(z.string(), z.number()).nullable(),
    /** Everything deleted over every attempt: rows per table, cache keys, storage objects. */
    deleted: z.object({ rows: z.record(z.string(), z.number()), cacheKeys: z.number().int(), objects: z.number().int() }),
    steps: z.array(stepView),
    verification: z
      .object({ ok: z.boolean(), at: z.iso.datetime(), rows: z.record(z.string(), z.number()), cacheKeys: z.number().int(), objects: z.number().int() })
      .nullable(),
    error: z.string().nullable(),
    startedAt: z.iso.datetime(),
    finishedAt: z.iso.datetime().nullable(),
    /**
     * The run holding the report (README "Offboarding", the lease): `<host>:<pid>:<random>` and until when;
     * both null once finished. A running report whose lease expired is resumed by a worker instance.
     */
    leaseOwner: z.string().nullable(),
    leaseExpiresAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'TenantDeletion' });
export type TenantDeletionView = z.infer<typeof tenantDeletionView>;
export const tenantDeletionPage = pageOf(tenantDeletionView, 'TenantDeletionPage');
/** The 202 of DELETE /tenants/:idOrSlug: the report as the run starts, and where to follow it (also the Location header). */
export const tenantDeletionAccepted = z
  .object({
    id: z.uuid(),
    status: z.enum(TENANT_DELETION_STATUSES),
    location: z.string().meta({ description: 'GET this until status is completed or failed: /tenant-deletions/:id' }),
    report: tenantDeletionView,
  })
  .meta({ id: 'TenantDeletionAccepted' });
