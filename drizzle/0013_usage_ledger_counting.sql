-- The usage ledger's one counting path (issue 12). Every row inserted into
-- usage_events moves its counter in usage_counters in the same statement, so
-- counters always equal the ledger's sums, and an increase that would pass the
-- event's checked_limit is refused atomically:
--
--   TQ001  the limit would be passed; DETAIL is the counter's current value,
--          HINT the metric (src/usage/usage-ledger.service.ts maps it to
--          403 QUOTA_EXCEEDED)
--
-- The UPDATE takes the counter's row lock, so concurrent increases of one
-- tenant's metric queue; under READ COMMITTED a waiting UPDATE re-evaluates its
-- WHERE on the row as the winner committed it, so the limit holds under any
-- concurrency. A retried event (same idempotency key) is skipped by
-- ON CONFLICT DO NOTHING before any row exists, so this trigger never sees it.
--
-- SECURITY INVOKER (the default): it writes usage_counters as the runtime role,
-- through its RLS policy, for the tenant of the event (which RLS has already
-- checked on the event row). Not callable directly (a trigger function).
CREATE FUNCTION "public"."usage_events_apply"()
RETURNS trigger
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  current_value bigint;
  refusable boolean := NEW.delta > 0 AND NEW.checked_limit IS NOT NULL;
BEGIN
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
REVOKE ALL ON FUNCTION "public"."usage_events_apply"() FROM PUBLIC;--> statement-breakpoint
CREATE TRIGGER "usage_events_apply" AFTER INSERT ON "usage_events" FOR EACH ROW EXECUTE FUNCTION "public"."usage_events_apply"();--> statement-breakpoint
-- Opening balances, so counters are right on upgrade: one event per tenant and
-- metric from what exists now (storage: ready attachments; API keys: not
-- revoked). FORCE ROW LEVEL SECURITY applies to this migration's role too, so
-- each tenant is entered transaction-locally, as the application does.
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT id FROM public.tenants LOOP
    PERFORM pg_catalog.set_config('app.tenant_id', t.id::text, true);
    INSERT INTO public.usage_events (tenant_id, metric, delta, reason, idempotency_key)
    SELECT t.id, m.metric, m.value, 'opening-balance', 'opening-balance:' || m.metric
      FROM (
        SELECT 'documents' AS metric, (SELECT pg_catalog.count(*) FROM public.documents WHERE tenant_id = t.id)::bigint AS value
        UNION ALL SELECT 'storage_bytes', (SELECT COALESCE(SUM(size_bytes), 0) FROM public.attachments WHERE tenant_id = t.id AND status = 'ready')::bigint
        UNION ALL SELECT 'members', (SELECT pg_catalog.count(*) FROM public.memberships WHERE tenant_id = t.id)::bigint
        UNION ALL SELECT 'api_keys', (SELECT pg_catalog.count(*) FROM public.api_keys WHERE tenant_id = t.id AND revoked_at IS NULL)::bigint
        UNION ALL SELECT 'requests', 0::bigint
      ) AS m
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING;
  END LOOP;
  PERFORM pg_catalog.set_config('app.tenant_id', '', true);
END
$$;
