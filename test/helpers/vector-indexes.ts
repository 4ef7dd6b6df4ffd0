import { listTenantVectorIndexesOn, tenantVectorIndexName } from '../../src/database/tenant-vector-indexes';
import { withClient } from './pg-client';

/**
 * A stand-in for a tenant's HNSW indexes where pgvector is absent (these servers): btree indexes
 * under the names TenantVectorIndexes gives them, with the same predicate, so what finds indexes
 * by name (listing, dropping with the tenant's rows, carrying them on a move) is exercised here.
 */
export async function createStandInVectorIndexes(url: string, tenantId: string): Promise<void> {
  await withClient(url, async (client) => {
    for (const metric of ['cosine', 'inner_product'] as const) {
      await client.query(`create index "${tenantVectorIndexName(tenantId, metric)}" on public.document_embeddings (document_id) where tenant_id = '${tenantId}'::uuid`);
    }
  });
}

/** The tenants that have per-tenant vector indexes on the database at `url`, each as often as it has indexes. */
export async function vectorIndexTenantsOn(url: string): Promise<string[]> {
  return withClient(url, async (client) => (await listTenantVectorIndexesOn(client)).map((index) => index.tenantId));
}
