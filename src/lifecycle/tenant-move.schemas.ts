import { z } from 'zod';
import { paginationQuery, pageOf } from '../common/http/cursor';
import { TENANT_MOVE_STATUSES, TENANT_MOVE_STEPS } from '../database/schema';

/** POST /tenants/:idOrSlug/move: where to ("shared" or a TENANT_DATABASES name; an unknown one is 404). */
export const moveTenantBodySchema = z.strictObject({
  to: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,62}$/)
    .meta({ description: '"shared" or the name of a dedicated database (TENANT_DATABASES)' }),
});
export type MoveTenantBody = z.infer<typeof moveTenantBodySchema>;

export const listTenantMovesQuerySchema = z.strictObject(paginationQuery);
export const tenantMoveParamsSchema = z.strictObject({ id: z.uuid() });

const tableCheck = z.object({ rows: z.number().int(), checksum: z.string() });

// Responses (GET /openapi.json); the service's view type is inferred from these.
export const tenantMoveView = z
  .object({
    id: z.uuid(),
    tenantId: z.uuid(),
    tenantSlug: z.string(),
    from: z.string(),
    to: z.string(),
    status: z.enum(TENANT_MOVE_STATUSES),
    /** The last step done. */
    step: z.enum(TENANT_MOVE_STEPS),
    attempts: z.number().int(),
    /** Rows copied per tenant table. */
    copied: z.record(z.string(), z.number()).nullable(),
    verification: z
      .object({
        ok: z.boolean(),
        at: z.iso.datetime(),
        source: z.record(z.string(), tableCheck),
        target: z.record(z.string(), tableCheck),
        mismatched: z.array(z.string()),
      })
      .nullable(),
    /** Rows deleted per table on the source after the switch. */
    cleaned: z.record(z.string(), z.number()).nullable(),
    error: z.string().nullable(),
    requestedBy: z.string(),
    /** Who asked to abort it; set while still running: the run stops at its next step boundary, then status aborted. */
    abortedBy: z.string().nullable(),
    jobId: z.uuid().nullable(),
    startedAt: z.iso.datetime(),
    /** When the tenant's writes were paused and resumed (null: not yet). */
    pausedAt: z.iso.datetime().nullable(),
    resumedAt: z.iso.datetime().nullable(),
    finishedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'TenantMove' });
export type TenantMoveView = z.infer<typeof tenantMoveView>;
export const tenantMovePage = pageOf(tenantMoveView, 'TenantMovePage');
