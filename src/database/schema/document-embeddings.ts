import { sql } from 'drizzle-orm';
import { check, real, text, timestamp } from 'drizzle-orm/pg-core';
import { tenantTable } from './tenant-table';
import { documents } from './documents';

/** The most dimensions an embedding may have: pgvector's HNSW index limit for `vector` (2,000). */
export const MAX_EMBEDDING_DIMENSION = 2000;

/**
 * One client-supplied embedding per document (semantic search, src/search). The row's `id` IS the
 * document's id: every tenant table is keyed (tenant_id, id) (the catalog test holds them all to it),
 * and the composite foreign key (tenant_id, id) -> documents makes "one embedding per document, of the
 * same tenant" a constraint rather than a convention; deleting the document deletes its embedding.
 *
 * Stored as real[] (float4, as pgvector's `vector` is) so the table is the same with and without the
 * pgvector extension: drizzle/0023_vector_search.sql adds HNSW expression indexes on
 * `embedding::vector(384)` when the extension is available, and the exact scan (vector_dot) reads the
 * array directly otherwise (src/database/vector-engine.ts decides which one runs).
 */
export const documentEmbeddings = tenantTable(
  'document_embeddings',
  {
    embedding: real('embedding').array().notNull(),
    /** Euclidean norm of `embedding`, computed on write: cosine = dot / (norm * |query|), one dot product per row. */
    norm: real('norm').notNull(),
    /** The client's name for the model that produced the vector; metadata only. */
    model: text('model'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
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
  { parent: { table: documents, column: (t) => t.id, constraintName: 'document_embeddings_document_fk' } },
);

export type DocumentEmbeddingRow = typeof documentEmbeddings.$inferSelect;
