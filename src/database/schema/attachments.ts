import { sql } from 'drizzle-orm';
import { bigint, check, foreignKey, index, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { documents } from './documents';
import { tenantIsolationPolicy } from './roles';

export const ATTACHMENT_STATUSES = ['pending', 'ready'] as const;
export type AttachmentStatus = (typeof ATTACHMENT_STATUSES)[number];

export const attachments = pgTable(
  'attachments',
  {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull().defaultRandom(),
    documentId: uuid('document_id').notNull(),
    /** Server-built object key (tenants/<tenantId>/...); never derived from user input. */
    storageKey: text('storage_key').notNull(),
    /** The uploader's file name, kept only as metadata and for Content-Disposition. */
    filename: text('filename').notNull(),
    contentType: text('content_type').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    checksumSha256: text('checksum_sha256'),
    status: text('status', { enum: ATTACHMENT_STATUSES }).notNull().default('pending'),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'attachments_pkey', columns: [t.tenantId, t.id] }),
    uniqueIndex('attachments_tenant_storage_key').on(t.tenantId, t.storageKey),
    index('attachments_tenant_document_created_idx').on(t.tenantId, t.documentId, t.createdAt, t.id),
    foreignKey({
      name: 'attachments_document_fk',
      columns: [t.tenantId, t.documentId],
      foreignColumns: [documents.tenantId, documents.id],
    }).onDelete('cascade'),
    check('attachments_status_valid', sql`${t.status} in ('pending', 'ready')`),
    tenantIsolationPolicy('attachments'),
  ],
).enableRLS();

export type AttachmentRow = typeof attachments.$inferSelect;
