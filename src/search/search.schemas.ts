import { z } from 'zod';
import { uuidParam } from '../common/http/zod-validation.pipe';
import { MAX_EMBEDDING_DIMENSION } from '../database/schema/document-embeddings';

/**
 * The largest finite float4 (pgvector's `vector` and our real[] store float4). JSON cannot carry
 * NaN or Infinity, but 1e39 is valid JSON that float4 cannot hold: PostgreSQL would turn it into an
 * error (or Infinity), so it is refused here with the same 400 as any other bad element.
 */
export const FLOAT4_MAX = 3.4028234663852886e38;

const element = z
  .number()
  .refine((value) => Number.isFinite(value) && Math.abs(value) <= FLOAT4_MAX, { message: `must be a finite number within float4 range (|x| <= ${FLOAT4_MAX})` });

/**
 * A vector as the API takes it. The exact length (EMBEDDING_DIMENSION) is a deployment setting,
 * checked by SearchService against the configuration (same 400 body); the schema bounds it by the
 * largest dimension any deployment may configure, so a huge array is refused before it is read.
 */
const vector = z.array(element).min(1).max(MAX_EMBEDDING_DIMENSION);

export const putEmbeddingSchema = z.strictObject({
  embedding: vector,
  model: z.string().trim().min(1).max(200).optional(),
});
export type PutEmbeddingInput = z.infer<typeof putEmbeddingSchema>;

export const SEARCH_METRICS = ['cosine', 'inner_product'] as const;
export type SearchMetric = (typeof SEARCH_METRICS)[number];
export const MAX_SEARCH_K = 100;

export const searchSchema = z.strictObject({
  vector,
  k: z.int().min(1).max(MAX_SEARCH_K).default(10),
  /** cosine: similarity in [-1, 1]; inner_product: the raw dot product. Higher is nearer for both. */
  metric: z.enum(SEARCH_METRICS).default('cosine'),
  filter: z.strictObject({ tag: z.string().trim().min(1).max(50).optional() }).optional(),
});
export type SearchInput = z.infer<typeof searchSchema>;

export const embeddingParamsSchema = z.strictObject({ id: uuidParam });

// Responses (GET /openapi.json); the service's view types are inferred from these.
export const embeddingView = z
  .object({
    documentId: z.uuid(),
    dimension: z.int(),
    model: z.string().nullable(),
    embedding: z.array(z.number()),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'DocumentEmbedding' });
export type EmbeddingView = z.infer<typeof embeddingView>;

export const searchHit = z.object({ documentId: z.uuid(), title: z.string(), score: z.number() }).meta({ id: 'SearchHit' });
export type SearchHit = z.infer<typeof searchHit>;
export const searchResults = z.array(searchHit).meta({ id: 'SearchResults' });
