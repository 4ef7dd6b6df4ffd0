import { index, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenantTable } from './tenant-table';
import { documents } from './documents';

export const comments = tenantTable(
  'comments',
  {
    documentId: uuid('document_id').notNull(),
    body: text('body').notNull(),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    index('comments_tenant_document_created_idx').on(t.tenantId, t.documentId, t.createdAt, t.id),
  ],
  // Composite: a row can only point at a document of its own tenant.
  { parent: { table: documents, column: (t) => t.documentId, constraintName: 'comments_document_fk' } },
);

export type CommentRow = typeof comments.$inferSelect;
