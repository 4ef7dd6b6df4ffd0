-- The access a request was admitted with, re-checked by PostgreSQL in the same
-- round trip as each of its statements (issue 10). Admission may take a user's
-- role or an API key from a short in-process cache instead of a database read;
-- this function makes that safe: every statement sent for such a request is
-- preceded, in the same extended-protocol batch (one Sync, one implicit
-- transaction) or right after BEGIN, by
--
--   select 1 where not tenancy_enter(<tenant>, <'user'|'api-key'>, <id>, <role>)
--
-- which sets app.tenant_id transaction-locally (as set_config(..., true) did
-- before) and raises when the claim no longer holds, so the statement after it
-- never runs:
--   TA403  the user is no longer a member of the tenant
--   TA401  the API key is revoked or gone
--   TA409  the role is now lower than the one the request was admitted with
--          (a higher role is fine: the request only used less than it has)
-- src/access/access-errors.ts maps them to 403/401/409 (TenantContextInterceptor);
-- drizzle-kit emits no functions, so this is a custom migration, checked by
-- test/database/catalog-snapshot.e2e-spec.ts and test/identity/access-claim.e2e-spec.ts.
--
-- SECURITY INVOKER (the default): it reads memberships and api_keys as the
-- runtime role, through their RLS policies, for the tenant it has just set.
-- No SET clause: a function-level SET would also undo the transaction-local
-- set_config when the function returns. Names are schema-qualified instead.
-- The role order is permissions.ts's ROLE_RANK (a test compares them).
CREATE FUNCTION "public"."tenancy_enter"("p_tenant" uuid, "p_kind" text, "p_principal" uuid, "p_role" text)
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
  PERFORM pg_catalog.set_config('app.tenant_id', p_tenant::text, true);
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
$$;--> statement-breakpoint
REVOKE ALL ON FUNCTION "public"."tenancy_enter"(uuid, text, uuid, text) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "public"."tenancy_enter"(uuid, text, uuid, text) TO "app_user";
