import { foreignKey, index, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { documents } from './documents';
import { tenantIsolationPolicy } from './roles';

export const comments = pgTable(
  'comments',
  {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull().defaultRandom(),
    documentId: uuid('document_id').notNull(),
    body: text('body').notNull(),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'comments_pkey', columns: [t.tenantId, t.id] }),
    // Composite: a comment can only point at a document of its own tenant.
    foreignKey({
      name: 'comments_document_fk',
      columns: [t.tenantId, t.documentId],
      foreignColumns: [documents.tenantId, documents.id],
    }).onDelete('cascade'),
    index('comments_tenant_document_created_idx').on(t.tenantId, t.documentId, t.createdAt, t.id),
    tenantIsolationPolicy('comments'),
  ],
).enableRLS();

export type CommentRow = typeof comments.$inferSelect;
