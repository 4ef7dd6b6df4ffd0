import { index, text, timestamp } from 'drizzle-orm/pg-core';
import { tenantTable } from '../../../src/database/schema/tenant-table';

/**
 * Recipe step 1 (README "Add a tenant-scoped feature"): the table, declared once.
 * In the product this file would be src/database/schema/notes.ts, exported from
 * the schema index; here it stays in the test so the product schema is untouched.
 */
export const recipeNotes = tenantTable(
  'recipe_notes',
  {
    title: text('title').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [index('recipe_notes_tenant_created_idx').on(t.tenantId, t.createdAt, t.id)],
);
