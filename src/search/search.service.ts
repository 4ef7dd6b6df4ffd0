import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { pgServerErrorOf } from '../common/errors/database-errors';
import { AppConfig } from '../config/app-config';
import { DocumentEmbeddingRow } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { VectorEngine } from '../database/vector-engine';
import { TenantContext } from '../tenancy/tenant-context';
import { EmbeddingsRepository, SearchRow } from './embeddings.repository';
import { EmbeddingView, FLOAT4_MAX, PutEmbeddingInput, SearchHit, SearchInput } from './search.schemas';

export type { EmbeddingView, SearchHit };

/** pgvector's default hnsw.ef_search; raised for larger k so one pass of the index can already hold k candidates. */
const MIN_EF_SEARCH = 40;

const toEmbeddingView = (row: DocumentEmbeddingRow): EmbeddingView => ({
  documentId: row.documentId,
  dimension: row.embedding.length,
  model: row.model,
  embedding: row.embedding,
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
});

/**
 * Checks what the schema cannot (the deployment's dimension, a usable norm) and returns the
 * vector as PostgreSQL will store it (float4) with its norm. Same 400 body as the schema's.
 * Zero vectors are refused: cosine is undefined for them (pgvector answers NaN), and a stored
 * one could never be found by cosine.
 */
function checkedVector(values: number[], field: string, dimension: number, allowZero = false): { vector: number[]; norm: number } {
  if (values.length !== dimension) {
    throw AppError.validation([{ path: field, message: `must have exactly ${dimension} elements (EMBEDDING_DIMENSION), got ${values.length}` }]);
  }
  const vector = values.map((value) => Math.fround(value));
  const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
  if (norm === 0 && !allowZero) throw AppError.validation([{ path: field, message: 'must not be the zero vector (after rounding to float4)' }]);
  // The norm is stored as float4 too: a vector of huge elements can overflow it though each element fits.
  if (norm > FLOAT4_MAX) throw AppError.validation([{ path: field, message: 'its length (Euclidean norm) is outside float4 range' }]);
  return { vector, norm };
}

@Injectable()
export class SearchService {
  constructor(
    private readonly embeddings: EmbeddingsRepository,
    private readonly engine: VectorEngine,
    private readonly config: AppConfig,
    private readonly db: TenantDb,
  ) {}

  /** 201 when the document had no embedding, 200 when it replaced one; 404 for a document that is not the tenant's. */
  async putEmbedding(documentId: string, input: PutEmbeddingInput): Promise<{ view: EmbeddingView; created: boolean }> {
    const { vector, norm } = checkedVector(input.embedding, 'embedding', this.config.vectors.dimension);
    try {
      const { row, created } = await this.embeddings.upsert({ documentId, embedding: vector, norm, model: input.model ?? null });
      return { view: toEmbeddingView(row), created };
    } catch (error) {
      // The composite foreign key: no document (tenant_id, id) of this tenant, whether the id is
      // random or another tenant's; the same answer as GET /documents/:id gives for both.
      if (pgServerErrorOf(error)?.code === '23503') throw AppError.notFound('Document');
      throw error;
    }
  }

  async getEmbedding(documentId: string): Promise<EmbeddingView> {
    const row = await this.embeddings.findByDocument(documentId);
    if (!row) throw AppError.notFound('Embedding');
    return toEmbeddingView(row);
  }

  async deleteEmbedding(documentId: string): Promise<void> {
    if (!(await this.embeddings.delete(documentId))) throw AppError.notFound('Embedding');
  }

  /**
   * The k documents of the current tenant nearest to the query vector, best first. The engine is
   * the one of the database holding the tenant's rows (VectorEngine); both go through TenantDb.
   */
  async search(input: SearchInput): Promise<SearchHit[]> {
    const { vector, norm } = checkedVector(input.vector, 'vector', this.config.vectors.dimension, input.metric === 'inner_product');
    const query = { vector, norm, k: input.k, metric: input.metric, tag: input.filter?.tag };
    const engine = await this.engine.engineFor(TenantContext.current());
    if (engine === 'exact-scan') return await this.embeddings.searchExact(query);
    // Iterative scan: the tenant's index keeps producing candidates until k rows pass the tag
    // filter, or hnsw.max_scan_tuples is reached, instead of stopping after ef_search of them.
    // Transaction-local, in the statement's own round trip (withSettings); no effect on an exact sort.
    const settings = { 'hnsw.iterative_scan': 'relaxed_order', 'hnsw.ef_search': String(Math.max(MIN_EF_SEARCH, 2 * input.k)) };
    const rows = await this.db.withSettings(settings, (db) => this.embeddings.searchHnsw(query, this.config.vectors.dimension, db));
    // Fewer than k: either the tenant holds fewer matching vectors, or the scan of its index stopped
    // at hnsw.max_scan_tuples before k of them passed the tag filter (or HNSW's graph left some
    // unreachable). The exact scan over the tenant's own rows then answers (cheap: few of them
    // matched), so the count is always min(k, the tenant's own matches).
    if (rows.length < input.k) return await this.embeddings.searchExact(query);
    // relaxed_order may return the k nearest slightly out of order.
    return rows.sort(bestFirst);
  }
}

function bestFirst(a: SearchRow, b: SearchRow): number {
  return b.score - a.score || (a.documentId < b.documentId ? -1 : a.documentId > b.documentId ? 1 : 0);
}
