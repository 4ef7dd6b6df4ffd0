-- Written by `npm run db:generate` for the tenant table "usage_events" (declared with tenantTable()).
-- drizzle-kit emits ENABLE ROW LEVEL SECURITY and the isolation policy, but cannot emit
-- FORCE ROW LEVEL SECURITY (which applies the policy to the table owner too, so no role
-- but a superuser sees rows without a tenant) nor grants: the runtime role gets data
-- access only, no TRUNCATE, REFERENCES, TRIGGER or DDL. Do not edit; db:verify compares.
-- Append-only (tenantTable({ access: "append-only" })): no UPDATE or DELETE, so rows once written stay as they are.
ALTER TABLE "usage_events" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
GRANT SELECT, INSERT ON "usage_events" TO "app_user";
