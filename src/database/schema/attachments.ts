import { sql } from 'drizzle-orm';
import { bigint, check, index, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tenantTable } from './tenant-table';
import { documents } from './documents';

export const ATTACHMENT_STATUSES = ['pending', 'ready'] as const;
export type AttachmentStatus = (typeof ATTACHMENT_STATUSES)[number];

export const attachments = tenantTable(
  'attachments',
  {
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
    uniqueIndex('attachments_tenant_storage_key').on(t.tenantId, t.storageKey),
    index('attachments_tenant_document_created_idx').on(t.tenantId, t.documentId, t.createdAt, t.id),
    check('attachments_status_valid', sql`${t.status} in ('pending', 'ready')`),
  ],
  // Composite: a row can only point at a document of its own tenant.
  { parent: { table: documents, column: (t) => t.documentId, constraintName: 'attachments_document_fk' } },
);

export type AttachmentRow = typeof attachments.$inferSelect;
