import { Injectable } from '@nestjs/common';
import { arrayContains, asc, eq, getTableColumns, sql } from 'drizzle-orm';
import { DocumentEmbeddingRow, documentEmbeddings, documents } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';
import type { SearchMetric } from './search.schemas';

export interface NewEmbedding {
  documentId: string;
  embedding: number[];
  norm: number;
  model: string | null;
}

export interface SearchQuery {
  vector: number[];
  /** |vector|, for cosine (computed once by the caller, not per row). */
  norm: number;
  k: number;
  metric: SearchMetric;
  tag?: string;
}

export interface SearchRow {
  documentId: string;
  title: string;
  score: number;
}

const SAMPLE_VECTOR = [0.25, 0.5, 0.75];
const SAMPLE_QUERY: SearchQuery = { vector: SAMPLE_VECTOR, norm: 0.935, k: DummyValue.NUMBER, metric: 'cosine' };
const e = documentEmbeddings;

/**
 * Embeddings of the current tenant's documents and the nearest-neighbour queries over them.
 * Every statement goes through TenantDb: tenant_id = <current tenant> is ANDed into the where of
 * the embeddings and into the ON of the joined documents, and forced RLS filters both again.
 */
@Injectable()
export class EmbeddingsRepository {
  constructor(private readonly db: TenantDb) {}

  /**
   * Insert or replace, one statement. `created`: whether the row is new (xmax = 0 only on a row this
   * statement inserted). The document must be the tenant's own: the composite foreign key
   * (tenant_id, document_id) -> documents refuses anything else (23503), whoever's the id is.
   */
  @GenerateSql({ params: [{ documentId: DummyValue.UUID, embedding: SAMPLE_VECTOR, norm: 0.935, model: DummyValue.STRING }] })
  async upsert(input: NewEmbedding): Promise<{ row: DocumentEmbeddingRow; created: boolean }> {
    const values = { embedding: input.embedding, norm: input.norm, model: input.model };
    const [{ created, ...row }] = await this.db
      .insert(e)
      .values({ documentId: input.documentId, ...values })
      .onConflictDoUpdate({ target: [e.tenantId, e.documentId], set: { ...values, updatedAt: sql`now()` } })
      .returning({ ...getTableColumns(e), created: sql<boolean>`(xmax = 0)` });
    return { row, created };
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  async findByDocument(documentId: string): Promise<DocumentEmbeddingRow | undefined> {
    const [row] = await this.db.select().from(e).where(eq(e.documentId, documentId)).limit(1);
    return row;
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  async delete(documentId: string): Promise<boolean> {
    const rows = await this.db.delete(e).where(eq(e.documentId, documentId)).returning({ id: e.id });
    return rows.length > 0;
  }

  /**
   * Exact k nearest: every embedding of the tenant (found through the unique index, which leads
   * with tenant_id) is scored with vector_dot (drizzle/0026) and the k best are kept (a top-k
   * sort, not a full one). The work is the tenant's own row count, whatever other tenants hold.
   * Ties are broken by document id so a result is stable.
   */
  @GenerateSql({ name: 'cosine', params: [SAMPLE_QUERY] }, { name: 'inner product, with a tag', params: [{ ...SAMPLE_QUERY, metric: 'inner_product', tag: DummyValue.STRING }] })
  async searchExact(query: SearchQuery): Promise<SearchRow[]> {
    const dot = sql`public.vector_dot(${e.embedding}, ${sql.param(query.vector)}::real[])`;
    // cosine = dot / (|e| |q|): the stored norm and the caller's, so still one dot product per row.
    const score = query.metric === 'cosine' ? sql<number>`${dot} / (${e.norm}::float8 * ${query.norm}::float8)` : sql<number>`${dot}`;
    return await this.db
      .select({ documentId: e.documentId, title: documents.title, score: score.as('score') })
      .from(e)
      .innerJoin(documents, eq(documents.id, e.documentId))
      .where(query.tag ? arrayContains(documents.tags, [query.tag]) : undefined)
      // By the select list's alias: the score is computed once per row, not again for the sort.
      .orderBy(sql`"score" desc`, asc(e.documentId))
      .limit(query.k);
  }

  /**
   * k nearest by pgvector's distance operators (pgvector installed, VectorEngine): through the
   * tenant's own HNSW index of the metric when it has one (drizzle/0031,
   * src/database/tenant-vector-indexes.ts), otherwise by an exact sort of the tenant's own rows.
   * PostgreSQL chooses: a partial index WHERE tenant_id = '<tenant>' matches the tenant filter
   * TenantDb adds (the statement is planned with its parameters' values), no other tenant's index
   * ever does, and there is no shared one. The ORDER BY must be exactly the index's expression
   * (embedding::vector(<dimension>) <op> query); the dimension is the deployment's, written into
   * the SQL because a parameter there would not match the index. Run it through
   * TenantDb.withSettings with hnsw.iterative_scan (SearchService): with a tag filter, the index
   * would otherwise stop after ef_search of the tenant's vectors and the filter could leave fewer
   * than k. relaxed_order may return the k rows slightly out of order: the caller sorts them.
   */
  @GenerateSql({ name: 'cosine', params: [SAMPLE_QUERY, 384] }, { name: 'inner product, with a tag', params: [{ ...SAMPLE_QUERY, metric: 'inner_product', tag: DummyValue.STRING }, 384] })
  async searchHnsw(query: SearchQuery, dimension: number, db: TenantDb = this.db): Promise<SearchRow[]> {
    const type = sql.raw(`vector(${Math.trunc(dimension)})`);
    const operator = sql.raw(query.metric === 'cosine' ? '<=>' : '<#>');
    const distance = sql`(${e.embedding})::${type} ${operator} ${sql.param(query.vector)}::real[]::${type}`;
    // <=> is the cosine distance (1 - similarity), <#> the negated inner product.
    const score = query.metric === 'cosine' ? sql<number>`1 - (${distance})` : sql<number>`-(${distance})`;
    return await db
      .select({ documentId: e.documentId, title: documents.title, score: score.mapWith(Number) })
      .from(e)
      .innerJoin(documents, eq(documents.id, e.documentId))
      .where(query.tag ? arrayContains(documents.tags, [query.tag]) : undefined)
      .orderBy(distance)
      .limit(query.k);
  }
}
