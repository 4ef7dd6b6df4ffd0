-- Semantic search with pgvector: per-tenant HNSW indexes instead of the two shared ones 0026 built.
--
-- A shared HNSW index holds every tenant's vectors. With the tenant filter applied after the index
-- (even with pgvector's iterative scan, which keeps the filter from starving the result), how far a
-- search walks before it has k of this tenant's rows depends on how many vectors OTHER tenants hold
-- and where they lie, so a search's time tells a tenant about its neighbours. A partial index
-- holding one tenant's vectors (WHERE tenant_id = '<id>', built by `tenants vector-index`,
-- src/database/tenant-vector-indexes.ts) is walked over that tenant's vectors alone; a tenant
-- without one is searched exactly over its own rows. Either way the work is the tenant's own.
--
-- So the shared indexes go (where 0026 built them); the extension stays. Plain DROP INDEX (a
-- migration runs in a transaction, CONCURRENTLY cannot): it takes a brief exclusive lock on
-- document_embeddings.
DROP INDEX IF EXISTS "document_embeddings_hnsw_cosine_idx";--> statement-breakpoint
DROP INDEX IF EXISTS "document_embeddings_hnsw_ip_idx";
