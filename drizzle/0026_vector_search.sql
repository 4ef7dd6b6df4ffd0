-- Semantic search (src/search, README "Semantic search"): the two engines over document_embeddings.
--
-- 1. Exact scan, always present: vector_dot(a, b), the inner product of two real[] in double
--    precision, which the search orders by over the tenant's rows only (the unique index
--    (tenant_id, document_id) finds them; RLS and the scoped client both filter them). plpgsql because it
--    measured fastest here: ~21 us per 384-dimension pair against ~29 us for a plpgsql loop with
--    casts, ~31 us for LANGUAGE sql over generate_series and ~41 us for sum() over unnest()
--    (PostgreSQL 18, 5,000 rows). IMMUTABLE and PARALLEL SAFE so a large tenant's scan may use
--    parallel workers; STRICT: NULL in, NULL out (the table's check keeps NULLs out anyway).
--    Arrays of different lengths are an error, never a silently truncated score.
CREATE FUNCTION "public"."vector_dot"("a" real[], "b" real[])
RETURNS double precision
LANGUAGE plpgsql
IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
  total double precision := 0;
BEGIN
  IF pg_catalog.cardinality(a) <> pg_catalog.cardinality(b) THEN
    RAISE EXCEPTION 'vector_dot: dimensions differ (% and %)', pg_catalog.cardinality(a), pg_catalog.cardinality(b) USING ERRCODE = '22023';
  END IF;
  FOR i IN 1 .. pg_catalog.cardinality(a) LOOP
    total := total + a[i] * b[i];
  END LOOP;
  RETURN total;
END
$$;--> statement-breakpoint
REVOKE ALL ON FUNCTION "public"."vector_dot"(real[], real[]) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "public"."vector_dot"(real[], real[]) TO "app_user";--> statement-breakpoint
-- 2. pgvector (HNSW), only where the extension can be had. pgvector is not a trusted extension, so
--    the owner role running migrations can create it only if it may (e.g. a superuser migrating);
--    the docker-compose PostgreSQL (image pgvector/pgvector) creates it as the superuser at initdb,
--    before any migration. Where it is neither installed nor creatable (Debian's PostgreSQL here,
--    the embedded server), nothing is done and the exact scan serves every search.
--
--    The indexes are on an expression, embedding::vector(384), so the column stays real[] with
--    and without the extension. 384 is the default EMBEDDING_DIMENSION: a migration cannot read
--    the deployment's configuration, so a deployment with another dimension recreates these two
--    indexes with its own (README "Semantic search"); the API checks at boot that the indexes'
--    dimension equals EMBEDDING_DIMENSION and refuses to start otherwise
--    (src/database/vector-engine.ts), and an embedding of another length cannot be inserted while
--    they exist (the cast raises). One index per metric: cosine (<=>) and inner product (<#>).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'vector') THEN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'vector') THEN
      RAISE NOTICE 'pgvector is not available on this server: semantic search uses the exact scan';
      RETURN;
    END IF;
    BEGIN
      CREATE EXTENSION vector;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'pgvector is available but this role may not create it: semantic search uses the exact scan (a superuser can run CREATE EXTENSION vector, then create the HNSW indexes, README "Semantic search")';
      RETURN;
    END;
  END IF;
  CREATE INDEX IF NOT EXISTS "document_embeddings_hnsw_cosine_idx" ON "document_embeddings" USING hnsw ((("embedding")::vector(384)) vector_cosine_ops);
  CREATE INDEX IF NOT EXISTS "document_embeddings_hnsw_ip_idx" ON "document_embeddings" USING hnsw ((("embedding")::vector(384)) vector_ip_ops);
END
$$;
