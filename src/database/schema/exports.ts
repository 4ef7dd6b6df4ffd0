import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, jsonb, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenantTable } from './tenant-table';

export const EXPORT_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type ExportStatus = (typeof EXPORT_STATUSES)[number];

/** Per table of an export: rows written and their checksum (the manifest's numbers, for the tenant to see). */
export type ExportTableSummary = Record<string, { count: number; checksum: string }>;

/**
 * A tenant's data exports (src/exports, README "Export and import"): one row per export, written
 * when it is requested and updated by its job (`tenants.export`) in the tenant's context. The
 * archive itself is an object under the tenant's storage prefix; this row says where, how big,
 * its sha256, and what it holds. An export stays downloadable until the tenant deletes it or is
 * deleted (its prefix goes with it).
 */
export const tenantExports = tenantTable(
  'exports',
  {
    status: text('status', { enum: EXPORT_STATUSES }).notNull().default('queued'),
    /** The background job that writes it (GET /jobs/:id shows its progress). */
    jobId: uuid('job_id'),
    /** Rows per tenant table and their checksums, once written. */
    tables: jsonb('tables').$type<ExportTableSummary>(),
    fileCount: integer('file_count'),
    /** Server-built object key (tenants/<tenantId>/exports/<id>.tar.gz), set once the archive is stored. */
    archiveKey: text('archive_key'),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    checksumSha256: text('checksum_sha256'),
    /** Why the last attempt failed: a stable code and a message safe to show the tenant. */
    errorCode: text('error_code'),
    error: text('error'),
    /** Who asked: a principal id (user or API key) or `admin-key:<fingerprint>` (platform admin). */
    requestedBy: text('requested_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date', precision: 3 }),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date', precision: 3 }),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    index('exports_tenant_created_idx').on(t.tenantId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    check('exports_status_valid', sql`${t.status} in ('queued', 'running', 'succeeded', 'failed')`),
    check('exports_archive_when_succeeded', sql`${t.status} <> 'succeeded' or (${t.archiveKey} is not null and ${t.sizeBytes} is not null and ${t.checksumSha256} is not null)`),
  ],
);

export type ExportRow = typeof tenantExports.$inferSelect;
