-- Readiness (GET /health/ready, issue 11) must tell whether the database is at
-- the migration version this build ships (drizzle/meta/_journal.json). Drizzle
-- records applied migrations in drizzle.__drizzle_migrations, which the
-- migration role owns and the runtime role cannot read (and should not: it gets
-- no privilege beyond what requests need). This function answers the one
-- question readiness asks: how many migrations are recorded, and the
-- "created_at" (the journal's "when", which drizzle's migrator compares) of the
-- newest one. SECURITY DEFINER runs it as its owner, app_owner, with a fixed
-- search_path and fully qualified names, so nothing the caller can create
-- shadows what it reads; PUBLIC loses the default EXECUTE, only app_user gets it.
-- drizzle-kit emits no functions: a custom migration, checked on the live
-- catalog by test/database/catalog.e2e-spec.ts and catalog-snapshot.e2e-spec.ts.
CREATE FUNCTION "public"."app_migrations_status"()
RETURNS TABLE ("applied" integer, "latest_created_at" bigint)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.count(*)::integer, pg_catalog.max(m.created_at)::bigint
    FROM drizzle.__drizzle_migrations AS m
$$;--> statement-breakpoint
REVOKE ALL ON FUNCTION "public"."app_migrations_status"() FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "public"."app_migrations_status"() TO "app_user";
