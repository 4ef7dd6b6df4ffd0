import { sql } from 'drizzle-orm';
import { check, real, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tenantTable } from './tenant-table';
import { documents } from './documents';

/** The most dimensions an embedding may have: pgvector's HNSW index limit for `vector` (2,000). */
export const MAX_EMBEDDING_DIMENSION = 2000;

/**
 * One client-supplied embedding per document (semantic search, src/search): keyed (tenant_id, id) like
 * every tenant table, with the document named by the composite foreign key (tenant_id, document_id)
 * -> documents (so it can only be the same tenant's, and deleting the document deletes its
 * embedding) and "one per document" held by the unique index (tenant_id, document_id), which is
 * also how every query finds rows: by tenant, then document.
 *
 * Stored as real[] (float4, as pgvector's `vector` is) so the table is the same with and without the
 * pgvector extension: per-tenant HNSW indexes on `embedding::vector(<EMBEDDING_DIMENSION>)`
 * (src/database/tenant-vector-indexes.ts) where the extension is installed, and the exact scan
 * (vector_dot, drizzle/0026) reads the array directly otherwise (src/database/vector-engine.ts
 * decides which one runs).
 */
export const documentEmbeddings = tenantTable(
  'document_embeddings',
  {
    documentId: uuid('document_id').notNull(),
    embedding: real('embedding').array().notNull(),
    /** Euclidean norm of `embedding`, computed on write: cosine = dot / (norm * |query|), one dot product per row. */
    norm: real('norm').notNull(),
    /** The client's name for the model that produced the vector; metadata only. */
    model: text('model'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('document_embeddings_tenant_document_idx').on(t.tenantId, t.documentId),
    // The API validates first (400); this keeps a vector no search could score (NULL, NaN or an
    // infinite element, a zero vector, a nested array) out of the table whatever writes it.
    check(
      'document_embeddings_embedding_valid',
      sql`array_ndims(${t.embedding}) = 1 and cardinality(${t.embedding}) between 1 and ${sql.raw(String(MAX_EMBEDDING_DIMENSION))}
        and array_position(${t.embedding}, null) is null
        and not ('NaN'::real = any(${t.embedding}) or 'Infinity'::real = any(${t.embedding}) or '-Infinity'::real = any(${t.embedding}))
        and ${t.norm} > 0`,
    ),
  ],
  { parent: { table: documents, column: (t) => t.documentId, constraintName: 'document_embeddings_document_fk' } },
);

export type DocumentEmbeddingRow = typeof documentEmbeddings.$inferSelect;
