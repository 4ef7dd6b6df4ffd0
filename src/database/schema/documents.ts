import { sql } from 'drizzle-orm';
import { index, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenantTable } from './tenant-table';

export const documents = tenantTable(
  'documents',
  {
    title: text('title').notNull(),
    body: text('body').notNull().default(''),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    /** The principal (user or API key) that created the row; no FK so history survives removal. */
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    // Serves the cursor-paginated list (newest first) without a sort. NULLS FIRST because that is
    // what ORDER BY ... DESC means; drizzle-kit would otherwise write DESC NULLS LAST and the
    // planner would sort the tenant's rows instead of reading the index in order.
    index('documents_tenant_created_idx').on(t.tenantId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
  ],
);

export type DocumentRow = typeof documents.$inferSelect;
