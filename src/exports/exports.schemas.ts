import { z } from 'zod';
import { pageOf, paginationQuery } from '../common/http/cursor';
import { uuidParam } from '../common/http/zod-validation.pipe';
import { EXPORT_STATUSES } from '../database/schema/exports';

export const listExportsQuerySchema = z.strictObject(paginationQuery);
export type ListExportsQuery = z.infer<typeof listExportsQuerySchema>;
export const exportParamsSchema = z.strictObject({ id: uuidParam });

const slug = z.string().min(3).max(63);

/**
 * POST /tenants/import: the archive is the raw body (application/gzip or application/octet-stream),
 * or, with an empty body, an export already in storage (fromTenant + exportId). The target is a new
 * tenant (slug + name, optionally plan and database) or an existing empty one (into).
 */
export const importTenantQuerySchema = z
  .strictObject({
    slug: slug.optional().meta({ description: 'A new tenant: its slug (same rules as POST /tenants)' }),
    name: z.string().trim().min(1).max(200).optional().meta({ description: "A new tenant: its name (default: the exported tenant's name)" }),
    plan: z.string().min(1).max(63).optional().meta({ description: "A new tenant: its plan (default: the exported tenant's plan)" }),
    database: z.string().min(1).max(63).optional().meta({ description: 'A new tenant: its placement (default shared)' }),
    into: slug.optional().meta({ description: 'An existing tenant (id or slug) with no rows and no files' }),
    fromTenant: slug.optional().meta({ description: 'Import an export already in storage: the tenant (id or slug) it belongs to (with exportId, and no body)' }),
    exportId: z.uuid().optional(),
  })
  .refine((query) => (query.slug === undefined) !== (query.into === undefined), { message: 'exactly one of slug (a new tenant) or into (an existing empty tenant)', path: ['slug'] })
  .refine((query) => query.into === undefined || (query.name === undefined && query.plan === undefined && query.database === undefined), {
    message: 'name, plan and database describe a new tenant: not with into',
    path: ['into'],
  })
  .refine((query) => (query.fromTenant === undefined) === (query.exportId === undefined), { message: 'fromTenant and exportId go together', path: ['exportId'] });
export type ImportTenantQuery = z.infer<typeof importTenantQuerySchema>;

// Responses (GET /openapi.json); ExportView is inferred from it.
export const exportView = z
  .object({
    id: z.uuid(),
    status: z.enum(EXPORT_STATUSES),
    jobId: z.uuid().nullable().meta({ description: 'The background job writing it (GET /jobs/:id: progress)' }),
    tables: z.record(z.string(), z.object({ count: z.number().int(), checksum: z.string() })).nullable().meta({ description: 'Rows per tenant table and their checksum, once written' }),
    fileCount: z.number().int().nullable(),
    sizeBytes: z.number().int().nullable(),
    checksumSha256: z.string().nullable().meta({ description: "The archive's sha256 (also sent as x-checksum-sha256 with the download)" }),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    requestedBy: z.string(),
    createdAt: z.iso.datetime(),
    startedAt: z.iso.datetime().nullable(),
    finishedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Export' });
export type ExportView = z.infer<typeof exportView>;
export const exportPage = pageOf(exportView, 'ExportPage');

export const platformExportView = exportView.extend({ tenantId: z.uuid(), archiveKey: z.string().nullable().meta({ description: 'Where the archive is in storage (platform admins only)' }) }).meta({ id: 'PlatformExport' });
export type PlatformExportView = z.infer<typeof platformExportView>;

export const importResultView = z
  .object({
    tenant: z.object({ id: z.uuid(), slug: z.string(), name: z.string(), created: z.boolean().meta({ description: 'true: a new tenant; false: an existing empty one' }) }),
    source: z.object({ tenantId: z.uuid(), slug: z.string(), exportedAt: z.iso.datetime() }),
    rows: z.record(z.string(), z.number().int()),
    files: z.number().int(),
  })
  .meta({ id: 'TenantImport' });
export type ImportResultView = z.infer<typeof importResultView>;
