-- Moving a tenant between databases (README "Moving a tenant", src/lifecycle/tenant-move.service.ts).
--
-- 1. tenancy_set() (drizzle/0015), still the first statement of every tenant batch and
--    transaction, now also pauses the writes of a tenant being moved, on the database the
--    statement runs on, and only that tenant's:
--    - it takes a SHARED transaction-level advisory lock keyed by the tenant, with try: a
--      move takes the same key EXCLUSIVELY as a barrier, which waits for every transaction of
--      the tenant that took the shared lock before it to end (their writes commit before the
--      copy starts, so they are copied). While the barrier waits or holds, the try fails and
--      the transaction is made read only: no new transaction of that tenant blocks behind it.
--    - then it reads the tenant's row (a volatile function's statement: under READ COMMITTED a
--      snapshot taken after the lock, so it sees a pause the move committed before its barrier);
--      tenants.move_state = 'paused' makes the transaction READ ONLY. Reads go on; any write
--      fails with SQLSTATE 25006 (answered 503 TENANT_MOVING with Retry-After). A write thus
--      either committed before the barrier (and is copied) or is refused: none is lost.
--    The key is (hashtext('tenancy.move'), hashtext(tenant)): two int4 keys, apart from the
--    single-bigint keys of the migrator's lock. Two tenants whose ids hash alike (1 in 2^32)
--    share a key: the other one is read only for the barrier's moment, nothing more.
-- 2. usage_events_apply() (drizzle/0013) counts nothing for rows the move copies: the copy
--    inserts the ledger AND the counters it already produced, so counting again would double
--    them. Skipped only with the transaction-local setting tenancy.copying = 'on' and only for
--    the owner role (the copy runs as app_owner): the runtime role cannot skip counting.
-- 3. tenant_moves (0021): the runtime role reads and writes the reports, never deletes one.
CREATE OR REPLACE FUNCTION "public"."tenancy_set"("p_tenant" uuid)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  here text;
  placed text;
  state text;
  at_barrier boolean;
BEGIN
  IF p_tenant IS NULL THEN
    RAISE EXCEPTION 'tenancy_set: a tenant is required' USING ERRCODE = '22023';
  END IF;
  -- Before the row is read: see 1. above.
  at_barrier := NOT pg_catalog.pg_try_advisory_xact_lock_shared(pg_catalog.hashtext('tenancy.move'), pg_catalog.hashtext(p_tenant::text));
  SELECT coalesce((SELECT d.name FROM public.database_identity AS d), 'shared') INTO here;
  SELECT t.database, t.move_state INTO placed, state FROM public.tenants AS t WHERE t.id = p_tenant;
  IF placed IS DISTINCT FROM here AND (placed IS NOT NULL OR here <> 'shared') THEN
    RAISE EXCEPTION 'this tenant is not placed on this database' USING ERRCODE = 'TA421';
  END IF;
  IF at_barrier OR state IS NOT NULL THEN
    PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
  END IF;
  PERFORM pg_catalog.set_config('app.tenant_id', p_tenant::text, true);
  RETURN true;
END
$$;--> statement-breakpoint
CREATE OR REPLACE FUNCTION "public"."usage_events_apply"()
RETURNS trigger
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  current_value bigint;
  refusable boolean := NEW.delta > 0 AND NEW.checked_limit IS NOT NULL;
BEGIN
  -- A move's copy (see 2. above): the counters are copied as they are.
  IF pg_catalog.current_setting('tenancy.copying', true) = 'on' AND CURRENT_USER = 'app_owner' THEN
    RETURN NULL;
  END IF;
  UPDATE public.usage_counters AS c
     SET value = c.value + NEW.delta, updated_at = pg_catalog.now()
   WHERE c.tenant_id = NEW.tenant_id AND c.metric = NEW.metric
     AND (NOT refusable OR c.value + NEW.delta <= NEW.checked_limit);
  IF FOUND THEN
    RETURN NULL;
  END IF;
  -- No counter yet (a new tenant's first event of this metric), or the limit refused it.
  INSERT INTO public.usage_counters AS c (tenant_id, metric, value)
  VALUES (NEW.tenant_id, NEW.metric, 0)
  ON CONFLICT (tenant_id, metric) DO NOTHING;
  UPDATE public.usage_counters AS c
     SET value = c.value + NEW.delta, updated_at = pg_catalog.now()
   WHERE c.tenant_id = NEW.tenant_id AND c.metric = NEW.metric
     AND (NOT refusable OR c.value + NEW.delta <= NEW.checked_limit);
  IF FOUND THEN
    RETURN NULL;
  END IF;
  SELECT c.value INTO current_value FROM public.usage_counters AS c WHERE c.tenant_id = NEW.tenant_id AND c.metric = NEW.metric;
  RAISE EXCEPTION 'usage limit reached' USING ERRCODE = 'TQ001', DETAIL = current_value::text, HINT = NEW.metric;
END
$$;--> statement-breakpoint
REVOKE ALL ON "tenant_moves" FROM PUBLIC;--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE ON "tenant_moves" TO "app_user";
