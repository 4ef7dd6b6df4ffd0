-- The tenant directory's backstop (scale-out, docs/scale-out.md). tenants.database
-- (0014) names the database holding each tenant's rows; a dedicated database
-- knows its own name from its one database_identity row (written when it is
-- provisioned); no row means "shared". Entering a tenant on a database it is not placed on raises TA421,
-- so a stale routing decision (an instance whose directory cache still says
-- "shared" after a move) fails instead of reading or writing there:
--   - on the shared database: a tenant whose row says another database;
--   - on a dedicated database: a tenant with no row here (each dedicated
--     database holds only the rows of the tenants placed on it) or another name.
-- An unknown tenant on the shared database is not refused: it has no rows, and
-- tests and tools enter random tenants to prove that they see nothing.
--
-- tenancy_set(tenant) replaces set_config('app.tenant_id', ..., true) as the
-- first statement of every tenant batch and transaction (src/database/pg);
-- tenancy_enter (0007) now sets the tenant through it. SECURITY INVOKER, no SET
-- clause (it would undo the transaction-local setting), schema-qualified names.
CREATE FUNCTION "public"."tenancy_set"("p_tenant" uuid)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  here text;
  placed text;
BEGIN
  IF p_tenant IS NULL THEN
    RAISE EXCEPTION 'tenancy_set: a tenant is required' USING ERRCODE = '22023';
  END IF;
  SELECT coalesce((SELECT d.name FROM public.database_identity AS d), 'shared'), (SELECT t.database FROM public.tenants AS t WHERE t.id = p_tenant)
    INTO here, placed;
  IF placed IS DISTINCT FROM here AND (placed IS NOT NULL OR here <> 'shared') THEN
    RAISE EXCEPTION 'this tenant is not placed on this database' USING ERRCODE = 'TA421';
  END IF;
  PERFORM pg_catalog.set_config('app.tenant_id', p_tenant::text, true);
  RETURN true;
END
$$;--> statement-breakpoint
REVOKE ALL ON FUNCTION "public"."tenancy_set"(uuid) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "public"."tenancy_set"(uuid) TO "app_user";--> statement-breakpoint
-- Read by tenancy_set() as the runtime role; written only by provisioning, as the owner.
GRANT SELECT ON "database_identity" TO "app_user";--> statement-breakpoint
CREATE OR REPLACE FUNCTION "public"."tenancy_enter"("p_tenant" uuid, "p_kind" text, "p_principal" uuid, "p_role" text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  ranks constant text[] := ARRAY['viewer', 'member', 'admin', 'owner'];
  held text;
BEGIN
  IF p_tenant IS NULL OR p_principal IS NULL OR pg_catalog.array_position(ranks, p_role) IS NULL THEN
    RAISE EXCEPTION 'tenancy_enter: tenant, principal and a known role are required' USING ERRCODE = '22023';
  END IF;
  PERFORM public.tenancy_set(p_tenant);
  IF p_kind = 'user' THEN
    SELECT m.role INTO held FROM public.memberships AS m WHERE m.tenant_id = p_tenant AND m.user_id = p_principal;
    IF held IS NULL THEN
      RAISE EXCEPTION 'the membership this request was admitted with is gone' USING ERRCODE = 'TA403';
    END IF;
  ELSIF p_kind = 'api-key' THEN
    SELECT k.role INTO held FROM public.api_keys AS k WHERE k.tenant_id = p_tenant AND k.id = p_principal AND k.revoked_at IS NULL;
    IF held IS NULL THEN
      RAISE EXCEPTION 'the API key this request was admitted with is revoked' USING ERRCODE = 'TA401';
    END IF;
  ELSE
    RAISE EXCEPTION 'tenancy_enter: unknown principal kind' USING ERRCODE = '22023';
  END IF;
  IF pg_catalog.array_position(ranks, held) < pg_catalog.array_position(ranks, p_role) THEN
    RAISE EXCEPTION 'the role this request was admitted with was lowered' USING ERRCODE = 'TA409';
  END IF;
  RETURN true;
END
$$;
